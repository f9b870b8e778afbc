"""The durable webhook event queue: the one module that reads and writes ``webhook_events``.

The listener inserts deliveries in batches, the processor claims, extends and finishes them in batches, an
operator retries parked ones, retention purges old ones, and the views list them and count them. Every
function takes a :class:`~sqlalchemy.orm.Session` and leaves committing to the caller's
``Database.session()`` block.

Life of a row::

    received --claim--> processing --finish--> applied | ignored | stale
                            |  \\--finish(retry later)--> received (next_attempt_at later) ... --> failed
                            \\-- claim expired (worker died) --> claimable again

A claim is a lease (``claimed_by`` / ``claimed_until``) that has expired once ``claimed_until <= now``, the
same rule as the sync lease. Finishing only succeeds while the owner still holds the claim, so a worker that
stalled past its lease cannot overwrite the outcome of the worker that took over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import Connection, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import tables
from jira_console.store.bulk import among
from jira_console.store.db import dump_json
from jira_console.store.tables import utcnow

if TYPE_CHECKING:
    from psycopg import AsyncConnection

EVENT_STATUSES = ("received", "processing", "applied", "ignored", "stale", "failed")
FINAL_STATUSES = ("applied", "ignored", "stale")
PENDING_STATUSES = ("received", "processing")

_T = tables.webhook_events


def _rowcount(result: Any) -> int:
    # UPDATE/DELETE results are CursorResults; the generic Result type does not declare rowcount.
    return int(getattr(result, "rowcount", 0) or 0)


# --- insert ---------------------------------------------------------------------------------------------


class InsertedEvent(NamedTuple):
    """Outcome of storing one delivery: the new row's id, or ``duplicate`` (id None) when already stored."""

    id: int | None
    duplicate: bool


def insert_events(session: Session | Connection, rows: Sequence[dict[str, Any]]) -> list[InsertedEvent]:
    """Insert ``rows`` (dicts of column values, the same keys in each), skipping known identifiers.

    Returns one result per row: the stored id, or a duplicate (already stored, or repeated earlier in the
    same batch). One multi-row ``INSERT ... ON CONFLICT (identifier) DO NOTHING RETURNING id, identifier``.
    """
    fresh = _fresh_rows(rows)
    if not fresh:
        return [InsertedEvent(None, True)] * len(rows)
    bind = session if isinstance(session, Connection) else session.connection()
    if bind.dialect.name == "postgresql":
        result: Iterable[Any] = bind.exec_driver_sql(_PG_INSERT, _pg_rows(fresh))
    else:
        result = _sqlite_insert(bind, fresh)
    return _outcomes(rows, result)


async def insert_events_async(
    conn: AsyncConnection[Any], rows: Sequence[dict[str, Any]]
) -> list[InsertedEvent]:
    """:func:`insert_events` on PostgreSQL through psycopg's asyncio connection, in autocommit: the one
    statement is atomic, and durable when it returns."""
    fresh = _fresh_rows(rows)
    if not fresh:
        return [InsertedEvent(None, True)] * len(rows)
    cursor = await conn.execute(_PG_INSERT, _pg_rows(fresh))
    return _outcomes(rows, await cursor.fetchall())


def _fresh_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` checked, without repeats of an identifier (the first copy counts)."""
    for row in rows:
        if row.get("status", "received") not in EVENT_STATUSES:
            raise ValueError(f"unknown event status {row['status']!r}")
    unknown = set().union(*rows) - _COLUMN_NAMES
    if unknown:
        raise ValueError(f"webhook_events has no column {', '.join(sorted(unknown))}")
    seen: set[str] = set()
    fresh: list[dict[str, Any]] = []
    for row in rows:
        if row["identifier"] not in seen:
            seen.add(row["identifier"])
            fresh.append(row)
    return fresh


def _outcomes(rows: Sequence[dict[str, Any]], stored: Iterable[Any]) -> list[InsertedEvent]:
    """One result per row from the ``(id, identifier)`` pairs the insert returned."""
    inserted = {ident: int(new_id) for new_id, ident in stored}
    out: list[InsertedEvent] = []
    for row in rows:
        new_id = inserted.pop(row["identifier"], None)  # a second copy in the same batch is a duplicate
        out.append(InsertedEvent(new_id, new_id is None))
    return out


# PostgreSQL: the whole batch is one JSON parameter, turned into rows by the server (json_to_recordset). The
# statement's text is the same whatever the batch size, so the driver parses and prepares it once (a
# multi-row VALUES list is a new statement for every size, and its conversion was a third of the listener's
# commit time), and one parameter is dumped instead of one per column and row: the JSON is written by
# orjson in one call and read by the server, on its own core. A batch of 32 deliveries: 0.5 ms of the
# listener's CPU where a VALUES list took 3.8 ms. _COLUMNS are also the columns insert_events accepts.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("connection", "text"), ("identifier", "text"), ("content_hash", "text"), ("event_type", "text"),
    ("issue_key", "text"), ("event_ts_ms", "bigint"), ("received_at", "timestamptz"), ("headers", "jsonb"),
    ("payload", "text"), ("status", "text"), ("attempts", "integer"), ("next_attempt_at", "timestamptz"),
    ("last_error", "text"), ("claimed_by", "text"), ("claimed_until", "timestamptz"),
    ("processed_at", "timestamptz"),
)  # fmt: skip
_COLUMN_LIST = ", ".join(name for name, _ in _COLUMNS)
_PG_INSERT = (
    f"INSERT INTO {_T.name} ({_COLUMN_LIST}) "
    f"SELECT {_COLUMN_LIST} "
    f"FROM json_to_recordset(%s::json) AS r({', '.join(f'{name} {kind}' for name, kind in _COLUMNS)}) "
    "ON CONFLICT (identifier) DO NOTHING RETURNING id, identifier"
)
_COLUMN_NAMES = frozenset(name for name, _ in _COLUMNS)
_DEFAULTS: dict[str, Any] = {"status": "received", "attempts": 0}
"""The columns' Python defaults (``received_at``'s, the time of the insert, is added per batch)."""


def _pg_rows(rows: Sequence[dict[str, Any]]) -> tuple[str]:
    """The parameter of :data:`_PG_INSERT`: ``rows`` as a JSON array, a missing value given its column's
    Python default (else NULL); a naive time is taken to be UTC, as :class:`~.tables.UTCDateTime` does."""
    defaults = _DEFAULTS | {"received_at": utcnow()}
    filled = [defaults | row for row in rows]
    return (orjson.dumps(filled, option=orjson.OPT_NAIVE_UTC).decode(),)


# SQLite: a multi-row VALUES list with positional parameters, the values converted here as the column types
# would (times as naive UTC text, JSON as the engine's text). Executing SQLAlchemy's insert construct took
# 14 us a row (bind processors, a parameter dictionary per row); this takes 9.5 us, SQLite's own work
# included (32-row batches of 2.3 KB deliveries). The listener's commits wait on it before acknowledging.
# The driver caches the statement's text per batch size.
_SQLITE_MAX_ROWS = 32_766 // len(_COLUMNS)  # SQLite's limit on a statement's parameters (3.32 and later)
_SQLITE_ROW = "(" + ", ".join("?" * len(_COLUMNS)) + ")"


def _sqlite_insert(bind: Connection, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    defaults = _DEFAULTS | {"received_at": utcnow()}
    out: list[tuple[int, str]] = []
    for start in range(0, len(rows), _SQLITE_MAX_ROWS):
        chunk = rows[start : start + _SQLITE_MAX_ROWS]
        params: list[Any] = []
        for row in chunk:
            filled = defaults | row
            for name, conv in _SQLITE_CONVERT:
                value = filled.get(name)
                params.append(value if conv is None or value is None else conv(value))
        statement = (
            f"INSERT INTO {_T.name} ({_COLUMN_LIST}) VALUES {', '.join([_SQLITE_ROW] * len(chunk))} "
            "ON CONFLICT (identifier) DO NOTHING RETURNING id, identifier"
        )
        out.extend((new_id, ident) for new_id, ident in bind.exec_driver_sql(statement, tuple(params)))
    return out


def _sqlite_time(value: datetime) -> str:
    """What :class:`~.tables.UTCDateTime` stores on SQLite (SQLAlchemy's text form of a naive UTC time)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


_SQLITE_CONVERTERS: dict[str, Any] = {"timestamptz": _sqlite_time, "jsonb": dump_json}
_SQLITE_CONVERT = tuple((name, _SQLITE_CONVERTERS.get(kind)) for name, kind in _COLUMNS)
"""Each column's name and the conversion its values need on SQLite (None: the value as it is)."""


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
    headers: dict[str, Any] | None = None,
    status: str = "received",
) -> InsertedEvent:
    """Store one delivery unless one with the same ``identifier`` exists (Jira redelivers)."""
    row = {
        "identifier": identifier, "payload": payload, "connection": connection, "content_hash": content_hash,
        "event_type": event_type, "issue_key": issue_key, "event_ts_ms": event_ts_ms,
        "headers": dict(headers or {}), "status": status, "attempts": 0, "received_at": utcnow(),
    }  # fmt: skip
    return insert_events(session, [row])[0]


# --- claim, extend, finish ------------------------------------------------------------------------------


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


def _claimable(now: datetime) -> Any:
    return or_(
        and_(
            _T.c.status == "received",
            or_(_T.c.next_attempt_at.is_(None), _T.c.next_attempt_at <= now),
        ),
        and_(_T.c.status == "processing", _T.c.claimed_until <= now),
    )


def claim_events(
    session: Session, owner: str, limit: int = 10, lease_seconds: float = 60.0, *, now: datetime | None = None
) -> list[ClaimedEvent]:
    """Claim up to ``limit`` due events for ``owner`` (oldest first) and count the attempt.

    Due: ``received`` whose ``next_attempt_at`` has come, or ``processing`` whose claim expired. Concurrent
    claimers never receive the same event: PostgreSQL skips rows another transaction has locked and re-checks
    the condition after the lock; on SQLite the single UPDATE runs under the write lock.
    """
    now = now or utcnow()
    due = select(_T.c.id).where(_claimable(now)).order_by(_T.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.execute(due.with_for_update(skip_locked=True)).scalars())
        if not ids:
            return []
        target = and_(among(session, _T.c.id, ids), _claimable(now))
    else:
        target = _T.c.id.in_(due.scalar_subquery())
    stmt = (
        update(_T)
        .where(target)
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
        )  # fmt: skip
    )
    claimed = [ClaimedEvent(*row) for row in session.execute(stmt)]
    claimed.sort(key=lambda event: event.id)
    return claimed


def extend_claims(session: Session, owner: str, ids: Sequence[int], lease_seconds: float) -> int:
    """Push the lease of ``owner``'s claims on ``ids`` forward (long batches); returns rows extended."""
    if not ids:
        return 0
    result = session.execute(
        update(_T)
        .where(among(session, _T.c.id, ids), _T.c.claimed_by == owner, _T.c.status == "processing")
        .values(claimed_until=utcnow() + timedelta(seconds=lease_seconds))
    )
    return _rowcount(result)


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

    Outcomes alike (most of a batch: applied, no error) are recorded by one ``UPDATE ... WHERE id IN``."""
    now = now or utcnow()
    alike: dict[tuple[str, str | None, datetime | None], list[int]] = {}
    for o in outcomes:
        if o.status not in (*FINAL_STATUSES, "received", "failed"):
            raise ValueError(f"an outcome cannot be {o.status!r}")
        alike.setdefault((o.status, o.error, o.next_attempt_at), []).append(o.id)
    conn = session.connection()
    done = 0
    for (status, error, next_attempt_at), ids in alike.items():
        stmt = (
            update(_T)
            .where(among(conn, _T.c.id, ids), _T.c.claimed_by == owner, _T.c.status == "processing")
            .values(
                status=status,
                last_error=error,
                next_attempt_at=next_attempt_at,
                processed_at=now if status != "received" else None,
                claimed_by=None,
                claimed_until=None,
            )
        )
        done += _rowcount(conn.execute(stmt))
    return done


def retry_event(session: Session, event_id: int) -> bool:
    """Operator action: make a failed (or finished) event due again now, with a fresh attempt count."""
    result = session.execute(
        update(_T)
        .where(_T.c.id == event_id, _T.c.status != "processing")
        .values(
            status="received",
            attempts=0,
            next_attempt_at=None,
            processed_at=None,
            claimed_by=None,
            claimed_until=None,
        )  # fmt: skip
    )
    return bool(_rowcount(result))


def purge_events(session: Session, older_than: datetime, *, statuses: Iterable[str] = FINAL_STATUSES) -> int:
    """Delete finished events processed (or, lacking a processing time, received) before ``older_than``;
    returns how many. Failed ones stay by default so an operator can inspect and retry them."""
    result = session.execute(
        delete(_T).where(
            _T.c.status.in_(list(statuses)),
            func.coalesce(_T.c.processed_at, _T.c.received_at) < older_than,
        )
    )
    return _rowcount(result)


# --- views ----------------------------------------------------------------------------------------------


def get_event(session: Session, event_id: int) -> cv.WebhookEventRecord | None:
    """One event by id, or None."""
    from jira_console.store.models import WebhookEvent

    row = session.get(WebhookEvent, event_id, populate_existing=True)
    return cv.webhook_event_record(row) if row else None


def _event_filters(
    stmt: Any,
    status: str | Iterable[str] | None,
    issue_key: str | None,
    connection: str | None,
    since: datetime | None,
) -> Any:
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        stmt = stmt.where(_T.c.status.in_(statuses))
    if issue_key is not None:
        stmt = stmt.where(_T.c.issue_key == issue_key)
    if connection is not None:
        stmt = stmt.where(_T.c.connection == connection)
    if since is not None:
        stmt = stmt.where(_T.c.received_at >= since)
    return stmt


def list_events(
    session: Session,
    *,
    status: str | Iterable[str] | None = None,
    issue_key: str | None = None,
    connection: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[cv.WebhookEventRecord]:
    """Events, newest first, optionally of some statuses / one issue / one connection / received since."""
    stmt = _event_filters(select(_T), status, issue_key, connection, since)
    stmt = stmt.order_by(_T.c.id.desc()).limit(limit).offset(offset)
    return [cv.webhook_event_record(r) for r in session.execute(stmt)]


def count_events(
    session: Session,
    *,
    status: str | Iterable[str] | None = None,
    issue_key: str | None = None,
    connection: str | None = None,
    since: datetime | None = None,
) -> int:
    """How many events :func:`list_events` would page through with the same filters."""
    stmt = select(func.count()).select_from(_T)
    return int(session.execute(_event_filters(stmt, status, issue_key, connection, since)).scalar_one())


@dataclass(frozen=True)
class QueueStats:
    """Figures of the queue: counts by status (every status, zero when none), how many wait or are being
    processed, the age of the oldest of those, and the traffic of the recent window."""

    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_STATUSES, 0))
    depth: int = 0
    oldest_pending_seconds: float = 0.0
    received_recently: int = 0
    processed_recently: int = 0


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def event_stats(session: Session, *, window: timedelta = timedelta(minutes=1)) -> QueueStats:
    """Counts by status, depth, age of the oldest pending event, and events received / processed within
    ``window`` (the last minute by default)."""
    counts = dict.fromkeys(EVENT_STATUSES, 0)
    for status, n in session.execute(select(_T.c.status, func.count()).group_by(_T.c.status)):
        counts[status] = int(n)
    now = utcnow()
    oldest = _aware(
        session.execute(
            select(func.min(_T.c.received_at)).where(_T.c.status.in_(PENDING_STATUSES))
        ).scalar_one()
    )
    since = now - window
    received, processed = session.execute(
        select(
            func.count().filter(_T.c.received_at >= since),
            func.count().filter(_T.c.processed_at >= since),
        ).select_from(_T)
    ).one()
    return QueueStats(
        by_status=counts,
        depth=sum(counts[s] for s in PENDING_STATUSES),
        oldest_pending_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        received_recently=int(received or 0),
        processed_recently=int(processed or 0),
    )


def last_received_by_connection(session: Session) -> dict[str, datetime]:
    """When each connection last received a webhook delivery (connections without one are left out)."""
    rows = session.execute(
        select(_T.c.connection, func.max(_T.c.received_at)).group_by(_T.c.connection)
    ).all()
    return {name: at for name, raw in rows if name and (at := _aware(raw)) is not None}
