"""Sync progress, leases, daemon heartbeats and operator commands.

Leases and claims are expiring: whoever holds one must renew it before ``lease_expires_at``; once that time
has passed anyone may take it over. Every acquisition is one conditional UPDATE, so two daemons racing for
the same lease cannot both win on either dialect (PostgreSQL re-checks the WHERE clause after the row lock,
SQLite has a single writer). Times come from this host's clock: keep daemon hosts NTP-synchronised.

Call lease functions in a short session of their own: the row lock taken by the UPDATE is held until that
session commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import models as m
from jira_console.store.models import utcnow
from jira_console.store.repo import dialect_insert

_SYNC_STATE_COLUMNS = frozenset(
    c.name for c in m.SyncState.__table__.columns if c.name not in ("connection", "scope")
)


# --- sync state -----------------------------------------------------------------------------------------


def get_sync_state(session: Session, connection: str, scope: str) -> cv.SyncStateRecord | None:
    """Progress of one scope, or None before its first run."""
    row = session.get(m.SyncState, (connection, scope), populate_existing=True)
    return cv.sync_state_record(row) if row else None


def list_sync_states(session: Session, connection: str | None = None) -> list[cv.SyncStateRecord]:
    """Progress of every scope (of one connection)."""
    stmt = select(m.SyncState).order_by(m.SyncState.connection, m.SyncState.scope)
    if connection is not None:
        stmt = stmt.where(m.SyncState.connection == connection)
    return [cv.sync_state_record(r) for r in session.scalars(stmt)]


def upsert_sync_state(session: Session, connection: str, scope: str, **values: Any) -> None:
    """Set the given columns of a scope's row, creating the row when missing. Others are left alone."""
    unknown = set(values) - _SYNC_STATE_COLUMNS
    if unknown:
        raise ValueError(f"unknown sync_state columns: {', '.join(sorted(unknown))}")
    _ensure_row(session, connection, scope)
    if values:
        session.execute(
            update(m.SyncState)
            .where(m.SyncState.connection == connection, m.SyncState.scope == scope)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _ensure_row(session: Session, connection: str, scope: str) -> None:
    stmt = dialect_insert(session, m.SyncState).values(connection=connection, scope=scope)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["connection", "scope"]))


# --- leases ---------------------------------------------------------------------------------------------


def acquire_lease(
    session: Session, connection: str, scope: str, owner: str, ttl: float, *, now: datetime | None = None
) -> bool:
    """Take (or re-take) the lease on a scope for ``ttl`` seconds; False when another owner holds it."""
    now = now or utcnow()
    _ensure_row(session, connection, scope)
    result = session.execute(
        update(m.SyncState)
        .where(
            m.SyncState.connection == connection,
            m.SyncState.scope == scope,
            or_(
                m.SyncState.lease_owner.is_(None),
                m.SyncState.lease_owner == owner,
                m.SyncState.lease_expires_at.is_(None),
                m.SyncState.lease_expires_at <= now,
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
    now = now or utcnow()
    result = session.execute(
        update(m.SyncState)
        .where(
            m.SyncState.connection == connection, m.SyncState.scope == scope, m.SyncState.lease_owner == owner
        )
        .values(lease_expires_at=now + timedelta(seconds=ttl))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release_lease(session: Session, connection: str, scope: str, owner: str) -> bool:
    """Give a lease up; False when ``owner`` did not hold it."""
    result = session.execute(
        update(m.SyncState)
        .where(
            m.SyncState.connection == connection, m.SyncState.scope == scope, m.SyncState.lease_owner == owner
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
    stmt = dialect_insert(session, m.Daemon).values(**data, started_at=started_at or now, stopping=False)
    update_cols = {k: stmt.excluded[k] for k in data if k != "name"}
    if started_at is not None:
        # A new start (new pid) resets the stop request left by the previous run.
        update_cols.update(started_at=stmt.excluded.started_at, stopping=False)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update_cols))


def list_daemons(session: Session) -> list[cv.DaemonRecord]:
    """Every daemon that ever beat, most recent heartbeat first."""
    stmt = select(m.Daemon).order_by(m.Daemon.heartbeat_at.desc(), m.Daemon.name)
    return [cv.daemon_record(r) for r in session.scalars(stmt)]


def request_stop(session: Session, name: str) -> bool:
    """Ask a daemon to stop (it polls its ``stopping`` flag); False when no such daemon."""
    result = session.execute(update(m.Daemon).where(m.Daemon.name == name).values(stopping=True))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def remove_daemon(session: Session, name: str) -> None:
    """Forget a daemon row (on clean shutdown or when it is known dead)."""
    session.execute(delete(m.Daemon).where(m.Daemon.name == name))


# --- commands -------------------------------------------------------------------------------------------


def enqueue_command(
    session: Session, kind: str, args: Mapping[str, Any] | None = None, *, created_by: str | None = None
) -> int:
    """Queue an operator command for a daemon; returns its id."""
    row = m.Command(kind=kind, args=dict(args or {}), created_by=created_by, created_at=utcnow())
    session.add(row)
    session.flush()
    return row.id


def claim_command(
    session: Session, owner: str, *, kinds: Iterable[str] | None = None
) -> cv.CommandRecord | None:
    """Take the oldest unclaimed command (of the given kinds), or None. Two daemons never get the same one."""
    candidates = select(m.Command.id).where(m.Command.claimed_by.is_(None)).order_by(m.Command.id).limit(1)
    if kinds is not None:
        candidates = candidates.where(m.Command.kind.in_(list(kinds)))
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    command_id = session.execute(candidates).scalar()
    if command_id is None:
        return None
    result = session.execute(
        update(m.Command)
        .where(m.Command.id == command_id, m.Command.claimed_by.is_(None))
        .values(claimed_by=owner, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return cv.command_record(session.get(m.Command, command_id, populate_existing=True))  # type: ignore[arg-type]


def finish_command(
    session: Session, command_id: int, *, result: Mapping[str, Any] | None = None, error: str | None = None
) -> None:
    """Record a command's outcome."""
    session.execute(
        update(m.Command)
        .where(m.Command.id == command_id)
        .values(finished_at=utcnow(), result=dict(result) if result is not None else None, error=error)
    )


def get_command(session: Session, command_id: int) -> cv.CommandRecord | None:
    """One command by id (to poll for its result), or None."""
    row = session.get(m.Command, command_id, populate_existing=True)
    return cv.command_record(row) if row else None


def list_commands(
    session: Session, *, pending_only: bool = False, limit: int = 100
) -> list[cv.CommandRecord]:
    """Recent commands, newest first (only unfinished ones with ``pending_only``)."""
    stmt = select(m.Command).order_by(m.Command.id.desc()).limit(limit)
    if pending_only:
        stmt = stmt.where(m.Command.finished_at.is_(None))
    return [cv.command_record(r) for r in session.scalars(stmt)]
