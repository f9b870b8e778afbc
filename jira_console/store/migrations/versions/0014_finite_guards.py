"""Stricter guards on host programs' values (see :mod:`jira_console.store.host_guards`): labels must hold
texts, story points a finite number, and no number in ``issues.fields`` or an outbox value may lie beyond a
64-bit float; PostgreSQL gets a guard on the outbox. A NaN or infinite story points value stopped every push
of its connection; ``1e400`` in a JSONB column could not be read back.

Values already stored are left as they are: the engine parks such a story points value as a field error, and
sets aside an issue or outbox row it cannot read, naming the column.

Revision ID: 0014_finite_guards
Revises: 0013_local_work_notify
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from jira_console.store import host_guards

revision: str = "0014_finite_guards"
down_revision: str | None = "0013_local_work_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in [*host_guards.drop_statements(dialect), *host_guards.guard_statements_0014(dialect)]:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in [*host_guards.drop_statements_0014(dialect), *host_guards.guard_statements(dialect)]:
        op.execute(statement)
