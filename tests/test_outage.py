"""Jira down for a stretch under load: the breaker opens (and says so), local edits and webhooks are kept,
and after recovery everything drains with nothing lost."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import func, select

from jira_console import events as ev
from jira_console.simulator import FIELD_IDS
from jira_console.store import models as m
from tests.waiting import until

pytestmark = pytest.mark.timing

WEBHOOK_SECRET = "outage-webhook-secret"  # noqa: S105 - local test listener only


def _keys(sim) -> list[str]:
    with sim.site.lock:
        return sorted(sim.site.issues)


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_outage_opens_breaker_keeps_everything_and_drains_after_recovery(
    engine_factory, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    from jira_console.sync.router import ConnectionRouter
    from jira_console.webhooks.listener import create_listener_app, serve_listener
    from jira_console.webhooks.processor import EventProcessor, RetryPolicy

    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", WEBHOOK_SECRET)
    engine, sim = await engine_factory(flavor, issues=30)
    seen: list[ev.BreakerStateChanged] = []
    engine.subscribe(lambda e: seen.append(e) if isinstance(e, ev.BreakerStateChanged) else None)
    [first] = await engine.run_sync(full=True)
    assert first.status == "ok"
    name = engine.settings.jira[0].name

    app = create_listener_app(engine.db, engine.settings)
    listener = await serve_listener(app, "127.0.0.1", 0)
    sim.add_webhook_target(
        f"{listener.url}{engine.settings.webhooks.path}?connection={name}",
        secret=WEBHOOK_SECRET,
        duplicate_rate=0.5,
        reorder=True,
    )
    keys = _keys(sim)
    local_keys, remote_keys = keys[:8], keys[10:18]
    story = FIELD_IDS[flavor]["story_points"]
    try:
        sim.faults.set(outage=True)
        # Load while Jira is down: sync attempts, host-program edits, colleagues' edits (webhooks keep on).
        for round_ in range(3):
            for i, key in enumerate(local_keys):
                with engine.db.engine.begin() as conn:
                    conn.execute(
                        m.Issue.__table__.update()
                        .where(m.Issue.key == key)
                        .values(summary=f"offline edit {round_} {key}", story_points=float(40 + i))
                    )
            for key in remote_keys:
                sim.edit_issue(key, {"summary": f"jira edit {round_} {key}", story: float(70 + round_)})
            with contextlib.suppress(Exception):
                await engine.run_sync()
            status = engine.connections()[0]
            assert status.breaker_state in ("open", "half-open"), status
            assert not status.ok
        assert "open" in [e.new for e in seen]
        assert all(e.connection == name for e in seen)
        assert await asyncio.to_thread(sim.wait_for_webhooks, 60)  # the listener runs in this loop
        with engine.db.session() as s:
            stored = s.scalar(
                select(func.count())
                .select_from(m.WebhookEvent)
                .where(m.WebhookEvent.connection == name, m.WebhookEvent.issue_key.in_(remote_keys))
            )
            kept = {
                r.key: (r.summary, r.local_dirty)
                for r in s.scalars(select(m.Issue).where(m.Issue.key.in_(local_keys)))
            }
        # every remote edit (3 rounds x 8 issues) was stored once, duplicates folded
        assert stored == 3 * len(remote_keys)
        assert kept == {k: (f"offline edit 2 {k}", True) for k in local_keys}

        # Recovery: Jira answers again; the breaker lets a probe through after its (short) recovery time.
        sim.faults.set(outage=False)
        await until(lambda: not engine.connections()[0].opens_in_seconds, "the breaker to admit a probe")
        processor = EventProcessor(
            engine.db, ConnectionRouter(engine.syncs), retry=RetryPolicy(base_seconds=0.05)
        )
        await processor.drain()
        reports = await engine.run_sync()
        assert [r.status for r in reports] == ["ok"]
        # The pushes just made come back as webhooks; wait for their delivery before draining, or a
        # busy machine leaves them arriving after the last drain.
        assert await asyncio.to_thread(sim.wait_for_webhooks, 60)
        await processor.drain()
        await engine.run_sync()
        # The pushes of the recovered sync fire webhooks of their own: let them arrive, then drain them.
        assert await asyncio.to_thread(sim.wait_for_webhooks, 60)
        await processor.drain()
    finally:
        await listener.stop()

    assert engine.connections()[0].breaker_state == "closed"
    assert seen[-1].new == "closed"
    for i, key in enumerate(local_keys):
        jira = sim.issue(key)
        assert (jira["summary"], jira["story_points"]) == (f"offline edit 2 {key}", float(40 + i)), key
    with engine.db.session() as s:
        rows = {r.key: r for r in s.scalars(select(m.Issue))}
        pending = s.scalar(
            select(func.count()).select_from(m.WebhookEvent).where(m.WebhookEvent.status == "received")
        )
        open_conflicts = s.scalar(
            select(func.count()).select_from(m.Conflict).where(m.Conflict.status == "open")
        )
    for key in remote_keys:
        assert (rows[key].summary, rows[key].story_points) == (f"jira edit 2 {key}", 72.0), key
    assert not any(rows[k].local_dirty for k in local_keys)
    assert pending == 0 and open_conflicts == 0
    assert [v for v in sim.violations if v["kind"] != "early_retry"] == []
