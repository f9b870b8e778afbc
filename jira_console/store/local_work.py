"""What host programs have left for the push, as marks that only grow while they add to it: the daemon reads
them every few seconds and starts a sync of a connection whose marks moved since its last sync began (see
:class:`jira_console.daemon.Daemon`), so a local edit reaches Jira in seconds, not at the next scheduled run.

A mark is the newest local edit of a dirty issue, the newest waiting outbox row and the newest waiting
creation request. Work a run leaves behind (a write Jira timed out, a request waiting for Jira's index) does
not move a mark, so it never starts runs over and over; anything added after a run began does, so nothing
added during a run waits for the schedule. Each query reads only waiting rows, through the indexes those
tables already have."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jira_console.store import tables as t

if TYPE_CHECKING:
    from jira_console.store.db import Database


class LocalMark(NamedTuple):
    """A connection's waiting local work (None: none of that kind)."""

    edited: datetime | None
    """The newest ``local_changed_at`` of its dirty issues."""
    change: int | None
    """The newest waiting ``local_changes`` row."""
    request: int | None
    """The newest waiting ``new_issues`` request."""

    def moved_past(self, seen: LocalMark | None) -> bool:
        """Whether anything was added since ``seen`` was read (a run that began then may have missed it)."""
        seen = seen or NOTHING
        return (
            _after(self.edited, seen.edited)
            or _after(self.change, seen.change)
            or _after(self.request, seen.request)
        )


NOTHING = LocalMark(None, None, None)


def _after(now: Any, then: Any) -> bool:
    return now is not None and (then is None or now > then)


def local_marks(session: Session, connections: Sequence[str]) -> dict[str, LocalMark]:
    """connection -> its mark, for those of ``connections`` with waiting local work."""
    issues, changes, requests = t.issues.c, t.local_changes.c, t.new_issues.c
    # "= true", not "IS true": with the connection, an equality seeks the (connection, local_dirty) index.
    edited = _newest(session, connections, issues.local_changed_at, issues.local_dirty == True)  # noqa: E712
    changed = _newest(session, connections, changes.id, changes.processed_at.is_(None))
    requested = _newest(session, connections, requests.id, requests.state == "pending")
    return {
        name: LocalMark(edited.get(name), changed.get(name), requested.get(name))
        for name in edited.keys() | changed.keys() | requested.keys()
    }


def _newest(session: Session, connections: Sequence[str], column: Any, waiting: Any) -> dict[str, Any]:
    """connection -> the greatest ``column`` of its rows that are ``waiting`` (a column of the same table);
    each table has an index on (connection, the column ``waiting`` tests)."""
    connection = column.table.c.connection
    stmt = (
        select(connection, func.max(column)).where(connection.in_(connections), waiting).group_by(connection)
    )
    return {str(name): newest for name, newest in session.execute(stmt)}


class LocalWatch:
    """The marks each connection's last sync began with, and which connections have moved past theirs.
    Blocking reads: run them in a thread from async code."""

    def __init__(self, db: Database, connections: Sequence[str]) -> None:
        self.db = db
        self.connections = list(connections)
        self._began: dict[str, LocalMark] = {}
        self._announced: set[str] = set()

    def announced(self, connection: str | None = None) -> None:
        """Work of ``connection`` (None: of every connection) was committed, whatever the marks say: a
        PostgreSQL announcement (:mod:`jira_console.store.local_notify`), or the listener back after
        missing some. Due until a sync of it begins."""
        names = self.connections if connection is None else [connection]
        self._announced.update(n for n in names if n in self.connections)

    def read(self) -> dict[str, LocalMark]:
        with self.db.session() as session:
            return local_marks(session, self.connections)

    def began(self, connection: str) -> None:
        """A sync of ``connection`` begins: what waits now is its push's to take or to leave."""
        self._announced.discard(connection)  # (before reading: an announcement arriving now stays due)
        self._began[connection] = self.read().get(connection, NOTHING)

    def due(self, marks: dict[str, LocalMark], idle: Iterable[str]) -> list[str]:
        """Of the ``idle`` connections (no sync running), those with work added since their last sync
        began (any waiting work, for one that has not synced since this process started)."""
        return [
            name
            for name in idle
            if name in self._announced or marks.get(name, NOTHING).moved_past(self._began.get(name))
        ]


def dirty_counts(session: Session) -> dict[str, int]:
    """connection -> issues a host program (or an operator) edited that the push has not written yet."""
    issues = t.issues.c
    stmt = (
        select(issues.connection, func.count())
        .where(issues.local_dirty == True)  # noqa: E712 - "= true" can use the (connection, local_dirty) index
        .group_by(issues.connection)
        .order_by(issues.connection)
    )
    return {str(name): int(n) for name, n in session.execute(stmt)}
