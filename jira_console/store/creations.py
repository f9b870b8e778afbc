"""The ``new_issues`` table: issues a host program (or ``jira-console local create``) asks to create in
Jira. The sync takes each request (:mod:`jira_console.sync.create`) and writes back what became of it.

A request's ``state``:

* ``pending``: not taken yet (a host program sets a refused request back to ``pending`` to try it again);
* ``creating``: the create was sent, or is being sent, with the request's ``token`` among the new issue's
  entity properties. Whether Jira acted is not known until the issue is found (by that token) or the
  create is answered: a crash or a timeout leaves the request here, and the next run looks for the token
  before it sends anything again, so a request never creates two issues;
* ``created``: ``issue_key`` and ``jira_id`` name the issue;
* ``failed``: ``error`` says why (Jira's own words when Jira refused it); nothing was created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, case, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session

from jira_console.store import tables as t
from jira_console.store.tables import utcnow

_NI = t.new_issues.c
OPEN_STATES = ("pending", "creating")
STATES = ("pending", "creating", "created", "failed")
CREATED_IN_JIRA = "created in Jira"
"""How the audit line of an issue created from a request begins (``audit undo`` refuses it)."""


@dataclass(frozen=True, slots=True)
class CreationRecord:
    """One ``new_issues`` row. ``fields`` is None when the stored value is not a JSON object (``problem``
    says what it is instead)."""

    id: int
    connection: str
    project_key: str
    issue_type: str
    fields: dict[str, Any] | None
    state: str
    requested_at: datetime | None = None
    requested_by: str | None = None
    token: str | None = None
    attempts: int = 0
    attempted_at: datetime | None = None
    issue_key: str | None = None
    jira_id: str | None = None
    error: str | None = None
    done_at: datetime | None = None
    problem: str | None = None


_COLUMNS = [c for c in t.new_issues.c if c.name != "fields"]


def _record(row: Any) -> CreationRecord:
    values = {c.name: getattr(row, c.name) for c in _COLUMNS}
    fields, problem = _fields_of(row.fields_text)
    values["attempts"] = int(values["attempts"] or 0)
    return CreationRecord(**values, fields=fields, problem=problem)


def _fields_of(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The request's fields, read from the column's text so that a value a host program stored in a shape
    the engine cannot use (SQLite keeps any text) is reported on its request instead of failing the read."""
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None, "new_issues.fields is not JSON text"
    if not isinstance(value, dict):
        return None, 'new_issues.fields takes a JSON object of field -> value, e.g. {"summary": "Fix login"}'
    return value, None


def _select() -> Any:
    return select(*(c for c in _COLUMNS), cast(_NI.fields, Text).label("fields_text"))


def request_creation(
    session: Session,
    connection: str,
    project_key: str,
    issue_type: str,
    fields: dict[str, Any],
    requested_by: str | None = None,
) -> int:
    """Queue a creation as a host program's ``INSERT`` would; returns the request's id."""
    result = session.execute(
        insert(t.new_issues)
        .values(
            connection=connection,
            project_key=project_key,
            issue_type=issue_type,
            fields=fields,
            requested_by=requested_by,
        )
        .returning(_NI.id)
    )
    return int(result.scalar_one())


def open_requests(
    session: Session, connection: str, limit: int = 50, *, after: int = 0
) -> list[CreationRecord]:
    """Requests of a connection still to be taken (``pending``) or confirmed (``creating``), oldest first
    (those with an id above ``after``)."""
    stmt = (
        _select()
        .where(_NI.connection == connection, _NI.state.in_(OPEN_STATES), _NI.id > after)
        .order_by(_NI.id)
        .limit(limit)
    )
    return [_record(r) for r in session.execute(stmt)]


def get_request(session: Session, request_id: int) -> CreationRecord | None:
    row = session.execute(_select().where(_NI.id == request_id)).first()
    return _record(row) if row is not None else None


def list_requests(
    session: Session, *, connection: str | None = None, state: str | None = None, limit: int = 100
) -> list[CreationRecord]:
    """Requests, newest first."""
    stmt = _select().order_by(_NI.id.desc()).limit(limit)
    if connection is not None:
        stmt = stmt.where(_NI.connection == connection)
    if state is not None:
        stmt = stmt.where(_NI.state == state)
    return [_record(r) for r in session.execute(stmt)]


def mark_sending(session: Session, request_id: int, token: str, attempts: int) -> bool:
    """Take the request for one more create, recorded before it is sent (with the token it carries).
    ``attempts`` is how many the caller saw: False when another process took the request meanwhile (the
    count moved), so that two processes never send the same request."""
    result = session.execute(
        update(t.new_issues)
        .where(_NI.id == request_id, _NI.attempts == attempts, _NI.state.in_(OPEN_STATES))
        .values(state="creating", token=token, attempts=attempts + 1, attempted_at=utcnow(), error=None)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def mark_created(session: Session, request_id: int, issue_key: str, jira_id: str | None) -> bool:
    """Record the created issue; False when the request was recorded as created already (by another
    process that found the same issue)."""
    result = session.execute(
        update(t.new_issues)
        .where(_NI.id == request_id, _NI.state != "created")
        .values(state="created", issue_key=issue_key, jira_id=jira_id, error=None, done_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def mark_failed(session: Session, request_id: int, error: str) -> None:
    """Nothing was created, and trying again as it is would not help: the request waits for its author."""
    session.execute(
        update(t.new_issues).where(_NI.id == request_id).values(state="failed", error=error, done_at=utcnow())
    )


def reopen(session: Session, request_id: int) -> None:
    """Back to ``pending``: the create was not sent (Jira could not be reached, or asked to wait)."""
    session.execute(update(t.new_issues).where(_NI.id == request_id).values(state="pending"))


def note_waiting(session: Session, request_ids: list[int], note: str) -> None:
    """Say on the requests still open what they wait for (an unanswered create, Jira unavailable)."""
    session.execute(
        update(t.new_issues).where(_NI.id.in_(request_ids), _NI.state.in_(OPEN_STATES)).values(error=note)
    )


def creation_counts(session: Session) -> dict[str, dict[str, int]]:
    """connection -> ``waiting`` (pending or creating) and ``failed`` requests, for the connections that have
    any (what ``status`` sums up)."""
    waiting = func.sum(case((_NI.state.in_(OPEN_STATES), 1), else_=0))
    failed = func.sum(case((_NI.state == "failed", 1), else_=0))
    stmt = select(_NI.connection, waiting, failed).group_by(_NI.connection).order_by(_NI.connection)
    return {
        str(conn): {"waiting": int(w or 0), "failed": int(f or 0)}
        for conn, w, f in session.execute(stmt)
        if w or f
    }


def purge_requests(session: Session, older_than: datetime) -> int:
    """Delete requests settled (created or failed) before ``older_than``; open ones stay."""
    result = session.execute(
        delete(t.new_issues).where(_NI.state.in_(("created", "failed")), _NI.done_at < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
