"""The ``sync_runs`` table: one row per run of the engine that writes (a sync, a push on its own, an undo),
whose id the audit lines of the run carry (see :mod:`jira_console.store.cause`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Exists, delete, exists, func, select
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import models as m
from jira_console.store import tables as t
from jira_console.store.models import utcnow


def start_run(
    session: Session,
    connection: str,
    kind: str,
    *,
    owner: str | None = None,
    full: bool = False,
    note: str | None = None,
) -> int:
    """Record a run starting now; returns its id."""
    row = m.SyncRun(connection=connection, kind=kind, owner=owner, full=full, note=note, status="running")
    session.add(row)
    session.flush()
    return int(row.id)


def finish_run(session: Session, run_id: int, status: str, note: str | None = None) -> None:
    """Record how a run ended (``ok``, ``partial``, ``failed``)."""
    row = session.get(m.SyncRun, run_id)
    if row is None:
        return
    row.status = status[:16]
    row.finished_at = utcnow()
    if note is not None:
        row.note = note


def get_run(session: Session, run_id: int) -> cv.SyncRunRecord | None:
    row = session.get(m.SyncRun, run_id)
    return cv.sync_run_record(row) if row else None


def _wrote() -> Exists:
    """A run that wrote: an audit line names it."""
    return exists().where(t.audit_log.c.run_id == m.SyncRun.id)


def list_runs(
    session: Session,
    *,
    connection: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    changed_only: bool = False,
) -> list[cv.SyncRunRecord]:
    """Runs, newest first; ``changed_only``: those with audit lines (a daemon's scheduled syncs mostly find
    nothing to change, and would bury the runs an undo is after)."""
    stmt = select(m.SyncRun)
    if changed_only:
        stmt = stmt.where(_wrote())
    if connection is not None:
        stmt = stmt.where(m.SyncRun.connection == connection)
    if kind is not None:
        stmt = stmt.where(m.SyncRun.kind == kind)
    stmt = stmt.order_by(m.SyncRun.id.desc()).limit(limit)
    return [cv.sync_run_record(r) for r in session.scalars(stmt)]


def forget_quiet_runs(session: Session, finished_before: datetime) -> int:
    """Delete the runs that finished before ``finished_before`` without writing an audit line (a daemon's
    scheduled syncs, most of them): nothing names them. Returns how many."""
    stmt = delete(m.SyncRun).where(m.SyncRun.finished_at < finished_before, ~_wrote())
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def changes_of(session: Session, run_ids: Sequence[int]) -> dict[int, int]:
    """Run id -> how many audit lines the run wrote (runs without any are left out)."""
    if not run_ids:
        return {}
    c = t.audit_log.c
    stmt = select(c.run_id, func.count()).where(c.run_id.in_(list(run_ids))).group_by(c.run_id)
    return {int(run_id): int(n) for run_id, n in session.execute(stmt)}
