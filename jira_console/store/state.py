"""Sync progress (run status, watermark, reapply flag), leases, a connection's Retry-After deadline, daemon
heartbeats and operator commands.

Leases and claims are expiring: whoever holds one must renew it before ``lease_expires_at``; once that time
has passed anyone may take it over. Every acquisition is one conditional UPDATE, so two daemons racing for
the same lease cannot both win on either dialect (PostgreSQL re-checks the WHERE clause after the row lock,
SQLite has a single writer). Times come from this host's clock: keep daemon hosts NTP-synchronised.

Call lease functions in a short session of their own: the row lock taken by the UPDATE is held until that
session commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import tables as t
from jira_console.store.repo import dialect_insert
from jira_console.store.tables import utcnow

if TYPE_CHECKING:
    from jira_console.store import models as m

# Reads that ``status`` makes go through the tables (Core): an ORM query would first configure every mapper
# and compile an ORM statement, a third of what that command costs beyond its libraries (bench/cli_bench.py).
_STATES = t.sync_state
_DAEMONS = t.daemons

# --- sync state -----------------------------------------------------------------------------------------


def get_sync_state(session: Session, connection: str, scope: str) -> cv.SyncStateRecord | None:
    """Progress of one scope, or None before its first run."""
    from jira_console.store import models as m

    row = session.get(m.SyncState, (connection, scope), populate_existing=True)
    return cv.sync_state_record(row) if row else None


def list_sync_states(session: Session, connection: str | None = None) -> list[cv.SyncStateRecord]:
    """Progress of every scope (of one connection)."""
    stmt = select(_STATES).order_by(_STATES.c.connection, _STATES.c.scope)
    if connection is not None:
        stmt = stmt.where(_STATES.c.connection == connection)
    return [cv.sync_state_record(r) for r in session.execute(stmt)]


def _ensure_row(session: Session, connection: str, scope: str) -> None:
    stmt = dialect_insert(session, t.sync_state).values(connection=connection, scope=scope)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["connection", "scope"]))


def _state_row(session: Session, connection: str, scope: str) -> m.SyncState:
    from jira_console.store import models as m

    row = session.get(m.SyncState, (connection, scope))
    if row is None:
        row = m.SyncState(connection=connection, scope=scope)
        session.add(row)
    return row


def mark_sync_started(session: Session, connection: str, scope: str) -> None:
    """A run of the scope begins."""
    row = _state_row(session, connection, scope)
    row.last_started_at = utcnow()
    row.last_status = "running"


def mark_sync_finished(
    session: Session,
    connection: str,
    scope: str,
    owner: str,
    *,
    status: str,
    error: str | None,
    counts: Mapping[str, int],
    duration_ms: int,
    api_calls: int,
) -> None:
    """A run of the scope ended (``status``: ok, partial, failed, or interrupted by a shutdown): its figures
    and the failing streak are kept and ``owner``'s lease is given up, in one transaction."""
    row = _state_row(session, connection, scope)
    row.last_finished_at = now = utcnow()
    row.last_status = status
    row.last_error = error[:2000] if error else None
    # The streak: a run that got through (ok, partial) is the last success and ends a failing streak; a
    # failed one extends it, keeping when it began (health calls a long one degraded).
    if status == "failed":
        row.failures = (row.failures or 0) + 1
        row.failing_since = row.failing_since or now
    elif status == "interrupted":  # stopped for a shutdown: neither a success nor a failure
        pass
    else:
        row.last_success_at, row.failing_since, row.failures = now, None, 0
    row.counts = dict(counts)
    row.duration_ms = duration_ms
    row.api_calls = api_calls
    session.flush()
    release_lease(session, connection, scope, owner)


def reapply_pending(session: Session, connection: str, scope: str) -> bool:
    """Whether the next pull must apply every version again (set after a mapping change)."""
    from jira_console.store import models as m

    row = session.get(m.SyncState, (connection, scope))
    return bool(row and (row.cursor or {}).get("reapply"))


def set_reapply(session: Session, connection: str, scope: str, value: bool) -> None:
    """Ask the next pull to apply every version again (after a mapping change), or clear the request."""
    from jira_console.store import models as m

    row = session.get(m.SyncState, (connection, scope))
    if row is None and not value:
        return
    row = row or _state_row(session, connection, scope)
    cursor = dict(row.cursor or {})
    if bool(cursor.get("reapply")) != value:
        cursor["reapply"] = value
        row.cursor = cursor


def watermark(session: Session, connection: str, scope: str) -> int | None:
    """The newest Jira ``updated`` (epoch ms) a pull of the scope has committed, or None before any."""
    from jira_console.store import models as m

    row = session.get(m.SyncState, (connection, scope))
    return row.watermark_ms if row else None


def advance_watermark(
    session: Session, connection: str, scope: str, newest_ms: int | None, keys_at_newest: Sequence[str]
) -> None:
    """Checkpoint after a page, in the same transaction as the page's data: the watermark only moves
    forward; the keys seen at exactly the watermark are kept (ties)."""
    if newest_ms is None:
        return
    row = _state_row(session, connection, scope)
    if row.watermark_ms is None or newest_ms > row.watermark_ms:
        row.watermark_ms = newest_ms
        row.watermark_keys = sorted(keys_at_newest)
    elif newest_ms == row.watermark_ms:
        row.watermark_keys = sorted(set(row.watermark_keys or []) | set(keys_at_newest))


# --- Retry-After ----------------------------------------------------------------------------------------


def not_before(session: Session, connection: str) -> datetime | None:
    """Until when Jira asked this connection to stay away (``Retry-After``), as last stored."""
    return session.scalars(
        select(t.connections.c.rate_limited_until).where(t.connections.c.name == connection)
    ).first()


def store_not_before(session: Session, connection: str, until: datetime) -> None:
    """Remember Jira's ``Retry-After`` deadline across restarts (creating the connection's row if needed);
    a later deadline already stored is kept."""
    stmt = dialect_insert(session, t.connections).values(name=connection, rate_limited_until=until)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"rate_limited_until": stmt.excluded.rate_limited_until},
            where=or_(
                t.connections.c.rate_limited_until.is_(None), t.connections.c.rate_limited_until < until
            ),
        )
    )


# --- leases ---------------------------------------------------------------------------------------------


def acquire_lease(
    session: Session, connection: str, scope: str, owner: str, ttl: float, *, now: datetime | None = None
) -> bool:
    """Take (or re-take) the lease on a scope for ``ttl`` seconds; False when another owner holds it."""
    from jira_console.store import models as m

    now = now or utcnow()
    _ensure_row(session, connection, scope)
    result = session.execute(
        update(m.SyncState)
        .where(
            t.sync_state.c.connection == connection,
            t.sync_state.c.scope == scope,
            or_(
                t.sync_state.c.lease_owner.is_(None),
                t.sync_state.c.lease_owner == owner,
                t.sync_state.c.lease_expires_at.is_(None),
                t.sync_state.c.lease_expires_at <= now,
            ),
        )
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=ttl))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def renew_lease(
    session: Session, connection: str, scope: str, owner: str, ttl: float, *, now: datetime | None = None
) -> bool:
    """Extend a lease ``owner`` still holds; False when it was lost (taken over after expiry)."""
    from jira_console.store import models as m

    now = now or utcnow()
    result = session.execute(
        update(m.SyncState)
        .where(
            t.sync_state.c.connection == connection,
            t.sync_state.c.scope == scope,
            t.sync_state.c.lease_owner == owner,
        )
        .values(lease_expires_at=now + timedelta(seconds=ttl))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_lease(session: Session, connection: str, scope: str, owner: str) -> bool:
    """Give a lease up; False when ``owner`` did not hold it."""
    from jira_console.store import models as m

    result = session.execute(
        update(m.SyncState)
        .where(
            t.sync_state.c.connection == connection,
            t.sync_state.c.scope == scope,
            t.sync_state.c.lease_owner == owner,
        )
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- daemons --------------------------------------------------------------------------------------------


def heartbeat(
    session: Session,
    name: str,
    *,
    host: str | None = None,
    pid: int | None = None,
    version: str | None = None,
    status: Mapping[str, Any] | None = None,
    started_at: datetime | None = None,
) -> None:
    """Write a daemon's heartbeat (creating its row on the first beat). ``stopping`` is left alone."""
    now = utcnow()
    data: dict[str, Any] = {"name": name, "host": host, "pid": pid, "version": version,
                            "status": dict(status or {}), "heartbeat_at": now}  # fmt: skip
    stmt = dialect_insert(session, t.daemons).values(**data, started_at=started_at or now, stopping=False)
    update_cols = {k: stmt.excluded[k] for k in data if k != "name"}
    if started_at is not None:
        # A new start (new pid) resets the stop request and the clean stop left by the previous run.
        update_cols.update(started_at=stmt.excluded.started_at, stopping=False, stopped_at=None)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update_cols))


def list_daemons(session: Session) -> list[cv.DaemonRecord]:
    """Every daemon that ever beat, most recent heartbeat first."""
    stmt = select(_DAEMONS).order_by(_DAEMONS.c.heartbeat_at.desc(), _DAEMONS.c.name)
    return [cv.daemon_record(r) for r in session.execute(stmt)]


def mark_stopped(session: Session, name: str) -> None:
    """A daemon's clean stop: its row stays (with the last status) but says it stopped and when, so no one
    takes its last heartbeat for a live daemon."""
    from jira_console.store import models as m

    session.execute(
        update(m.Daemon).where(t.daemons.c.name == name).values(stopping=True, stopped_at=utcnow())
    )


def request_stop(session: Session, name: str) -> bool:
    """Ask a daemon to stop (it polls its ``stopping`` flag); False when no such daemon."""
    from jira_console.store import models as m

    result = session.execute(update(m.Daemon).where(t.daemons.c.name == name).values(stopping=True))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def forget_gone_daemons(session: Session, silent_since: datetime) -> int:
    """Forget the rows of daemons whose last heartbeat is older than ``silent_since`` (stopped cleanly or
    killed); returns how many."""
    from jira_console.store import models as m

    result = session.execute(delete(m.Daemon).where(t.daemons.c.heartbeat_at < silent_since))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- commands -------------------------------------------------------------------------------------------


def enqueue_command(
    session: Session, kind: str, args: Mapping[str, Any] | None = None, *, created_by: str | None = None
) -> int:
    """Queue an operator command for a daemon; returns its id."""
    from jira_console.store import models as m

    row = m.Command(kind=kind, args=dict(args or {}), created_by=created_by, created_at=utcnow())
    session.add(row)
    session.flush()
    return row.id


def claim_command(
    session: Session,
    owner: str,
    *,
    kinds: Iterable[str] | None = None,
    heartbeat: float | None = None,
) -> cv.CommandRecord | None:
    """Take the oldest command nobody holds (of the given kinds), or None. Two daemons never get the same one.

    With ``heartbeat`` (the daemons' heartbeat interval in seconds), a command claimed and not finished is
    also taken over when its holder will never finish it: that daemon stopped, went silent for three
    heartbeats (the rule of :func:`jira_console.health.daemon_alive`), started again since it claimed it, or
    its row is gone. Whoever queued it is still waiting for the outcome, and carrying a command out twice is
    safe: a sync or a push runs again, an undo plans against what each side holds then (what is already as
    before is skipped)."""
    from jira_console.store import models as m

    c = t.commands.c
    free: ColumnElement[bool] = c.claimed_by.is_(None)
    if heartbeat is not None:
        d = _DAEMONS.c
        holder_alive = (
            select(d.name)
            .where(
                d.name == c.claimed_by,
                d.stopped_at.is_(None),
                d.heartbeat_at >= utcnow() - timedelta(seconds=heartbeat * 3),
                d.started_at <= c.claimed_at,
            )
            .exists()
        )
        free = or_(free, ~holder_alive)  # its own too, when it started again since
    candidates = select(c.id, c.claimed_by).where(free, c.finished_at.is_(None)).order_by(c.id).limit(1)
    if kinds is not None:
        candidates = candidates.where(c.kind.in_(list(kinds)))
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(of=t.commands, skip_locked=True)
    found = session.execute(candidates).first()
    if found is None:
        return None
    command_id, holder = found
    result = session.execute(
        update(m.Command)
        # Only if nobody claimed (or took over) the command meanwhile.
        .where(c.id == command_id, c.claimed_by.is_(None) if holder is None else c.claimed_by == holder)
        .where(c.finished_at.is_(None))
        .values(claimed_by=owner, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return cv.command_record(session.get(m.Command, command_id, populate_existing=True))  # type: ignore[arg-type]


def release_command(session: Session, command_id: int, owner: str) -> bool:
    """Give a claimed, unfinished command back to the queue (its work cannot start yet); False when
    ``owner`` does not hold it."""
    from jira_console.store import models as m

    result = session.execute(
        update(m.Command)
        .where(
            t.commands.c.id == command_id,
            t.commands.c.claimed_by == owner,
            t.commands.c.finished_at.is_(None),
        )
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_command(
    session: Session, command_id: int, *, result: Mapping[str, Any] | None = None, error: str | None = None
) -> None:
    """Record a command's outcome."""
    from jira_console.store import models as m

    session.execute(
        update(m.Command)
        .where(t.commands.c.id == command_id)
        .values(finished_at=utcnow(), result=dict(result) if result is not None else None, error=error)
    )


def get_command(session: Session, command_id: int) -> cv.CommandRecord | None:
    """One command by id (to poll for its result), or None."""
    from jira_console.store import models as m

    row = session.get(m.Command, command_id, populate_existing=True)
    return cv.command_record(row) if row else None


def list_commands(
    session: Session, *, pending_only: bool = False, limit: int = 100
) -> list[cv.CommandRecord]:
    """Recent commands, newest first (only unfinished ones with ``pending_only``)."""
    from jira_console.store import models as m

    stmt = select(m.Command).order_by(t.commands.c.id.desc()).limit(limit)
    if pending_only:
        stmt = stmt.where(t.commands.c.finished_at.is_(None))
    return [cv.command_record(r) for r in session.scalars(stmt)]
