"""The facade's conflict queue: listing and counting it, reading a value a person typed for a field the
way a resolution takes it (so the console can say what is wrong before anything is written), settling
conflicts, and the push that sends a resolution to Jira (in this process, or queued for the daemon)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jira_console import events as ev
from jira_console.store import conflict_queue, issues, repo
from jira_console.store import converters as cv
from jira_console.store.cause import Cause, caused_by
from jira_console.store.db import Database
from jira_console.sync import conflicts as cf
from jira_console.sync.fields import local_edit_problem
from jira_console.sync.merge import canonical


@dataclass(frozen=True)
class ValueReading:
    """A value a person typed for a synced field, read the way the field takes it."""

    value: Any
    as_json: bool
    """Read as JSON (``5``, ``null``, ``["a", "b"]``); otherwise it is the text as typed."""
    problem: str | None = None
    """Why the field cannot take the value, in plain words (a resolution with it would be refused), or
    None when it can."""


def read_value(field: str, text: str) -> ValueReading:
    """``text``, typed for the synced field ``field``, as the value a resolution would store (JSON when it
    parses, else the text; a text field takes the text as typed, as ``local set`` does) and what is wrong
    with it, checked as :func:`~jira_console.sync.conflicts.resolve` checks it. Reads nothing: call it as
    the person types."""
    value, as_json = issues.typed_input(field, text)
    return ValueReading(value, as_json, local_edit_problem(field, canonical(value)))


class ConflictMethods:
    """Mixed into :class:`~jira_console.facade.engine.Engine`."""

    db: Database

    def emit(self, event: ev.EngineEvent) -> None:
        raise NotImplementedError

    async def push(self, connection: str | None = None) -> None:
        raise NotImplementedError

    def list_conflicts(
        self,
        status: str | None = "open",
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        limit: int = 200,
        offset: int = 0,
        *,
        contains: bool = False,
        sort: str = "detected",
    ) -> list[cv.ConflictRecord]:
        """Conflicts matching the filters (exact, or substrings with ``contains``), ordered by ``sort`` (one
        of ``conflict_queue.CONFLICT_SORTS``, ``-`` for descending)."""
        with self.db.session() as s:
            return conflict_queue.list_conflicts(
                s,
                connection=connection,
                field=field,
                issue_key=issue_key,
                status=status,
                limit=limit,
                offset=offset,
                contains=contains,
                sort=sort,
            )

    def count_conflicts(
        self,
        status: str | None = "open",
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        *,
        contains: bool = False,
    ) -> int:
        with self.db.session() as s:
            return conflict_queue.count_conflicts(
                s, connection=connection, field=field, issue_key=issue_key, status=status, contains=contains
            )

    def conflict_marker(
        self,
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        *,
        contains: bool = False,
    ) -> conflict_queue.QueueMarker:
        """What moves whenever the open conflicts matching the filters change (one found or gone, a value
        refreshed): a reader compares it with the one it last read before reading the rows again."""
        with self.db.session() as s:
            return conflict_queue.queue_marker(
                s, connection=connection, field=field, issue_key=issue_key, contains=contains
            )

    def get_conflict(self, conflict_id: int) -> cv.ConflictRecord | None:
        with self.db.session() as s:
            return repo.get_conflict(s, conflict_id)

    def read_value(self, field: str, text: str) -> ValueReading:
        """See :func:`read_value`."""
        return read_value(field, text)

    async def resolve_conflict(
        self,
        conflict_id: int,
        take: cf.Take,
        value: Any = None,
        actor: str = "operator",
        *,
        push: bool = True,
    ) -> cv.ConflictRecord:
        """Settle one conflict locally, then push it (queued for the daemon when attached); with
        ``push=False`` the caller pushes (:meth:`push_resolved`)."""

        def apply() -> cv.ConflictRecord:
            with self.db.session(write=True) as s:
                row = cf.resolve(s, conflict_id, take, value, actor=actor)
                s.flush()
                return cv.conflict_record(row)

        with caused_by(Cause("operator")):
            record = await asyncio.to_thread(apply)
        self.emit(ev.ConflictResolved(record.id, record.issue_key, record.field, take))
        if push:
            await self.push_resolved(record.connection)
        return record

    async def resolve_conflicts(
        self,
        take: Literal["jira", "local"],
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        actor: str = "operator",
        *,
        contains: bool = False,
    ) -> int:
        """Resolve every open conflict matching the filter the same way; one push at the end."""

        def ids() -> Sequence[int]:
            with self.db.session() as s:
                return conflict_queue.open_conflict_ids(
                    s, connection=connection, field=field, issue_key=issue_key, contains=contains
                )

        done = 0
        touched: set[str] = set()
        for conflict_id in await asyncio.to_thread(ids):
            with contextlib.suppress(cf.ResolutionError):
                record = await self.resolve_conflict(conflict_id, take, actor=actor, push=False)
                touched.add(record.connection)
                done += 1
        for name in touched:
            await self.push_resolved(name)
        return done

    async def push_resolved(self, connection: str) -> None:
        """Send ``connection``'s resolutions to Jira: now, in this process, or queued for the daemon when
        attached. It does not fail: the resolutions are stored, so a push that fails is said as a warning
        notice and retried by the next push or sync."""
        try:
            await self.push(connection)
        except Exception as exc:  # noqa: BLE001 - the resolution is stored; the push retries later
            self.emit(ev.Notice("warning", f"resolution saved; push to {connection} will retry: {exc}"))
