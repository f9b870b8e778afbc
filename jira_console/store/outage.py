"""A database that stops answering, as the daemon's periodic work meets it.

The daemon's housekeeping jobs run every second or few (the operator commands every second, the heartbeat
and the mapping check every heartbeat), and its webhook workers poll the queue. While the database is down,
each of them failed at every run: APScheduler logged a traceback a second, some thirty lines each. An
outage is one condition, so it is said as one: an error when the database first fails (with the driver's
reason: no connection, a connection lost, SQLite's write lock held by another process for longer than the
busy timeout), a reminder every :data:`REMIND_SECONDS` while it lasts, and one line when work it failed goes
through again (not any work: under another process's write lock, reads still go through). Failures that are
not the database's (a bug, a refused statement) are raised as before.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from jira_console import redact
from jira_console.logs import get_logger
from jira_console.store.db import StoreError

log = get_logger(__name__)

REMIND_SECONDS = 60.0
"""How often a lasting outage is said again."""


def database_down(exc: BaseException) -> bool:
    """Whether ``exc`` says the database did not answer (no connection, connection lost, locked) rather
    than refusing one statement."""
    return isinstance(exc, StoreError | OperationalError | InterfaceError)


_LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's SQLSTATE for a lock not granted within ``lock_timeout``."""


def database_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is a lock wait that timed out: the database answers, but another writer holds the
    lock (SQLite's write lock past the busy timeout, PostgreSQL's ``lock_timeout``). Unlike an unreachable
    database, it is over as soon as that writer commits."""
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
        return True
    if getattr(orig, "sqlite_errorname", None) in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return True
    return type(orig).__module__ == "sqlite3" and "locked" in str(orig)


def outage_reason(exc: BaseException) -> str:
    """The driver's first line (no statement, no parameters), secrets masked."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    lines = str(exc).strip().splitlines()
    return redact.scrub(lines[0] if lines else type(exc).__name__)[:300]


class DatabaseOutage:
    """What the daemon's jobs and workers know of the database's answering (all on the event loop)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.since: float | None = None
        """When the current outage was first met (None: the database answers)."""
        self._said_at = self._failed_at = 0.0
        self._failing: set[str] = set()
        """The work the outage failed: only that work going through again ends it (while another process
        holds SQLite's write lock, reads still go through and writes do not)."""

    def failed(self, exc: BaseException, during: str) -> bool:
        """Note a failure met ``during`` some work: True when it is the database not answering (said here,
        once per outage and then every :data:`REMIND_SECONDS`), False for any other failure (the caller
        handles it)."""
        if not database_down(exc):
            return False
        self._failing.add(during)
        now = self._failed_at = self._clock()
        if self.since is None:
            self.since = self._said_at = now
            log.error(
                "the database is unavailable; the daemon's work waits for it and is tried again on schedule "
                "(webhook deliveries are answered 503, which Jira retries)",
                during=during, reason=outage_reason(exc),
            )  # fmt: skip
        elif now - self._said_at >= REMIND_SECONDS:
            self._said_at = now
            log.error(
                "the database is still unavailable", for_seconds=round(now - self.since), during=during,
                reason=outage_reason(exc),
            )  # fmt: skip
        return True

    def answered(self, during: str) -> None:
        """Work went through: an outage in course is over if this work had failed in it, or if nothing
        failed for :data:`REMIND_SECONDS` (the work it failed may run only every few hours)."""
        if self.since is None:
            return
        if during in self._failing or self._clock() - self._failed_at >= REMIND_SECONDS:
            log.info("the database is available again", after_seconds=round(self._clock() - self.since, 1))
            self.since = None
            self._failing.clear()

    def guarded(self, during: str, job: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[None]]:
        """``job`` for the scheduler: its database outages said here instead of raised (a traceback a run)."""

        async def run(*args: Any) -> None:
            try:
                await job(*args)
            except Exception as exc:
                if not self.failed(exc, during):
                    raise
            else:
                self.answered(during)

        return run
