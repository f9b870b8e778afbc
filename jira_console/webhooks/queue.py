"""Queries on ``webhook_events``, the durable work queue between the listener and the processor.

Written here (not in the store) because the webhook path needs batch forms: one statement inserts a whole
batch of deliveries, one claims a batch, one executemany finishes it. All functions take a
:class:`~sqlalchemy.orm.Session` and leave committing to the caller's ``Database.session()`` block.

Life of a row: ``received`` -> ``processing`` (claimed with a lease) -> ``applied`` | ``stale`` |
``ignored`` | back to ``received`` with ``next_attempt_at`` after a failure | ``failed`` (parked after the
last attempt; :func:`retry_event` re-queues it). A claim whose lease ran out (its worker died) is claimed
again by anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from jira_console.store.models import WebhookEvent

# One definition of the operator's retry and of retention, shared with the store's own queue functions.
from jira_console.store.queue import purge_events, retry_event  # noqa: F401

_T = cast(Table, WebhookEvent.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _rowcount(result: Any) -> int:
    # UPDATE/DELETE results are CursorResults; the generic Result type does not declare rowcount.
    return int(getattr(result, "rowcount", 0) or 0)


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> list[bool]:
    """Insert ``rows`` (dicts of column values), skipping known identifiers.

    Returns one flag per row: True when it was a duplicate (already stored, or repeated earlier in the same
    batch). One multi-row ``INSERT ... ON CONFLICT (identifier) DO NOTHING RETURNING identifier``.
    """
    seen: set[str] = set()
    fresh: list[dict[str, Any]] = []
    for row in rows:
        if row["identifier"] not in seen:
            seen.add(row["identifier"])
            fresh.append(row)
    if not fresh:
        return [True] * len(rows)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(_T).on_conflict_do_nothing(index_elements=["identifier"]).returning(_T.c.identifier)
    inserted = set(session.execute(stmt, fresh).scalars())
    flags: list[bool] = []
    for row in rows:
        ident = row["identifier"]
        flags.append(ident not in inserted)
        inserted.discard(ident)  # a second copy in the same batch is a duplicate
    return flags


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """One claimed row, detached from the session."""

    id: int
    connection: str | None
    event_type: str | None
    issue_key: str | None
    event_ts_ms: int | None
    payload: str
    attempts: int
    received_at: datetime


def claim_events(
    session: Session, owner: str, limit: int, lease_seconds: float, *, now: datetime | None = None
) -> list[ClaimedEvent]:
    """Claim up to ``limit`` due events for ``owner`` (oldest first) and count the attempt.

    Due: ``received`` whose ``next_attempt_at`` has come, or ``processing`` whose lease expired. On
    PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED`` so concurrent claimers never take the same
    row; SQLite serialises writers (use a ``write=True`` session).
    """
    now = now or utcnow()
    due = or_(
        (_T.c.status == "received") & (or_(_T.c.next_attempt_at.is_(None), _T.c.next_attempt_at <= now)),
        (_T.c.status == "processing") & (_T.c.claimed_until < now),
    )
    query = select(_T.c.id).where(due).order_by(_T.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.execute(query).scalars())
    if not ids:
        return []
    stmt = (
        update(_T)
        .where(_T.c.id.in_(ids))
        .values(
            status="processing",
            claimed_by=owner,
            claimed_until=now + timedelta(seconds=lease_seconds),
            attempts=_T.c.attempts + 1,
        )
        .returning(
            _T.c.id,
            _T.c.connection,
            _T.c.event_type,
            _T.c.issue_key,
            _T.c.event_ts_ms,
            _T.c.payload,
            _T.c.attempts,
            _T.c.received_at,
        )
    )
    claimed = [ClaimedEvent(*row) for row in session.execute(stmt)]
    claimed.sort(key=lambda event: event.id)
    return claimed


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of processing one claimed event."""

    id: int
    status: str
    """``applied`` | ``stale`` | ``ignored`` | ``received`` (retry later) | ``failed`` (parked)."""
    error: str | None = None
    next_attempt_at: datetime | None = None


def finish_events(
    session: Session, owner: str, outcomes: Iterable[Outcome], *, now: datetime | None = None
) -> int:
    """Record outcomes of events claimed by ``owner``; returns how many rows were still ours.

    The ``claimed_by`` guard keeps a worker whose lease expired (and whose event was re-claimed) from
    overwriting the newer claimer's result.
    """
    now = now or utcnow()
    params = [
        {
            "_id": o.id,
            "_owner": owner,
            "_status": o.status,
            "_error": o.error,
            "_next": o.next_attempt_at,
            "_done": now if o.status != "received" else None,
        }
        for o in outcomes
    ]
    if not params:
        return 0
    stmt = (
        update(_T)
        .where(_T.c.id == bindparam("_id"), _T.c.claimed_by == bindparam("_owner"))
        .values(
            status=bindparam("_status"),
            last_error=bindparam("_error"),
            next_attempt_at=bindparam("_next"),
            processed_at=bindparam("_done"),
            claimed_by=None,
            claimed_until=None,
        )
    )
    result = session.connection().execute(stmt, params)
    return _rowcount(result)


def queue_depth(session: Session) -> int:
    """Events waiting or being processed."""
    return int(
        session.execute(
            select(func.count()).select_from(_T).where(_T.c.status.in_(("received", "processing")))
        ).scalar_one()
    )


def event_stats(session: Session) -> dict[str, Any]:
    """Counts by status and the age (seconds) of the oldest pending event."""
    counts = {
        status: int(n)
        for status, n in session.execute(select(_T.c.status, func.count()).group_by(_T.c.status))
    }
    oldest = session.execute(
        select(func.min(_T.c.received_at)).where(_T.c.status.in_(("received", "processing")))
    ).scalar_one()
    if isinstance(oldest, datetime) and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    lag = max(0.0, (utcnow() - oldest).total_seconds()) if isinstance(oldest, datetime) else 0.0
    return {
        "by_status": counts,
        "depth": counts.get("received", 0) + counts.get("processing", 0),
        "oldest_pending_seconds": lag,
    }


def extend_claims(session: Session, owner: str, ids: Sequence[int], lease_seconds: float) -> int:
    """Push the lease of ``owner``'s claims on ``ids`` forward (long batches); returns rows extended."""
    if not ids:
        return 0
    result = session.execute(
        update(_T)
        .where(_T.c.id.in_(list(ids)), _T.c.claimed_by == owner, _T.c.status == "processing")
        .values(claimed_until=utcnow() + timedelta(seconds=lease_seconds))
    )
    return _rowcount(result)
