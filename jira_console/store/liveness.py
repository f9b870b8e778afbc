"""Whether a sync recorded as ``running`` still runs: a process killed mid-sync leaves ``running`` behind.

Its lease tells: a running sync renews it, so an expired (or released) lease means nobody is behind the run.
On the same host a dead owner process (owners are named ``host:pid`` unless a daemon is given a name) is
known at once, without waiting for the lease to expire.
"""

from __future__ import annotations

import socket
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

INTERRUPTED = "interrupted"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process of this host (``host:pid``) that no longer exists (a zombie
    waiting to be reaped counts as gone: it runs nothing)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    import psutil  # here: only a run left ``running`` by this host needs it, not every ``status``

    try:
        return bool(psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def shown_status(
    last_status: str | None,
    lease_owner: str | None,
    lease_expires_at: datetime | None,
    *,
    now: datetime,
    running_here: bool = False,
) -> str | None:
    """``last_status``, or ``interrupted`` for a ``running`` that nothing runs any more."""
    if last_status != "running" or running_here:
        return last_status
    if lease_owner is None or lease_expires_at is None or _aware(lease_expires_at) <= _aware(now):
        return INTERRUPTED
    if owner_is_dead(lease_owner):
        return INTERRUPTED
    return last_status


def shown_statuses(records: Iterable[Any], running_here: Collection[str], now: datetime) -> dict[Any, Any]:
    """:func:`shown_status` of each sync-state record, by (connection, scope)."""
    shown = {}
    for r in records:
        here = r.connection in running_here
        shown[(r.connection, r.scope)] = shown_status(
            r.last_status, r.lease_owner, r.lease_expires_at, now=now, running_here=here
        )
    return shown
