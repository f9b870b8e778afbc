"""Local-change capture: the trigger that marks an issue dirty when a host program edits a synced column
(see :mod:`jira_console.store.capture`).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from jira_console.store import capture

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a later change to the list needs a new migration that recreates the triggers.
COLUMNS = (
    "summary",
    "status",
    "priority",
    "assignee",
    "labels",
    "description",
    "sprint_id",
    "story_points",
    "parent_key",
    "fields",
)
NAME = capture.NAME


def upgrade() -> None:
    for statement in capture.trigger_statements(op.get_bind().dialect.name, COLUMNS):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(f"DROP TRIGGER IF EXISTS {NAME}" + (" ON issues" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {NAME}()")
