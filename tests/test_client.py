"""Client behaviour against scripted transports: flavors, paging, errors, workflow walks, secrets."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr

from jira_console.config import JiraConnection
from jira_console.jira import JiraClient, JiraField
from jira_console.jira.check import check_connection
from jira_console.jira.client import discover_roles
from jira_console.jira.errors import JiraBadRequest, JiraUnavailable


def conn(**kw: object) -> JiraConnection:
    base: dict[str, object] = {
        "name": "c",
        "url": "https://jira.example.com",
        "auth": "basic",
        "user": "me@example.com",
        "token_env": "JIRA_TEST_TOKEN",
        "rate_limit_per_second": 1000,
        "backoff_base_seconds": 0.01,
        "max_attempts": 2,
    }
    base.update(kw)
    return JiraConnection(**base)  # type: ignore[arg-type]


def server_info(kind: str) -> dict:
    if kind == "Cloud":
        return {"deploymentType": "Cloud", "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0]}
    return {"deploymentType": "Server", "version": "10.3.19", "versionNumbers": [10, 3, 19]}


class FakeServer:
    """A tiny Server/DC search endpoint that clamps page sizes, plus serverInfo."""

    def __init__(self, n: int, clamp: int, deployment: str = "Server") -> None:
        self.keys = [f"ENG-{i}" for i in range(1, n + 1)]
        self.clamp = clamp
        self.deployment = deployment
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/serverInfo"):
            return httpx.Response(200, json=server_info(self.deployment))
        if path == "/rest/api/2/search":
            q = request.url.params
            start, size = int(q["startAt"]), min(int(q["maxResults"]), self.clamp)
            page = self.keys[start : start + size]
            return httpx.Response(
                200,
                json={
                    "startAt": start,
                    "maxResults": size,
                    "total": len(self.keys),
                    "issues": [{"key": k, "fields": {}} for k in page],
                },
            )
        if path == "/rest/api/3/search/jql":
            q = request.url.params if request.method == "GET" else json.loads(request.content)
            assert "fields" in q, "Cloud search must ask for fields explicitly"
            start = int(q.get("nextPageToken") or 0)
            size = min(int(q["maxResults"]), self.clamp)
            page = self.keys[start : start + size]
            body: dict = {
                "issues": [{"key": k, "fields": {}} for k in page],
                "isLast": start + size >= len(self.keys),
            }
            if not body["isLast"]:
                body["nextPageToken"] = str(start + size)
            return httpx.Response(200, json=body)
        return httpx.Response(404, json={"errorMessages": [f"no route {path}"]})


@pytest.mark.parametrize("deployment", ["Server", "Cloud"])
async def test_flavor_detected_and_every_issue_paged_once(deployment: str) -> None:
    fake = FakeServer(23, clamp=4, deployment=deployment)
    client = JiraClient(conn(), token=SecretStr("tok-1234"), transport=httpx.MockTransport(fake))
    async with client:
        keys = []
        sizes = []
        async for page in client.search_pages("project = ENG", fields=["summary"], page_size=10):
            keys += [i["key"] for i in page.issues]
            sizes.append(page.max_results)
        assert client.flavor == deployment.lower()
    assert keys == fake.keys
    assert sizes[0] == 4  # clamped size read back
    paths = {r.url.path for r in fake.requests}
    assert "/rest/api/3/search" not in paths  # the removed Cloud endpoint is never called
    assert sum(r.url.path.endswith("/serverInfo") for r in fake.requests) == 1


async def test_long_jql_goes_in_a_post_body_on_cloud() -> None:
    fake = FakeServer(5, clamp=2, deployment="Cloud")
    client = JiraClient(
        conn(flavor="cloud"), token=SecretStr("tok-1234"), transport=httpx.MockTransport(fake)
    )
    jql = "key in (" + ", ".join(f"ENG-{i}" for i in range(400)) + ")"
    async with client:
        got = [i["key"] async for p in client.search_pages(jql, fields=["summary"]) for i in p.issues]
    assert got == fake.keys
    assert {r.method for r in fake.requests} == {"POST"}


async def test_error_text_names_the_field_in_plain_words() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "errorMessages": [],
                "errors": {"customfield_1": "Field 'customfield_1' cannot be set. It is not on the screen."},
            },
        )

    client = JiraClient(
        conn(flavor="cloud"), token=SecretStr("tok-1234"), transport=httpx.MockTransport(handler)
    )
    async with client:
        with pytest.raises(JiraBadRequest) as info:
            await client.edit_issue("ENG-1", fields={"customfield_1": 3})
    assert str(info.value).startswith(
        "PUT /rest/api/3/issue/ENG-1 -> 400: customfield_1: Field 'customfield_1'"
    )
    assert info.value.field_errors == {
        "customfield_1": "Field 'customfield_1' cannot be set. It is not on the screen."
    }


async def test_transition_to_walks_several_hops() -> None:
    workflow = {
        "To Do": [("11", "In Progress")],
        "In Progress": [("21", "To Do"), ("31", "In Review")],
        "In Review": [("41", "In Progress"), ("51", "Done")],
        "Done": [("61", "To Do")],
    }
    state = {"status": "To Do"}
    posted: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/transitions") and request.method == "GET":
            return httpx.Response(
                200,
                json={
                    "transitions": [
                        {"id": i, "name": f"go {s}", "to": {"name": s}} for i, s in workflow[state["status"]]
                    ]
                },
            )
        if path.endswith("/transitions"):
            tid = json.loads(request.content)["transition"]["id"]
            posted.append(tid)
            state["status"] = dict(workflow[state["status"]])[tid]
            return httpx.Response(204)
        return httpx.Response(200, json={"key": "ENG-1", "fields": {"status": {"name": state["status"]}}})

    client = JiraClient(
        conn(flavor="server"), token=SecretStr("tok-1234"), transport=httpx.MockTransport(handler)
    )
    async with client:
        assert await client.transition_to("ENG-1", "done") is True
        assert state["status"] == "Done"
        assert posted == ["11", "31", "51"]
        assert await client.transition_to("ENG-1", "Nowhere") is False


async def test_bulk_fetch_chunks_and_moves_chunk_by_50() -> None:
    bodies: list[tuple[str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        bodies.append((request.url.path, body))
        if request.url.path.endswith("/bulkfetch"):
            return httpx.Response(200, json={"issues": [{"key": k} for k in body["issueIdsOrKeys"]]})
        return httpx.Response(204)

    client = JiraClient(
        conn(flavor="cloud"), token=SecretStr("tok-1234"), transport=httpx.MockTransport(handler)
    )
    keys = [f"ENG-{i}" for i in range(250)]
    async with client:
        got = await client.bulk_fetch(keys, ["summary"], expand=["changelog"])
        await client.move_to_sprint(7, keys[:120])
        await client.move_to_backlog(keys[:60])
    assert [i["key"] for i in got] == keys
    fetches = [b for p, b in bodies if p.endswith("/bulkfetch")]
    assert [len(b["issueIdsOrKeys"]) for b in fetches] == [100, 100, 50]
    assert fetches[0]["expand"] == ["changelog"]
    moves = [len(b["issues"]) for p, b in bodies if p == "/rest/agile/1.0/sprint/7/issue"]
    assert moves == [50, 50, 20]
    assert [len(b["issues"]) for p, b in bodies if p == "/rest/agile/1.0/backlog/issue"] == [50, 10]


def test_oauth_bearer_goes_through_the_gateway() -> None:
    c = JiraClient(
        conn(auth="bearer", url="https://acme.atlassian.net", cloud_id="abc-123", user=None),
        token=SecretStr("tok-1234"),
    )
    assert c.base_url == "https://api.atlassian.com/ex/jira/abc-123"
    assert c.flavor == "cloud"
    direct = JiraClient(conn(url="https://api.atlassian.com/ex/jira/xyz"), token=SecretStr("tok-1234"))
    assert direct.base_url == "https://api.atlassian.com/ex/jira/xyz"


def test_discover_fields_by_schema_type() -> None:
    fields = [
        JiraField(
            "customfield_10016",
            "Story point estimate",
            True,
            "number",
            None,
            "com.pyxis.greenhopper.jira:jsw-story-points",
        ),
        JiraField(
            "customfield_10026",
            "Story Points",
            True,
            "number",
            None,
            "com.atlassian.jira.plugin.system.customfieldtypes:float",
        ),
        JiraField(
            "customfield_10020", "Sprint", True, "array", "json", "com.pyxis.greenhopper.jira:gh-sprint"
        ),
        JiraField(
            "customfield_10050",
            "Team",
            True,
            "option",
            None,
            "com.atlassian.jira.plugin.system.customfieldtypes:select",
        ),
        JiraField(
            "customfield_10100", "Lien d'epic", True, "any", None, "com.pyxis.greenhopper.jira:gh-epic-link"
        ),
        JiraField("parent", "Parent", False, None, None, None, None),
    ]
    assert discover_roles(fields) == {
        "story_points": "customfield_10016",
        "classic_story_points": "customfield_10026",
        "sprint": "customfield_10020",
        "team": "customfield_10050",
        "epic_link": "customfield_10100",
        "parent": "parent",
    }
    assert discover_roles(fields[1:2]) == {"story_points": "customfield_10026"}


async def test_canary_token_never_leaks(canary_token: str, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    seen_auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_auth.append(request.headers["Authorization"])
        raise httpx.ConnectError(f"refused while sending {request.headers['Authorization']}", request=request)

    client = JiraClient(
        conn(flavor="server", auth="bearer", user=None), transport=httpx.MockTransport(handler)
    )
    assert canary_token not in repr(client)
    async with client:
        with pytest.raises(JiraUnavailable) as info:
            await client.myself()
    assert seen_auth and canary_token in seen_auth[0]  # the token was really used
    text = str(info.value) + repr(info.value) + repr(client.health)
    out = capsys.readouterr()
    for blob in (text, caplog.text, out.out, out.err):
        assert canary_token not in blob


async def test_check_reports_missing_token_by_env_name(monkeypatch) -> None:
    monkeypatch.delenv("JIRA_TEST_TOKEN", raising=False)
    result = await check_connection(conn())
    assert result["ok"] is False
    assert "JIRA_TEST_TOKEN" in result["problems"][0]


async def test_check_of_a_url_nothing_answers_says_the_cause_once_not_the_breaker(monkeypatch) -> None:
    from tests.ports import free_port

    monkeypatch.setenv("JIRA_TEST_TOKEN", "t")
    # Enough failures to open the breaker: the check said "circuit breaker ... is open ... it half-opens in
    # 29.7s" first, then the same again for its next call, the cause last.
    result = await check_connection(
        conn(url=f"http://127.0.0.1:{free_port()}", max_attempts=3, breaker_failure_threshold=2)
    )
    assert result["ok"] is False
    [problem] = result["problems"]
    assert problem.startswith("serverInfo: GET /rest/api/2/serverInfo -> no response: ConnectError"), problem
    assert "nothing accepts connections at the URL's host and port" in problem
    assert "circuit breaker" not in problem and result["summary"] == problem


async def test_check_of_a_flavor_pinned_against_the_site_says_which_to_set(sim_factory, monkeypatch) -> None:
    sim = sim_factory("cloud", issues=1)
    user, token = sim.credentials["basic"]
    monkeypatch.setenv("JIRA_TEST_TOKEN", token)
    # Pinned to server, the check's JQL probe went to Server's search, which Cloud has removed (410): the
    # operator read "The requested API has been removed" and nothing about the flavor.
    result = await check_connection(conn(url=sim.url, user=user, flavor="server"))
    assert result["ok"] is False and result["flavor"] == "cloud"
    assert result["summary"] == (
        'flavor = \'server\', but the site says it is cloud (serverInfo): set flavor = "cloud" or "auto"'
    )


async def test_check_says_when_no_jira_answers_under_the_url(sim_factory, monkeypatch) -> None:
    sim = sim_factory("server", issues=1)
    user, token = sim.credentials["basic"]
    monkeypatch.setenv("JIRA_TEST_TOKEN", token)
    result = await check_connection(conn(url=f"{sim.url}/jira", user=user, flavor="server"))
    assert result["ok"] is False
    first = result["problems"][0]
    assert first.startswith("serverInfo: GET /rest/api/2/serverInfo -> 404")
    assert f"no Jira REST API answers under {sim.url}/jira: give the address Jira opens at" in first
    right = await check_connection(conn(url=sim.url, user=user, flavor="server"))
    assert right["ok"] is True, right["problems"]


async def test_check_does_not_retry_a_host_name_that_does_not_resolve(monkeypatch, caplog) -> None:
    """Retrying cannot cure it within a check: it took ~9 s and five INFO lines; the sync still retries (a
    resolver may come back)."""
    import jira_console.jira.check as check_module

    monkeypatch.setenv("JIRA_TEST_TOKEN", "t")
    tries: list[str] = []

    def unresolved(request: httpx.Request) -> httpx.Response:
        tries.append(request.url.path)
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    def client(c: JiraConnection, **kw: object) -> JiraClient:
        return JiraClient(c, transport=httpx.MockTransport(unresolved), **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(check_module, "JiraClient", client)
    caplog.set_level(logging.INFO)
    result = await check_connection(conn(url="https://jira.example.invalid", max_attempts=5))
    assert result["ok"] is False and "the URL's host name does not resolve" in result["summary"]
    assert tries == ["/rest/api/2/serverInfo"] and "jira.retry" not in caplog.text
    async with client(conn(max_attempts=5), token=SecretStr("t")) as sync_client:
        with pytest.raises(JiraUnavailable):
            await sync_client.server_info()
    assert len(tries) == 1 + 5


async def test_check_does_not_retry_tls_against_a_plain_http_port(monkeypatch) -> None:
    import asyncio

    monkeypatch.setenv("JIRA_TEST_TOKEN", "t")
    connections: list[int] = []

    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.write(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await check_connection(conn(url=f"https://127.0.0.1:{port}", max_attempts=5))
    assert result["ok"] is False and "the server did not answer in TLS" in result["summary"]
    assert connections == [1]
