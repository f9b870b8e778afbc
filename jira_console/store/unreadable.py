"""Issue rows holding a JSON value the engine cannot read, found by issue and column so that a sync can set
those issues aside and say where to look, instead of failing on every row read with them.

Such a value comes from a plain-SQL write the guards did not stop: text that is not JSON (SQLite, before
migration 0010, or a column host programs must not write, such as ``base``), or a number beyond a 64-bit
float (PostgreSQL's JSONB keeps ``1e400``). The JSON column type fails while rows are read (see
:class:`~jira_console.store.db.UnreadableJson`), so it cannot tell which; this reads the columns' text and
tries each value on its own. Only looked at after such a failure: it reads every JSON column of the rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from sqlalchemy import JSON, Text, cast, select
from sqlalchemy.orm import Session

from jira_console.store import host_guards
from jira_console.store import tables as t
from jira_console.store.identity import ids_by_key_or_jira_id

KIND = "UnreadableJson"
"""The ``quarantined_issues.kind`` of an issue set aside for such a value."""

_ISSUES = t.issues
JSON_COLUMNS = tuple(c.name for c in _ISSUES.c if isinstance(c.type, JSON))
_ENGINE_COLUMN = "issues.{name} is the engine's own, host programs must not write it: set it to NULL"
_REPAIR = {
    "labels": host_guards.LABELS,
    "fields": host_guards.FIELDS,
    "base": _ENGINE_COLUMN.format(name="base") + " (the next sync then compares each field afresh: one the "
    "two sides hold differently becomes a conflict)",
}


def readable(text: str | None) -> bool:
    """Whether the engine reads ``text`` (a JSON column's value as text) back."""
    if text is None:
        return True
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def find(
    session: Session, connection: str, keys: Iterable[str], jira_ids: Iterable[str] = ()
) -> dict[tuple[str, str | None], list[str]]:
    """(key, Jira id) -> the JSON columns the engine cannot read, of the connection's issues with one of
    ``keys`` or ``jira_ids`` (only those that have any)."""
    wanted_keys, wanted_ids = list(keys), [str(i) for i in jira_ids if i]
    if not wanted_keys and not wanted_ids:
        return {}
    rows = ids_by_key_or_jira_id(session, connection, wanted_keys, wanted_ids)
    texts = [cast(_ISSUES.c[name], Text) for name in JSON_COLUMNS]
    stmt = select(_ISSUES.c.key, _ISSUES.c.jira_id, *texts).where(_ISSUES.c.id.in_(rows))
    found: dict[tuple[str, str | None], list[str]] = {}
    for key, jira_id, *values in session.execute(stmt):
        bad = [name for name, text in zip(JSON_COLUMNS, values, strict=True) if not readable(text)]
        if bad:
            found[(str(key), None if jira_id is None else str(jira_id))] = bad
    return found


def cause(columns: Iterable[str]) -> str:
    """What ``quarantined_issues.cause`` says of an issue whose ``columns`` the engine cannot read: which,
    and what to write there instead (no value: issue data stays out of it)."""
    names = list(columns)
    fixes = [_REPAIR.get(name, _ENGINE_COLUMN.format(name=name)) for name in names]
    return (
        f"{', '.join(f'issues.{name}' for name in names)} not readable (text that is not JSON, or a number "
        f"beyond ±1.8e308, stored with plain SQL); {'; '.join(fixes)}"
    )
