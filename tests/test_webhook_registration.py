"""Webhook registration against the simulator, dynamic-webhook refresh, and simulator -> listener delivery."""

from __future__ import annotations

import asyncio

import pytest

from jira_console.jira.client import JiraClient
from jira_console.simulator import Simulator
from jira_console.store import Database
from jira_console.webhooks.listener import create_listener_app, serve_listener
from jira_console.webhooks.processor import EventProcessor
from jira_console.webhooks.registration import (
    RegistrationError,
    list_dynamic_webhooks,
    needs_refresh,
    refresh_due_webhooks,
    refresh_dynamic_webhooks,
    register_webhook,
)
from tests.fixtures.simulator import connection_for
from tests.test_webhook_helpers import PREVIOUS_ENV, SECRET, SECRET_ENV, FakeApplier, make_settings, rows
from tests.waiting import until

DAY_MS = 86_400_000


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_admin_webhook_registration(sim_factory, monkeypatch: pytest.MonkeyPatch, flavor: str) -> None:
    sim = sim_factory(flavor)
    async with JiraClient(connection_for(sim, monkeypatch)) as client:
        hook = await register_webhook(
            client,
            url="https://hooks.example/webhooks/jira",
            events=["jira:issue_updated", "jira:issue_created"],
            jql="project = ENG",
            secret="s3cret-value",
            name="jira-console test",
        )
    assert hook.kind == "admin" and hook.expires_at_ms is None
    target = sim.hooks.targets[hook.id]
    assert (target.url, target.secret, target.jql, target.name) == (
        "https://hooks.example/webhooks/jira",
        "s3cret-value",
        "project = ENG",
        "jira-console test",
    )
    assert sorted(target.events) == ["jira:issue_created", "jira:issue_updated"]


async def test_dynamic_webhook_register_list_refresh(
    cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with JiraClient(connection_for(cloud_sim, monkeypatch)) as client:
        hook = await register_webhook(
            client,
            url="https://hooks.example/dyn",
            events=["jira:issue_updated"],
            jql="project = ENG",
            kind="dynamic",
        )
        assert hook.kind == "dynamic" and not needs_refresh(hook.expires_at_ms)
        cloud_sim.hooks.targets[hook.id].expiration -= 25 * DAY_MS  # five days left
        (listed,) = await list_dynamic_webhooks(client)
        assert listed.id == hook.id and needs_refresh(listed.expires_at_ms)
        expiry = await refresh_dynamic_webhooks(client, [hook.id])
        assert expiry is not None and not needs_refresh(expiry)
        assert cloud_sim.hooks.targets[hook.id].expiration == expiry
        with pytest.raises(ValueError):
            await register_webhook(
                client, url="https://x", events=["jira:issue_updated"], jql=None, secret="s", kind="dynamic"
            )


async def test_dynamic_webhooks_refused_on_server(
    server_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with JiraClient(connection_for(server_sim, monkeypatch)) as client:
        with pytest.raises(RegistrationError):
            await register_webhook(
                client, url="https://x", events=["jira:issue_updated"], jql=None, kind="dynamic"
            )


async def test_refresh_due_webhooks_only_refreshes_those_near_expiry(
    cloud_sim: Simulator, server_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with JiraClient(connection_for(cloud_sim, monkeypatch)) as client:
        hooks = [
            await register_webhook(
                client,
                url=f"https://x/{n}",
                events=["jira:issue_updated"],
                jql="project = ENG",
                kind="dynamic",
            )
            for n in range(3)
        ]
        targets = cloud_sim.hooks.targets
        targets[hooks[0].id].expiration -= 25 * DAY_MS  # five days left: due
        targets[hooks[1].id].expiration -= 31 * DAY_MS  # already expired: due
        untouched = targets[hooks[2].id].expiration - 5 * DAY_MS  # 25 days left: not due
        targets[hooks[2].id].expiration = untouched
        cloud_sim.add_webhook_target("https://admin-kind")  # not a dynamic webhook: never refreshed
        refreshed = await refresh_due_webhooks(client)
        assert refreshed == sorted([hooks[0].id, hooks[1].id])
        assert not needs_refresh(targets[hooks[0].id].expiration)
        assert not needs_refresh(targets[hooks[1].id].expiration)
        assert targets[hooks[2].id].expiration == untouched
        assert await refresh_due_webhooks(client) == []
        assert cloud_sim.request_count("/rest/api/3/webhook/refresh", "PUT") == 1
    async with JiraClient(connection_for(server_sim, monkeypatch)) as client:
        assert await refresh_due_webhooks(client) == []
    assert server_sim.request_count("/rest/api/2/webhook") == 0


def test_needs_refresh_margin() -> None:
    now = 1_000 * DAY_MS
    assert needs_refresh(None)
    assert needs_refresh(now - 1, now_ms=now)
    assert needs_refresh(now + 9 * DAY_MS, now_ms=now)
    assert not needs_refresh(now + 11 * DAY_MS, now_ms=now)
    assert not needs_refresh(now + 5 * DAY_MS, now_ms=now, margin_days=3)


async def test_simulator_deliveries_reach_the_listener_signed_and_deduplicated(
    cloud_sim: Simulator, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jira (simulated) -> real listener in this loop -> processor, with duplicates and reordering."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv(PREVIOUS_ENV, raising=False)
    conn = connection_for(cloud_sim, monkeypatch)
    settings = make_settings()
    settings = settings.model_copy(update={"jira": [conn]})
    applier = FakeApplier()
    processor = EventProcessor(db, applier, poll_seconds=0.05)
    server = await serve_listener(create_listener_app(db, settings, on_event=processor.wake), "127.0.0.1", 0)
    processor.start(2)
    try:
        async with JiraClient(conn) as client:
            await register_webhook(
                client,
                url=f"{server.url}/webhooks/jira?connection={conn.name}",
                events=["jira:issue_updated"],
                jql=None,
                secret=SECRET,
            )
        cloud_sim.hooks.targets[max(cloud_sim.hooks.targets)].duplicate_rate = 1.0
        key = sorted(cloud_sim.site.issues)[0]
        for n in range(3):
            await asyncio.to_thread(cloud_sim.edit_issue, key, {"summary": f"edit {n}"})
            await asyncio.sleep(0.005)  # distinct millisecond `updated` values: a tie is genuinely ambiguous
        assert await asyncio.to_thread(cloud_sim.wait_for_webhooks, 10.0)
        await until(
            lambda: not any(r.status in ("received", "processing") for r in rows(db)),
            "the workers to settle every stored event",
        )
    finally:
        await processor.stop()
        await server.stop()
    deliveries = [d for d in cloud_sim.webhook_deliveries if d["event"] == "jira:issue_updated"]
    assert len(deliveries) >= 6  # every event delivered at least twice
    assert {d["status"] for d in deliveries} == {202}
    stored = rows(db)
    assert len(stored) == 3  # duplicates collapsed on X-Atlassian-Webhook-Identifier
    assert {r.connection for r in stored} == {conn.name}
    assert applier.issues[(conn.name, key)]["fields"]["summary"] == "edit 2"


async def test_a_dynamic_webhook_whose_jql_changed_is_replaced_and_the_old_one_deleted(
    cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with JiraClient(connection_for(cloud_sim, monkeypatch)) as client:

        async def register(jql: str):  # noqa: ANN202
            return await register_webhook(
                client,
                url="https://hooks.example/dyn",
                events=["jira:issue_updated"],
                jql=jql,
                kind="dynamic",
            )

        first = await register("project = ENG")
        again = await register("project = ENG")
        assert again.existing and again.id == first.id and again.replaced is None
        moved = await register("project in (ENG, OPS)")
        listed = await list_dynamic_webhooks(client)
    assert not moved.existing and moved.id != first.id
    assert (moved.replaced, moved.filter_was, moved.jql) == (
        first.id,
        "project = ENG",
        "project in (ENG, OPS)",
    )
    assert [(h.id, h.jql) for h in listed] == [(moved.id, "project in (ENG, OPS)")]
    assert first.id not in cloud_sim.hooks.targets


async def test_a_replaced_dynamic_webhook_jira_would_not_delete_is_named_with_the_new_one(
    cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jira_console.jira.errors import JiraError

    class RefusesDeletes:
        def __init__(self, inner: JiraClient) -> None:
            self.inner = inner
            self.flavor = inner.flavor

        async def ensure_flavor(self) -> str:
            return await self.inner.ensure_flavor()

        async def request(self, method: str, path: str, **kwargs: object):  # noqa: ANN202
            if method == "DELETE":
                raise JiraError(503, method, path, ["Service Unavailable"])
            return await self.inner.request(method, path, **kwargs)  # type: ignore[arg-type]

    async with JiraClient(connection_for(cloud_sim, monkeypatch)) as client:
        options = {"url": "https://hooks.example/dyn", "events": ["jira:issue_updated"], "kind": "dynamic"}
        first = await register_webhook(client, jql="project = ENG", **options)  # type: ignore[arg-type]
        with pytest.raises(RegistrationError) as refused:
            await register_webhook(RefusesDeletes(client), jql="project = OPS", **options)  # type: ignore[arg-type]
        listed = await list_dynamic_webhooks(client)
    [new] = [h for h in listed if h.id != first.id]
    assert f"registered dynamic webhook #{new.id} with the new filter" in str(refused.value)
    assert f"did not delete #{first.id} (filter project = ENG)" in str(refused.value)
    assert {h.jql for h in listed} == {"project = ENG", "project = OPS"}
