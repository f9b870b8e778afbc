"""Guards on host programs' writes (see :mod:`jira_console.store.host_guards`): a value the engine could not
read back (labels that are not a JSON list, story points that are not a number, an outbox value that is not
JSON) is refused at the host's statement instead of failing every later sync of the connection.

Revision ID: 0010_guards
Revises: 0006_18
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from jira_console.store import host_guards

revision: str = "0010_guards"
down_revision: str | None = "0006_18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in host_guards.guard_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in host_guards.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
