"""Real lifecycles (issue 11, the pull side): identity by Jira id, quarantine, tombstones, partial versions.

- ``issue_aliases``: keys an issue had before it moved to another project or its project key was renamed;
  the row itself keeps its id, history, base, conflicts and field errors, only ``key``/``project_key`` change.
- ``quarantined_issues``: a version that could not be applied, with its kind and cause (never the row's
  contents); the page and the watermark move on and later syncs try the issue again.
- ``issues.deleted_at``: when a deletion was learnt (a webhook body never brings the issue back; only a
  fresh read from Jira does).
- ``issues.stale_fields``: synced fields the stored version lacked (a Cloud webhook's v2 body carries no
  rich text), so the next read of that same version is applied instead of skipped.

Revision ID: 0006_11
Revises: 0005_14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006_11"
down_revision: str | None = "0005_14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.add_column("issues", sa.Column("deleted_at", TS, nullable=True))
    op.add_column("issues", sa.Column("stale_fields", JSON, nullable=True))
    op.execute("UPDATE issues SET deleted_at = updated_at WHERE deleted")
    op.create_table(
        "issue_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(length=64), nullable=False),
        sa.Column("old_key", sa.String(length=64), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("moved_at", TS, server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_issue_aliases_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_aliases")),
        sa.UniqueConstraint("connection", "old_key", name=op.f("uq_issue_aliases_connection_old_key")),
    )
    op.create_table(
        "quarantined_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(length=64), nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=False),
        sa.Column("jira_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("first_at", TS, server_default=NOW, nullable=False),
        sa.Column("last_at", TS, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_issues")),
        sa.UniqueConstraint(
            "connection", "issue_key", name=op.f("uq_quarantined_issues_connection_issue_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("quarantined_issues")
    op.drop_table("issue_aliases")
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("stale_fields")
        batch.drop_column("deleted_at")
