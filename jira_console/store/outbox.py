"""The ``local_changes`` outbox: rows host programs insert instead of updating ``issues`` directly, taken by
the sync (which applies each one to its issue as a local edit) and listed for operators."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import models as m
from jira_console.store.models import utcnow


def claim_local_changes(session: Session, connection: str, limit: int = 100) -> list[cv.LocalChangeRecord]:
    """Unprocessed outbox rows of a connection, oldest first.

    On PostgreSQL the rows stay locked (``FOR UPDATE SKIP LOCKED``) until the session ends, so a second
    daemon skips them; mark each one with :func:`mark_local_change` in the same session.
    """
    stmt = (
        select(m.LocalChange)
        .where(m.LocalChange.connection == connection, m.LocalChange.processed_at.is_(None))
        .order_by(m.LocalChange.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [
        cv.local_change_record(r) for r in session.scalars(stmt.execution_options(populate_existing=True))
    ]


def mark_local_change(session: Session, change_id: int, *, error: str | None = None) -> None:
    """Mark an outbox row processed (with the reason when it could not be applied)."""
    session.execute(
        update(m.LocalChange)
        .where(m.LocalChange.id == change_id)
        .values(processed_at=utcnow(), error=error)
        .execution_options(synchronize_session=False)
    )


def list_local_changes(
    session: Session, *, connection: str | None = None, pending_only: bool = False, limit: int = 100
) -> list[cv.LocalChangeRecord]:
    """Outbox rows, newest first."""
    stmt = select(m.LocalChange).order_by(m.LocalChange.id.desc()).limit(limit)
    if connection is not None:
        stmt = stmt.where(m.LocalChange.connection == connection)
    if pending_only:
        stmt = stmt.where(m.LocalChange.processed_at.is_(None))
    return [cv.local_change_record(r) for r in session.scalars(stmt)]
