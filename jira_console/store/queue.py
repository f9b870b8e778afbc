"""Durable work queues in the database: webhook events and the host programs' ``local_changes`` outbox.

Webhook event life cycle::

    received --claim--> processing --finish--> applied | ignored | stale
                            |  \\--fail(backoff)--> received (next_attempt_at later) ... --> failed
                            \\-- claim expired (worker died) --> claimable again

A claim is a lease (``claimed_by`` / ``claimed_until``); finishing or failing with ``owner`` given only
succeeds while that owner still holds the claim, so a worker that stalled past its lease cannot overwrite
the outcome of the worker that took over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import models as m
from jira_console.store.models import utcnow
from jira_console.store.repo import dialect_insert

EVENT_STATUSES = ("received", "processing", "applied", "ignored", "stale", "failed")
FINAL_STATUSES = ("applied", "ignored", "stale")


class InsertedEvent(NamedTuple):
    """Outcome of :func:`insert_event`: the new row's id, or ``duplicate`` (id None) when already stored."""

    id: int | None
    duplicate: bool


def insert_event(
    session: Session,
    *,
    identifier: str,
    payload: str,
    connection: str | None = None,
    content_hash: str | None = None,
    event_type: str | None = None,
    issue_key: str | None = None,
    event_ts_ms: int | None = None,
    headers: Mapping[str, Any] | None = None,
    status: str = "received",
) -> InsertedEvent:
    """Store a delivery unless one with the same ``identifier`` exists (Jira redelivers)."""
    if status not in EVENT_STATUSES:
        raise ValueError(f"unknown event status {status!r}")
    stmt = (
        dialect_insert(session, m.WebhookEvent)
        .values(
            identifier=identifier,
            payload=payload,
            connection=connection,
            content_hash=content_hash,
            event_type=event_type,
            issue_key=issue_key,
            event_ts_ms=event_ts_ms,
            headers=dict(headers or {}),
            status=status,
            attempts=0,
            received_at=utcnow(),
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["identifier"])
        .returning(m.WebhookEvent.id)
    )
    new_id = session.execute(stmt).scalar()
    return InsertedEvent(id=new_id, duplicate=new_id is None)


def _claimable(now: datetime) -> Any:
    return or_(
        and_(
            m.WebhookEvent.status == "received",
            or_(m.WebhookEvent.next_attempt_at.is_(None), m.WebhookEvent.next_attempt_at <= now),
        ),
        and_(m.WebhookEvent.status == "processing", m.WebhookEvent.claimed_until <= now),
    )


def claim_events(
    session: Session, owner: str, limit: int = 10, lease_seconds: float = 60.0, *, now: datetime | None = None
) -> list[cv.WebhookEventRecord]:
    """Claim up to ``limit`` due events (oldest first), including ones whose previous claim expired.

    Each claimed event gets ``attempts + 1``. Concurrent claimers never receive the same event: PostgreSQL
    skips rows another transaction has locked; on SQLite the single UPDATE runs under the write lock.
    """
    now = now or utcnow()
    values = {
        "status": "processing",
        "claimed_by": owner,
        "claimed_until": now + timedelta(seconds=lease_seconds),
        "attempts": m.WebhookEvent.attempts + 1,
    }
    due = select(m.WebhookEvent.id).where(_claimable(now)).order_by(m.WebhookEvent.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.execute(due.with_for_update(skip_locked=True)).scalars())
        if not ids:
            return []
        # The claimable condition is repeated so the row is re-checked after its lock, whatever happened.
        target = and_(m.WebhookEvent.id.in_(ids), _claimable(now))
    else:
        target = m.WebhookEvent.id.in_(due.scalar_subquery())
    claimed = list(
        session.execute(
            update(m.WebhookEvent)
            .where(target)
            .values(**values)
            .returning(m.WebhookEvent.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    if not claimed:
        return []
    rows = session.scalars(
        select(m.WebhookEvent)
        .where(m.WebhookEvent.id.in_(claimed))
        .order_by(m.WebhookEvent.id)
        .execution_options(populate_existing=True)
    )
    return [cv.webhook_event_record(r) for r in rows]


def _owned(event_id: int, owner: str | None) -> Any:
    cond = m.WebhookEvent.id == event_id
    if owner is not None:
        cond = and_(cond, m.WebhookEvent.claimed_by == owner, m.WebhookEvent.status == "processing")
    return cond


def finish_event(
    session: Session,
    event_id: int,
    status: str = "applied",
    *,
    owner: str | None = None,
    note: str | None = None,
) -> bool:
    """Mark an event done (``applied``, ``ignored`` or ``stale``); False when ``owner`` lost the claim."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"finish status must be one of {FINAL_STATUSES}, got {status!r}")
    result = session.execute(
        update(m.WebhookEvent)
        .where(_owned(event_id, owner))
        .values(status=status, processed_at=utcnow(), claimed_by=None, claimed_until=None, last_error=note)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail_event(
    session: Session,
    event_id: int,
    error: str,
    *,
    backoff: float | None,
    max_attempts: int | None = None,
    owner: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Record a failed attempt. The event is retried after ``backoff`` seconds, or parked as ``failed``
    when ``backoff`` is None or it has had ``max_attempts`` attempts. Returns the new status (None when
    ``owner`` lost the claim)."""
    now = now or utcnow()
    row = session.get(m.WebhookEvent, event_id, populate_existing=True)
    if row is None:
        return None
    give_up = backoff is None or (max_attempts is not None and row.attempts >= max_attempts)
    values: dict[str, Any] = {"last_error": error, "claimed_by": None, "claimed_until": None}
    if give_up:
        values.update(status="failed", processed_at=now, next_attempt_at=None)
    else:
        values.update(status="received", next_attempt_at=now + timedelta(seconds=backoff or 0))
    result = session.execute(
        update(m.WebhookEvent)
        .where(_owned(event_id, owner))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return str(values["status"]) if result.rowcount else None  # type: ignore[attr-defined]


def retry_event(session: Session, event_id: int) -> bool:
    """Operator action: make a failed (or finished) event due again now, with a fresh attempt count."""
    result = session.execute(
        update(m.WebhookEvent)
        .where(m.WebhookEvent.id == event_id, m.WebhookEvent.status != "processing")
        .values(
            status="received",
            attempts=0,
            next_attempt_at=None,
            processed_at=None,
            claimed_by=None,
            claimed_until=None,
        )  # fmt: skip
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get_event(session: Session, event_id: int) -> cv.WebhookEventRecord | None:
    """One event by id, or None."""
    row = session.get(m.WebhookEvent, event_id, populate_existing=True)
    return cv.webhook_event_record(row) if row else None


def list_events(
    session: Session,
    *,
    status: str | Iterable[str] | None = None,
    issue_key: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[cv.WebhookEventRecord]:
    """Events, newest first, optionally of some statuses / one issue."""
    stmt = select(m.WebhookEvent)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        stmt = stmt.where(m.WebhookEvent.status.in_(statuses))
    if issue_key is not None:
        stmt = stmt.where(m.WebhookEvent.issue_key == issue_key)
    stmt = stmt.order_by(m.WebhookEvent.id.desc()).limit(limit).offset(offset)
    return [cv.webhook_event_record(r) for r in session.scalars(stmt)]


def event_stats(session: Session) -> dict[str, int]:
    """Number of events per status (every status present, zero when none)."""
    counts = dict.fromkeys(EVENT_STATUSES, 0)
    rows = session.execute(select(m.WebhookEvent.status, func.count()).group_by(m.WebhookEvent.status))
    for status, count in rows:
        counts[status] = int(count)
    return counts


def purge_events(session: Session, older_than: datetime, *, statuses: Iterable[str] = FINAL_STATUSES) -> int:
    """Delete finished events processed before ``older_than``; returns how many. Failed ones stay by default
    so an operator can inspect and retry them."""
    result = session.execute(
        delete(m.WebhookEvent).where(
            m.WebhookEvent.status.in_(list(statuses)),
            func.coalesce(m.WebhookEvent.processed_at, m.WebhookEvent.received_at) < older_than,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- local_changes outbox -------------------------------------------------------------------------------


def add_local_change(session: Session, connection: str, issue_key: str, field: str, value: Any) -> int:
    """Queue a change the way a host program would (``INSERT INTO local_changes``); returns its id."""
    row = m.LocalChange(
        connection=connection, issue_key=issue_key, field=field, value=value, created_at=utcnow()
    )
    session.add(row)
    session.flush()
    return row.id


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
