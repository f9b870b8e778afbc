"""Jira's own deliveries, posted to the daemon's listener in an order Jira may use (it promises none), both
flavors and both databases: what the store holds once the queue is drained is what Jira holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from jira_console import events as ev
from jira_console.daemon import Daemon
from jira_console.simulator import Simulator
from jira_console.store import Database
from jira_console.store import models as m
from tests.fixtures.simulator import connection_for
from tests.test_webhook_helpers import SECRET, SECRET_ENV, listening_daemon_settings, post
from tests.waiting import until

FLAVORS = ["cloud", "server"]


@asynccontextmanager
async def synced_daemon(db_url: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """A daemon with its listener over ``sim`` (the default JQL: every issue), once its first sync is done;
    yields (daemon, the listener's URL for this connection, the processed events by id)."""
    conn = connection_for(sim, monkeypatch, overlap_seconds=0)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    daemon = Daemon(listening_daemon_settings(db_url, conn, "order-test"), listen=True)
    processed: dict[int, ev.WebhookProcessed] = {}
    synced = asyncio.Event()
    loop = asyncio.get_running_loop()

    def collect(event: ev.EngineEvent) -> None:
        if isinstance(event, ev.WebhookProcessed) and event.event_id is not None:
            processed[event.event_id] = event
        if isinstance(event, ev.SyncFinished):
            loop.call_soon_threadsafe(synced.set)

    daemon.engine.subscribe(collect)
    await daemon.start()
    try:
        await asyncio.wait_for(synced.wait(), 60)
        assert daemon.listener is not None
        yield daemon, f"{daemon.listener.url}/hooks?connection={conn.name}", processed
    finally:
        await daemon.shutdown()


def recorded(sim: Simulator) -> list[tuple[str, bytes]]:
    """(identifier, body) of every delivery the simulator made so far (to a receiver that never answers)."""
    assert sim.wait_for_webhooks(10)
    return [(d["identifier"], d["body"]) for d in sim.webhook_deliveries]


def rows_of(db_url: str, jira_id: str) -> list[tuple[str, bool]]:
    db = Database(db_url)
    try:
        with db.session() as s:
            return [
                tuple(r)
                for r in s.execute(select(m.Issue.key, m.Issue.deleted).where(m.Issue.jira_id == jira_id))
            ]
    finally:
        db.close()


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_creation_delivered_after_its_deletion_imports_nothing(
    db_url: str, sim_factory: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    """An issue created, edited and deleted in Jira between two syncs; the deletion arrives first (nothing
    here to delete), then the edit; the creation is lost. Jira no longer has the issue: no live row may
    appear for it (the next incremental sync would not remove one: Jira lists no deleted issue)."""
    sim = sim_factory(flavor, issues=5, webhook_retry_delays=())
    async with synced_daemon(db_url, sim, monkeypatch) as (_daemon, url, processed):
        sim.add_webhook_target("http://127.0.0.1:9/unreachable")
        key = sim.create_issue("ENG", {"summary": "made, edited and deleted", "issuetype": "Task"})
        jira_id = str(sim.issue(key)["id"])
        sim.edit_issue(key, {"summary": "edited before its deletion"})
        sim.delete_issue(key)
        deliveries = recorded(sim)
        assert [json.loads(b)["webhookEvent"] for _, b in deliveries] == [
            "jira:issue_created", "jira:issue_updated", "jira:issue_deleted",
        ]  # fmt: skip
        async with httpx.AsyncClient() as client:
            for identifier, body in (deliveries[2], deliveries[1]):
                assert (await post(client, body, identifier=identifier, path=url)).status_code == 202
        await until(lambda: len(processed) >= 2, "both deliveries to be processed")
    assert [key for key, deleted in rows_of(db_url, jira_id) if not deleted] == []
    edit = next(e for e in processed.values() if e.event_type == "jira:issue_updated")
    assert (edit.status, edit.error) == (
        "ignored",
        "Jira no longer has the issue (deleted after this delivery was sent)",
    )
