"""The ``local_changes`` outbox: rows host programs insert instead of updating ``issues`` directly, taken by
the sync (which applies each one to its issue as a local edit) and listed for operators."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, case, cast, delete, func, select, update
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import tables as t
from jira_console.store.tables import utcnow

if TYPE_CHECKING:
    from jira_console.store.db import Database

_LC = t.local_changes.c
"""Core columns, not the ORM class: ``status`` reads these counts without paying for the class mapping."""
_COLUMNS = [c for c in t.local_changes.c if c.name != "value"]


def _select() -> Any:
    """The rows with ``value`` as the column's text: one a host program stored that the engine cannot read
    (PostgreSQL's JSONB keeps 1e400, beyond a float) is said on its own row instead of failing the read of
    every row with it."""
    return select(*_COLUMNS, cast(_LC.value, Text).label("value_text"))


def _record(row: Any) -> cv.LocalChangeRecord:
    values = {c.name: getattr(row, c.name) for c in _COLUMNS}
    try:
        # As the creation requests are read: a number beyond a float comes back as an infinity or a long
        # integer, which the edit's check then names ("takes a finite number, not Infinity").
        value, problem = (json.loads(row.value_text) if row.value_text is not None else None), None
    except ValueError:
        value, problem = None, "local_changes.value is not JSON text (written before migration 0010?)"
    return cv.LocalChangeRecord(**values, value=value, problem=problem)


def claim_local_changes(session: Session, connection: str, limit: int = 100) -> list[cv.LocalChangeRecord]:
    """Unprocessed outbox rows of a connection, oldest first.

    On PostgreSQL the rows stay locked (``FOR UPDATE SKIP LOCKED``) until the session ends, so a second
    daemon skips them; mark each one with :func:`mark_local_change` in the same session.
    """
    stmt = (
        _select()
        .where(_LC.connection == connection, _LC.processed_at.is_(None))
        .order_by(_LC.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [_record(r) for r in session.execute(stmt)]


def unknown_keys(session: Session, connection: str, limit: int = 100) -> list[str]:
    """Keys that waiting outbox rows of a connection name and that no issue row has, now or as a key it
    had: an issue Jira renamed without an event (a project key changed) that the store has not met since."""
    issues, aliases = t.issues.c, t.issue_aliases.c
    stmt = (
        select(_LC.issue_key)
        .where(_LC.connection == connection, _LC.processed_at.is_(None))
        .where(
            ~select(issues.id).where(issues.connection == connection, issues.key == _LC.issue_key).exists()
        )
        .where(
            ~select(aliases.id)
            .where(aliases.connection == connection, aliases.old_key == _LC.issue_key)
            .exists()
        )
        .distinct()
        .limit(limit)
    )
    return list(session.scalars(stmt))


def mark_local_change(session: Session, change_id: int, *, error: str | None = None) -> None:
    """Mark an outbox row processed (with the reason when it could not be applied)."""
    session.execute(
        update(t.local_changes).where(_LC.id == change_id).values(processed_at=utcnow(), error=error)
    )


def list_local_changes(
    session: Session, *, connection: str | None = None, pending_only: bool = False, limit: int = 100
) -> list[cv.LocalChangeRecord]:
    """Outbox rows, newest first."""
    stmt = _select().order_by(_LC.id.desc()).limit(limit)
    if connection is not None:
        stmt = stmt.where(_LC.connection == connection)
    if pending_only:
        stmt = stmt.where(_LC.processed_at.is_(None))
    return [_record(r) for r in session.execute(stmt)]


def outbox_counts(session: Session) -> dict[str, dict[str, int]]:
    """connection -> ``pending`` (not taken yet) and ``refused`` (taken, with an error) outbox rows, for the
    connections that have any (what ``status`` sums up)."""
    pending = func.sum(case((_LC.processed_at.is_(None), 1), else_=0))
    refused = func.sum(case((_LC.error.is_not(None), 1), else_=0))
    stmt = select(_LC.connection, pending, refused).group_by(_LC.connection).order_by(_LC.connection)
    return {
        str(conn): {"pending": int(p or 0), "refused": int(r or 0)}
        for conn, p, r in session.execute(stmt)
        if p or r
    }


def purge_local_changes(session: Session, older_than: datetime) -> int:
    """Delete outbox rows taken before ``older_than`` (applied or refused: the audit log keeps what they
    changed); returns how many. Pending rows stay."""
    result = session.execute(
        delete(t.local_changes).where(_LC.processed_at.is_not(None), _LC.processed_at < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge_outbox(db: Database, retention_days: int) -> int:
    """The daemon's retention job for the outbox and the settled creation requests (blocking: run it in a
    thread from async code)."""
    from jira_console.store.creations import purge_requests

    older_than = utcnow() - timedelta(days=retention_days)
    with db.session(write=True) as session:
        return purge_local_changes(session, older_than) + purge_requests(session, older_than)
