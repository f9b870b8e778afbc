"""Values a host program stored before migration 0010, in a shape the engine cannot read, set back to the
value last synced with Jira; each one set aside is kept in the audit log (see
:mod:`jira_console.store.host_repair`). Data only: the schema does not change.

Revision ID: 0011_repair
Revises: 0010_guards
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from jira_console.store import host_repair

revision: str = "0011_repair"
down_revision: str | None = "0010_guards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    host_repair.repair(op.get_bind())


def downgrade() -> None:
    """Nothing to reverse: the values set aside are in the audit log, and putting them back would break the
    syncs that read them again."""
