"""The truth about a connection's syncs: :class:`SyncHealth` from its stored sync state (last success,
failing streak, the last error in one line) and the rule that calls a connection degraded, failing for
longer than two sync intervals. One rule for every reader: the facade (console, ``status``, the operations
API) and the daemon's ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from jira_console.store.converters import DaemonRecord, SyncStateRecord

if TYPE_CHECKING:
    from jira_console.config import JiraConnection

DEGRADED_AFTER_INTERVALS = 2
"""Failing for longer than this many sync intervals makes a connection degraded."""
ERROR_LINE_LIMIT = 200

SyncVerdict = Literal["ok", "running", "failing", "degraded", "never run"]

# Where a database error's message stops describing the error and starts quoting the statement and the
# row it carried (SQLAlchemy appends ``[SQL: …]``, ``[parameters: …]`` and a link; PostgreSQL a DETAIL).
_ROW_CONTENTS = re.compile(r"\[SQL:|\[parameters:|\(Background on this error|\nDETAIL:", re.IGNORECASE)


def one_line(error: str | None, limit: int = ERROR_LINE_LIMIT) -> str | None:
    """An error message as one short line for health views: the statement and row contents a database
    error quotes are cut off, whitespace is collapsed, and the rest is clipped to ``limit``."""
    if not error:
        return None
    head = _ROW_CONTENTS.split(error, maxsplit=1)[0]
    first = next((line for line in head.splitlines() if line.strip()), "")
    flat = " ".join(first.split()) or "error (no message)"
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class SyncHealth:
    """How a connection's syncs are going."""

    last_status: str | None = None
    """The last run's status (``ok``, ``partial``, ``failed``, ``running``), None before the first."""
    last_finished_at: datetime | None = None
    last_success_at: datetime | None = None
    failing_since: datetime | None = None
    """When the current run of failures began (None when the last run got through)."""
    failures: int = 0
    """Failed runs in a row."""
    last_error: str | None = None
    """The last run's error in one line, without the rows it was about."""
    degraded: bool = False
    """Failing for longer than two sync intervals."""
    quarantined: int = 0
    """Issues set aside because they could not be applied (retried by later syncs)."""

    @property
    def verdict(self) -> SyncVerdict:
        if self.degraded:
            return "degraded"
        if self.failures:
            return "failing"
        if self.last_status == "running":
            return "running"
        if self.last_success_at is None and self.last_status is None:
            return "never run"
        return "ok"

    def failing_for(self, now: datetime) -> timedelta | None:
        """How long the syncs have been failing at ``now`` (None when they are not)."""
        return now - self.failing_since if self.failing_since is not None else None

    def report(self, now: datetime) -> dict[str, Any]:
        """This connection's sync health as ``/healthz`` shows it."""
        failing = self.failing_for(now)
        return {
            "state": self.verdict,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "failures": self.failures,
            "failing_seconds": round(failing.total_seconds(), 1) if failing is not None else None,
            "last_error": self.last_error,
            "quarantined": self.quarantined,
        }


def daemon_alive(
    daemon: DaemonRecord, heartbeat_seconds: float, within: float | None = None, now: datetime | None = None
) -> bool:
    """A daemon counts as alive while its heartbeat is recent (``within`` seconds, three heartbeat
    intervals by default) and it neither was asked to stop nor stopped."""
    from datetime import UTC

    window = timedelta(seconds=within or heartbeat_seconds * 3)
    at = now or datetime.now(UTC)
    fresh = daemon.heartbeat_at is not None and at - daemon.heartbeat_at <= window
    return fresh and not daemon.stopping and daemon.stopped_at is None


def sync_health(
    record: SyncStateRecord | None,
    interval_seconds: float,
    now: datetime,
    *,
    error_limit: int = ERROR_LINE_LIMIT,
) -> SyncHealth:
    """The health of a connection's syncs from its scope's stored state (None: never synced); its last error
    on one line, cut at ``error_limit`` characters."""
    if record is None:
        return SyncHealth()
    since = record.failing_since if record.failures else None
    degraded = (
        since is not None and (now - since).total_seconds() > DEGRADED_AFTER_INTERVALS * interval_seconds
    )
    from jira_console.store.liveness import shown_status

    return SyncHealth(
        # A "running" left behind by a killed process is told as "interrupted", not as a sync in progress.
        last_status=shown_status(record.last_status, record.lease_owner, record.lease_expires_at, now=now),
        last_finished_at=record.last_finished_at,
        last_success_at=record.last_success_at,
        failing_since=since,
        failures=record.failures,
        last_error=one_line(record.last_error, error_limit)
        if record.failures or record.last_status == "partial"
        else None,
        degraded=degraded,
    )


def held_back_credentials(
    connections: Sequence[JiraConnection], blocks: Mapping[str, tuple[str, datetime | None]]
) -> dict[str, str]:
    """Connection -> plain words, for every Basic-auth connection whose credentials Jira denied (``blocks``:
    the store's held-back credentials, see :func:`jira_console.store.guard.all_blocks`)."""
    from jira_console.jira.shared import blocked_message

    return {
        c.name: blocked_message(c.name, blocks[c.name][0])
        for c in connections
        if c.auth == "basic" and c.name in blocks
    }
