"""Group concurrent deliveries into one durable commit.

A commit (an fsync on SQLite, a round trip plus WAL flush on PostgreSQL) costs far more than inserting one
more row, so each request hands its row to :class:`IngestBatcher` and awaits a future; a single writer
task commits everything queued since the last commit in one transaction (SQLite: in a worker thread, so the
event loop keeps accepting; PostgreSQL: on the loop, through psycopg's asyncio connection, see
:class:`_AsyncPostgres`) and then resolves the futures. Batches form by themselves: while one commit runs,
the next requests queue up, and before cutting a batch the writer lets the loop run a few passes, so that
requests a step or two short of storing (their body, their signature) join it rather than wait for a commit
of their own (at 32 concurrent senders: one batch of 32 instead of alternating halves, whose commits
starved in their thread for the GIL). An idle listener still commits a lone row at once (the passes cost
microseconds).

A request is acknowledged only after its row's transaction committed. If a batch fails, its rows are
retried one per transaction so that a single bad row fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from jira_console.logs import get_logger
from jira_console.store import Database, StoreError
from jira_console.store.queue import InsertedEvent, insert_events, insert_events_async

if TYPE_CHECKING:
    import psycopg

log = get_logger(__name__)


class BatcherClosed(RuntimeError):
    """The batcher is shutting down and takes no more rows."""


class IngestBatcher:
    """Commits rows of ``webhook_events`` in groups; :meth:`submit` returns once the row is durable."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 256,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self._on_commit = on_commit
        self._postgres = _AsyncPostgres(db) if db.dialect == "postgresql" else None
        self._pending: list[tuple[dict[str, Any], asyncio.Future[InsertedEvent]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, row: dict[str, Any]) -> InsertedEvent:
        """Store ``row`` durably; returns the stored event's id, or a duplicate (its identifier was already
        stored) with no id."""
        if self._closed:
            raise BatcherClosed("the listener is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[InsertedEvent] = loop.create_future()
        self._pending.append((row, future))
        self._ensure_writer()
        assert self._wake is not None
        self._wake.set()
        # A client that disconnects cancels only this future: the row stays queued and the shared commit
        # goes on in the writer task (which skips a settled future).
        return await future

    def _ensure_writer(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook-ingest-writer")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                for _ in range(4):  # see the module docstring
                    await asyncio.sleep(0)
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._commit(batch)
            if self._closed:
                return

    async def _commit(self, batch: list[tuple[dict[str, Any], asyncio.Future[InsertedEvent]]]) -> None:
        rows = [row for row, _ in batch]
        try:
            stored = await self._store(rows)
        except Exception as exc:  # noqa: BLE001 - resolved below, per row
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            log.warning("webhook batch commit failed; retrying row by row", rows=len(batch), error=str(exc))
            for row, future in batch:
                try:
                    (one,) = await self._store([row])
                except Exception as row_exc:  # noqa: BLE001 - this row's request answers 503
                    _settle(future, exc=row_exc)
                else:
                    _settle(future, result=one)
            return
        for (_, future), one in zip(batch, stored, strict=True):
            _settle(future, result=one)

    async def _store(self, rows: Sequence[dict[str, Any]]) -> list[InsertedEvent]:
        if self._postgres is not None:
            stored = await self._postgres.insert(rows)
        else:
            stored = await asyncio.to_thread(self._write, rows)
        if self._on_commit is not None:
            self._on_commit(len(rows))
        return stored

    def _write(self, rows: Sequence[dict[str, Any]]) -> list[InsertedEvent]:
        with self.db.write_connection() as conn:  # SQLite only: PostgreSQL has _AsyncPostgres
            return insert_events(conn, rows)

    async def close(self) -> None:
        """Stop taking rows, commit what is queued, stop the writer."""
        self._closed = True
        if self._task is not None and not self._task.done():
            assert self._wake is not None
            self._wake.set()
            await self._task
        for _, future in self._pending:  # only when the writer died; nothing may hang
            _settle(future, exc=BatcherClosed("the listener stopped before storing this delivery"))
        self._pending.clear()
        if self._postgres is not None:
            await self._postgres.close()


class _AsyncPostgres:
    """PostgreSQL commits on the event loop, through psycopg's asyncio connection in autocommit (one
    statement: atomic, and durable when it returns). A commit in a worker thread needs the GIL back several
    times while the loop, busy with the next deliveries, holds it: at 32 senders that way 8,900-10,100
    deliveries/s were acknowledged, this way 11,500-11,800 (docs/results.md, 5 December 2026). One
    connection, opened on the first delivery, closed with the batcher; a statement that fails because the
    connection is gone is tried once more on a new one."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def insert(self, rows: Sequence[dict[str, Any]]) -> list[InsertedEvent]:
        import psycopg  # here: a SQLite listener never loads the driver

        for attempt in (1, 2):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(
                        self._conninfo, autocommit=True, connect_timeout=10
                    )
                return await insert_events_async(self._conn, rows)
            except psycopg.OperationalError as exc:
                # The server or the link is gone (a restart, a failover, an idle-session timeout): once more
                # on a new connection. Had the lost statement committed, its rows now come back as
                # duplicates, which are acknowledged too.
                await self.close()
                if attempt == 2:
                    reason = self._db.driver_reason(exc)
                    raise StoreError(f"cannot store webhook deliveries: {reason}") from None
        raise AssertionError("unreachable")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing left to lose
                await conn.close()


def _settle(
    future: asyncio.Future[InsertedEvent],
    *,
    result: InsertedEvent | None = None,
    exc: BaseException | None = None,
) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    elif result is not None:
        future.set_result(result)
