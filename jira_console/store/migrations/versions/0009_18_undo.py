"""Undo from the audit log (issue 18): what an audit line needs to be reversed, and runs to name.

- ``sync_runs``: one row per run of the engine that writes (a sync, a push on its own, an undo), so that
  audit lines can name their run and a whole run can be undone.
- ``audit_log.cause``, ``run_id``, ``event_id``, ``undo_of``: what made each change (a run, a webhook
  delivery, an operator) and, for an undo, the line it reverses.

Revision ID: 0006_18
Revises: 0006_11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_18"
down_revision: str | None = "0006_13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("full", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("started_at", TS, server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("status", sa.String(16), server_default="running", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
    )
    op.create_index("ix_sync_runs_connection_started_at", "sync_runs", ["connection", "started_at"])
    op.add_column("audit_log", sa.Column("cause", sa.String(16), nullable=True))
    op.add_column("audit_log", sa.Column("run_id", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("event_id", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("undo_of", sa.BigInteger(), nullable=True))
    op.create_index("ix_audit_log_run_id", "audit_log", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_run_id", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("undo_of")
        batch.drop_column("event_id")
        batch.drop_column("run_id")
        batch.drop_column("cause")
    op.drop_index("ix_sync_runs_connection_started_at", table_name="sync_runs")
    op.drop_table("sync_runs")
