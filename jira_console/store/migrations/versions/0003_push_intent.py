"""Push intent: the values the engine is about to write to Jira, recorded before it sends them.

If the process dies after Jira took a write but before the new base was stored, or a status walk through
several transitions stops half-way, the next compare finds Jira holding a value the engine itself wrote.
With the intent on record that is recognised as our own write instead of being taken for a concurrent edit
(a false conflict).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("issues", sa.Column("pushing", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("pushing")
