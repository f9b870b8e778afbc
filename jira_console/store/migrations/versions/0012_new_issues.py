"""Issues created from the database: the ``new_issues`` table, where a host program (or ``jira-console
local create``) asks for an issue to be created in Jira, and the engine says what became of it.

Revision ID: 0012_new_issues
Revises: 0011_repair
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012_new_issues"
down_revision: str | None = "0011_repair"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "new_issues",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("project_key", sa.String(64), nullable=False),
        sa.Column("issue_type", sa.String(64), nullable=False),
        sa.Column("fields", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("requested_at", TS, server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), server_default="pending", nullable=False),
        sa.Column("token", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempted_at", TS, nullable=True),
        sa.Column("issue_key", sa.String(64), nullable=True),
        sa.Column("jira_id", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("done_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_new_issues"),
    )
    op.create_index("ix_new_issues_connection_state", "new_issues", ["connection", "state"])


def downgrade() -> None:
    op.drop_index("ix_new_issues_connection_state", table_name="new_issues")
    op.drop_table("new_issues")
