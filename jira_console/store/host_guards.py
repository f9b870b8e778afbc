"""Guards on what a host program writes with plain SQL: a value the engine could not read back is refused by
the database, at the host's own statement, with a message saying what the column takes.

Without them, on SQLite (which stores any value in any column) ``UPDATE issues SET labels = 'backend'`` or
``story_points = 'abc'`` was stored as given; the next sync then failed on that row, for the whole
connection, until someone found and repaired it. PostgreSQL's types refuse most of that already, but a JSONB
column takes any JSON: ``fields = '[1]'`` broke ``issues show``.

- SQLite: a trigger before an UPDATE of the host-writable columns of ``issues``, and one before an INSERT or
  UPDATE of ``local_changes.value`` (the outbox). The engine's own INSERTs of issues are not checked (a first
  import writes thousands); it writes only what it decoded.
- PostgreSQL: CHECK constraints on the two JSON columns of ``issues`` whose shape the engine relies on.

Used by the migration that introduced them and by :mod:`jira_console.store.fresh`. As with
:mod:`.capture`, the statements must never change: different guards need new statements and a migration.
"""

from __future__ import annotations

ISSUES_TRIGGER = "issues_guard_host_values"
OUTBOX_INSERT_TRIGGER = "local_changes_guard_value_insert"
OUTBOX_UPDATE_TRIGGER = "local_changes_guard_value_update"
LABELS_CHECK = "issues_labels_is_a_json_list"
FIELDS_CHECK = "issues_fields_is_a_json_object"


def _json_kind_is(column: str, kinds: str) -> str:
    """SQL (SQLite) true when ``column`` is NULL or JSON text of one of ``kinds`` (CASE: json_type raises on
    text that is not JSON, and SQLite does not promise to stop at the first false operand of OR)."""
    kind = f"CASE WHEN json_valid(NEW.{column}) THEN json_type(NEW.{column}) IN ({kinds}) ELSE 0 END"
    return f"(NEW.{column} IS NULL OR {kind})"


def _raise_unless(condition: str, message: str) -> str:
    return f"SELECT RAISE(ABORT, '{message}') WHERE NOT {condition};"


def guard_statements(dialect: str) -> list[str]:
    """The statements that create the guards on ``dialect``."""
    if dialect == "sqlite":
        issues = "\n".join(
            (
                _raise_unless(
                    _json_kind_is("labels", "'array', 'null'"),
                    'issues.labels takes a JSON list of texts, e.g. ["backend"], or NULL',
                ),
                _raise_unless(
                    _json_kind_is("fields", "'object', 'null'"),
                    'issues.fields takes a JSON object of mapped fields, e.g. {"team": "core"}',
                ),
                _raise_unless(
                    "typeof(NEW.story_points) IN ('integer', 'real', 'null')",
                    "issues.story_points takes a number or NULL",
                ),
                _raise_unless(
                    "typeof(NEW.sprint_id) IN ('integer', 'null')",
                    "issues.sprint_id takes a sprint''s Jira id (sprints.jira_id) or NULL",
                ),
            )
        )
        value = _raise_unless(
            "(NEW.value IS NULL OR json_valid(NEW.value))",
            "local_changes.value takes JSON text, e.g. ''\"In Progress\"'' for a text, "
            "''[\"backend\"]'' for labels",
        )
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
    if dialect == "postgresql":
        # NOT VALID: rows already stored are not scanned (a long lock on a large table); each write is.
        return [
            f"ALTER TABLE issues ADD CONSTRAINT {LABELS_CHECK} "
            "CHECK (labels IS NULL OR jsonb_typeof(labels) IN ('array', 'null')) NOT VALID",
            f"ALTER TABLE issues ADD CONSTRAINT {FIELDS_CHECK} "
            "CHECK (fields IS NULL OR jsonb_typeof(fields) IN ('object', 'null')) NOT VALID",
        ]
    raise NotImplementedError(f"no host-value guards for {dialect}")


def drop_statements(dialect: str) -> list[str]:
    """The statements that remove them (a downgrade)."""
    if dialect == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {n}"
            for n in (ISSUES_TRIGGER, OUTBOX_INSERT_TRIGGER, OUTBOX_UPDATE_TRIGGER)
        ]
    return [f"ALTER TABLE issues DROP CONSTRAINT IF EXISTS {n}" for n in (LABELS_CHECK, FIELDS_CHECK)]
