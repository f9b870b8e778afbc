"""Local-change capture: triggers that mark an issue dirty when a host program edits a synced column.

A host program updates ``issues`` with plain SQL and leaves ``sync_stamp`` alone; the sync engine always
increments ``sync_stamp`` in the same UPDATE as its own writes. So "a synced column changed while
``sync_stamp`` did not" means "a host program changed it", and only then is the row marked dirty.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

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
NAME = "issues_capture_local_change"


def _sqlite_upgrade() -> None:
    differs = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in COLUMNS)
    # AFTER UPDATE + a second UPDATE: SQLite triggers cannot assign NEW. The inner UPDATE touches no column
    # in the OF list, so it does not fire this trigger again. The time text is exactly what SQLAlchemy
    # writes (microseconds, 6 digits), so the engine can compare local_changed_at for equality.
    op.execute(
        f"""
        CREATE TRIGGER {NAME}
        AFTER UPDATE OF {", ".join(COLUMNS)} ON issues
        FOR EACH ROW
        WHEN NEW.sync_stamp IS OLD.sync_stamp AND ({differs})
        BEGIN
            UPDATE issues
               SET local_dirty = 1,
                   local_changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
                   updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'
             WHERE id = NEW.id;
        END
        """
    )


def _postgresql_upgrade() -> None:
    differs = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in COLUMNS)
    # Unqualified names: the function and trigger land in the first schema of search_path, like the tables.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {NAME}() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN
            IF NEW.sync_stamp IS NOT DISTINCT FROM OLD.sync_stamp AND ({differs}) THEN
                NEW.local_dirty := true;
                NEW.local_changed_at := clock_timestamp();
                NEW.updated_at := clock_timestamp();
            END IF;
            RETURN NEW;
        END
        $body$
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER {NAME}
        BEFORE UPDATE OF {", ".join(COLUMNS)} ON issues
        FOR EACH ROW EXECUTE FUNCTION {NAME}()
        """
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _postgresql_upgrade()
    else:
        raise NotImplementedError(f"no change-capture trigger for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(f"DROP TRIGGER IF EXISTS {NAME}" + (" ON issues" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {NAME}()")
