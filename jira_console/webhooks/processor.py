"""Event processing: workers claim stored webhook events in batches and apply them to the database.

The sync engine does the applying, through the :class:`EventApplier` protocol defined here, so this module
knows nothing of mappings or tables. Per event:

* ``jira:issue_created|updated`` -> ``apply_remote_issue`` with the payload's v2 ``issue``;
* ``jira:issue_deleted`` -> ``apply_remote_deletion``;
* ``sprint_*`` -> ``refresh_sprint`` (id from ``sprint.id``, else top-level ids, else None);
* anything else -> ``ignored`` with the reason (see :mod:`jira_console.webhooks.events`).

The applier answers ``applied``, ``stale`` (the stored state is newer: Jira does not order deliveries) or
``ignored``. An exception (or a time-out) is a failed attempt: the event goes back to the queue with an
exponential backoff, and after ``max_attempts`` it is parked as ``failed`` until ``retry_event``. Events
are independent: one failing never holds up the others. Several workers, in one process or many (on
PostgreSQL), share the queue through leased claims.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from prometheus_client import CollectorRegistry

from jira_console.logs import get_logger
from jira_console.store import Database
from jira_console.webhooks.events import (
    ISSUE_DELETE_EVENT,
    ISSUE_UPSERT_EVENTS,
    SPRINT_PREFIX,
    ignore_reason,
    parse_body,
    sprint_reference,
)
from jira_console.webhooks.metrics import WebhookMetrics, event_type_label
from jira_console.webhooks.queue import (
    ClaimedEvent,
    Outcome,
    claim_events,
    extend_claims,
    finish_events,
    purge_events,
    utcnow,
)

log = get_logger(__name__)

APPLIER_RESULTS = frozenset({"applied", "stale", "ignored"})


class EventApplier(Protocol):
    """What the sync engine offers the processor. Each method returns ``applied``, ``stale`` or
    ``ignored`` and raises on a failure worth retrying."""

    async def apply_remote_issue(
        self,
        connection: str | None,
        issue: dict,
        *,
        event_ts_ms: int | None,
        source: str,
        changelog: dict | None = None,
    ) -> str: ...

    # Optional: ``async def apply_remote_issues(connection, [(issue, changelog), ...]) -> list[str]`` applies
    # a batch in one go; the processor uses it when the applier has it.

    async def apply_remote_deletion(
        self, connection: str | None, issue_key: str, *, event_ts_ms: int | None
    ) -> str: ...

    async def refresh_sprint(self, connection: str | None, sprint_id: int | None, payload: dict) -> str: ...


class PermanentEventError(Exception):
    """An event that can never succeed as stored (e.g. its body does not parse): parked at once."""


def backoff_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Delay before attempt ``attempts + 1``: exponential in the attempts made, capped, with jitter
    (half to all of the step, so that a burst of failures does not come back as one burst)."""
    step = min(max_seconds, base_seconds * (2 ** max(0, attempts - 1)))
    return step * random.uniform(0.5, 1.0)


def default_owner() -> str:
    """A claim owner unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class EventProcessor:
    """Claims due events in batches and applies them; run it with :meth:`start` or :meth:`drain`."""

    def __init__(
        self,
        db: Database,
        applier: EventApplier,
        *,
        owner: str | None = None,
        max_attempts: int = 5,
        batch_size: int = 100,
        lease_seconds: float = 60.0,
        backoff_base_seconds: float = 5.0,
        backoff_max_seconds: float = 900.0,
        poll_seconds: float = 1.0,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        self.db = db
        self.applier = applier
        self.owner = owner or default_owner()
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.poll_seconds = poll_seconds
        self.metrics = WebhookMetrics.for_registry(metrics if metrics is not None else CollectorRegistry())
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

    async def process_batch(self, owner: str | None = None) -> int:
        """Claim one batch, apply it, record the outcomes. Returns how many events were claimed."""
        owner = owner or self.owner
        events = await asyncio.to_thread(self._claim, owner)
        if not events:
            return 0
        outcomes: list[Outcome] = []
        batched = await self._apply_issue_batch(events)
        outcomes.extend(batched.values())
        events = [e for e in events if e.id not in batched]
        lease_started = time.monotonic()
        for index, event in enumerate(events):
            if time.monotonic() - lease_started > self.lease_seconds / 2:
                # A slow applier: save what is done and keep the rest of the batch ours.
                await asyncio.to_thread(self._finish, owner, outcomes)
                outcomes = []
                await asyncio.to_thread(self._extend, owner, [e.id for e in events[index:]])
                lease_started = time.monotonic()
            outcomes.append(await self._process_one(event))
        await asyncio.to_thread(self._finish, owner, outcomes)
        return len(events)

    async def _apply_issue_batch(self, events: Sequence[ClaimedEvent]) -> dict[int, Outcome]:
        """Issue create/update events of one connection applied together in one transaction, when the
        applier can (``apply_remote_issues``). Anything the batch cannot settle, including a failing batch,
        goes through the one-by-one path, so one bad event never blocks the others."""
        apply_many = getattr(self.applier, "apply_remote_issues", None)
        if apply_many is None:
            return {}
        groups: dict[str | None, list[tuple[ClaimedEvent, dict]]] = {}
        for event in events:
            payload, _error = parse_body(event.payload.encode())
            if payload is None or payload.get("webhookEvent") not in ISSUE_UPSERT_EVENTS:
                continue
            if not isinstance(payload.get("issue"), dict) or not payload["issue"].get("key"):
                continue
            groups.setdefault(event.connection, []).append((event, payload))
        done: dict[int, Outcome] = {}
        for connection, members in groups.items():
            if len(members) < 2:
                continue
            try:
                results = await asyncio.wait_for(
                    apply_many(connection, [(p["issue"], p.get("changelog")) for _e, p in members]),
                    timeout=self.lease_seconds / 2,
                )
            except Exception as exc:  # noqa: BLE001 - fall back to one by one, where failures are recorded
                log.warning("batch apply failed; applying one by one", connection=connection, error=str(exc))
                continue
            for (event, _payload), status in zip(members, results, strict=True):
                done[event.id] = Outcome(event.id, status, None)
                self.metrics.processed.labels(event_type_label(event.event_type), status).inc()
                self.metrics.lag.observe(max(0.0, (utcnow() - event.received_at).total_seconds()))
        return done

    async def _process_one(self, event: ClaimedEvent) -> Outcome:
        event_type = event.event_type
        try:
            status = await asyncio.wait_for(self._dispatch(event), timeout=self.lease_seconds / 2)
            outcome = Outcome(event.id, status[0], status[1])
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the event, never raised
            error = f"{type(exc).__name__}: {exc}"[:2000] if str(exc) else type(exc).__name__
            parked = isinstance(exc, PermanentEventError) or event.attempts >= self.max_attempts
            self.metrics.failed.labels(event_type_label(event_type), "yes" if parked else "no").inc()
            if parked:
                log.warning(
                    "webhook event parked as failed", event_id=event.id, attempts=event.attempts, error=error
                )
                return Outcome(event.id, "failed", error)
            delay = backoff_delay(event.attempts, self.backoff_base_seconds, self.backoff_max_seconds)
            return Outcome(event.id, "received", error, utcnow() + timedelta(seconds=delay))
        self.metrics.processed.labels(event_type_label(event_type), outcome.status).inc()
        self.metrics.lag.observe(max(0.0, (utcnow() - event.received_at).total_seconds()))
        return outcome

    async def _dispatch(self, event: ClaimedEvent) -> tuple[str, str | None]:
        payload, error = parse_body(event.payload.encode())
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
            result = await self.applier.apply_remote_issue(
                conn,
                payload["issue"],
                event_ts_ms=event.event_ts_ms,
                source="webhook",
                **({"changelog": payload["changelog"]} if isinstance(payload.get("changelog"), dict) else {}),
            )
        elif event_type == ISSUE_DELETE_EVENT:
            result = await self.applier.apply_remote_deletion(
                conn, str(payload["issue"]["key"]), event_ts_ms=event.event_ts_ms
            )
        elif event_type.startswith(SPRINT_PREFIX):
            sprint_id, _sprint = sprint_reference(payload)
            result = await self.applier.refresh_sprint(conn, sprint_id, payload)
        else:  # ignore_reason() lets nothing else through; kept so a new event kind fails loudly
            raise PermanentEventError(f"no handler for {event_type}")
        if result not in APPLIER_RESULTS:
            raise ValueError(f"applier returned {result!r}, expected one of {sorted(APPLIER_RESULTS)}")
        return result, None

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
                log.warning("webhook worker could not claim or finish a batch", worker=owner, error=str(exc))
                claimed = 0
            if claimed == 0 and not self._stopping:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
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

    async def stop(self) -> None:
        """Let every worker finish its current batch, then return."""
        self._stopping = True
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*tasks, return_exceptions=True)


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
