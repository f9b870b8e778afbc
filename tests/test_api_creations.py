"""Issues created in Jira through the operations API (``/integration/jira/issue-requests``), against a
running daemon and the simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from jira_console.api import create_api_app
from tests.fixtures.api import ApiRig

BASE = "/api/v1/integration/jira/issue-requests"


async def test_a_requested_issue_is_created_by_the_daemon_and_followed_to_its_key(api_factory) -> None:
    rig: ApiRig = await api_factory(issues=4)
    await rig.synced()
    asked = await rig.client.post(
        BASE,
        json={
            "project": "ENG",
            "issue_type": "Task",
            "fields": {"summary": "Asked for through the API", "status": "Done"},
            "sync_now": True,
        },
    )
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert (body["state"], body["requested_by"], body["connection"]) == ("pending", "api", rig.connection)
    assert body["sync"]["kind"] == "sync" and "token" not in body

    async def created() -> dict | None:
        now = (await rig.client.get(f"{BASE}/{body['id']}")).json()
        return now if now["state"] == "created" else None

    done = await rig.wait(created, "the request created")
    assert rig.sim.issue(done["issue_key"])["summary"] == "Asked for through the API"
    await rig.command_done(body["sync"]["id"])
    assert rig.sim.issue(done["issue_key"])["status"] == "Done"
    overview = (await rig.client.get("/api/v1/integration/jira/sync")).json()
    assert overview["creations"] == {}  # none waiting, none refused
    listed = (await rig.client.get(BASE, params={"state": "created"})).json()
    assert [r["id"] for r in listed] == [body["id"]]
    assert (await rig.client.get(BASE, params={"state": "failed"})).json() == []

    # Refused before anything is queued, invalid values with 422 whoever finds them (the request's shape or
    # the engine's check of each field); an unknown request or connection is 404.
    for bad, status in (
        ({"project": "ENG", "issue_type": "Task", "fields": {"labels": ["x"]}}, 422),  # no summary
        ({"project": "ENG", "issue_type": "Task", "fields": {"summary": "x", "story_points": "many"}}, 422),
        ({"project": "ENG", "issue_type": "Task", "fields": {"summary": "x", "labels": "abc"}}, 422),
        ({"project": "ENG", "issue_type": "Task", "fields": {"summary": "x", "colour": "red"}}, 422),
        ({"project": "ENG", "issue_type": "Task", "fields": {"summary": "x", "sprint_id": "no such"}}, 422),
        ({"project": "ENG", "issue_type": "Task", "fields": {"summary": "x"}, "connection": "nope"}, 404),
        ({"project": "ENG", "issue_type": "", "fields": {"summary": "x"}}, 422),
        ({"project": "ENG", "fields": {"summary": "x"}}, 422),
        ({"project": "ENG", "issue_type": "Task", "fields": {"summary": "x"}, "extra": 1}, 422),
    ):
        r = await rig.client.post(BASE, json=bad)
        assert r.status_code == status, (bad, r.text)
        assert set(r.json()) == {"error"} or set(r.json()) == {"error", "details"}
    assert len((await rig.client.get(BASE)).json()) == 1
    assert (await rig.client.get(f"{BASE}/999999")).status_code == 404

    # Jira refuses one: it is failed with Jira's reason, and the sync overview counts it.
    nowhere = {"project": "NOPE", "issue_type": "Task", "fields": {"summary": "nowhere"}, "sync_now": True}
    asked = (await rig.client.post(BASE, json=nowhere)).json()
    await rig.command_done(asked["sync"]["id"])
    refused = (await rig.client.get(f"{BASE}/{asked['id']}")).json()
    assert refused["state"] == "failed" and refused["error"].startswith("Jira refused the creation: project")
    overview = (await rig.client.get("/api/v1/integration/jira/sync")).json()
    assert overview["creations"] == {rig.connection: {"waiting": 0, "failed": 1}}


def _openapi(names: list[str]) -> dict[str, Any]:
    """The OpenAPI document of an API over a daemon configured with connections named ``names`` (the
    document is built from the routes and the configuration alone)."""
    settings = SimpleNamespace(
        jira=[SimpleNamespace(name=n) for n in names], webhooks=SimpleNamespace(max_body_bytes=1000)
    )
    doc: dict[str, Any] = create_api_app(SimpleNamespace(settings=settings), "token").openapi()  # type: ignore[arg-type]
    return doc


def test_the_document_says_a_request_names_its_connection_when_several_are_configured() -> None:
    """As the route answers 422 "2 connections are configured; name one" without it."""
    one = _openapi(["cloud"])["components"]["schemas"]["CreationIn"]
    assert "connection" not in one["required"]
    several = _openapi(["cloud", "server"])["components"]["schemas"]["CreationIn"]
    assert "connection" in several["required"]
    assert several["properties"]["connection"]["enum"] == ["cloud", "server"]
