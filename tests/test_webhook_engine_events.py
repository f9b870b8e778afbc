"""Webhook events that carry what they say: a stored delivery is announced with its row's id, and every
processed event is announced with its outcome, from the listener and processor up to the engine's
subscribers (the console listens for both)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import orjson
import pytest

from jira_console import events as ev
from jira_console.daemon import Daemon
from jira_console.simulator import Simulator
from jira_console.store import Database
from jira_console.webhooks.listener import Delivery, create_listener_app
from jira_console.webhooks.processor import EventProcessor, RetryPolicy
from tests.fixtures.simulator import connection_for
from tests.test_webhook_helpers import (
    SECRET,
    SECRET_ENV,
    FakeApplier,
    issue_event,
    listening_daemon_settings,
    make_settings,
    post,
    rows,
)


async def test_listener_tells_the_stored_event_id(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    told: list[Delivery] = []
    app = create_listener_app(db, make_settings(), on_event=told.append)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        for identifier in ("a", "a", "b"):
            assert (await post(client, issue_event("ENG-1", 1_000), identifier=identifier)).status_code == 202
    await app.state.listener.batcher.close()
    first, second = rows(db)
    assert [(d.event_id, d.duplicate) for d in told] == [(first.id, False), (None, True), (second.id, False)]


async def test_processor_reports_every_outcome(db: Database) -> None:
    from tests.test_webhook_processor import store

    store(db, [issue_event("P-1", 1), issue_event("P-2", 2), {"webhookEvent": "comment_created"}])
    applier = FakeApplier()
    applier.always_fail.add("P-2")
    reported: list[ev.WebhookProcessed] = []
    processor = EventProcessor(db, applier, retry=RetryPolicy(max_attempts=2), on_processed=reported.append)
    await processor.drain()
    ok, bad, comment = rows(db)
    assert [(r.event_id, r.status, r.connection, r.event_type) for r in reported] == [
        (ok.id, "applied", "cloud", "jira:issue_updated"),
        (bad.id, "received", "cloud", "jira:issue_updated"),  # retried later
        (comment.id, "ignored", "cloud", "comment_created"),
    ]
    assert "applier refuses P-2" in (reported[1].error or "")
    assert "comment events are not processed" in (reported[2].error or "")
    reported.clear()
    from tests.test_webhook_processor import make_due

    make_due(db)
    await processor.drain()
    assert [(r.event_id, r.status) for r in reported] == [(bad.id, "failed")]  # parked after two attempts


async def _wait_for(condition: Callable[[], bool], changed: asyncio.Event, what: str) -> None:
    async def until() -> None:
        while not condition():
            changed.clear()
            if condition():
                return
            await changed.wait()

    try:
        await asyncio.wait_for(until(), timeout=60)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


async def test_daemon_announces_received_and_processed_events_with_their_ids(
    db_url: str, sim_factory: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = sim_factory("server", issues=3)
    conn = connection_for(sim, monkeypatch, overlap_seconds=0)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    daemon = Daemon(listening_daemon_settings(db_url, conn, "events-test"), listen=True)
    seen: list[ev.EngineEvent] = []
    changed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def collect(event: ev.EngineEvent) -> None:
        seen.append(event)
        loop.call_soon_threadsafe(changed.set)

    daemon.engine.subscribe(collect)
    await daemon.start()
    try:
        assert daemon.listener is not None
        url = f"{daemon.listener.url}/hooks?connection={conn.name}"
        async with httpx.AsyncClient() as client:
            # Keys Jira does not have: the scheduled sync can never race these events.
            update = issue_event("HOOK-1", 1_700_000_000_000)
            deletion = issue_event("HOOK-404", 1_700_000_000_000, event="jira:issue_deleted")
            for identifier, body in (("u1", update), ("u1", update), ("d1", deletion)):
                answer = await post(client, orjson.dumps(body), identifier=identifier, path=url)
                assert answer.status_code == 202

        def processed() -> dict[int, ev.WebhookProcessed]:
            return {e.event_id: e for e in seen if isinstance(e, ev.WebhookProcessed)}

        await _wait_for(lambda: len(processed()) >= 2, changed, "both stored events to be processed")
    finally:
        await daemon.shutdown()
    db = Database(db_url)
    try:
        update_row, deletion_row = rows(db)
    finally:
        db.close()
    received = [e for e in seen if isinstance(e, ev.WebhookReceived)]
    assert [(e.event_id, e.duplicate, e.connection) for e in received] == [
        (update_row.id, False, conn.name),
        (None, True, conn.name),
        (deletion_row.id, False, conn.name),
    ]
    assert received[0].event_type == "jira:issue_updated" and received[0].issue_key == "HOOK-1"
    done = processed()
    # An issue new here that Jira does not have (deleted since, as far as the store can tell) is not imported.
    assert (done[update_row.id].status, done[update_row.id].connection) == ("ignored", conn.name)
    assert done[update_row.id].event_type == "jira:issue_updated"
    assert "no longer has the issue" in (done[update_row.id].error or "")
    # Never stored, so nothing to delete: processed, and said so.
    assert (done[deletion_row.id].status, done[deletion_row.id].event_type) == (
        "ignored",
        "jira:issue_deleted",
    )
