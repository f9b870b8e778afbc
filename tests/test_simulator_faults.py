"""Faults, rate limits, violation counting, webhooks and thread safety of the simulator."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

import httpx
import pytest

from jira_console.simulator import Simulator, sign


def client(sim: Simulator, timeout: float = 10) -> httpx.Client:
    return httpx.Client(base_url=sim.url or "", auth=sim.credentials["basic"], timeout=timeout)


def test_signature_test_vector() -> None:
    assert sign("It's a Secret to Everybody", b"Hello World!") == (
        "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"
    )


def test_rate_limit_429_and_early_retry_is_a_violation(cloud_sim: Simulator) -> None:
    cloud_sim.faults.set(rate_limit_rate=1.0, retry_after=1.0)
    with client(cloud_sim) as c:
        r = c.get("/rest/api/3/myself")
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "1" and "X-RateLimit-Reset" in r.headers
        cloud_sim.faults.clear()
        early = c.get("/rest/api/3/myself")
        assert early.status_code == 429
        assert [v["kind"] for v in cloud_sim.violations] == ["early_retry"]
        time.sleep(1.1)
        polite = c.get("/rest/api/3/myself")
        assert polite.status_code == 200
        assert polite.headers["X-RateLimit-NearLimit"] in ("true", "false")
        assert int(polite.headers["X-RateLimit-Remaining"]) <= int(polite.headers["X-RateLimit-Limit"])
    assert len(cloud_sim.violations) == 1
    # Another client (other credentials) is not bound by someone else's Retry-After.


def test_token_bucket(server_sim: Simulator) -> None:
    server_sim.faults.set(requests_per_second=5)
    with client(server_sim) as c:
        statuses = [c.get("/rest/api/2/myself").status_code for _ in range(12)]
    assert statuses[:5] == [200] * 5 and 429 in statuses
    server_sim.faults.clear()


def test_errors_outage_timeout_and_http_control(server_sim: Simulator) -> None:
    with client(server_sim, timeout=0.5) as c:
        c.post("/_sim/faults", json={"error_rate": 1.0, "error_status": 500})
        assert c.get("/rest/api/2/myself").status_code == 500
        c.post("/_sim/faults", json={"error_rate": 0.0, "outage": True})
        assert c.get("/rest/api/2/myself").status_code == 503
        assert c.get("/_sim/faults").json()["outage"] is True
        c.delete("/_sim/faults")
        server_sim.faults.set(timeout_rate=1.0, timeout_seconds=1.5)
        with pytest.raises(httpx.ReadTimeout):
            c.get("/rest/api/2/myself")
        server_sim.faults.clear()
        assert c.post("/_sim/faults", json={"bogus": 1}).status_code == 400
        assert c.get("/rest/api/2/myself").status_code == 200


def test_connection_reset_is_a_real_reset(cloud_sim: Simulator) -> None:
    cloud_sim.faults.set(reset_rate=1.0)
    with client(cloud_sim) as c, pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        c.get("/rest/api/3/myself")
    cloud_sim.faults.clear()
    with client(cloud_sim) as c:
        assert c.get("/rest/api/3/myself").status_code == 200


def test_request_log(cloud_sim: Simulator) -> None:
    with client(cloud_sim) as c:
        for _ in range(3):
            c.get("/rest/api/3/issue/ENG-1", params={"fields": "summary"})
        c.put("/rest/api/3/issue/ENG-1", json={"fields": {"summary": "x"}})
    assert cloud_sim.request_count("/rest/api/3/issue") == 4
    assert cloud_sim.request_count("/rest/api/3/issue", method="PUT") == 1
    assert cloud_sim.requests[-1]["status"] == 204


class _Receiver:
    """A tiny webhook receiver served by another simulator-free uvicorn app."""

    def __init__(self, fail_first: int = 0) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        with self.lock:
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            self.got.append((headers, body))
            status = 500 if len(self.got) <= self.fail_first else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def receiver() -> Any:
    import socket

    import uvicorn

    recv = _Receiver(fail_first=1)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(recv, log_level="warning", lifespan="off", http="h11"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    recv.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"  # type: ignore[attr-defined]
    yield recv
    server.should_exit = True
    thread.join(5)


def test_webhook_delivery_signed_retried_v2_shape(any_sim: Simulator, receiver: Any) -> None:
    any_sim.add_webhook_target(receiver.url, secret="s3cret")
    any_sim.edit_issue("ENG-4", {"summary": "Changed by a colleague", "status": "Done"}, by="alice")
    assert any_sim.wait_for_webhooks(10)
    assert len(receiver.got) == 2, "first attempt failed with 500 and was retried"
    (h1, b1), (h2, b2) = receiver.got
    assert b1 == b2
    assert h1["x-atlassian-webhook-identifier"] == h2["x-atlassian-webhook-identifier"]
    assert (h1["x-atlassian-webhook-retry"], h2["x-atlassian-webhook-retry"]) == ("0", "1")
    expected = "sha256=" + hmac.new(b"s3cret", b2, hashlib.sha256).hexdigest()
    assert h2["x-hub-signature"] == expected
    payload = json.loads(b2)
    assert set(payload) >= {
        "timestamp",
        "webhookEvent",
        "issue_event_type_name",
        "user",
        "issue",
        "changelog",
    }
    assert payload["webhookEvent"] == "jira:issue_updated"
    assert "/rest/api/2/issue/" in payload["issue"]["self"]
    desc = payload["issue"]["fields"]["description"]
    assert desc is None or isinstance(desc, str), "webhooks carry the v2 representation"
    items = {i["field"]: i for i in payload["changelog"]["items"]}
    assert items["summary"]["toString"] == "Changed by a colleague"
    assert items["status"]["toString"] == "Done"
    assert set(items["summary"]) == {"field", "fieldtype", "fieldId", "from", "fromString", "to", "toString"}
    statuses = [d["status"] for d in any_sim.webhook_deliveries]
    assert statuses == [500, 200]


def test_rest_edits_and_admin_registration_fire_webhooks(cloud_sim: Simulator, receiver: Any) -> None:
    receiver.fail_first = 0
    with client(cloud_sim) as c:
        reg = c.post(
            "/rest/webhooks/1.0/webhook",
            json={
                "name": "sync",
                "url": receiver.url,
                "events": ["jira:issue_updated"],
                "filters": {"issue-related-events-section": "project = ENG"},
            },
        )
        assert reg.status_code == 201
        assert c.get("/rest/webhooks/1.0/webhook").json()[0]["url"] == receiver.url
        c.put("/rest/api/3/issue/OPS-1", json={"fields": {"summary": "filtered out"}})
        c.put("/rest/api/3/issue/ENG-1", json={"fields": {"summary": "delivered"}})
        dyn = c.post(
            "/rest/api/3/webhook",
            json={
                "url": receiver.url,
                "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = OPS"}],
            },
        ).json()
        hook_id = dyn["webhookRegistrationResult"][0]["createdWebhookId"]
        listed = c.get("/rest/api/3/webhook").json()["values"]
        old_exp = listed[0]["expirationDate"]
        time.sleep(0.01)
        refreshed = c.put("/rest/api/3/webhook/refresh", json={"webhookIds": [hook_id]}).json()
        assert refreshed["expirationDate"] >= old_exp
    cloud_sim.create_issue("OPS", {"summary": "new one"})
    assert cloud_sim.wait_for_webhooks(10)
    events = [(json.loads(b)["webhookEvent"], json.loads(b)["issue"]["key"]) for _, b in receiver.got]
    assert ("jira:issue_updated", "ENG-1") in events
    assert all(key != "OPS-1" for _, key in events)
    assert any(e == "jira:issue_created" for e, _ in events)


def test_duplicates_and_sprint_events(server_sim: Simulator, receiver: Any) -> None:
    receiver.fail_first = 0
    server_sim.add_webhook_target(receiver.url, duplicate_rate=1.0)
    future = next(s.id for s in server_sim.site.sprints.values() if s.state == "future")
    server_sim.update_sprint(future, goal="Ship it")
    assert server_sim.wait_for_webhooks(10)
    bodies = [json.loads(b) for _, b in receiver.got]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert bodies[0]["webhookEvent"] == "sprint_updated" and bodies[0]["sprint"]["goal"] == "Ship it"


def test_thread_safety_under_concurrent_edits_and_searches(sim_factory: Any) -> None:
    sim = sim_factory("cloud", issues=400)
    sim.start_activity(200)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            with client(sim) as c:
                for _ in range(10):
                    r = c.post(
                        "/rest/api/3/search/jql",
                        json={
                            "jql": "project = ENG ORDER BY updated",
                            "fields": ["updated"],
                            "maxResults": 100,
                        },
                    )
                    assert r.status_code == 200
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(50):
        sim.edit_issue("ENG-1", {"labels": ["perf"]}, by="bob")
        sim.edit_issue("ENG-1", {"labels": []}, by="bob")
    for t in threads:
        t.join()
    sim.stop_activity()
    assert not errors
    index = sim.site._index
    assert index == sorted(index) and len(index) == len(sim.site.issues)
    assert all(sim.site.issues[row[3]].updated == row[0] for row in index)


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_an_index_behind_the_database_hides_new_issues_from_search_not_from_reads(
    sim_factory, flavor
) -> None:
    sim = sim_factory(flavor, issues=3)
    v = "3" if flavor == "cloud" else "2"
    path = "/rest/api/3/search/jql" if flavor == "cloud" else "/rest/api/2/search"
    sim.faults.set(index_lag_ms=60_000)
    key = sim.create_issue("ENG", {"summary": "not indexed yet", "issuetype": "Task"})
    with client(sim) as c:
        jql = 'project = ENG AND summary ~ "indexed"'
        assert c.get(path, params={"jql": jql, "fields": "summary"}).json()["issues"] == []
        assert c.get(path, params={"jql": "project = ENG", "fields": "summary"}).json()["issues"]  # the older
        assert c.get(f"/rest/api/{v}/issue/{key}").json()["key"] == key  # a read by key finds it at once
        sim.faults.set(index_lag_ms=0)
        [found] = c.get(path, params={"jql": jql, "fields": "summary"}).json()["issues"]
        assert found["key"] == key
