"""Searches naming issues that are gone: Jira's JQL validation refuses a ``key`` or ``id`` clause naming an
issue that does not exist (one message per key), Server's ``validateQuery=false`` turns those into warnings,
the client's Server bulk reads (a ``key in (...)`` search) stay one search when some of the keys were
deleted, and a webhook batch's scope search leaves out an issue deleted since its delivery."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from jira_console.config import JiraConnection
from jira_console.jira import JiraClient
from jira_console.jira.search import refused_keys
from jira_console.store import models as m

sim_mod = pytest.importorskip("jira_console.simulator")
from jira_console.simulator import lifecycle  # noqa: E402

Simulator, SimConfig = sim_mod.Simulator, sim_mod.SimConfig

GONE = "An issue with key '{}' does not exist for field 'key'."
INVALID = "The issue key '{}' for field 'key' is invalid."


def client_for(sim) -> JiraClient:
    user, secret = sim.credentials["basic"]
    conn = JiraConnection(name="sim", url=sim.url, auth="basic", user=user, rate_limit_per_second=200)
    return JiraClient(conn, token=SecretStr(secret))


def auth(sim) -> tuple[str, str]:
    return sim.credentials["basic"]


def eng_keys(sim) -> list[str]:
    """The simulated site's ENG keys in number order (the seed spreads issues over its projects)."""
    return [i.key for i in sorted(sim.site.issues.values(), key=lambda i: i.number) if i.project == "ENG"]


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_a_key_clause_naming_no_issue_is_refused_with_every_key_named(flavor: str) -> None:
    with Simulator(SimConfig(flavor=flavor, issues=12)).serve() as sim:
        one, two, three = eng_keys(sim)[:3]
        sim.delete_issue(two)
        jql = f"key in ({one}, {two}, ENG-404, not-a-key)"
        path = "/rest/api/3/search/jql" if flavor == "cloud" else "/rest/api/2/search"
        answer = httpx.get(sim.url + path, params={"jql": jql, "fields": "summary"}, auth=auth(sim))
        assert answer.status_code == 400
        assert answer.json()["errorMessages"] == [
            GONE.format(two),
            GONE.format("ENG-404"),
            INVALID.format("not-a-key"),
        ]
        # Ids are validated alike.
        kept_id = sim.site.find(one).id
        answer = httpx.get(
            sim.url + path, params={"jql": f"id in ({kept_id}, 999999)", "fields": "summary"}, auth=auth(sim)
        )
        assert answer.status_code == 400
        assert answer.json()["errorMessages"] == ["An issue with key '999999' does not exist for field 'id'."]
        # Keys of existing issues pass, the old key of a moved issue too.
        moved_to = lifecycle.move_issue(sim.site, three, "OPS", "other")
        answer = httpx.get(
            sim.url + path, params={"jql": f"key in ({one}, {three})", "fields": "summary"}, auth=auth(sim)
        )
        assert answer.status_code == 200
        assert {i["key"] for i in answer.json()["issues"]} == {one, moved_to}


def test_server_validate_query_false_searches_with_warnings() -> None:
    with Simulator(SimConfig(flavor="server", issues=12)).serve() as sim:
        one, two, three = eng_keys(sim)[:3]
        sim.delete_issue(two)
        jql = f"key in ({one}, {two}, {three})"
        get = httpx.get(
            sim.url + "/rest/api/2/search",
            params={"jql": jql, "fields": "summary", "validateQuery": "false"},
            auth=auth(sim),
        )
        post = httpx.post(
            sim.url + "/rest/api/2/search",
            json={"jql": jql, "fields": ["summary"], "validateQuery": False},
            auth=auth(sim),
        )
        for answer in (get, post):
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert sorted(i["key"] for i in body["issues"]) == sorted([one, three])
            assert body["total"] == 2
            assert body["warningMessages"] == [GONE.format(two)]
        assert sim.violations == []


async def test_server_bulk_read_of_partly_deleted_keys_is_one_search() -> None:
    with Simulator(SimConfig(flavor="server", issues=60)).serve() as sim:
        keys = eng_keys(sim)[:20]
        deleted = {keys[2], keys[6], keys[18]}
        for gone in deleted:
            sim.delete_issue(gone)
        before = len(sim.requests)
        async with client_for(sim) as client:
            report = await client.bulk_fetch_report(keys, ["summary"])
        assert sorted(i["key"] for i in report.issues) == sorted(set(keys) - deleted)
        assert report.errors == []
        made = sim.requests[before:]
        assert [r["path"] for r in made if r["path"].startswith("/rest/api/2/search")] == [
            "/rest/api/2/search"
        ]
        assert not [r for r in made if "/rest/api/2/issue/" in r["path"]]  # no read key by key
        assert sim.violations == []


def test_refused_keys_reads_jira_messages() -> None:
    messages = [GONE.format("ENG-2"), INVALID.format("odd key"), "Field 'foo' does not exist."]
    assert refused_keys(messages) == {"ENG-2", "ODD KEY"}
    assert refused_keys(["Something else entirely."]) == set()
    # Ids are named as keys, of field 'id'.
    assert refused_keys(["An issue with key '10009' does not exist for field 'id'."]) == {"10009"}


class StrictServer:
    """A Server/DC that validates ``key`` clauses whatever ``validateQuery`` says (older releases, or a
    proxy that drops the parameter), answering like Jira: 400 with one message per unknown key."""

    def __init__(self, existing: set[str], *, name_keys: bool = True) -> None:
        self.existing = existing
        self.name_keys = name_keys
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/serverInfo"):
            return httpx.Response(200, json={"deploymentType": "Server", "version": "9.12.0"})
        if path == "/rest/api/2/search":
            jql = request.url.params["jql"]
            asked = [k.strip() for k in jql[jql.index("(") + 1 : jql.rindex(")")].split(",")]
            unknown = [k for k in asked if k not in self.existing]
            if unknown:
                messages = (
                    [GONE.format(k) for k in unknown] if self.name_keys else ["Query validation failed."]
                )
                return httpx.Response(400, json={"errorMessages": messages, "errors": {}})
            issues = [{"key": k, "id": k.split("-")[1], "fields": {}} for k in asked]
            return httpx.Response(
                200, json={"startAt": 0, "maxResults": 100, "total": len(issues), "issues": issues}
            )
        if path.startswith("/rest/api/2/issue/"):
            key = path.rsplit("/", 1)[1]
            if key in self.existing:
                return httpx.Response(200, json={"key": key, "id": key.split("-")[1], "fields": {}})
            return httpx.Response(404, json={"errorMessages": ["Issue does not exist"], "errors": {}})
        return httpx.Response(404, json={"errorMessages": [f"no route {path}"]})


def strict_client(fake: StrictServer) -> JiraClient:
    conn = JiraConnection(
        name="c", url="https://jira.example.com", auth="basic", user="ops", rate_limit_per_second=1000
    )
    return JiraClient(conn, token=SecretStr("tok-1234"), transport=httpx.MockTransport(fake))


async def test_a_refusal_naming_the_gone_keys_is_searched_again_without_them() -> None:
    keys = [f"ENG-{n}" for n in range(1, 11)]
    fake = StrictServer(set(keys) - {"ENG-2", "ENG-9"})
    async with strict_client(fake) as client:
        got = await client.bulk_fetch(keys, ["summary"])
    assert sorted(i["key"] for i in got) == sorted(set(keys) - {"ENG-2", "ENG-9"})
    searches = [r for r in fake.requests if r.url.path == "/rest/api/2/search"]
    assert len(searches) == 2
    assert searches[0].url.params["validateQuery"] == "false"
    assert "ENG-2" not in searches[1].url.params["jql"] and "ENG-10" in searches[1].url.params["jql"]
    assert not [r for r in fake.requests if r.url.path.startswith("/rest/api/2/issue/")]


async def test_a_refusal_naming_no_key_falls_back_to_reads_by_key() -> None:
    keys = ["ENG-1", "ENG-2", "ENG-3"]
    fake = StrictServer({"ENG-1", "ENG-3"}, name_keys=False)
    async with strict_client(fake) as client:
        got = await client.bulk_fetch(keys, ["summary"])
    assert sorted(i["key"] for i in got) == ["ENG-1", "ENG-3"]
    reads = [r.url.path for r in fake.requests if r.url.path.startswith("/rest/api/2/issue/")]
    assert reads == ["/rest/api/2/issue/ENG-1", "/rest/api/2/issue/ENG-2", "/rest/api/2/issue/ENG-3"]


async def test_every_key_gone_needs_no_second_search() -> None:
    fake = StrictServer(set())
    async with strict_client(fake) as client:
        assert await client.bulk_fetch(["ENG-1", "ENG-2"], ["summary"]) == []
    assert len([r for r in fake.requests if r.url.path == "/rest/api/2/search"]) == 1
    assert not [r for r in fake.requests if r.url.path.startswith("/rest/api/2/issue/")]
    body = json.dumps([str(r.url) for r in fake.requests])
    assert "tok-1234" not in body


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_a_full_sync_after_deletions_asks_jira_once_about_the_gone_issues(rig_factory, flavor):
    rig = await rig_factory(flavor, issues=60, conn={"jql": "project = ENG"})
    await rig.engine.run(full=True)
    gone = eng_keys(rig.sim)[:5]
    for key in gone:
        rig.sim.delete_issue(key)
    before = len(rig.sim.requests)

    report = await rig.engine.run(full=True)

    assert report.deleted == len(gone)
    made = rig.sim.requests[before:]
    by_key = [
        r for r in made if r["method"] == "GET" and any(r["path"].endswith(f"/issue/{k}") for k in gone)
    ]
    assert by_key == []  # asked in one bulk read, not key by key
    assert not [r for r in made if r["status"] == 400]


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_a_late_webhook_of_an_issue_deleted_since_does_not_fail_its_batch(rig_factory, flavor):
    """Jira validates ``id`` clauses too: the scope search of a batch holding an issue deleted since its
    delivery is refused whole. The issue is left out (Jira no longer has it), the others are imported."""
    rig = await rig_factory(flavor, issues=12, conn={"jql": "project = ENG ORDER BY updated"})
    await rig.engine.run(full=True)
    doomed = rig.sim.create_issue("ENG", {"summary": "made and deleted", "issuetype": "Task"})
    kept = rig.sim.create_issue("ENG", {"summary": "made and kept", "issuetype": "Task"})
    bodies = [(await rig.client.request("GET", f"/rest/api/2/issue/{k}")).json() for k in (doomed, kept)]
    rig.sim.delete_issue(doomed)
    before = len(rig.sim.requests)

    answers = await rig.engine.apply_remote_issues([(b, {"items": [{"field": "summary"}]}) for b in bodies])

    assert answers == ["ignored", "applied"]
    assert rig.local(kept)["summary"] == "made and kept"
    with rig.db.session() as s:
        assert s.scalar(select(func.count()).select_from(m.Issue).where(m.Issue.key == doomed)) == 0
    refused = [r for r in rig.sim.requests[before:] if r["status"] == 400]
    # One refusal, then the search without the gone issue: the scope search validates strictly on Server
    # too (the connection's own filter is in it), and Cloud's search cannot be asked to warn.
    assert len(refused) == 1
