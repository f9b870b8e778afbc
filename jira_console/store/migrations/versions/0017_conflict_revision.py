"""``conflicts.revision``: how many times an open conflict's row was written in place (a sync found Jira's
or the local value edited again, the issue's key moved). With the count and the sum of ids it makes the
change marker of the open queue (:func:`jira_console.store.conflict_queue.queue_marker`): the console's
refresh reads that one row and re-reads the loaded rows only when it moved.

Rows already stored start at 0.

Revision ID: 0017_conflict_revision
Revises: 0016_base_from
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_conflict_revision"
down_revision: str | None = "0016_base_from"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("conflicts", sa.Column("revision", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("revision")
