"""The client against Atlassian's published specs and recorded payloads (../shared/jira-samples)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from jira_console.config import JiraConnection
from jira_console.jira import JiraClient

pytestmark = pytest.mark.conformance


def conn(flavor: str) -> JiraConnection:
    return JiraConnection(
        name="conf",
        url="https://acme.atlassian.net" if flavor == "cloud" else "https://jira.example.com",
        flavor=flavor,  # type: ignore[arg-type]
        auth="bearer",
        rate_limit_per_second=1000,
    )


def load(samples: Path, rel: str) -> Any:
    return json.loads((samples / rel).read_text(encoding="utf-8"))


class Spec:
    """Path templates, query parameters and JSON body properties of an OpenAPI document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.routes = [(re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", p) + "$"), p) for p in doc["paths"]]

    def match(self, path: str) -> str | None:
        # Prefer literal segments over templated ones (``/issue/bulkfetch`` over ``/issue/{id}``).
        hits = [p for rx, p in self.routes if rx.match(path)]
        return min(hits, key=lambda p: p.count("{")) if hits else None

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def query_params(self, path: str, method: str) -> set[str]:
        op = self.doc["paths"][path][method]
        return {
            self._resolve(p)["name"]
            for p in op.get("parameters", [])
            if self._resolve(p).get("in") == "query"
        }

    def body_props(self, path: str, method: str) -> set[str] | None:
        schema = (
            self.doc["paths"][path][method]
            .get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
        ).get("schema")
        if schema is None:
            return None
        return set(self._resolve(schema).get("properties", {}))


def responder(samples: Path):
    """Serve recorded payloads where there is one, small valid bodies elsewhere; record every request."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        p = request.url.path
        if p.endswith("/serverInfo"):
            return httpx.Response(200, json={"deploymentType": "Cloud", "version": "1001.0.0"})
        if p.endswith("/field"):
            return httpx.Response(200, json=load(samples, "api/server-perceval/jira_fields.json"))
        if p.endswith("/transitions") and request.method == "GET":
            return httpx.Response(200, json=load(samples, "api/server-jira-to-matrix/transitions.json"))
        if p.endswith("/editmeta"):
            return httpx.Response(200, json=load(samples, "api/server-jira-to-matrix/editmeta.json"))
        if p.endswith("/sprint") and request.method == "GET":
            return httpx.Response(200, json=load(samples, "api/go-jira/sprints.json"))
        if p.endswith("/board"):
            return httpx.Response(
                200, json={"isLast": True, "values": [{"id": 1, "name": "B", "type": "scrum"}]}
            )
        if re.search(r"/sprint/\d+$", p):
            return httpx.Response(200, json=load(samples, "api/go-jira/sprints.json")["values"][0])
        if p == "/rest/api/2/search":
            page = 2 if request.url.params.get("startAt") == "2" else 1
            return httpx.Response(
                200, json=load(samples, f"api/server-perceval/jira_issues_page_{page}.json")
            )
        if p.endswith("/search/jql"):
            return httpx.Response(200, json={"issues": [{"id": "1", "key": "ENG-1"}], "isLast": True})
        if p.endswith("/bulkfetch"):
            return httpx.Response(200, json={"issues": [{"key": "ENG-1"}], "issueErrors": []})
        if p.endswith("/issue") and request.method == "POST":
            return httpx.Response(201, json={"id": "10000", "key": "ENG-9", "self": "x"})
        if request.method in ("PUT", "DELETE", "POST"):
            return httpx.Response(204)
        if p.endswith("/myself") or p.endswith("/user"):
            return httpx.Response(200, json={"accountId": "abc", "displayName": "Me"})
        return httpx.Response(200, json={"key": "ENG-1", "fields": {"status": {"name": "In Progress"}}})

    return handler, calls


async def exercise(client: JiraClient) -> None:
    await client.myself()
    async for _ in client.search_pages("project = ENG ORDER BY updated", fields=["summary", "updated"]):
        pass
    await client.discover_fields()
    await client.get_issue("ENG-1", fields=["summary"], expand=["changelog"])
    await client.bulk_fetch(["ENG-1", "ENG-2"], ["summary"], expand=["changelog"])
    await client.edit_issue("ENG-1", fields={"summary": "x"}, update={"labels": [{"add": "a"}]})
    await client.transitions("ENG-1")
    await client.transition("ENG-1", "2", fields={"resolution": {"name": "Done"}})
    await client.editmeta("ENG-1")
    await client.create_issue({"summary": "new"})
    await client.delete_issue("ENG-1")
    await client.boards(project_key="ENG")
    await client.sprints(734, states=["active", "future"])
    await client.get_sprint(740)
    await client.move_to_sprint(740, ["ENG-1"])
    await client.move_to_backlog(["ENG-1"])
    await client.user(account_id="abc")


async def test_cloud_requests_exist_in_the_openapi_specs(samples: Path) -> None:
    platform = Spec(load(samples, "specs/jira-cloud-platform-v3.openapi.json"))
    agile = Spec(load(samples, "specs/jira-software-agile.openapi.json"))
    handler, calls = responder(samples)
    async with JiraClient(
        conn("cloud"), token=SecretStr("tok-1234"), transport=httpx.MockTransport(handler)
    ) as c:
        await exercise(c)
    assert calls
    for request in calls:
        path = request.url.path
        assert path != "/rest/api/3/search", "the removed Cloud search endpoint was called"
        spec = agile if path.startswith("/rest/agile/") else platform
        # serverInfo is asked on v2 (served by both flavors); the v3 spec documents the same resource.
        template = spec.match(path.replace("/rest/api/2/", "/rest/api/3/"))
        method = request.method.lower()
        assert template is not None, f"{request.method} {path} is not in the spec"
        assert method in spec.doc["paths"][template], f"{request.method} {template} is not in the spec"
        unknown = set(request.url.params) - spec.query_params(template, method)
        assert not unknown, f"{request.method} {template}: unknown query parameters {unknown}"
        if request.content:
            props = spec.body_props(template, method)
            body = json.loads(request.content)
            if props:  # IssueUpdateDetails-style bodies allow extra keys; check the ones declared
                assert set(body) <= props, (
                    f"{request.method} {template}: unknown body keys {set(body) - props}"
                )


async def test_server_search_page_and_recorded_payloads_parse(samples: Path) -> None:
    handler, calls = responder(samples)
    async with JiraClient(
        conn("server"), token=SecretStr("tok-1234"), transport=httpx.MockTransport(handler)
    ) as c:
        pages = [p async for p in c.search_pages("project = FIWARE", fields=["summary"], page_size=50)]
        transitions = await c.transitions("ENG-1")
        editmeta = await c.editmeta("ENG-1")
        sprints = await c.sprints(734)
        fields = await c.fields()
        roles = await c.discover_fields()
    recorded1 = load(samples, "api/server-perceval/jira_issues_page_1.json")
    assert [p.max_results for p in pages] == [2, 2]  # the clamped size read back, not the 50 asked for
    assert pages[0].total == recorded1["total"] == 3
    assert sum(len(p.issues) for p in pages) == 3 and pages[-1].is_last
    assert [r.url.params["startAt"] for r in calls if r.url.path == "/rest/api/2/search"] == ["0", "2"]
    assert [(t.id, t.to_status) for t in transitions] == [("2", "In Progress"), ("711", "Closed")]
    assert transitions[0].to_category == "in-flight"
    assert editmeta["summary"]["required"] is True and editmeta["summary"]["operations"] == ["set"]
    assert len(sprints) == 6 and sprints[0].id == 740 and sprints[0].state == "closed"
    assert sprints[0].board_id == 734 and sprints[0].complete_date
    assert len(fields) == 44 and any(f.schema_custom and f.custom for f in fields)
    assert "sprint" not in roles and "story_points" not in roles  # that site had no Agile fields
