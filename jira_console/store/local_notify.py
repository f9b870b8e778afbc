"""Local work announced at commit (PostgreSQL): triggers that ``NOTIFY`` when a host program edits an issue,
adds an outbox row or asks for an issue, and the daemon's listener for them.

The daemon's periodic look at the local-work marks (:mod:`jira_console.store.local_work`) compares the newest
edit time and row ids with those its last sync began with. On PostgreSQL those values are taken when a row is
written, not when its transaction commits: a host transaction that stays open across the start of a sync and
commits after it, while a newer edit committed first, leaves a value below the mark and waits for the next
scheduled sync. A notification is delivered only when its transaction commits, so a daemon listening here
hears of such work when it becomes visible, and at once rather than at the next look.

SQLite has one writer, so nothing can commit between a host's write and its commit, and it has no
notifications: :class:`WalWatch` looks at its write-ahead log file instead (a few system calls ten times a
second), and any commit, by any process, makes the daemon look for local work at once.

The payload is ``<schema> <connection>``: several deployments in one database (one schema each) share the
channel, and each listener keeps to its own schema. Identical notifications of one transaction are delivered
once, so an UPDATE of ten thousand rows sends one per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import Any

from jira_console.logs import get_logger
from jira_console.store.outage import outage_reason

log = get_logger(__name__)

CHANNEL = "jira_console_local_work"
APPLICATION_NAME = "jira-console local work"
FUNCTION = "jira_console_announce_local_work"
TRIGGERS = {
    # table -> (trigger, when it fires)
    # A host program's edit: the capture trigger (BEFORE, :mod:`.capture`) has just stamped the row dirty;
    # the engine's own writes move ``sync_stamp`` and announce nothing (a run would otherwise start another).
    # No ``OF`` column list: a column set by a BEFORE trigger does not count as an updated column.
    "issues": (
        "issues_announce_local_work",
        "AFTER UPDATE ON issues FOR EACH ROW WHEN (NEW.sync_stamp IS NOT DISTINCT FROM OLD.sync_stamp"
        " AND NEW.local_dirty AND NEW.local_changed_at IS DISTINCT FROM OLD.local_changed_at)",
    ),
    # Only host programs (and the CLI and API on their behalf) insert into these two.
    "local_changes": ("local_changes_announce_work", "AFTER INSERT ON local_changes FOR EACH ROW"),
    "new_issues": ("new_issues_announce_work", "AFTER INSERT ON new_issues FOR EACH ROW"),
}


def notify_statements(dialect: str) -> list[str]:
    """The statements that create the announcing function and triggers (none on SQLite). Frozen: a changed
    body needs a new migration."""
    if dialect != "postgresql":
        return []
    function = f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', current_schema() || ' ' || NEW.connection);
            RETURN NULL;
        END
        $body$
        """
    triggers = [
        f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {FUNCTION}()" for name, when in TRIGGERS.values()
    ]
    return [function, *triggers]


def drop_statements(dialect: str) -> list[str]:
    if dialect != "postgresql":
        return []
    drops = [f"DROP TRIGGER IF EXISTS {name} ON {table}" for table, (name, _) in TRIGGERS.items()]
    return [*drops, f"DROP FUNCTION IF EXISTS {FUNCTION}()"]


class _Background:
    """A watcher running as one task until :meth:`stop`."""

    _task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class LocalWorkListener(_Background):
    """``LISTEN`` on a connection of its own, calling ``heard(connection)`` for each announcement of this
    schema. A lost connection is logged and opened again (waits growing to 30 s); as announcements made
    meanwhile are lost, ``heard(None)`` is called once it is back, so the caller can look for work."""

    RETRY_WAIT_MAX = 30.0

    def __init__(self, connect_args: dict[str, Any], heard: Callable[[str | None], None]) -> None:
        self._connect_args = connect_args
        self._heard = heard
        self._lost = False
        self.listening = asyncio.Event()
        """Set while LISTEN is in effect (tests and the start-up wait on it)."""

    @classmethod
    def started_for(cls, engine: Any, heard: Callable[[str | None], None]) -> LocalWorkListener | None:
        """A listener started on the same server, database, user and schema as a SQLAlchemy engine (None
        unless it is PostgreSQL through psycopg). ``heard(None)`` when it is back after missing some."""
        if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
            return None
        _args, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)
        params.setdefault("application_name", APPLICATION_NAME)  # what pg_stat_activity shows for it
        listener = cls(params, heard)
        listener.start()
        return listener

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        wait = 0.5
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the connection is opened again; the check still runs
                if self.listening.is_set():
                    wait = 0.5  # it had been listening: a new outage starts with short waits again
                self.listening.clear()
                if not self._lost:
                    log.warning(
                        "local work announcements lost, listening again",
                        error=outage_reason(exc),
                    )
                self._lost = True
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.RETRY_WAIT_MAX)

    async def _listen(self) -> None:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(autocommit=True, **self._connect_args)
        async with conn:
            schema = (await (await conn.execute("SELECT current_schema()")).fetchone() or [None])[0]
            await conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            if self._lost:
                self._lost = False
                log.info("local work announcements heard again")
                self._heard(None)
            async for note in conn.notifies():
                where, _, connection = note.payload.partition(" ")
                if where == schema and connection:
                    self._heard(connection)
        raise ConnectionError("the server ended the notification stream")


class WalWatch(_Background):
    """SQLite: calls ``changed()`` when the database's write-ahead log file changes (inode, size or
    modification time, looked at every ``interval`` seconds): some process committed. Its own commits
    count too; what ``changed`` starts (a read of the local-work marks) is cheap."""

    def __init__(self, path: str, changed: Callable[[], None], interval: float = 0.1) -> None:
        self.path = path
        self._changed = changed
        self.interval = interval

    @classmethod
    def started_for(cls, engine: Any, changed: Callable[[], None]) -> WalWatch | None:
        """A watch started on a SQLite engine's database file (None for another database or one in memory)."""
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        watch = cls(f"{database}-wal", changed)
        watch._task = asyncio.ensure_future(watch._run())
        return watch

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None  # not there yet (no write since the last connection closed)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    async def _run(self) -> None:
        seen = self._identity()
        while True:
            await asyncio.sleep(self.interval)
            now = self._identity()
            if now != seen:
                seen = now
                self._changed()
