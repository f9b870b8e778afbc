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

Migration 0014 (:func:`guard_statements_0014`) replaced them with stricter ones, on both databases: labels
must hold texts (``[1, 2]`` was taken), story points a finite number (PostgreSQL's float takes ``'NaN'`` and
``'Infinity'``, SQLite stores ``1e999`` as an infinity: either failed every later push of the connection), and
no number in ``fields`` or in an outbox value may lie beyond a 64-bit float (PostgreSQL's JSONB keeps
``1e400``, which the engine cannot read back). PostgreSQL gets a guard on the outbox too.

Migration 0018 (:func:`guard_statements_0018`) has SQLite say of text written as story points that it is
not a number (0014's message spoke of NaN and infinities only).

Used by the migrations that introduced them and by :mod:`jira_console.store.fresh` (the head's:
:func:`head_guard_statements`). As with :mod:`.capture`, the statements must never change: different guards
need new statements and a migration.
"""

from __future__ import annotations

ISSUES_TRIGGER = "issues_guard_host_values"
OUTBOX_INSERT_TRIGGER = "local_changes_guard_value_insert"
OUTBOX_UPDATE_TRIGGER = "local_changes_guard_value_update"
OUTBOX_TRIGGER = "local_changes_guard_value"
"""PostgreSQL's outbox guard (migration 0014): function and trigger of that name."""

LABELS = 'issues.labels takes a JSON list of texts, e.g. ["backend"], or NULL'
FIELDS = 'issues.fields takes a JSON object of mapped fields, e.g. {"team": "core"}'
STORY_POINTS = "issues.story_points takes a number or NULL"
SPRINT_ID = "issues.sprint_id takes a sprint's Jira id (sprints.jira_id) or NULL"
OUTBOX_VALUE = (
    "local_changes.value takes JSON text, e.g. '\"In Progress\"' for a text, '[\"backend\"]' for labels"
)
# Migration 0014's words (the rules it added).
FINITE_STORY_POINTS = "issues.story_points takes a finite number or NULL (not NaN nor an infinity)"
FIELDS_NUMBERS = "issues.fields holds numbers within ±1.8e308 (a 64-bit float); store a larger one as text"
OUTBOX_NUMBERS = (
    "local_changes.value holds numbers within ±1.8e308 (a 64-bit float); send a larger one as text"
)
_FLOAT_MAX = "1.7976931348623157e308"


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


# --- migration 0014 -----------------------------------------------------------------------------------------


def _sqlite_labels_of_texts() -> str:
    """labels NULL, JSON null, or a JSON list whose every item is a text (json_each only on valid JSON)."""
    items = "NOT EXISTS (SELECT 1 FROM json_each(NEW.labels) WHERE type <> 'text')"
    kind = f"CASE json_type(NEW.labels) WHEN 'null' THEN 1 WHEN 'array' THEN {items} ELSE 0 END"
    return f"(NEW.labels IS NULL OR CASE WHEN json_valid(NEW.labels) THEN {kind} ELSE 0 END)"


def _sqlite_numbers_fit(column: str) -> str:
    """No number in the JSON of ``column`` beyond a 64-bit float (json_tree only on valid JSON)."""
    numbers = "type IN ('integer', 'real')"
    beyond = f"SELECT 1 FROM json_tree(NEW.{column}) WHERE {numbers} AND abs(value) > {_FLOAT_MAX}"
    return (
        f"(NEW.{column} IS NULL OR CASE WHEN json_valid(NEW.{column}) THEN NOT EXISTS ({beyond}) ELSE 1 END)"
    )


_SQLITE_FINITE = (  # text refused too; an infinity is a 'real' beyond the range
    f"typeof(NEW.story_points) IN ('integer', 'null') OR (typeof(NEW.story_points) = 'real' "
    f"AND NEW.story_points BETWEEN -{_FLOAT_MAX} AND {_FLOAT_MAX})"
)


def _sqlite_issues_0014(*story_points: str) -> str:
    """The trigger on ``issues`` of migration 0014, its refusals of story points given (0018's are two)."""
    issues = "\n".join(
        (
            _sqlite_refuse("labels", _sqlite_labels_of_texts(), LABELS),
            _sqlite_refuse("fields", _sqlite_json_kind_is("fields", "'object', 'null'"), FIELDS),
            _sqlite_refuse("fields", _sqlite_numbers_fit("fields"), FIELDS_NUMBERS),
            *story_points,
            _sqlite_refuse("sprint_id", "typeof(NEW.sprint_id) IN ('integer', 'null')", SPRINT_ID),
        )
    )
    return f"""
        CREATE TRIGGER {ISSUES_TRIGGER}
        BEFORE UPDATE OF labels, fields, story_points, sprint_id ON issues
        FOR EACH ROW
        BEGIN
        {issues}
        END
        """


def _sqlite_0014() -> list[str]:
    value = "\n".join(
        (
            _sqlite_refuse(None, "(NEW.value IS NULL OR json_valid(NEW.value))", OUTBOX_VALUE),
            _sqlite_refuse(None, _sqlite_numbers_fit("value"), OUTBOX_NUMBERS),
        )
    )
    return [
        _sqlite_issues_0014(_sqlite_refuse("story_points", _SQLITE_FINITE, FINITE_STORY_POINTS)),
        *(
            f"""
        CREATE TRIGGER {name}
        BEFORE {event} ON local_changes
        FOR EACH ROW
        BEGIN
        {value}
        END
        """
            for name, event in ((OUTBOX_INSERT_TRIGGER, "INSERT"), (OUTBOX_UPDATE_TRIGGER, "UPDATE OF value"))
        ),
    ]


def _pg_raise(condition: str, message: str) -> str:
    return f"""
            IF {condition} THEN
                RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = {_sql_text(message)};
            END IF;"""


def _pg_numbers_beyond(column: str) -> str:
    path = f'lax $.** ? (@.type() == "number" && (@ > {_FLOAT_MAX} || @ < -{_FLOAT_MAX}))'
    return f"jsonb_path_exists(NEW.{column}, {_sql_text(path)})"


def _postgresql_0014() -> list[str]:
    # CASE: jsonb_array_elements fails on anything but an array, and SQL does not promise to stop at the
    # first false operand of AND. In parentheses: PL/pgSQL's IF ends its condition at the first THEN.
    not_texts = (
        "(CASE jsonb_typeof(NEW.labels) WHEN 'null' THEN false WHEN 'array' THEN EXISTS "
        "(SELECT 1 FROM jsonb_array_elements(NEW.labels) AS item WHERE jsonb_typeof(item) <> 'string') "
        "ELSE true END)"
    )
    changed = "NEW.{0} IS DISTINCT FROM OLD.{0} AND NEW.{0} IS NOT NULL AND "
    issues = "".join(
        (
            _pg_raise(changed.format("labels") + not_texts, LABELS),
            _pg_raise(
                changed.format("fields") + "jsonb_typeof(NEW.fields) NOT IN ('object', 'null')", FIELDS
            ),
            _pg_raise(changed.format("fields") + _pg_numbers_beyond("fields"), FIELDS_NUMBERS),
            _pg_raise(
                changed.format("story_points") + "NEW.story_points IN ('NaN', 'Infinity', '-Infinity')",
                FINITE_STORY_POINTS,
            ),
        )
    )
    outbox = _pg_raise("NEW.value IS NOT NULL AND " + _pg_numbers_beyond("value"), OUTBOX_NUMBERS)
    return [
        f"""
        CREATE OR REPLACE FUNCTION {ISSUES_TRIGGER}() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN{issues}
            RETURN NEW;
        END
        $body$
        """,
        f"""
        CREATE TRIGGER {ISSUES_TRIGGER}
        BEFORE UPDATE OF labels, fields, story_points ON issues
        FOR EACH ROW EXECUTE FUNCTION {ISSUES_TRIGGER}()
        """,
        f"""
        CREATE OR REPLACE FUNCTION {OUTBOX_TRIGGER}() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN{outbox}
            RETURN NEW;
        END
        $body$
        """,
        f"""
        CREATE TRIGGER {OUTBOX_TRIGGER}
        BEFORE INSERT OR UPDATE OF value ON local_changes
        FOR EACH ROW EXECUTE FUNCTION {OUTBOX_TRIGGER}()
        """,
    ]


def guard_statements_0014(dialect: str) -> list[str]:
    """The statements that create migration 0014's guards (after :func:`drop_statements` removed 0010's)."""
    if dialect == "sqlite":
        return _sqlite_0014()
    if dialect == "postgresql":
        return _postgresql_0014()
    raise NotImplementedError(f"no host-value guards for {dialect}")


def drop_statements_0014(dialect: str) -> list[str]:
    """The statements that remove migration 0014's guards (its downgrade, before 0010's are created again)."""
    if dialect == "sqlite":
        return drop_statements(dialect)
    return [
        *drop_statements(dialect),
        f"DROP TRIGGER IF EXISTS {OUTBOX_TRIGGER} ON local_changes",
        f"DROP FUNCTION IF EXISTS {OUTBOX_TRIGGER}()",
    ]


# --- migration 0018 -----------------------------------------------------------------------------------------

NUMBER_STORY_POINTS = "issues.story_points takes a number or NULL: the value written is not a number"
"""SQLite's refusal of text or a blob as story points (0014 said "not NaN nor an infinity" of ``'abc'``)."""


def _sqlite_issues_0018() -> str:
    return _sqlite_issues_0014(
        _sqlite_refuse(
            "story_points", "typeof(NEW.story_points) IN ('integer', 'real', 'null')", NUMBER_STORY_POINTS
        ),
        _sqlite_refuse("story_points", _SQLITE_FINITE, FINITE_STORY_POINTS),
    )


def guard_statements_0018(dialect: str) -> list[str]:
    """Migration 0018: SQLite's trigger on ``issues`` again, saying of text or a blob written as story points
    that it is not a number. PostgreSQL's float column refuses those in its own words: nothing changes."""
    if dialect != "sqlite":
        return []
    return [f"DROP TRIGGER IF EXISTS {ISSUES_TRIGGER}", _sqlite_issues_0018()]


def drop_statements_0018(dialect: str) -> list[str]:
    """Migration 0018's downgrade: 0014's trigger on ``issues`` again."""
    if dialect != "sqlite":
        return []
    return [f"DROP TRIGGER IF EXISTS {ISSUES_TRIGGER}", _sqlite_0014()[0]]


def head_guard_statements(dialect: str) -> list[str]:
    """The guards of a schema at the head (what :mod:`jira_console.store.fresh` creates)."""
    if dialect == "sqlite":
        return [_sqlite_issues_0018(), *_sqlite_0014()[1:]]
    return guard_statements_0014(dialect)
