"""Values a host program stored before the guards of migration 0010 (:mod:`.host_guards`), in a shape the
engine cannot read, set aside by migration 0011: each such column of an issue goes back to the value last
synced with Jira (the row's ``base``), and the value set aside is kept, as it was stored, in an audit line.

Before, such a row failed every sync that read it (SQLite: ``labels = 'backend'``, text that is not JSON)
or ``issues list`` and ``issues show`` on every page that held it (PostgreSQL: ``fields = '"x"'``). The
guards keep new ones out; this repairs the old ones once. The write is an engine write (``sync_stamp``
moves), so the row is not marked as changed locally: nothing is pushed, Jira already holds these values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, update

from jira_console.store import host_guards, tables
from jira_console.store.tables import utcnow

log = logging.getLogger(__name__)

REASON = "set aside by migration 0011: the engine cannot read this value (stored before migration 0010)"
ACTOR = "migration 0011"

_CORE = tuple(c for c in tables.SYNCED_ISSUE_COLUMNS if c != "fields")

_SQLITE_SUSPECTS = """
    SELECT id, connection, key, labels, fields, story_points, sprint_id, base FROM issues
     WHERE (labels IS NOT NULL AND NOT COALESCE(
                CASE WHEN json_valid(labels) THEN json_type(labels) IN ('array', 'null') END, 0))
        OR (fields IS NOT NULL AND NOT COALESCE(
                CASE WHEN json_valid(fields) THEN json_type(fields) IN ('object', 'null') END, 0))
        OR typeof(story_points) NOT IN ('integer', 'real', 'null')
        OR typeof(sprint_id) NOT IN ('integer', 'null')
"""
_POSTGRESQL_SUSPECTS = """
    SELECT id, connection, key, labels, fields, story_points, sprint_id, base FROM issues
     WHERE jsonb_typeof(labels) NOT IN ('array', 'null') OR jsonb_typeof(fields) NOT IN ('object', 'null')
"""


def _json(stored: Any, sqlite: bool) -> tuple[bool, Any]:
    """A JSON column's value as read without the column type: (parsed, value). SQLite gives its text."""
    if not sqlite or stored is None:
        return True, stored
    try:
        return True, orjson.loads(stored)
    except (orjson.JSONDecodeError, TypeError):
        return False, stored


def _unreadable(column: str, stored: Any, sqlite: bool) -> bool:
    """Whether the guard of ``column`` would refuse ``stored`` (as read without the column type)."""
    if column in ("labels", "fields"):
        parsed, value = _json(stored, sqlite)
        wanted = list if column == "labels" else dict
        return not parsed or not (value is None or isinstance(value, wanted))
    if column == "story_points":
        return not (stored is None or (isinstance(stored, int | float) and not isinstance(stored, bool)))
    return not (stored is None or (isinstance(stored, int) and not isinstance(stored, bool)))


def _synced_value(column: str, base: Mapping[str, Any]) -> Any:
    """What Jira last held for ``column``, as the row's ``base`` records it (None when it does not say)."""
    if column == "fields":
        return {name: value for name, value in base.items() if name not in _CORE}
    value = base.get(column)
    if column == "labels":
        return value if isinstance(value, list) and all(isinstance(x, str) for x in value) else None
    if column == "story_points":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def repair(conn: Connection) -> int:
    """Set aside every unreadable value of ``issues`` (see the module docstring); returns how many."""
    sqlite = conn.dialect.name == "sqlite"
    suspects = conn.exec_driver_sql(_SQLITE_SUSPECTS if sqlite else _POSTGRESQL_SUSPECTS).all()
    audit: list[dict[str, Any]] = []
    now = utcnow()
    for row in suspects:
        parsed, base = _json(row.base, sqlite)
        base = base if parsed and isinstance(base, dict) else {}
        repaired: dict[str, Any] = {}
        for column in ("labels", "fields", "story_points", "sprint_id"):
            stored = getattr(row, column)
            if not _unreadable(column, stored, sqlite):
                continue
            repaired[column] = _synced_value(column, base)
            # As stored: the JSON value when it is JSON (of the wrong kind), else the text itself.
            kept = _json(stored, sqlite)[1] if column in ("labels", "fields") else stored
            audit.append({
                "at": now, "connection": row.connection, "issue_key": row.key, "side": "local",
                "field": column, "old": kept, "new": repaired[column], "reason": REASON, "actor": ACTOR,
            })  # fmt: skip
        if repaired:
            issues = tables.issues
            stamp = issues.c.sync_stamp + 1  # an engine write: the row is not marked as changed locally
            conn.execute(update(issues).where(issues.c.id == row.id).values(**repaired, sync_stamp=stamp))
    if audit:
        conn.execute(tables.audit_log.insert(), audit)
        log.warning(
            "%d value(s) a host program stored before migration 0010 could not be read; each was set back to "
            "Jira's value and is kept in the audit log (reason: %s). The rules: %s; %s; %s; %s",
            len(audit), REASON, host_guards.LABELS, host_guards.FIELDS, host_guards.STORY_POINTS,
            host_guards.SPRINT_ID,
        )  # fmt: skip
    return len(audit)
