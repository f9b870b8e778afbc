"""SQLite's guard on ``issues`` says of text written as story points (``story_points = 'abc'``) that it is
not a number: since 0014 it said "takes a finite number or NULL (not NaN nor an infinity)", which named
nothing wrong with ``'abc'``. See :mod:`jira_console.store.host_guards`. PostgreSQL is unchanged: its float
column refuses text in its own words.

Revision ID: 0018_story_points_not_a_number
Revises: 0017_conflict_revision
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from jira_console.store import host_guards

revision: str = "0018_story_points_not_a_number"
down_revision: str | None = "0017_conflict_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in host_guards.guard_statements_0018(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in host_guards.drop_statements_0018(op.get_bind().dialect.name):
        op.execute(statement)
