"""Event processing: dispatch, retries with backoff, parking, retry_event, retention, exactly-once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import update

from jira_console.store import Database
from jira_console.store.models import WebhookEvent, utcnow
from jira_console.store.queue import EVENT_STATUSES, claim_events, event_stats, insert_events, retry_event
from jira_console.webhooks.processor import EventProcessor, RetryPolicy, backoff_delay, purge
from tests.test_webhook_helpers import FakeApplier, TrivialApplier, issue_event, rows
from tests.waiting import until

_ids = itertools.count(1)


def store(db: Database, payloads: list[dict | bytes], *, connection: str | None = "cloud") -> None:
    """Insert events as the listener would (status received)."""
    batch = []
    for payload in payloads:
        raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        parsed = orjson.loads(raw) if isinstance(payload, dict) else {}
        batch.append(
            {
                "connection": connection,
                "identifier": f"t:{next(_ids)}",
                "event_type": parsed.get("webhookEvent"),
                "issue_key": (parsed.get("issue") or {}).get("key"),
                "event_ts_ms": parsed.get("timestamp"),
                "received_at": utcnow(),
                "payload": raw.decode(),
                "status": "received",
                "attempts": 0,
            }
        )
    with db.session(write=True) as session:
        insert_events(session, batch)


def make_due(db: Database) -> None:
    with db.session(write=True) as session:
        session.execute(update(WebhookEvent).values(next_attempt_at=None))


async def test_dispatch_by_event_type(db: Database) -> None:
    store(
        db,
        [
            issue_event("A-1", 1000, event="jira:issue_created"),
            issue_event("A-1", 2000, event="jira:issue_updated"),
            issue_event("A-2", 3, event="jira:issue_deleted"),
            {"webhookEvent": "sprint_started", "timestamp": 4, "sprint": {"id": 37, "state": "active"}},
            {"webhookEvent": "sprint_closed", "timestamp": 5, "sprintId": "12"},
            {"webhookEvent": "comment_created", "timestamp": 6, "comment": {"id": "1"}},
        ],
    )
    applier = FakeApplier()
    assert await EventProcessor(db, applier).drain() == 6
    statuses = [(r.event_type, r.status) for r in rows(db)]
    assert statuses == [
        ("jira:issue_created", "applied"),
        ("jira:issue_updated", "applied"),
        ("jira:issue_deleted", "applied"),
        ("sprint_started", "applied"),
        ("sprint_closed", "applied"),
        ("comment_created", "ignored"),
    ]
    assert applier.deleted == [("cloud", "A-2")]
    assert applier.sprints == [("cloud", 37), ("cloud", 12)]
    assert "comment events are not processed" in rows(db)[-1].last_error
    assert all(r.processed_at is not None and r.claimed_by is None for r in rows(db))


async def test_transient_failures_retry_with_backoff_then_apply(db: Database) -> None:
    store(db, [issue_event("B-1", 10), issue_event("B-2", 10)])
    applier = FakeApplier()
    applier.fail_times["B-1"] = 2
    processor = EventProcessor(db, applier, retry=RetryPolicy(max_attempts=5, base_seconds=30))
    await processor.drain()
    first, second = rows(db)
    assert second.status == "applied"  # one bad event never blocks the others
    assert (first.status, first.attempts) == ("received", 1)
    assert "ConnectionError: transient failure for B-1" in first.last_error
    assert first.next_attempt_at > utcnow() + timedelta(seconds=10)  # not due yet: backoff applies
    assert await processor.drain() == 0
    make_due(db)
    await processor.drain()
    assert rows(db)[0].attempts == 2 and rows(db)[0].status == "received"
    make_due(db)
    await processor.drain()
    assert (rows(db)[0].status, rows(db)[0].attempts) == ("applied", 3)


async def test_persistent_failure_parks_then_retry_event_requeues(db: Database) -> None:
    store(db, [issue_event("C-1", 10)])
    applier = FakeApplier()
    applier.always_fail.add("C-1")
    processor = EventProcessor(db, applier, retry=RetryPolicy(max_attempts=3, base_seconds=0))
    for _ in range(5):
        await processor.drain()
    (row,) = rows(db)
    assert (row.status, row.attempts) == ("failed", 3)
    assert applier.calls["C-1"] == 3
    applier.always_fail.clear()
    with db.session(write=True) as session:
        assert retry_event(session, row.id)
        assert not retry_event(session, row.id + 1000)
    await processor.drain()
    assert rows(db)[0].status == "applied"


async def test_malformed_body_after_retry_parks_at_once(db: Database) -> None:
    store(db, [b"{broken"])
    await EventProcessor(db, FakeApplier(), retry=RetryPolicy(max_attempts=5)).drain()
    (row,) = rows(db)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "malformed JSON" in row.last_error


async def test_applier_returning_nonsense_counts_as_failure(db: Database) -> None:
    class Odd(TrivialApplier):
        async def apply_remote_issues(self, connection, items):  # noqa: ANN001, ANN201
            return ["done"] * len(items)

    store(db, [issue_event("D-1", 1)])
    await EventProcessor(db, Odd(), retry=RetryPolicy(max_attempts=1)).drain()
    (row,) = rows(db)
    assert row.status == "failed" and "applier returned 'done'" in row.last_error


async def test_a_failed_batch_leaves_its_events_read_afresh_for_the_one_by_one_path(db: Database) -> None:
    """Bodies are parsed once per claim; a batch attempt that failed may have changed them, so the events it
    held are applied one by one from their stored text."""

    class SpoilsThenFails(TrivialApplier):
        def __init__(self) -> None:
            super().__init__()
            self.summaries: list[str] = []

        async def apply_remote_issues(self, connection, items):  # noqa: ANN001, ANN201
            if len(items) > 1:
                for issue, _changelog in items:
                    issue["fields"]["summary"] = "spoilt by the failed batch"
                raise ConnectionError("the batch failed")
            self.summaries += [issue["fields"]["summary"] for issue, _changelog in items]
            return await super().apply_remote_issues(connection, items)

    store(db, [issue_event("F-1", 1, summary="one"), issue_event("F-2", 2, summary="two")])
    applier = SpoilsThenFails()
    assert await EventProcessor(db, applier).drain() == 2
    assert sorted(applier.summaries) == ["one", "two"]
    assert [r.status for r in rows(db)] == ["applied", "applied"]


async def test_expired_claim_is_taken_over(db: Database) -> None:
    store(db, [issue_event("E-1", 1)])
    with db.session(write=True) as session:
        (claimed,) = claim_events(session, "dead-worker", 10, lease_seconds=60)
    assert await EventProcessor(db, TrivialApplier()).drain() == 0  # lease still valid
    with db.session(write=True) as session:
        session.execute(update(WebhookEvent).values(claimed_until=utcnow() - timedelta(seconds=1)))
    applier = TrivialApplier()
    assert await EventProcessor(db, applier).drain() == 1
    (row,) = rows(db)
    assert (row.status, row.attempts, applier.seen["E-1"]) == ("applied", 2, 1)


async def test_purge_deletes_only_old_finished_events(db: Database) -> None:
    store(db, [issue_event(f"F-{n}", n) for n in range(4)])
    applier = FakeApplier()
    applier.always_fail.add("F-3")
    await EventProcessor(db, applier, retry=RetryPolicy(max_attempts=1)).drain()
    assert purge(db, 1) == 0
    with db.session(write=True) as session:
        session.execute(update(WebhookEvent).values(processed_at=utcnow() - timedelta(days=3)))
        session.execute(
            update(WebhookEvent).where(WebhookEvent.issue_key == "F-0").values(processed_at=utcnow())
        )
    assert purge(db, 2) == 2
    assert sorted((r.issue_key, r.status) for r in rows(db)) == [("F-0", "applied"), ("F-3", "failed")]


async def test_event_stats(db: Database) -> None:
    store(db, [issue_event("G-1", 1), issue_event("G-2", 2)])
    with db.session() as session:
        stats = event_stats(session)
    assert stats.depth == 2 and stats.by_status == dict.fromkeys(EVENT_STATUSES, 0) | {"received": 2}
    assert stats.oldest_pending_seconds >= 0 and stats.received_recently == 2


def test_backoff_grows_and_is_capped() -> None:
    assert 2.5 <= backoff_delay(1, 5, 900) <= 5
    assert 10 <= backoff_delay(3, 5, 900) <= 20
    assert backoff_delay(30, 5, 900) <= 900


async def test_two_processors_on_two_databases_process_each_event_once(db_url: str) -> None:
    first, second = Database(db_url), Database(db_url)
    first.migrate()
    try:
        total = 600
        store(first, [issue_event(f"X-{n}", n) for n in range(total)])
        applier = TrivialApplier()
        processors = [
            EventProcessor(database, applier, batch_size=25, poll_seconds=0.01)
            for database in (first, second)
        ]
        for processor in processors:
            processor.start(3)

        def drained() -> bool:
            with first.session() as session:
                return event_stats(session).depth == 0

        await until(drained, "both processors to empty the queue")
        for processor in processors:
            await processor.stop()
        assert len(applier.seen) == total
        assert set(applier.seen.values()) == {1}
        owners = {r.status for r in rows(first)}
        assert owners == {"applied"}
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("workers", [1, 4])
async def test_worker_wakes_on_new_events(db: Database, workers: int) -> None:
    applier = TrivialApplier()
    processor = EventProcessor(db, applier, poll_seconds=30)  # only wake() can get it going in time
    processor.start(workers)
    try:
        await asyncio.sleep(0.05)
        store(db, [issue_event("W-1", 1)])
        processor.wake()
        # Well under poll_seconds: only the wake can have started the work in time.
        await until(lambda: applier.seen["W-1"], "the woken worker to apply W-1", limit=20)
        assert applier.seen["W-1"] == 1
    finally:
        await processor.stop()


class AuditingApplier(FakeApplier):
    """Writes an audit line per issue applied, in a thread as the engine does, so the lines show which
    delivery the processor said caused them."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db

    async def apply_remote_issues(self, connection: str | None, items: list) -> list[str]:
        from jira_console.store import repo

        def audit() -> None:
            with self.db.session(write=True) as s:
                for issue, _changelog in items:
                    repo.append_audit(s, "cloud", "local", "summary", "a", "b", issue_key=issue["key"])

        await asyncio.to_thread(audit)
        return await super().apply_remote_issues(connection, items)


async def test_audit_lines_name_the_delivery_that_caused_them(db: Database) -> None:
    from jira_console.store import repo

    store(db, [issue_event("C-1", 10), issue_event("C-2", 20)])  # claimed together: one batch
    await EventProcessor(db, AuditingApplier(db)).drain()
    store(db, [issue_event("C-3", 30)])  # alone: one by one
    await EventProcessor(db, AuditingApplier(db)).drain()
    by_key = {r.issue_key: r.id for r in rows(db)}
    with db.session() as s:
        lines = repo.list_audit(s, connection="cloud")
    assert {(a.issue_key, a.cause, a.event_id, a.run_id) for a in lines} == {
        (key, "webhook", by_key[key], None) for key in ("C-1", "C-2", "C-3")
    }
    with db.session(write=True) as s:  # outside any delivery or run: no cause
        repo.append_audit(s, "cloud", "local", "summary", "b", "c", issue_key="C-9")
    with db.session() as s:
        [plain] = repo.list_audit(s, issue_key="C-9")
    assert (plain.cause, plain.event_id, plain.run_id, plain.undo_of) == (None, None, None, None)


async def test_stop_cancels_a_batch_that_outlasts_the_grace_and_its_events_stay_claimed(db: Database) -> None:
    # A batch stuck on Jira or on a busy database must not hold a daemon's stop without end (a demo stopped by
    # SIGINT on a loaded machine once did not exit within 120 s).
    store(db, [issue_event("S-1", 1)])
    started, never = asyncio.Event(), asyncio.Event()

    class Stuck(TrivialApplier):
        async def apply_remote_issues(self, connection: str | None, items: list) -> list[str]:
            started.set()
            await never.wait()
            raise AssertionError("unreachable")

    processor = EventProcessor(db, Stuck(), poll_seconds=30)
    processor.start(1)
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.wait_for(processor.stop(grace_seconds=0.2), 10)  # returns: the batch was cancelled
    [row] = rows(db)
    assert row.status == "processing" and row.claimed_until is not None  # picked up again once it expires


async def test_an_answer_that_says_why_leaves_its_note_on_the_event_batched_or_alone(db: Database) -> None:
    from jira_console.sync.remote import Answer

    class Explaining(TrivialApplier):
        async def apply_remote_issues(self, connection: str | None, items: list) -> list[str]:
            return [Answer("ignored", f"seen {issue['key']} before") for issue, _changelog in items]

    store(db, [issue_event("N-1", 1), issue_event("N-2", 2)])  # claimed together: one batch
    await EventProcessor(db, Explaining()).drain()
    store(db, [issue_event("N-3", 3)])  # alone: one by one
    await EventProcessor(db, Explaining()).drain()
    assert [(r.issue_key, r.status, r.last_error) for r in rows(db)] == [
        (key, "ignored", f"seen {key} before") for key in ("N-1", "N-2", "N-3")
    ]
