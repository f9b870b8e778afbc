"""Health that tells the truth (issue 14): what a sync's outcome, a conflict's two edits and a daemon's
clean stop leave on record.

- ``sync_state.last_success_at``, ``failing_since``, ``failures``: the last run that succeeded, since when
  the runs have been failing and how many in a row, so health can say "degraded" instead of "ok".
- ``conflicts.local_edited_at``, ``jira_edited_at``: when each side made the edit that conflicts (shown
  beside the values; the issue's own times move on with later edits).
- ``daemons.stopped_at``: a daemon that stopped cleanly says so, rather than lingering with a stale
  heartbeat.

Revision ID: 0005_14
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_14"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("sync_state", sa.Column("last_success_at", TS, nullable=True))
    op.add_column("sync_state", sa.Column("failing_since", TS, nullable=True))
    op.add_column("sync_state", sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.add_column("conflicts", sa.Column("local_edited_at", TS, nullable=True))
    op.add_column("conflicts", sa.Column("jira_edited_at", TS, nullable=True))
    op.add_column("daemons", sa.Column("stopped_at", TS, nullable=True))
    # Runs that succeeded before this revision: their finish is the last success known.
    op.execute(
        "UPDATE sync_state SET last_success_at = last_finished_at WHERE last_status IN ('ok', 'partial')"
    )
    op.execute("UPDATE sync_state SET failures = 1, failing_since = last_finished_at WHERE last_status = 'failed'")


def downgrade() -> None:
    with op.batch_alter_table("daemons") as batch:
        batch.drop_column("stopped_at")
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("jira_edited_at")
        batch.drop_column("local_edited_at")
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("failures")
        batch.drop_column("failing_since")
        batch.drop_column("last_success_at")
