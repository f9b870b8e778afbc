"""Retry-After deadline as a column: ``connections.rate_limited_until``.

Until now the deadline Jira set with ``Retry-After`` was kept in ``sync_state.watermark_ms`` of a made-up
scope ``rate_limit``. It is a fact about the connection, so it moves to the connection's row (created when
missing); the made-up rows are removed.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
SCOPE = "rate_limit"


def upgrade() -> None:
    op.add_column("connections", sa.Column("rate_limited_until", TS, nullable=True))
    bind = op.get_bind()
    connections = sa.table("connections", sa.column("name", sa.String), sa.column("rate_limited_until", TS))
    sync_state = sa.table(
        "sync_state", sa.column("connection", sa.String), sa.column("scope", sa.String),
        sa.column("watermark_ms", sa.BigInteger),
    )  # fmt: skip
    rows = bind.execute(
        sa.select(sync_state.c.connection, sync_state.c.watermark_ms).where(sync_state.c.scope == SCOPE)
    ).all()
    known = set(bind.execute(sa.select(connections.c.name)).scalars())
    for name, ms in rows:
        if not ms:
            continue
        until = datetime.fromtimestamp(ms / 1000, UTC)
        if bind.dialect.name == "sqlite":
            until = until.replace(tzinfo=None)  # stored as naive UTC text, like every other timestamp
        if name in known:
            bind.execute(
                connections.update().where(connections.c.name == name).values(rate_limited_until=until)
            )
        else:
            bind.execute(connections.insert().values(name=name, rate_limited_until=until))
    bind.execute(sync_state.delete().where(sync_state.c.scope == SCOPE))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("rate_limited_until")
