"""Mappings in real operation (issue 13): ``mapping_state``, one row per connection (``*`` for the global
mappings) with

- ``generation``: bumped by every change to a mapping (save, import, enable, disable, delete), so every
  process sees before a sync that its compiled mappings are out of date, and the sync re-reads the issues
  once (back-fill);
- ``flavor``, ``field_list``, ``fields_at``: the site's ``/field`` list as the last sync read it, so field
  selectors resolve where there is no Jira client (a console attached to a daemon).

And ``boards.estimation_field``: the field a board estimates with (its configuration's
``estimation.field``), so story points are read from and written to the field of each issue's board.

Revision ID: 0006_13
Revises: 0006_11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006_13"
down_revision: str | None = "0007_11_push"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mapping_state",
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("generation", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("changed_at", TS, nullable=True),
        sa.Column("flavor", sa.String(16), nullable=True),
        sa.Column("field_list", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True),
        sa.Column("fields_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("connection", name=op.f("pk_mapping_state")),
    )
    op.add_column("boards", sa.Column("estimation_field", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("boards") as batch:
        batch.drop_column("estimation_field")
    op.drop_table("mapping_state")
