"""The ``sync_runs`` table: one row per run of the engine that writes (a sync, a push on its own, an undo),
whose id the audit lines of the run carry (see :mod:`jira_console.store.cause`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import models as m
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


def list_runs(
    session: Session, *, connection: str | None = None, kind: str | None = None, limit: int = 50
) -> list[cv.SyncRunRecord]:
    """Runs, newest first."""
    stmt = select(m.SyncRun)
    if connection is not None:
        stmt = stmt.where(m.SyncRun.connection == connection)
    if kind is not None:
        stmt = stmt.where(m.SyncRun.kind == kind)
    stmt = stmt.order_by(m.SyncRun.id.desc()).limit(limit)
    return [cv.sync_run_record(r) for r in session.scalars(stmt)]
