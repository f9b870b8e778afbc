"""Local work announced at commit on PostgreSQL: triggers that NOTIFY the daemon when a host program edits an
issue, adds an outbox row or asks for an issue (see :mod:`jira_console.store.local_notify`). Nothing on
SQLite.

Revision ID: 0013_local_work_notify
Revises: 0012_new_issues
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from jira_console.store import local_notify

revision: str = "0013_local_work_notify"
down_revision: str | None = "0012_new_issues"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in local_notify.notify_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in local_notify.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
