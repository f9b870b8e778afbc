"""The operations API over real HTTP against a running daemon and the simulator, on SQLite and PostgreSQL:
the token, field mappings, webhook events, health, sync triggers and conflict resolutions reaching Jira."""

from __future__ import annotations

import logging
import sqlite3
import tomllib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from jira_console.config import ApiConfig, ConfigError, Settings
from jira_console.daemon import Daemon, is_loopback
from jira_console.simulator import render
from jira_console.store import db as store_db
from jira_console.webhooks.signature import sign
from tests.fixtures.api import API_TOKEN, API_TOKEN_ENV, WEBHOOK_SECRET, ApiRig, api_settings
from tests.fixtures.mappings import pull_only_summary

API = "/api/v1"
SIDE_EFFECT_FREE_BODY = {"connection": "no-such-connection"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete")
    ]


def _concrete(path: str) -> str:
    return (
        path.replace("{mapping_id}", "1")
        .replace("{event_id}", "1")
        .replace("{conflict_id}", "1")
        .replace("{command_id}", "1")
        .replace("{request_id}", "1")
    )


async def test_every_route_but_jiras_receiver_needs_the_token(api_factory) -> None:
    rig: ApiRig = await api_factory()
    doc = (await rig.anon.get(f"{API}/openapi.json")).json()
    operations = _operations(doc)
    assert len(operations) == 25
    assert (await rig.anon.get(f"{API}/docs")).status_code == 200
    for method, path in operations:
        if path == f"{API}/webhooks/jira":
            continue
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {API_TOKEN}"}):
            r = await rig.anon.request(method, _concrete(path), headers=headers, json=SIDE_EFFECT_FREE_BODY)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json() == {"error": "missing or invalid bearer token"}
            assert r.headers["www-authenticate"] == "Bearer"
        assert "security" in doc["paths"][path][method.lower()], path
    # With the token the same request gets past authentication.
    r = await rig.client.get(f"{API}/webhooks/stats")
    assert r.status_code == 200 and set(r.json()["counts"]) >= {"received", "failed"}


async def test_an_id_in_a_path_that_is_not_one_is_invalid_on_every_route(api_factory) -> None:
    """``/field-mappings/abc`` answered 404 "no route" where ``/webhooks/events/abc`` answered 422 naming the
    id; a word a mapping route of its own holds (``validate`` takes POST) still answers 405."""
    rig: ApiRig = await api_factory()
    for path, name in (("/webhooks/events", "event_id"), ("/field-mappings", "mapping_id"),
                       ("/integration/jira/issue-requests", "request_id")):  # fmt: skip
        for wrong in ("abc", "-1", "1.5"):
            r = await rig.client.get(f"{API}{path}/{wrong}")
            assert r.status_code == 422, (path, wrong, r.text)
            assert r.json()["error"].startswith(f"invalid request: path.{name}: "), (path, wrong, r.text)
            assert [d["loc"] for d in r.json()["details"]] == [["path", name]]
    for method in ("PUT", "DELETE"):
        r = await rig.client.request(method, f"{API}/field-mappings/abc", json={})
        assert r.status_code == 422 and r.json()["details"][0]["loc"] == ["path", "mapping_id"], r.text
    wrong_method = await rig.client.get(f"{API}/field-mappings/validate")
    assert wrong_method.status_code == 405, wrong_method.text
    assert wrong_method.json() == {
        "error": f"GET is not allowed on {API}/field-mappings/validate; it takes POST"
    }


async def test_a_path_or_method_no_route_takes_says_where_the_routes_are(api_factory) -> None:
    rig: ApiRig = await api_factory()
    missing = await rig.client.get(f"{API}/health")  # the health route is /integration/jira/health
    assert missing.status_code == 404
    where = f"the routes are listed at {API}/docs (OpenAPI: {API}/openapi.json)"
    assert missing.json() == {"error": f"no route GET {API}/health; {where}"}
    # Without the token too: the answer tells nothing stored, only where the API is described.
    assert (await rig.anon.get(f"{API}/")).json()["error"].startswith(f"no route GET {API}/;")
    wrong_method = await rig.client.delete(f"{API}/integration/jira/health")
    assert wrong_method.status_code == 405
    expected = f"DELETE is not allowed on {API}/integration/jira/health; it takes GET"
    assert wrong_method.json() == {"error": expected}
    # A route's own 404 (nothing under that id) keeps its words.
    gone = await rig.client.get(f"{API}/webhooks/events/999999")
    assert gone.status_code == 404 and "999999" in gone.json()["error"]
    # A connection no configuration names is said by every route that filters by one (as the CLI says it),
    # never answered with an empty list.
    for path in ("/audit", "/integration/jira/conflicts", "/integration/jira/issue-requests",
                 "/webhooks/events", "/field-mappings/"):  # fmt: skip
        typo = await rig.client.get(f"{API}{path}", params={"connection": "nope"})
        assert typo.status_code == 404, path
        assert typo.json()["error"] == f"no connection named 'nope'; configured: {rig.connection}", path


async def test_the_mappings_collection_answers_without_its_trailing_slash(api_factory) -> None:
    """``/field-mappings`` as ``/audit`` and the other collections are spelt: an answer, not a redirect."""
    rig: ApiRig = await api_factory()
    created = await rig.client.post(f"{API}/field-mappings", json=pull_only_summary("as_number", "to_int"))
    assert created.status_code == 201, created.text
    listed = await rig.client.get(f"{API}/field-mappings")
    assert listed.status_code == 200 and [m["name"] for m in listed.json()] == ["as_number"]
    assert listed.json() == (await rig.client.get(f"{API}/field-mappings/")).json()
    assert (await rig.anon.get(f"{API}/field-mappings")).status_code == 401  # the token all the same


async def test_jiras_receiver_checks_the_signature_not_the_token(api_factory) -> None:
    rig: ApiRig = await api_factory()
    body = orjson.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": {"key": "ENG-1"}})
    url = f"{API}/webhooks/jira?connection={rig.connection}"
    r = await rig.anon.post(url, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and "X-Hub-Signature" in r.json()["error"]
    signed = {"Content-Type": "application/json", "X-Hub-Signature": sign(body, WEBHOOK_SECRET)}
    r = await rig.anon.post(url, content=body, headers=signed | {"X-Atlassian-Webhook-Identifier": "a-1"})
    assert r.status_code == 202 and r.json()["status"] == "stored"
    again = await rig.anon.post(url, content=body, headers=signed | {"X-Atlassian-Webhook-Identifier": "a-1"})
    assert again.status_code == 202 and again.json() == {"status": "duplicate"}
    huge = await rig.anon.post(url, content=b"x" * 1_100_000, headers={"Content-Type": "application/json"})
    # The listener's own limit and answer (the API's body bound leaves this route to it).
    assert huge.status_code == 413 and huge.json() == {"error": "body larger than 1048576 bytes"}
    stored = rig.sql("SELECT identifier FROM webhook_events").scalars().all()
    assert stored == [f"{rig.connection}:a-1"]  # once: neither the duplicate nor the oversized body


PRIORITY = {
    "name": "prio_name",
    "jira_field": "priority",
    "internal_field": "prio_name",
    "steps": [{"op": "path", "path": "name"}],
}


async def test_mappings_crud_through_the_api_reach_the_running_sync(api_factory) -> None:
    rig: ApiRig = await api_factory(issues=8)
    await rig.synced()
    base = f"{API}/field-mappings"
    created = await rig.client.post(f"{base}/", json=PRIORITY | {"connection": rig.connection})
    assert created.status_code == 201, created.text
    mapping = created.json()
    assert created.headers["location"] == f"{base}/{mapping['id']}"
    assert (mapping["name"], mapping["connection"], mapping["version"]) == ("prio_name", rig.connection, 1)
    assert mapping["definition"]["steps"] == [{"op": "path", "path": "name"}]

    again = await rig.client.post(f"{base}/", json=PRIORITY | {"connection": rig.connection})
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    listed = (await rig.client.get(f"{base}/", params={"connection": rig.connection})).json()
    assert [m["id"] for m in listed] == [mapping["id"]]
    assert (await rig.client.get(f"{base}/", params={"connection": "nope"})).status_code == 404

    # The running sync applies it: a full sync (triggered through the API) fills the new internal field.
    command = (await rig.client.post(f"{API}/integration/jira/sync", json={"full": True})).json()["command"]
    assert (await rig.command_done(command["id"]))["state"] == "done"
    fields = rig.sql("SELECT key, fields FROM issues WHERE connection = :c", c=rig.connection).all()
    with rig.sim.site.lock:
        expected = {i.key: i.priority for i in rig.sim.site.issues.values()}
    stored = {k: (orjson.loads(f) if isinstance(f, str) else f)["prio_name"] for k, f in fields}
    assert stored == expected

    changed = PRIORITY | {"default": "Medium", "description": "priority name, Medium when unset"}
    put = await rig.client.put(f"{base}/{mapping['id']}", json=changed, params={"comment": "default added"})
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2 and put.json()["connection"] == rig.connection
    detail = (await rig.client.get(f"{base}/{mapping['id']}")).json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["versions"][0]["comment"] == "default added"
    assert detail["definition"]["default"] == "Medium"
    renamed = await rig.client.put(f"{base}/{mapping['id']}", json=PRIORITY | {"name": "other"})
    assert renamed.status_code == 409 and "keeps its name" in renamed.json()["error"]

    invalid = await rig.client.post(f"{base}/", json=PRIORITY | {"steps": [{"op": "no_such_step"}]})
    assert invalid.status_code == 422 and invalid.json()["error"].startswith("invalid request")
    assert invalid.json()["details"]
    # Checked against the site as `mapping import` is: a field the site lacks is refused, nothing stored.
    missing = PRIORITY | {"name": "points", "jira_field": "customfield_99999", "connection": rig.connection}
    refused = await rig.client.post(f"{base}/", json=missing)
    assert refused.status_code == 422, refused.text
    assert "no such field in the Jira field list" in refused.text and "customfield_99999" in refused.text
    assert all(m["name"] != "points" for m in (await rig.client.get(f"{base}/")).json())
    elsewhere = PRIORITY | {"jira_field": "customfield_99999"}
    moved = await rig.client.put(f"{base}/{mapping['id']}", json=elsewhere)
    assert moved.status_code == 422, moved.text
    assert (await rig.client.get(f"{base}/{mapping['id']}")).json()["version"] == 2  # unchanged

    assert (await rig.client.delete(f"{base}/{mapping['id']}")).status_code == 204
    assert (await rig.client.get(f"{base}/{mapping['id']}")).status_code == 404
    gone = await rig.client.delete(f"{base}/{mapping['id']}")
    assert gone.status_code == 404 and gone.json() == {"error": f"no mapping with id {mapping['id']}"}
    assert all(m.name != "prio_name" for m in rig.daemon.engine.syncs[rig.connection].mapped)

    # A field named by a selector comes back in the shape it was sent, in every mapping answer.
    selector = {"schema_custom": "com.atlassian.jira.plugin.system.customfieldtypes:select", "name": "Team"}
    team = {"name": "team", "jira_field": selector, "internal_field": "team", "steps": [{"op": "option"}]}
    created = await rig.client.post(f"{base}/", json=team)
    assert created.status_code == 201, created.text
    team_id = created.json()["id"]
    updated = await rig.client.put(f"{base}/{team_id}", json=team | {"description": "the team"})
    assert updated.status_code == 200, updated.text
    listed = [m for m in (await rig.client.get(f"{base}/")).json() if m["id"] == team_id]
    detail = (await rig.client.get(f"{base}/{team_id}")).json()
    for answer in (created.json(), updated.json(), *listed, detail):
        assert answer["jira_field"] == selector and answer["definition"]["jira_field"] == selector, answer
    assert [v["definition"]["jira_field"] for v in detail["versions"]] == [selector, selector]


async def test_validate_templates_and_test_ask_the_site(api_factory) -> None:
    rig: ApiRig = await api_factory(issues=6)
    await rig.synced()
    base = f"{API}/field-mappings"
    ok = (await rig.client.post(f"{base}/validate", json={"definition": PRIORITY})).json()
    assert ok == {"ok": True, "connection": rig.connection, "problems": []}
    missing = PRIORITY | {"jira_field": "customfield_99999"}
    bad = (await rig.client.post(f"{base}/validate", json={"definition": missing})).json()
    assert bad["ok"] is False
    assert bad["problems"][0]["value"] == "customfield_99999"
    assert bad["problems"][0]["message"].startswith("no such field in the Jira field list")
    broken = (await rig.client.post(f"{base}/validate", json={"definition": {"name": "x"}})).json()
    assert broken["ok"] is False and {p["severity"] for p in broken["problems"]} == {"error"}
    key = sorted(rig.sim.site.issues)[0]
    screen = await rig.client.post(f"{base}/validate", json={"definition": PRIORITY, "issue_key": key})
    assert screen.status_code == 200 and screen.json()["ok"] is True

    (templates,) = (await rig.client.get(f"{base}/templates")).json()
    assert templates["connection"] == rig.connection and templates["flavor"] == "cloud"
    assert {"story_points", "sprint"} <= set(templates["field_ids"])
    assert {"story_points", "sprint", "labels"} <= {t["name"] for t in templates["templates"]}
    story = next(t for t in templates["templates"] if t["name"] == "story_points")
    assert story["jira_field"] == templates["field_ids"]["story_points"]

    on_value = await rig.client.post(f"{base}/test", json={"mapping": PRIORITY, "value": {"name": "High"}})
    assert on_value.status_code == 200, on_value.text
    result = on_value.json()
    assert (result["jira_value"], result["internal_value"]) == ({"name": "High"}, "High")
    assert result["back_to_jira"] == {
        "kind": "field",
        "field_id": "priority",
        "value": {"name": "High"},
        "note": "",
    }
    assert result["round_trip"] is True
    on_issue = (await rig.client.post(f"{base}/test", json={"mapping": PRIORITY, "issue_key": key})).json()
    assert on_issue["key"] == key and on_issue["internal_value"] == rig.sim.issue(key)["priority"]
    stored = await rig.client.post(f"{base}/test", json={"mapping": "prio_name", "value": None})
    assert stored.status_code == 404 and "prio_name" in stored.json()["error"]
    both = await rig.client.post(f"{base}/test", json={"mapping": PRIORITY, "value": 1, "issue_key": key})
    assert both.status_code == 422 and "exactly one" in both.json()["error"]
    absent = await rig.client.post(f"{base}/test", json={"mapping": PRIORITY, "issue_key": "ENG-99999"})
    assert absent.status_code == 404 and absent.json()["error"].startswith("Jira: ")
    failing = await rig.client.post(
        f"{base}/test", json={"mapping": PRIORITY | {"steps": [{"op": "to_int"}]}, "value": "x"}
    )
    assert failing.status_code == 200, failing.text
    assert failing.json()["internal_value"] is None and "to_int" in failing.json()["errors"][0]


def _delivery(rig: ApiRig, key: str, summary: str, ident: str) -> tuple[bytes, dict[str, str]]:
    """A signed ``jira:issue_updated`` delivery of ``key`` (v2 body, as Jira sends even from Cloud) after the
    summary was changed in Jira: the body is what Jira holds (a body dated ahead of Jira's clock would be
    read afresh, not trusted)."""
    sim = rig.sim
    sim.edit_issue(key, fields={"summary": summary})
    with sim.site.lock:
        issue = render.issue_json(
            sim.site, sim.site.issues[key], sim.url or "", "3", None, set(), navigable_default=True
        )
    issue = orjson.loads(orjson.dumps(issue))
    updated = int(datetime.strptime(issue["fields"]["updated"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    changelog = {"id": ident, "items": [{"field": "summary", "toString": summary}]}
    event = {
        "webhookEvent": "jira:issue_updated",
        "timestamp": updated,
        "issue": issue,
        "changelog": changelog,
    }
    body = orjson.dumps(event)
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": sign(body, WEBHOOK_SECRET),
        "X-Atlassian-Webhook-Identifier": ident,
    }
    return body, headers


async def test_events_list_detail_and_retry(api_factory) -> None:
    rig: ApiRig = await api_factory(issues=6)
    await rig.synced()
    keys = sorted(rig.sim.site.issues)
    for n, key in enumerate(keys[:3]):
        body, headers = _delivery(rig, key, f"via api {n}", f"ok-{n}")
        url = f"{API}/webhooks/jira?connection={rig.connection}"
        assert (await rig.anon.post(url, content=body, headers=headers)).status_code == 202
    body, headers = _delivery(rig, keys[0], "lost", "unknown-conn")
    r = await rig.anon.post(f"{API}/webhooks/jira?connection=nope", content=body, headers=headers)
    assert r.status_code == 202 and "unknown connection" in r.json()["note"]

    async def settled() -> list[dict[str, Any]] | None:
        page = (await rig.client.get(f"{API}/webhooks/events")).json()
        done = all(e["status"] not in ("received", "processing") for e in page["items"])
        return page["items"] if page["total"] == 4 and done else None

    items = await rig.wait(settled, "the four events to be processed")
    assert [e["identifier"] for e in items] == ["nope:unknown-conn"] + [
        f"{rig.connection}:ok-{n}" for n in (2, 1, 0)
    ]
    assert "payload" not in items[0]
    page = (await rig.client.get(f"{API}/webhooks/events", params={"status": "failed"})).json()
    assert page["total"] == 1 and page["items"][0]["identifier"] == "nope:unknown-conn"
    failed = page["items"][0]
    paged = (
        await rig.client.get(
            f"{API}/webhooks/events", params={"connection": rig.connection, "limit": 2, "offset": 1}
        )
    ).json()
    assert (paged["total"], paged["limit"], paged["offset"]) == (3, 2, 1)
    assert [e["identifier"] for e in paged["items"]] == [f"{rig.connection}:ok-{n}" for n in (1, 0)]
    later = (await rig.client.get(f"{API}/webhooks/events", params={"since": "2100-01-01T00:00:00Z"})).json()
    assert later == {"items": [], "total": 0, "limit": 100, "offset": 0}
    assert (await rig.client.get(f"{API}/webhooks/events", params={"status": "nonsense"})).status_code == 422

    detail = (await rig.client.get(f"{API}/webhooks/events/{items[-1]['id']}")).json()
    assert orjson.loads(detail["payload"])["issue"]["fields"]["summary"] == "via api 0"
    assert detail["headers"]["x-atlassian-webhook-identifier"] == "ok-0"
    assert detail["attempts"] == 1 and detail["status"] == "applied", detail["last_error"]
    local = rig.sql(
        "SELECT summary FROM issues WHERE key = :k AND connection = :c", k=keys[0], c=rig.connection
    )
    assert local.scalar_one() == "via api 0"

    retried = await rig.client.post(f"{API}/webhooks/events/{failed['id']}/retry")
    assert retried.status_code == 202 and retried.json()["attempts"] == 0

    async def reprocessed() -> dict[str, Any] | None:
        event: dict[str, Any] = (await rig.client.get(f"{API}/webhooks/events/{failed['id']}")).json()
        return event if event["attempts"] == 1 and event["status"] == "failed" else None

    retried_error = (await rig.wait(reprocessed, "the retried event to be processed"))["last_error"]
    assert "unknown connection 'nope' (not in the configuration)" in retried_error
    missing = await rig.client.post(f"{API}/webhooks/events/999999/retry")
    assert missing.status_code == 404 and missing.json() == {"error": "no webhook event with id 999999"}
    assert (await rig.client.get(f"{API}/webhooks/events/999999")).status_code == 404
    assert (await rig.client.get(f"{API}/webhooks/events/0")).status_code == 422

    health = (await rig.client.get(f"{API}/webhooks/health")).json()
    assert health["listening"] is True and health["address"].endswith("/webhooks/jira")
    assert health["receiver"] == f"{API}/webhooks/jira"
    assert health["queue"] == {"depth": 0, "oldest_pending_seconds": 0.0, "failed": 1}
    assert health["breakers"] == {rig.connection: "closed"}
    stats = (await rig.client.get(f"{API}/webhooks/stats")).json()
    assert stats["counts"]["applied"] == 3 and stats["counts"]["failed"] == 1 and stats["queue_depth"] == 0


async def test_integration_health_and_sync_state(api_factory) -> None:
    rig: ApiRig = await api_factory(issues=5)
    await rig.synced()
    health = (await rig.client.get(f"{API}/integration/jira/health")).json()
    (conn,) = health["connections"]
    assert (conn["name"], conn["auth"], conn["auth_state"], conn["breaker_state"]) == (
        rig.connection,
        "basic",
        "ok",
        "closed",
    )
    assert conn["ok"] is True and conn["total_calls"] > 0 and conn["flavor"] == "cloud"
    assert any(s["scope"] == "issues" and s["last_status"] == "ok" for s in conn["scopes"])
    assert conn["sync"]["failures"] == 0 and conn["sync"]["last_success_at"] is not None
    (daemon,) = health["daemons"]
    assert daemon["name"] == rig.daemon.name and daemon["alive"] is True and daemon["stopping"] is False
    state = (await rig.client.get(f"{API}/integration/jira/sync")).json()
    issues = next(s for s in state["states"] if s["scope"] == "issues")
    assert issues["connection"] == rig.connection and issues["watermark_ms"] and issues["next_run_at"]
    assert state["pending"] == [] and state["field_errors"] == {}

    # A mapping that fails on every issue: the overview counts them by connection and field.
    created = await rig.client.post(f"{API}/field-mappings/", json=pull_only_summary("as_number", "to_int"))
    assert created.status_code == 201, created.text
    command = (await rig.client.post(f"{API}/integration/jira/sync", json={})).json()["command"]
    assert (await rig.command_done(command["id"]))["state"] == "done"
    state = (await rig.client.get(f"{API}/integration/jira/sync")).json()
    assert state["field_errors"] == {rig.connection: {"as_number": 5}}
    assert state["outbox"] == {}
    # A host program's outbox row for a connection nobody configured: pending for ever, and said so.
    with rig.daemon.engine.db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO local_changes (connection, issue_key, field, value, created_at) "
            "VALUES ('typo', 'ENG-1', 'summary', '\"x\"', CURRENT_TIMESTAMP)"
        )
    state = (await rig.client.get(f"{API}/integration/jira/sync")).json()
    assert state["outbox"] == {"typo": {"pending": 1, "refused": 0}}


async def test_a_triggered_sync_reaches_jira_and_a_second_trigger_gets_the_queued_command(
    api_factory,
) -> None:
    rig: ApiRig = await api_factory(issues=6)
    await rig.synced()
    key = sorted(rig.sim.site.issues)[1]
    rig.local_edit(key, summary="edited by a host program")
    rig.sim.edit_issue(sorted(rig.sim.site.issues)[2], {"summary": "edited in Jira"})
    sync = f"{API}/integration/jira/sync"

    rig.daemon.scheduler.pause_job("commands")  # hold the queue so the second trigger finds the first
    first = await rig.client.post(sync, json={"connection": rig.connection})
    assert first.status_code == 202, first.text
    command = first.json()["command"]
    assert first.json()["already_queued"] is False
    assert (command["kind"], command["state"], command["args"]) == (
        "sync",
        "queued",
        {"connection": rig.connection, "full": False},
    )
    second = await rig.client.post(sync, json={"connection": rig.connection})
    assert second.status_code == 202 and second.json()["already_queued"] is True
    assert second.json()["command"]["id"] == command["id"]
    everything = await rig.client.post(sync)  # all connections: not covered by one connection's sync
    assert everything.json()["already_queued"] is False
    assert (await rig.client.post(sync, json={"full": False})).json()["command"]["id"] == everything.json()[
        "command"
    ]["id"]
    pending = (await rig.client.get(sync)).json()["pending"]
    assert [c["id"] for c in pending] == [everything.json()["command"]["id"], command["id"]]
    # A command claimed by a daemon that no longer beats is not "running": a new one is queued.
    rig.sql(
        "UPDATE commands SET claimed_by = 'ghost', claimed_at = created_at WHERE id = :i",
        i=everything.json()["command"]["id"],
    )
    fresh = (await rig.client.post(sync)).json()
    assert fresh["already_queued"] is False and fresh["command"]["id"] != everything.json()["command"]["id"]
    rig.daemon.scheduler.resume_job("commands")

    done = await rig.command_done(command["id"])
    assert done["state"] == "done" and done["claimed_by"] == rig.daemon.name and done["error"] is None
    assert done["result"]["reports"][0]["status"] == "ok"
    assert rig.sim.issue(key)["summary"] == "edited by a host program"
    local = rig.sql(
        "SELECT summary FROM issues WHERE connection = :c AND key = :k",
        c=rig.connection,
        k=sorted(rig.sim.site.issues)[2],
    )
    assert local.scalar_one() == "edited in Jira"
    unknown = await rig.client.post(sync, json={"connection": "nope"})
    assert unknown.status_code == 404 and "no connection named 'nope'" in unknown.json()["error"]
    assert (await rig.client.post(sync, json={"fully": True})).status_code == 422
    assert (await rig.client.get(f"{API}/integration/jira/commands/999999")).status_code == 404


async def _conflicts(rig: ApiRig, keys: list[str]) -> list[dict[str, Any]]:
    for key in keys:
        rig.local_edit(key, summary=f"ours {key}")
        rig.sim.edit_issue(key, {"summary": f"theirs {key}"})
    command = (await rig.client.post(f"{API}/integration/jira/sync", json={})).json()["command"]
    assert (await rig.command_done(command["id"]))["state"] == "done"
    page = (await rig.client.get(f"{API}/integration/jira/conflicts", params={"field": "summary"})).json()
    assert page["total"] == len(keys)
    return list(page["items"])


async def test_conflicts_listed_and_resolutions_reach_jira(api_factory) -> None:
    rig: ApiRig = await api_factory(issues=8)
    await rig.synced()
    keys = sorted(rig.sim.site.issues)[:3]
    conflicts = await _conflicts(rig, keys)
    assert [(c["issue_key"], c["local"], c["jira"], c["status"]) for c in conflicts] == [
        (k, f"ours {k}", f"theirs {k}", "open") for k in keys
    ]
    url = f"{API}/integration/jira/conflicts"
    one = (await rig.client.get(url, params={"issue_key": keys[1], "connection": rig.connection})).json()
    assert [c["issue_key"] for c in one["items"]] == [keys[1]]
    paged = (await rig.client.get(url, params={"limit": 1, "offset": 2})).json()
    assert (paged["total"], [c["issue_key"] for c in paged["items"]]) == (3, [keys[2]])
    assert (await rig.client.get(url, params={"status": "resolved"})).json()["total"] == 0

    by_id = {c["issue_key"]: c["id"] for c in conflicts}
    local = await rig.client.post(f"{url}/{by_id[keys[0]]}/resolve", json={"take": "local"})
    assert local.status_code == 200, local.text
    assert (local.json()["status"], local.json()["resolution"], local.json()["resolved_by"]) == (
        "resolved",
        "local",
        "api",
    )
    assert rig.sim.issue(keys[0])["summary"] == f"ours {keys[0]}"
    # A value the field cannot take is an invalid value (422), not a conflict that is no longer open (409).
    empty = await rig.client.post(f"{url}/{by_id[keys[1]]}/resolve", json={"value": ""})
    assert empty.status_code == 422, empty.text
    assert "summary cannot be empty" in empty.json()["error"]
    value = await rig.client.post(f"{url}/{by_id[keys[1]]}/resolve", json={"value": "agreed wording"})
    assert value.status_code == 200 and value.json()["resolved_value"] == "agreed wording"
    assert rig.sim.issue(keys[1])["summary"] == "agreed wording"
    jira = await rig.client.post(f"{url}/{by_id[keys[2]]}/resolve", json={"take": "jira"})
    assert jira.status_code == 200
    assert rig.sim.issue(keys[2])["summary"] == f"theirs {keys[2]}"

    twice = await rig.client.post(f"{url}/{by_id[keys[0]]}/resolve", json={"take": "jira"})
    assert twice.status_code == 409 and "already resolved" in twice.json()["error"]
    missing = await rig.client.post(f"{url}/999999/resolve", json={"take": "jira"})
    assert missing.status_code == 404 and missing.json() == {"error": "no conflict with id 999999"}
    for wrong in ({}, {"take": "local", "value": 1}, {"take": "value"}, {"take": "mine"}):
        r = await rig.client.post(f"{url}/{by_id[keys[1]]}/resolve", json=wrong)
        assert r.status_code == 422, (wrong, r.text)
    assert (await rig.client.get(url, params={"status": "all"})).json()["total"] == 3
    assert (await rig.client.get(url)).json()["total"] == 0


async def test_bodies_a_database_cannot_keep_are_refused_not_stored(api_factory) -> None:
    rig: ApiRig = await api_factory(issues=3)
    base = f"{API}/field-mappings/"
    headers = {"Content-Type": "application/json"}
    for raw, status in (
        (b'{"name": "nan", "jira_field": "x", "internal_field": "y", "default": NaN}', 400),
        (b'{"name": "inf", "jira_field": "x", "internal_field": "y", "default": 1e400}', 400),
        (b'{"name": "nul", "jira_field": "x", "internal_field": "y", "default": "a\\u0000b"}', 422),
        (b'{"name": "cut", ', 400),
    ):
        r = await rig.client.post(base, content=raw, headers=headers)
        assert r.status_code == status, (raw, r.text)
        assert set(r.json()) == {"error"}
    big = (
        b'{"name": "big", "jira_field": "x", "internal_field": "y", "description": "'
        + b"x" * 1_100_000
        + b'"}'
    )

    async def chunks() -> AsyncIterator[bytes]:
        yield big[:600_000]
        yield big[600_000:]

    for content in (big, chunks()):  # a declared length, then a chunked stream without one
        r = await rig.client.post(base, content=content, headers=headers)
        assert r.status_code == 413 and r.json() == {"error": "the body is larger than 1048576 bytes"}
    assert (await rig.client.get(base)).json() == []
    unknown_route = await rig.client.get(f"{API}/nothing-here")
    assert unknown_route.status_code == 404
    assert unknown_route.json()["error"].startswith(f"no route GET {API}/nothing-here;")
    wrong_method = await rig.client.patch(f"{API}/webhooks/stats")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": f"PATCH is not allowed on {API}/webhooks/stats; it takes GET"}


async def test_the_token_never_reaches_a_log_or_an_answer(api_factory, capfd, caplog) -> None:
    caplog.set_level(logging.INFO)  # whatever level an earlier test in this worker left the root logger at
    rig: ApiRig = await api_factory(issues=3)
    await rig.synced()
    answers = []
    for headers in ({"Authorization": f"Bearer {API_TOKEN}x"}, {"Authorization": f"Bearer {API_TOKEN}"}):
        for method, path in (("GET", "/webhooks/events"), ("POST", "/field-mappings/"), ("GET", "/nothing")):
            r = await rig.anon.request(method, f"{API}{path}", headers=headers, json={"token": API_TOKEN})
            answers.append(r.text + str(r.headers))
    await rig.daemon.shutdown(grace_seconds=5)
    out, err = capfd.readouterr()
    seen = "\n".join([out, err, caplog.text, *answers])
    assert "daemon started" in seen  # the log was captured at all
    assert API_TOKEN not in seen


async def test_two_daemons_on_one_database_serve_the_same_data_and_claim_a_sync_once(api_factory) -> None:
    one: ApiRig = await api_factory(issues=6, name="d-one")
    two: ApiRig = await api_factory(sim=one.sim, name="d-two")
    await one.synced()

    async def both_alive() -> bool:
        daemons = (await two.client.get(f"{API}/integration/jira/health")).json()["daemons"]
        return {d["name"] for d in daemons if d["alive"]} == {"d-one", "d-two"}

    await one.wait(both_alive, "both daemons' heartbeats")
    for rig in (one, two):  # both have compiled their mappings (a daemon that has not yet compiles the new)
        await rig.daemon.engine.syncs[rig.connection].prepare()
    created = (await one.client.post(f"{API}/field-mappings/", json=PRIORITY)).json()
    assert (await two.client.get(f"{API}/field-mappings/{created['id']}")).json()["name"] == "prio_name"

    async def compiled_by_both() -> bool:
        return all(
            "prio_name" in {c.name for c in rig.daemon.engine.syncs[rig.connection].mapped}
            for rig in (one, two)
        )

    await one.wait(compiled_by_both, "the other daemon to compile the new mapping")
    assert (await two.client.delete(f"{API}/field-mappings/{created['id']}")).status_code == 204
    assert (await one.client.get(f"{API}/field-mappings/{created['id']}")).status_code == 404

    keys = sorted(one.sim.site.issues)
    one.local_edit(keys[0], summary="pushed by whichever daemon claims it")
    triggered = [(await rig.client.post(f"{API}/integration/jira/sync", json={"full": full})).json()
                 for rig, full in ((one, False), (two, True))]  # fmt: skip
    finished = [await one.command_done(t["command"]["id"]) for t in triggered]
    assert [f["state"] for f in finished] == ["done", "done"], finished
    assert {f["claimed_by"] for f in finished} <= {"d-one", "d-two"}
    rows = one.sql("SELECT id, claimed_by, finished_at FROM commands ORDER BY id").all()
    assert [r.id for r in rows] == [f["id"] for f in finished] and all(r.finished_at for r in rows)
    assert one.sim.issue(keys[0])["summary"] == "pushed by whichever daemon claims it"

    conflicts = await _conflicts(one, [keys[1]])
    resolved = await two.client.post(
        f"{API}/integration/jira/conflicts/{conflicts[0]['id']}/resolve", json={"take": "local"}
    )
    assert resolved.status_code == 200, resolved.text

    async def reached_jira() -> bool:
        return bool(one.sim.issue(keys[1])["summary"] == f"ours {keys[1]}")

    # The resolving daemon pushes at once unless the other one holds the sync lease; then the lease
    # holder's next run sends it, which a triggered sync starts now.
    if not await reached_jira():
        command = (await one.client.post(f"{API}/integration/jira/sync", json={})).json()["command"]
        await one.command_done(command["id"])
    await one.wait(reached_jira, "the resolution to reach Jira")


async def test_api_is_off_without_listen_and_refuses_to_start_without_a_token(
    db_url: str, sim_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = sim_factory("cloud", issues=2)
    settings = api_settings(sim, db_url, monkeypatch, name="no-api")
    off = settings.model_copy(update={"api": ApiConfig()})
    daemon = Daemon(off, listen=False)
    await daemon.start()
    try:
        assert daemon.api is None
    finally:
        await daemon.shutdown(grace_seconds=5)
    monkeypatch.delenv(API_TOKEN_ENV)
    with pytest.raises(ConfigError, match=f"{API_TOKEN_ENV}.*empty"):
        await Daemon(settings).start()


def test_api_listen_is_checked_and_loopback_is_told_apart() -> None:
    assert ApiConfig().listen is None and ApiConfig().token_env == "JIRA_CONSOLE_API_TOKEN"
    api = ApiConfig(listen="[::1]:8766")
    assert (api.host, api.port) == ("::1", 8766)
    with pytest.raises(ValueError, match="host:port"):
        ApiConfig(listen="8766")
    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.3.2.1")] == [True] * 4
    assert [is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "api.example.com")] == [False] * 4
    example = tomllib.loads((Path(__file__).parents[1] / "config.example.toml").read_text())
    assert example["api"] == {"token_env": "JIRA_CONSOLE_API_TOKEN"}
    assert Settings(**example | {"jira": []}).api == ApiConfig()


async def test_audit_and_undo_through_the_api(api_factory) -> None:
    rig: ApiRig = await api_factory(issues=6)
    await rig.synced()
    key = sorted(rig.sim.site.issues)[2]
    before = rig.sim.issue(key)["summary"]
    rig.local_edit(key, summary="a bad value from a host program")
    command = (await rig.client.post(f"{API}/integration/jira/sync", json={})).json()["command"]
    [report] = (await rig.command_done(command["id"]))["result"]["reports"]
    assert rig.sim.issue(key)["summary"] == "a bad value from a host program"
    run = report["run_id"]
    lines = (await rig.client.get(f"{API}/audit", params={"run_id": run, "side": "jira"})).json()
    assert [(a["issue_key"], a["field"], a["cause"], a["run_id"]) for a in lines] == [
        (key, "summary", "sync", run)
    ]

    dry = await rig.client.post(f"{API}/audit/undo", json={"run_id": run})
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["applied"] is False and body["counts"] == {"write": 1}
    [step] = body["steps"]
    assert (step["side"], step["value"], step["current"]) == (
        "jira",
        before,
        "a bad value from a host program",
    )
    assert rig.sim.issue(key)["summary"] == "a bad value from a host program"

    done = await rig.client.post(f"{API}/audit/undo", json={"run_id": run, "dry_run": False})
    assert done.status_code == 200, done.text
    assert done.json()["counts"] == {"undone": 1} and len(done.json()["run_ids"]) == 1
    assert rig.sim.issue(key)["summary"] == before
    [undo_line] = (await rig.client.get(f"{API}/audit", params={"run_id": done.json()["run_ids"][0]})).json()
    assert (undo_line["cause"], undo_line["undo_of"], undo_line["actor"]) == (
        "undo",
        lines[0]["id"],
        "api",
    )

    missing = await rig.client.post(f"{API}/audit/undo", json={"entries": [999999]})
    assert missing.status_code == 404 and missing.json() == {"error": "no audit entry #999999"}
    # A run id no run has is 404, as an unknown entry id; a run that exists but wrote nothing is 400.
    no_run = await rig.client.post(f"{API}/audit/undo", json={"run_id": 999999})
    assert no_run.status_code == 404, no_run.text
    assert no_run.json()["error"].startswith("no run 999999")
    quiet = (await rig.client.post(f"{API}/integration/jira/sync", json={})).json()["command"]
    [idle] = (await rig.command_done(quiet["id"]))["result"]["reports"]
    assert rig.sql("SELECT count(*) FROM audit_log WHERE run_id = :r", r=idle["run_id"]).scalar_one() == 0
    nothing = await rig.client.post(f"{API}/audit/undo", json={"run_id": idle["run_id"]})
    assert nothing.status_code == 400 and nothing.json() == {
        "error": f"run {idle['run_id']}: no audit entries to undo"
    }
    for wrong, status in (({}, 400), ({"issue_key": key}, 400), ({"run_id": "3"}, 422), ({"run": 3}, 422)):
        r = await rig.client.post(f"{API}/audit/undo", json=wrong)
        assert r.status_code == status, (wrong, r.text)
        if status == 400:  # in this API's field names, not the CLI's flags
            assert r.json() == {"error": "give exactly one of: entries, run_id, or issue_key with since"}


async def test_a_lock_held_past_the_wait_for_it_is_said_busy_not_unreachable(
    api_factory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holding the database's lock for longer than a request waits for it: 503 saying the
    database is busy, not that it cannot be reached (it answers; the lock goes with that writer's commit).
    SQLite waits its busy timeout (shortened here), PostgreSQL its ``lock_timeout`` (set in the URL)."""
    sqlite = db_url.startswith("sqlite")
    if sqlite:
        monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_MS", 1500)
    url = db_url if sqlite else f"{db_url}%20-clock_timeout%3D1500"
    rig: ApiRig = await api_factory(issues=2, url=url)
    await rig.synced()
    sync = f"{API}/integration/jira/sync"
    holder = (
        sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        if sqlite
        else psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    )
    try:
        # A host program's long transaction: SQLite's write lock, or a PostgreSQL lock on the table written.
        holder.execute("BEGIN IMMEDIATE" if sqlite else "BEGIN")
        if not sqlite:
            holder.execute("LOCK TABLE commands IN ACCESS EXCLUSIVE MODE")
        busy = await rig.client.post(sync, json={})
        assert busy.status_code == 503, busy.text
        assert busy.json()["error"].startswith("the database is busy: another writer holds its lock")
        assert busy.headers["retry-after"] == "5"
    finally:
        holder.rollback()
        holder.close()
    assert (await rig.client.post(sync, json={})).status_code == 202
