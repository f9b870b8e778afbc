"""The change-capture trigger's DDL: marks an issue dirty when a host program edits a synced column.

A host program updates ``issues`` with plain SQL and leaves ``sync_stamp`` alone; the sync engine always
increments ``sync_stamp`` in the same UPDATE as its own writes. So "a synced column changed while
``sync_stamp`` did not" means "a host program changed it", and only then is the row marked dirty.

Used by migration 0002 (with the column list frozen there) and by :mod:`jira_console.store.fresh` (with the
head's list, :data:`~jira_console.store.tables.SYNCED_ISSUE_COLUMNS`). The statements for a given list must
never change: a different trigger body needs a new function here and a migration that recreates it.
"""

from __future__ import annotations

from collections.abc import Sequence

NAME = "issues_capture_local_change"


def trigger_statements(dialect: str, columns: Sequence[str]) -> list[str]:
    """The statements that create the trigger (and on PostgreSQL its function) over ``columns``."""
    if dialect == "sqlite":
        return [_sqlite(columns)]
    if dialect == "postgresql":
        return _postgresql(columns)
    raise NotImplementedError(f"no change-capture trigger for {dialect}")


def _sqlite(columns: Sequence[str]) -> str:
    differs = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
    # AFTER UPDATE + a second UPDATE: SQLite triggers cannot assign NEW. The inner UPDATE touches no column
    # in the OF list, so it does not fire this trigger again. The time text is exactly what SQLAlchemy
    # writes (microseconds, 6 digits), so the engine can compare local_changed_at for equality.
    return f"""
        CREATE TRIGGER {NAME}
        AFTER UPDATE OF {", ".join(columns)} ON issues
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


def _postgresql(columns: Sequence[str]) -> list[str]:
    differs = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
    # Unqualified names: the function and trigger land in the first schema of search_path, like the tables.
    function = f"""
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
    trigger = f"""
        CREATE TRIGGER {NAME}
        BEFORE UPDATE OF {", ".join(columns)} ON issues
        FOR EACH ROW EXECUTE FUNCTION {NAME}()
        """
    return [function, trigger]
