"""``issues.base_from``: per mapped field, a digest of the Jira value its base was read from (see
:mod:`jira_console.sync.base_from`). After a mapping change, a field whose local change waits (a value Jira
refused) kept a base in the old mapping's terms, and Jira's unchanged value, read under the new mapping,
looked like an edit in Jira: a conflict. With the digest the engine tells that Jira still holds the value
the base came from, and reads the base again under the new mapping.

Rows already stored have none until their next read; until then they are compared as before.

Revision ID: 0016_base_from
Revises: 0015_queued_strategies
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0016_base_from"
down_revision: str | None = "0015_queued_strategies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("issues", sa.Column("base_from", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("base_from")
