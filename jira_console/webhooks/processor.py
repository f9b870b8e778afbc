"""Event processing: workers claim stored webhook events in batches and apply them to the database.

The sync engine does the applying, through the :class:`EventApplier` protocol defined here (in practice the
connection router of :mod:`jira_console.sync.router`), so this module knows nothing of mappings or tables.
Per event:

* ``jira:issue_created|updated`` -> ``apply_remote_issues`` with the payload's v2 ``issue`` (issue events of
  one connection claimed together are applied together, in one call);
* ``jira:issue_deleted`` -> ``apply_remote_deletion``;
* ``sprint_*`` -> ``refresh_sprint`` (id from ``sprint.id``, else top-level ids, else None);
* anything else -> ``ignored`` with the reason (see :mod:`jira_console.webhooks.events`).

The applier answers ``applied``, ``stale`` (the stored state is newer: Jira does not order deliveries) or
``ignored``. An exception (or a time-out) is a failed attempt: the event goes back to the queue with an
exponential backoff, and after ``max_attempts`` it is parked as ``failed`` until ``retry_event``. Events
are independent: one failing never holds up the others. Several workers, in one process or many (on
PostgreSQL), share the queue through leased claims. Every recorded outcome is reported to ``on_processed``
as a :class:`~jira_console.events.WebhookProcessed` (the daemon hands it to the engine's listeners).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from jira_console import events as ev
from jira_console.logs import get_logger
from jira_console.store import Database
from jira_console.store.cause import Cause, caused_by
from jira_console.store.models import utcnow
from jira_console.store.outage import DatabaseOutage
from jira_console.store.queue import (
    ClaimedEvent,
    Outcome,
    claim_events,
    extend_claims,
    finish_events,
    purge_events,
)
from jira_console.webhooks.events import (
    ISSUE_DELETE_EVENT,
    ISSUE_UPSERT_EVENTS,
    SPRINT_PREFIX,
    ignore_reason,
    parse_body,
    sprint_reference,
)
from jira_console.webhooks.metrics import WebhookMetrics, event_type_label

log = get_logger(__name__)

Parsed = tuple[dict[str, Any] | None, str | None]
"""An event's body as :func:`parse_body` gives it: the object, or None and why."""

APPLIER_RESULTS = frozenset({"applied", "stale", "ignored"})

IssueItem = tuple[Mapping[str, Any], Mapping[str, Any] | None]
"""One issue event to apply: the payload's v2 ``issue`` and its ``changelog`` (None when absent)."""


class EventApplier(Protocol):
    """What the sync side offers the processor. Each answer is ``applied``, ``stale`` or ``ignored`` (a
    ``str``; one with a ``note`` attribute says why, and the event keeps the note); a method raises on a
    failure worth retrying (:class:`PermanentEventError` for one that never succeeds). ``connection`` is the
    connection the delivery was stored for (None when it could not be told)."""

    async def apply_remote_issues(self, connection: str | None, items: Sequence[IssueItem]) -> list[str]:
        """Apply issue versions together (one transaction), one answer per item, in order."""
        ...

    async def apply_remote_deletion(
        self, connection: str | None, issue_key: str, *, event_ts_ms: int | None, issue_id: str | None = None
    ) -> str:
        """An issue deleted in Jira (found by ``issue_id`` when given: its key may have changed)."""
        ...

    async def refresh_sprint(
        self, connection: str | None, sprint_id: int | None, payload: Mapping[str, Any]
    ) -> str:
        """A sprint event: read the sprint again."""
        ...


class PermanentEventError(Exception):
    """An event that can never succeed as stored (e.g. its body does not parse): parked at once."""


@dataclass(frozen=True)
class RetryPolicy:
    """How failed events come back: at most ``max_attempts`` attempts, exponential backoff in between."""

    max_attempts: int = 5
    base_seconds: float = 5.0
    max_seconds: float = 900.0

    def delay(self, attempts: int) -> float:
        return backoff_delay(attempts, self.base_seconds, self.max_seconds)


def backoff_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Delay before attempt ``attempts + 1``: exponential in the attempts made, capped, with jitter
    (half to all of the step, so that a burst of failures does not come back as one burst)."""
    step = min(max_seconds, base_seconds * (2.0 ** max(0, attempts - 1)))
    return step * random.uniform(0.5, 1.0)


def default_owner() -> str:
    """A claim owner unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _settled(answer: str) -> tuple[str, str | None]:
    """An applier's answer as the event records it: the status, and why when the answer says (a ``note``)."""
    note = getattr(answer, "note", None)
    return str(answer), note if isinstance(note, str) and note else None


def _checked(results: Sequence[str], expected: int) -> list[str]:
    answers = list(results)
    if len(answers) != expected:
        raise ValueError(f"applier returned {len(answers)} results for {expected} items")
    for result in answers:
        if result not in APPLIER_RESULTS:
            raise ValueError(f"applier returned {result!r}, expected one of {sorted(APPLIER_RESULTS)}")
    return answers


class EventProcessor:
    """Claims due events in batches and applies them; run it with :meth:`start` or :meth:`drain`."""

    def __init__(
        self,
        db: Database,
        applier: EventApplier,
        *,
        owner: str | None = None,
        retry: RetryPolicy | None = None,
        batch_size: int = 200,
        lease_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        metrics: CollectorRegistry | None = None,
        on_processed: Callable[[ev.WebhookProcessed], None] | None = None,
        outage: DatabaseOutage | None = None,
    ) -> None:
        self.db = db
        self.applier = applier
        self.owner = owner or default_owner()
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.metrics = WebhookMetrics.for_registry(metrics if metrics is not None else CollectorRegistry())
        self.on_processed = on_processed
        self.outage = outage
        """Where a database that does not answer is said (once per outage), not a warning every poll."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self, *_args: object) -> None:
        """Nudge idle workers (e.g. the listener's ``on_event``) so they need not wait for the next poll."""
        self._wake.set()

    # -- one batch ---------------------------------------------------------------------------------------

    def _claim(self, owner: str) -> list[ClaimedEvent]:
        with self.db.session(write=True) as session:
            return claim_events(session, owner, self.batch_size, self.lease_seconds)

    def _finish(self, owner: str, outcomes: Sequence[Outcome]) -> int:
        with self.db.session(write=True) as session:
            return finish_events(session, owner, outcomes)

    def _extend(self, owner: str, ids: Sequence[int]) -> int:
        with self.db.session(write=True) as session:
            return extend_claims(session, owner, ids, self.lease_seconds)

    async def _record(self, owner: str, events: Mapping[int, ClaimedEvent], outcomes: list[Outcome]) -> None:
        """Store outcomes (committed), then report each one."""
        await asyncio.to_thread(self._finish, owner, outcomes)
        if self.on_processed is None:
            return
        for outcome in outcomes:
            event = events[outcome.id]
            report = ev.WebhookProcessed(
                outcome.id, outcome.status, outcome.error, event.connection, event.event_type
            )
            try:
                self.on_processed(report)
            except Exception as exc:  # noqa: BLE001 - a listener must not undo a recorded outcome
                log.warning("webhook on_processed hook failed", event_id=outcome.id, error=str(exc))

    async def process_batch(self, owner: str | None = None) -> int:
        """Claim one batch, apply it, record the outcomes. Returns how many events were claimed."""
        owner = owner or self.owner
        claimed = await asyncio.to_thread(self._claim, owner)
        if not claimed:
            return 0
        by_id = {e.id: e for e in claimed}
        # Each body parsed once, for the batch and for the events it leaves to the one-by-one path.
        parsed = {e.id: parse_body(e.payload) for e in claimed}
        batched = await self._apply_issue_batch(claimed, parsed)
        outcomes: list[Outcome] = list(batched.values())
        rest = [e for e in claimed if e.id not in batched]
        lease_started = time.monotonic()
        for index, event in enumerate(rest):
            if time.monotonic() - lease_started > self.lease_seconds / 2:
                # A slow applier: save what is done and keep the rest of the batch ours.
                await self._record(owner, by_id, outcomes)
                outcomes = []
                await asyncio.to_thread(self._extend, owner, [e.id for e in rest[index:]])
                lease_started = time.monotonic()
            outcomes.append(await self._process_one(event, parsed.get(event.id)))
        await self._record(owner, by_id, outcomes)
        return len(claimed)

    def _count(self, event: ClaimedEvent, status: str) -> None:
        self.metrics.processed.labels(event_type_label(event.event_type), status).inc()
        self.metrics.lag.observe(max(0.0, (utcnow() - event.received_at).total_seconds()))

    async def _apply_issue_batch(
        self, events: Sequence[ClaimedEvent], parsed: dict[int, Parsed]
    ) -> dict[int, Outcome]:
        """Issue create/update events of one connection applied together in one transaction. Anything the
        batch cannot settle, including a failing batch, goes through the one-by-one path, so one bad event
        never blocks the others. ``parsed``: each event's parsed body; those of a failed batch are dropped
        from it (the attempt may have changed them), so the one-by-one path reads them again."""
        groups: dict[str | None, list[tuple[ClaimedEvent, dict[str, Any]]]] = {}
        for event in events:
            payload, _error = parsed[event.id]
            if payload is None or payload.get("webhookEvent") not in ISSUE_UPSERT_EVENTS:
                continue
            if not isinstance(payload.get("issue"), dict) or not payload["issue"].get("key"):
                continue
            groups.setdefault(event.connection, []).append((event, payload))
        done: dict[int, Outcome] = {}
        for connection, members in groups.items():
            if len(members) < 2:
                continue
            items = [(p["issue"], _changelog(p)) for _e, p in members]
            # Audit lines name the delivery of each issue (of several for one key, the last one claimed).
            by_key = {str(p["issue"]["key"]): e.id for e, p in members}
            try:
                with caused_by(Cause("webhook", event_ids=by_key)):
                    applied = self.applier.apply_remote_issues(connection, items)
                    results = _checked(
                        await asyncio.wait_for(applied, timeout=self.lease_seconds / 2), len(items)
                    )
            except Exception as exc:  # noqa: BLE001 - fall back to one by one, where failures are recorded
                log.warning("batch apply failed; applying one by one", connection=connection, error=str(exc))
                for event, _payload in members:
                    parsed.pop(event.id, None)
                continue
            for (event, _payload), answer in zip(members, results, strict=True):
                status, note = _settled(answer)
                done[event.id] = Outcome(event.id, status, note)
                self._count(event, status)
        return done

    async def _process_one(self, event: ClaimedEvent, body: Parsed | None) -> Outcome:
        try:
            with caused_by(Cause("webhook", event_id=event.id)):
                status, note = await asyncio.wait_for(
                    self._dispatch(event, body), timeout=self.lease_seconds / 2
                )
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the event, never raised
            error = f"{type(exc).__name__}: {exc}"[:2000] if str(exc) else type(exc).__name__
            parked = isinstance(exc, PermanentEventError) or event.attempts >= self.retry.max_attempts
            self.metrics.failed.labels(event_type_label(event.event_type), "yes" if parked else "no").inc()
            if parked:
                log.warning(
                    "webhook event parked as failed", event_id=event.id, attempts=event.attempts, error=error
                )
                return Outcome(event.id, "failed", error)
            delay = self.retry.delay(event.attempts)
            log.warning(
                "webhook event failed; will retry", event_id=event.id, attempts=event.attempts, error=error,
                retry_in_seconds=round(delay, 1),
            )  # fmt: skip
            return Outcome(event.id, "received", error, utcnow() + timedelta(seconds=delay))
        self._count(event, status)
        return Outcome(event.id, status, note)

    async def _dispatch(self, event: ClaimedEvent, body: Parsed | None) -> tuple[str, str | None]:
        payload, error = body if body is not None else parse_body(event.payload)
        if payload is None:
            raise PermanentEventError(error)
        raw_type = payload.get("webhookEvent")
        event_type = raw_type if isinstance(raw_type, str) and raw_type else None
        reason = ignore_reason(event_type, payload)
        if reason:
            return "ignored", reason
        assert event_type is not None
        conn = event.connection
        if event_type in ISSUE_UPSERT_EVENTS:
            results = await self.applier.apply_remote_issues(conn, [(payload["issue"], _changelog(payload))])
        elif event_type == ISSUE_DELETE_EVENT:
            issue_key = str(payload["issue"]["key"])
            raw_id = payload["issue"].get("id")
            results = [
                await self.applier.apply_remote_deletion(
                    conn, issue_key, event_ts_ms=event.event_ts_ms, issue_id=str(raw_id) if raw_id else None
                )
            ]
        elif event_type.startswith(SPRINT_PREFIX):
            sprint_id, _sprint = sprint_reference(payload)
            results = [await self.applier.refresh_sprint(conn, sprint_id, payload)]
        else:  # ignore_reason() lets nothing else through; kept so a new event kind fails loudly
            raise PermanentEventError(f"no handler for {event_type}")
        [result] = _checked(results, 1)
        return _settled(result)

    # -- workers -----------------------------------------------------------------------------------------

    async def drain(self, *, max_batches: int | None = None) -> int:
        """Process due events until none is left (or ``max_batches``); returns how many were claimed."""
        total = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            claimed = await self.process_batch()
            if not claimed:
                break
            total += claimed
            batches += 1
        return total

    async def _worker(self, index: int) -> None:
        owner = f"{self.owner}/w{index}"
        while not self._stopping:
            # Cleared before claiming, so a wake() that arrives during the batch is not lost.
            self._wake.clear()
            try:
                claimed = await self.process_batch(owner)
            except Exception as exc:  # noqa: BLE001 - a database hiccup: wait and try again
                if self.outage is None or not self.outage.failed(exc, "webhook processing"):
                    log.warning(
                        "webhook worker could not claim or finish a batch", worker=owner, error=str(exc)
                    )
                claimed = 0
            else:
                if self.outage is not None:
                    self.outage.answered("webhook processing")
            if claimed == 0 and not self._stopping:
                # The poll is jittered (0.5-1.5x): daemons started together would otherwise poll in
                # lock-step, and the one whose phase falls first after each insert would claim every batch.
                pause = self.poll_seconds * random.uniform(0.5, 1.5)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=pause)
                except TimeoutError:
                    pass

    def start(self, workers: int = 2) -> list[asyncio.Task[None]]:
        """Start ``workers`` worker tasks in the running loop."""
        self._stopping = False
        loop = asyncio.get_running_loop()
        first = len(self._tasks)
        for i in range(first, first + workers):
            self._tasks.append(loop.create_task(self._worker(i), name=f"webhook-worker-{i}"))
        return list(self._tasks)

    async def stop(self, grace_seconds: float = 15.0) -> None:
        """Let every worker finish its current batch, then return. A batch still running after
        ``grace_seconds`` (waiting on Jira or on a busy database) is cancelled: its events stay claimed until
        their claim expires, and the next worker to run (here after a restart, or another daemon) takes them,
        so a stop never waits without end."""
        self._stopping = True
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace_seconds)
        for task in late:
            task.cancel()
        if late:
            log.warning("webhook workers cancelled at stop", workers=len(late), grace_seconds=grace_seconds)
        await asyncio.gather(*tasks, return_exceptions=True)


def _changelog(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    changelog = payload.get("changelog")
    return changelog if isinstance(changelog, Mapping) else None


def purge(db: Database, retention_days: int) -> int:
    """Retention job: delete applied/ignored/stale events processed more than ``retention_days`` ago.

    Parked ``failed`` events are kept for an operator. Blocking; run it in a thread from async code.
    """
    cutoff = utcnow() - timedelta(days=retention_days)
    with db.session(write=True) as session:
        removed = purge_events(session, cutoff)
    if removed:
        log.info("purged old webhook events", removed=removed, retention_days=retention_days)
    return removed
