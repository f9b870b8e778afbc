"""Guards on what a host program writes with plain SQL: a value the engine could not read back is refused by
the database, at the host's own statement, with a message saying what the column takes.

Without them, on SQLite (which stores any value in any column) ``UPDATE issues SET labels = 'backend'`` or
``story_points = 'abc'`` was stored as given; the next sync then failed on that row, for the whole
connection, until someone found and repaired it. PostgreSQL's types refuse most of that already, but a JSONB
column takes any JSON: ``fields = '[1]'`` broke ``issues show``.

- SQLite: a trigger before an UPDATE of the host-writable columns of ``issues``, and one before an INSERT or
  UPDATE of ``local_changes.value`` (the outbox). The engine's own INSERTs of issues are not checked (a first
  import writes thousands); it writes only what it decoded.
- PostgreSQL: a trigger before an UPDATE of the two JSONB columns of ``issues`` whose shape the engine
  relies on (the column types refuse the rest).

Each refuses a column's new value only when that column changes: a value stored before the guards existed
does not stop the engine's writes of the row's other columns.

Used by the migration that introduced them and by :mod:`jira_console.store.fresh`. As with
:mod:`.capture`, the statements must never change: different guards need new statements and a migration.
"""

from __future__ import annotations

ISSUES_TRIGGER = "issues_guard_host_values"
OUTBOX_INSERT_TRIGGER = "local_changes_guard_value_insert"
OUTBOX_UPDATE_TRIGGER = "local_changes_guard_value_update"

LABELS = 'issues.labels takes a JSON list of texts, e.g. ["backend"], or NULL'
FIELDS = 'issues.fields takes a JSON object of mapped fields, e.g. {"team": "core"}'
STORY_POINTS = "issues.story_points takes a number or NULL"
SPRINT_ID = "issues.sprint_id takes a sprint's Jira id (sprints.jira_id) or NULL"
OUTBOX_VALUE = (
    "local_changes.value takes JSON text, e.g. '\"In Progress\"' for a text, '[\"backend\"]' for labels"
)


def _sql_text(message: str) -> str:
    return "'" + message.replace("'", "''") + "'"


def _sqlite_json_kind_is(column: str, kinds: str) -> str:
    """True when ``column`` is NULL or JSON text of one of ``kinds`` (CASE: json_type raises on text that is
    not JSON, and SQLite does not promise to stop at the first false operand of OR)."""
    kind = f"CASE WHEN json_valid(NEW.{column}) THEN json_type(NEW.{column}) IN ({kinds}) ELSE 0 END"
    return f"(NEW.{column} IS NULL OR {kind})"


def _sqlite_refuse(column: str | None, condition: str, message: str) -> str:
    """Refuse the row unless ``condition``: only when ``column`` changed (a value stored before these guards
    does not stop the engine's writes of the other columns)."""
    changed = f"NEW.{column} IS NOT OLD.{column} AND " if column else ""
    return f"SELECT RAISE(ABORT, {_sql_text(message)}) WHERE {changed}NOT ({condition});"


def _sqlite() -> list[str]:
    issues = "\n".join(
        (
            _sqlite_refuse("labels", _sqlite_json_kind_is("labels", "'array', 'null'"), LABELS),
            _sqlite_refuse("fields", _sqlite_json_kind_is("fields", "'object', 'null'"), FIELDS),
            _sqlite_refuse(
                "story_points", "typeof(NEW.story_points) IN ('integer', 'real', 'null')", STORY_POINTS
            ),
            _sqlite_refuse("sprint_id", "typeof(NEW.sprint_id) IN ('integer', 'null')", SPRINT_ID),
        )
    )
    value = _sqlite_refuse(None, "(NEW.value IS NULL OR json_valid(NEW.value))", OUTBOX_VALUE)
    return [
        f"""
        CREATE TRIGGER {ISSUES_TRIGGER}
        BEFORE UPDATE OF labels, fields, story_points, sprint_id ON issues
        FOR EACH ROW
        BEGIN
        {issues}
        END
        """,
        f"""
        CREATE TRIGGER {OUTBOX_INSERT_TRIGGER}
        BEFORE INSERT ON local_changes
        FOR EACH ROW
        BEGIN
        {value}
        END
        """,
        f"""
        CREATE TRIGGER {OUTBOX_UPDATE_TRIGGER}
        BEFORE UPDATE OF value ON local_changes
        FOR EACH ROW
        BEGIN
        {value}
        END
        """,
    ]


def _postgresql() -> list[str]:
    # The column types refuse text in a number column and JSON that does not parse; the shapes of the two
    # JSON columns are checked here, when they change (so a row stored before does not stop other writes).
    def refuse(column: str, kinds: str, message: str) -> str:
        return f"""
            IF NEW.{column} IS DISTINCT FROM OLD.{column} AND NEW.{column} IS NOT NULL
               AND jsonb_typeof(NEW.{column}) NOT IN ({kinds}) THEN
                RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = {_sql_text(message)};
            END IF;"""

    function = f"""
        CREATE OR REPLACE FUNCTION {ISSUES_TRIGGER}() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN{refuse("labels", "'array', 'null'", LABELS)}{refuse("fields", "'object', 'null'", FIELDS)}
            RETURN NEW;
        END
        $body$
        """
    trigger = f"""
        CREATE TRIGGER {ISSUES_TRIGGER}
        BEFORE UPDATE OF labels, fields ON issues
        FOR EACH ROW EXECUTE FUNCTION {ISSUES_TRIGGER}()
        """
    return [function, trigger]


def guard_statements(dialect: str) -> list[str]:
    """The statements that create the guards on ``dialect``."""
    if dialect == "sqlite":
        return _sqlite()
    if dialect == "postgresql":
        return _postgresql()
    raise NotImplementedError(f"no host-value guards for {dialect}")


def drop_statements(dialect: str) -> list[str]:
    """The statements that remove them (a downgrade)."""
    if dialect == "sqlite":
        names = (ISSUES_TRIGGER, OUTBOX_INSERT_TRIGGER, OUTBOX_UPDATE_TRIGGER)
        return [f"DROP TRIGGER IF EXISTS {n}" for n in names]
    return [
        f"DROP TRIGGER IF EXISTS {ISSUES_TRIGGER} ON issues",
        f"DROP FUNCTION IF EXISTS {ISSUES_TRIGGER}()",
    ]
