"""Queued strategies: the conflict strategy a queued local change carries instead of its connection's.

An undo writes back to Jira under ``manual`` whatever the connection says: a field someone changed in Jira
since opens a conflict instead of being overwritten. When Jira did not answer, the undo's value stays queued
as a local change and the next sync retries it; the column keeps the undo's strategy with that value, so the
retry (a sync's pull, its push, a webhook) decides as the undo would have.

Revision ID: 0015_queued_strategies
Revises: 0014_finite_guards
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015_queued_strategies"
down_revision: str | None = "0014_finite_guards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "issues", sa.Column("queued_strategies", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("queued_strategies")
