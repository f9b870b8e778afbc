"""The conflict queue as people browse it: conflicts matching filters (exact ones for scripts, substrings
for the console), counted, listed a page at a time in a chosen order, and the ids a bulk resolution takes.
Opening, refreshing and resolving conflicts is the repository's (:mod:`jira_console.store.repo`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import tables as t

CONFLICT_SORTS = ("id", "connection", "key", "field", "detected", "local_edited", "jira_edited")
"""What the conflict queue can be ordered by (``-`` in front: descending)."""

_CONFLICTS = t.conflicts
_C = _CONFLICTS.c
"""Its columns: filters on them keep a count a Core query (``status`` makes one; see :mod:`.state`)."""


def _conflict_filters(
    stmt: Select[Any],
    connection: str | None,
    field: str | None,
    issue_key: str | None,
    status: str | None,
    contains: bool = False,
) -> Select[Any]:
    """Exact filters, or substring ones (case-insensitive) with ``contains`` (what the console types)."""
    for column, value in ((_C.connection, connection), (_C.field, field), (_C.issue_key, issue_key)):
        if value is not None:
            stmt = stmt.where(_contains(column, value) if contains else column == value)
    if status is not None:
        stmt = stmt.where(_C.status == status)
    return stmt


def _contains(column: Any, text: str) -> Any:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def _conflict_order(sort: str) -> list[Any]:
    name = sort.removeprefix("-")
    if name not in CONFLICT_SORTS:
        raise ValueError(f"cannot sort conflicts by {name!r}; one of {', '.join(CONFLICT_SORTS)}")
    columns: dict[str, list[Any]] = {
        "id": [],
        "connection": [_C.connection],
        # Natural order: by project (the key without its number), then ENG-9 before ENG-10 (shorter first).
        "key": [
            func.rtrim(_C.issue_key, "0123456789"),
            func.length(_C.issue_key),
            _C.issue_key,
        ],
        "field": [_C.field],
        "detected": [_C.detected_at],
        "local_edited": [_C.local_edited_at],
        "jira_edited": [_C.jira_edited_at],
    }
    descending = sort.startswith("-")
    order = [(c.desc() if descending else c.asc()).nulls_last() for c in columns[name]]
    return [*order, _C.id.desc() if descending else _C.id.asc()]


def list_conflicts(
    session: Session,
    *,
    connection: str | None = None,
    field: str | None = None,
    issue_key: str | None = None,
    status: str | None = "open",
    limit: int = 100,
    offset: int = 0,
    contains: bool = False,
    sort: str = "detected",
) -> list[cv.ConflictRecord]:
    """Conflicts matching the filters (open ones by default), oldest first unless ``sort`` says otherwise
    (one of :data:`CONFLICT_SORTS`, ``-`` for descending)."""
    from jira_console.store import models as m

    stmt = _conflict_filters(select(m.Conflict), connection, field, issue_key, status, contains)
    stmt = stmt.order_by(*_conflict_order(sort)).limit(limit).offset(offset)
    return [cv.conflict_record(r) for r in session.scalars(stmt)]


def conflict_connections(
    session: Session,
    status: str | None,
    field: str | None,
    issue_key: str | None,
    *,
    limit: int | None = None,
) -> list[str]:
    """The connections of the conflicts :func:`list_conflicts` would return for every connection without a
    limit (at most ``limit`` of them: two tell whether a list spans several)."""
    stmt = _conflict_filters(select(_C.connection).distinct(), None, field, issue_key, status).limit(limit)
    return sorted(str(c) for c in session.scalars(stmt))


def open_conflict_ids(
    session: Session,
    *,
    connection: str | None = None,
    field: str | None = None,
    issue_key: str | None = None,
    contains: bool = False,
) -> list[int]:
    """Ids of the open conflicts matching the filters, oldest first."""
    stmt = _conflict_filters(select(_C.id), connection, field, issue_key, "open", contains)
    return [int(i) for i in session.scalars(stmt.order_by(_C.id))]


def count_conflicts(
    session: Session,
    *,
    connection: str | None = None,
    field: str | None = None,
    issue_key: str | None = None,
    status: str | None = "open",
    contains: bool = False,
) -> int:
    """Number of conflicts matching the filters (open ones by default)."""
    stmt = _conflict_filters(
        select(func.count()).select_from(_CONFLICTS), connection, field, issue_key, status, contains
    )
    return int(session.execute(stmt).scalar_one())


@dataclass(frozen=True, slots=True)
class QueueMarker:
    """What moves whenever the open conflicts matching some filters change: how many there are, the sum of
    their ids (a conflict found later has a larger id than any before it, so one going and another coming
    still moves it) and of their revisions (a row written in place adds one).

    Two reads with equal markers saw the same conflicts with the same values; a reader that takes a
    conflict out itself subtracts it (:meth:`without`) to keep its marker comparable."""

    count: int = 0
    id_sum: int = 0
    revision_sum: int = 0

    def without(self, conflict: cv.ConflictRecord) -> QueueMarker:
        """The marker once ``conflict`` (as read) has left the queue."""
        return QueueMarker(self.count - 1, self.id_sum - conflict.id, self.revision_sum - conflict.revision)


def queue_marker(
    session: Session,
    *,
    connection: str | None = None,
    field: str | None = None,
    issue_key: str | None = None,
    contains: bool = False,
) -> QueueMarker:
    """The :class:`QueueMarker` of the open conflicts matching the filters: one aggregate row (over 10,000
    open conflicts about 2 ms on SQLite, 5 ms on PostgreSQL; an index on ``(status, id, revision)`` made
    no difference measured)."""
    stmt = select(func.count(), func.coalesce(func.sum(_C.id), 0), func.coalesce(func.sum(_C.revision), 0))
    stmt = _conflict_filters(stmt.select_from(_CONFLICTS), connection, field, issue_key, "open", contains)
    count, id_sum, revision_sum = session.execute(stmt).one()
    return QueueMarker(int(count), int(id_sum), int(revision_sum))
