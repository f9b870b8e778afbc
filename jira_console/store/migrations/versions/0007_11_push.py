"""Account safety (issue 11): a connection whose Basic credentials Jira denied stops sending them.

``connections.auth_blocked``: Jira's reason (e.g. a CAPTCHA demanded after failed logins) when it last
denied this connection's Basic credentials; while set, no process sends them again (each attempt would count
towards locking the account). ``auth_blocked_at`` is when, and ``auth_blocked_config`` a fingerprint of the
connection's non-secret settings then: a changed configuration, or ``config check``, lifts the block.

Revision ID: 0007_11_push
Revises: 0006_11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_11_push"
down_revision: str | None = "0006_11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("auth_blocked", sa.Text(), nullable=True))
    op.add_column("connections", sa.Column("auth_blocked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("connections", sa.Column("auth_blocked_config", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("auth_blocked_config")
        batch.drop_column("auth_blocked_at")
        batch.drop_column("auth_blocked")
