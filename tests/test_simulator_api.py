"""Shapes and behaviour of the simulator's REST endpoints on both flavors."""

from __future__ import annotations

import httpx
import pytest

from jira_console.simulator import FIELD_IDS, Simulator
from jira_console.simulator.model import CLOUD_ID


def client(sim: Simulator, **kw: object) -> httpx.Client:
    return httpx.Client(base_url=sim.url or "", auth=sim.credentials["basic"], timeout=10, **kw)  # type: ignore[arg-type]


def v(sim: Simulator) -> str:
    return "3" if sim.config.flavor == "cloud" else "2"


def test_server_info_and_myself(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        info = c.get("/rest/api/2/serverInfo").json()
        me = c.get(f"/rest/api/{v(any_sim)}/myself").json()
    if any_sim.config.flavor == "cloud":
        assert (info["deploymentType"], info["version"], info["versionNumbers"]) == (
            "Cloud",
            "1001.0.0-SNAPSHOT",
            [1001, 0, 0],
        )
        assert me["accountId"] and "name" not in me and "key" not in me
    else:
        assert info["deploymentType"] == "Server" and info["versionNumbers"] == [9, 12, 4]
        assert me["name"] == "ops" and me["key"] == "ops" and "accountId" not in me


def test_server_has_no_v3_and_cloud_serves_both(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        r3 = c.get("/rest/api/3/issue/ENG-1")
        r2 = c.get("/rest/api/2/issue/ENG-1")
    assert r2.status_code == 200
    assert r3.status_code == (200 if any_sim.config.flavor == "cloud" else 404)


def test_auth_failures_and_bearer(any_sim: Simulator) -> None:
    with httpx.Client(base_url=any_sim.url or "", timeout=10) as c:
        bad = c.get("/rest/api/2/myself", auth=("ops", "wrong"))
        assert bad.status_code == 401 and bad.json() == {
            "errorMessages": [bad.json()["errorMessages"][0]],
            "errors": {},
        }
        assert c.get("/rest/api/2/myself").status_code == 401
        bearer = {"Authorization": f"Bearer {any_sim.credentials['bearer']}"}
        direct = c.get("/rest/api/2/myself", headers=bearer)
        via_gateway = c.get(f"/ex/jira/{CLOUD_ID}/rest/api/2/myself", headers=bearer)
        if any_sim.config.flavor == "cloud":
            # OAuth tokens work only through the api.atlassian.com-style gateway path.
            assert direct.status_code == 401 and via_gateway.status_code == 200
            issue = c.get(f"/ex/jira/{CLOUD_ID}/rest/api/3/issue/ENG-1", headers=bearer).json()
            assert f"/ex/jira/{CLOUD_ID}/rest/api/3/issue/" in issue["self"]
            res = c.get("/oauth/token/accessible-resources", headers=bearer).json()
            assert res[0]["id"] == CLOUD_ID
        else:
            assert direct.status_code == 200 and via_gateway.status_code == 404


def test_cloud_search_jql_token_paging_and_defaults(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim = sim_factory("cloud", issues=260)
    with client(sim) as c:
        first = c.get("/rest/api/3/search/jql", params={"jql": "project = ENG ORDER BY key"}).json()
        assert set(first) == {"issues", "isLast", "nextPageToken"}
        assert first["issues"][0] == {"id": first["issues"][0]["id"]}, "fields default to id only"
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            body = {"jql": "project = ENG ORDER BY updated, key", "maxResults": 500, "fields": ["updated"]}
            if token:
                body["nextPageToken"] = token
            page = c.post("/rest/api/3/search/jql", json=body).json()
            pages += 1
            assert "total" not in page
            assert len(page["issues"]) <= 100, "clamped to the Cloud page size"
            seen += [i["key"] for i in page["issues"]]
            if page["isLast"]:
                assert "nextPageToken" not in page
                break
            token = page["nextPageToken"]
        assert pages == 2 and len(seen) == len(set(seen)) == 130
        unbounded = c.get("/rest/api/3/search/jql", params={"jql": "order by updated"})
        assert unbounded.status_code == 400 and unbounded.json()["errors"] == {}
        bad = c.get("/rest/api/3/search/jql", params={"jql": "project = ENG AND (", "fields": "id"})
        assert bad.status_code == 400 and "errorMessages" in bad.json()
        gone = c.get("/rest/api/3/search", params={"jql": "project = ENG"})
        assert gone.status_code == 410
        assert c.post("/rest/api/2/search", json={"jql": "project = ENG"}).status_code == 410
    assert [v["kind"] for v in sim.violations] == ["removed_endpoint", "removed_endpoint"]


def test_server_search_offset_paging_clamp_and_window(sim_factory) -> None:  # type: ignore[no-untyped-def]
    sim = sim_factory("server", issues=120, max_page_size=25)
    with client(sim) as c:
        r = c.get(
            "/rest/api/2/search", params={"jql": "project in (ENG, OPS) ORDER BY key", "maxResults": 1000}
        )
        page = r.json()
        assert set(page) >= {"startAt", "maxResults", "total", "issues"}
        assert page["maxResults"] == 25 and len(page["issues"]) == 25 and page["total"] == 120
        assert isinstance(page["issues"][0]["fields"]["description"], (str, type(None)))
        keys = []
        start = 0
        while start < page["total"]:
            p = c.post(
                "/rest/api/2/search", json={"jql": "order by key", "startAt": start, "maxResults": 40}
            ).json()
            keys += [i["key"] for i in p["issues"]]
            start += p["maxResults"]
        assert len(keys) == len(set(keys)) == 120
        beyond = c.get("/rest/api/2/search", params={"jql": "project = ENG", "startAt": 10_000})
        assert beyond.status_code == 400
        assert c.get("/rest/api/2/search/jql", params={"jql": "project = ENG"}).status_code == 404
    assert sim.violations == []


def test_unknown_parameter_is_counted_not_refused(cloud_sim: Simulator) -> None:
    with client(cloud_sim) as c:
        r = c.get("/rest/api/3/issue/ENG-1", params={"fields": "summary", "startAt": 3})
    assert r.status_code == 200
    assert [(v["kind"], v["path"]) for v in cloud_sim.violations] == [
        ("unknown_parameter", "/rest/api/3/issue/ENG-1")
    ]


def test_issue_representation_per_flavor(any_sim: Simulator) -> None:
    ids = FIELD_IDS[any_sim.config.flavor]
    key = next(k for k, i in any_sim.site.issues.items() if i.sprints and i.description and i.assignee)
    with client(any_sim) as c:
        issue = c.get(
            f"/rest/api/{v(any_sim)}/issue/{key}", params={"expand": "names,schema,changelog"}
        ).json()
        v2 = c.get(f"/rest/api/2/issue/{key}").json()
    f = issue["fields"]
    assert f["status"]["statusCategory"]["key"] in ("new", "indeterminate", "done")
    assert issue["names"][ids["sprint"]] == "Sprint"
    assert issue["schema"][ids["sprint"]]["custom"] == "com.pyxis.greenhopper.jira:gh-sprint"
    assert "histories" in issue["changelog"]
    assert isinstance(v2["fields"]["description"], str)
    assert len(f["updated"]) == len("2025-01-31T14:05:09.123+1100") and f["updated"][19] == "."
    if any_sim.config.flavor == "cloud":
        assert f["description"]["type"] == "doc" and f["description"]["version"] == 1
        assert set(f["assignee"]) >= {"accountId", "displayName", "emailAddress", "active", "timeZone"}
        assert "name" not in f["assignee"]
        assert isinstance(f[ids["sprint"]][0], dict) and {"id", "name", "state", "boardId"} <= set(
            f[ids["sprint"]][0]
        )
    else:
        assert set(f["assignee"]) >= {"name", "key", "displayName", "emailAddress", "active"}
        assert f[ids["sprint"]][0].startswith("com.atlassian.greenhopper.service.sprint.Sprint@")
        assert "rapidViewId=" in f[ids["sprint"]][0] and "completeDate=" in f[ids["sprint"]][0]
    with client(any_sim) as c:
        assert c.get(f"/rest/api/{v(any_sim)}/issue/NOPE-1").status_code == 404
        only = c.get(
            f"/rest/api/{v(any_sim)}/issue/{key}", params={"fields": "summary,-summary,labels"}
        ).json()
        assert set(only["fields"]) == {"labels"}


def test_edit_rules(any_sim: Simulator) -> None:
    cloud = any_sim.config.flavor == "cloud"
    ids = FIELD_IDS[any_sim.config.flavor]
    path = f"/rest/api/{v(any_sim)}/issue/ENG-2"
    before = any_sim.issue("ENG-2")["updated"]
    with client(any_sim) as c:
        ok = c.put(
            path,
            json={
                "fields": {
                    "summary": "New summary",
                    ids["story_points"]: 5,
                    ids["team"]: {"value": "Frontend"},
                },
                "update": {"labels": [{"add": "customer"}, {"remove": "perf"}]},
            },
        )
        assert ok.status_code == 204, ok.text
        state = any_sim.issue("ENG-2")
        assert state["summary"] == "New summary" and state["story_points"] == 5.0 and state["team"] == "10301"
        assert "customer" in state["labels"] and "perf" not in state["labels"]
        assert state["updated"] > before and state["changelog"]
        unknown = c.put(path, json={"fields": {"customfield_99999": 1}})
        assert unknown.status_code == 400
        assert unknown.json() == {
            "errorMessages": [],
            "errors": {
                "customfield_99999": (
                    "Field 'customfield_99999' cannot be set. "
                    "It is not on the appropriate screen, or unknown."
                )
            },
        }
        assert c.put(path, json={"fields": {"status": {"name": "Done"}}}).status_code == 400
        right_user = {"accountId": any_sim.site.user("alice").account_id} if cloud else {"name": "alice"}
        wrong_user = {"name": "alice"} if cloud else {"accountId": any_sim.site.user("alice").account_id}
        assert c.put(path, json={"fields": {"assignee": right_user}}).status_code == 204
        assert any_sim.issue("ENG-2")["assignee"] == "alice"
        assert c.put(path, json={"fields": {"assignee": wrong_user}}).status_code == 400
        assert c.put(path, json={"fields": {ids["team"]: {"id": "10302"}}}).status_code == 204
        assert c.put(path, json={"fields": {ids["team"]: {"value": "Marketing"}}}).status_code == 400
        active = next(s.id for s in any_sim.site.sprints.values() if s.state == "active" and s.board_id == 1)
        closed = next(s.id for s in any_sim.site.sprints.values() if s.state == "closed")
        assert c.put(path, json={"fields": {ids["sprint"]: active}}).status_code == 204
        assert active in any_sim.issue("ENG-2")["sprints"]
        assert c.put(path, json={"fields": {ids["sprint"]: [active]}}).status_code == 400
        assert c.put(path, json={"fields": {ids["sprint"]: closed}}).status_code == 400
        if cloud:
            assert c.put(path, json={"fields": {"description": "plain"}}).status_code == 400
            adf = {
                "version": 1,
                "type": "doc",
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hello"}]}],
            }
            assert c.put(path, json={"fields": {"description": adf}}).status_code == 204
            assert (
                c.put("/rest/api/2/issue/ENG-2", json={"fields": {"description": "h1. Title"}}).status_code
                == 204
            )
            assert c.get(path).json()["fields"]["description"]["content"][0]["type"] == "heading"
            # The classic Story Points field exists but is not on this project's screen.
            assert c.put(path, json={"fields": {ids["classic_story_points"]: 3}}).status_code == 400
        else:
            assert c.put(path, json={"fields": {"description": {"type": "doc"}}}).status_code == 400
            assert c.put(path, json={"fields": {"description": "*bold*"}}).status_code == 204
            assert c.get(path).json()["fields"]["description"] == "*bold*"
        bad_json = c.put(path, content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad_json.status_code == 400
    assert [x["kind"] for x in any_sim.violations] == ["bad_body"]


def test_transitions_workflow(any_sim: Simulator) -> None:
    key = any_sim.create_issue("ENG", {"summary": "Walk the workflow"})
    base = f"/rest/api/{v(any_sim)}/issue/{key}/transitions"
    with client(any_sim) as c:
        listed = c.get(base).json()
        assert {t["to"]["name"] for t in listed["transitions"]} == {"In Progress"}
        t = listed["transitions"][0]
        assert set(t) >= {"id", "name", "to", "hasScreen", "isAvailable", "fields"}
        done = c.post(base, json={"transition": {"id": "41"}})
        assert done.status_code == 400, "Done is not one step away from To Do"
        for tid in ("11", "21", "41"):
            assert c.post(base, json={"transition": {"id": tid}}).status_code == 204
    state = any_sim.issue(key)
    assert state["status"] == "Done"
    assert [h["items"][0]["toString"] for h in state["changelog"]] == ["In Progress", "In Review", "Done"]


def test_editmeta_fields_and_create_delete(any_sim: Simulator) -> None:
    ids = FIELD_IDS[any_sim.config.flavor]
    with client(any_sim) as c:
        meta = c.get(f"/rest/api/{v(any_sim)}/issue/ENG-1/editmeta").json()["fields"]
        assert "status" not in meta and ids["story_points"] in meta
        assert {o["value"] for o in meta[ids["team"]]["allowedValues"]} == {"Backend", "Frontend", "Platform"}
        assert meta["labels"]["operations"] == ["add", "set", "remove"]
        fields = c.get(f"/rest/api/{v(any_sim)}/field").json()
        by_id = {f["id"]: f for f in fields}
        assert by_id[ids["sprint"]]["schema"]["custom"] == "com.pyxis.greenhopper.jira:gh-sprint"
        assert by_id[ids["story_points"]]["custom"] is True
        created = c.post(
            f"/rest/api/{v(any_sim)}/issue",
            json={"fields": {"project": {"key": "OPS"}, "summary": "Created", "issuetype": {"name": "Task"}}},
        )
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        assert key.startswith("OPS-") and any_sim.issue(key)["summary"] == "Created"
        assert c.delete(f"/rest/api/{v(any_sim)}/issue/{key}").status_code == 204
        assert c.get(f"/rest/api/{v(any_sim)}/issue/{key}").status_code == 404
        if any_sim.config.flavor == "cloud":
            acc = any_sim.site.user("bob").account_id
            user = c.get("/rest/api/3/user", params={"accountId": acc}).json()
            assert user["accountId"] == acc and user["emailAddress"] is None
        else:
            assert c.get("/rest/api/2/user", params={"username": "bob"}).json()["name"] == "bob"


def test_cloud_bulkfetch(cloud_sim: Simulator) -> None:
    with client(cloud_sim) as c:
        r = c.post(
            "/rest/api/3/issue/bulkfetch",
            json={
                "issueIdsOrKeys": ["ENG-1", "OPS-1", "ENG-999"],
                "fields": ["summary"],
                "expand": ["names"],
            },
        )
        body = r.json()
        # A key that does not exist is left out; issueErrors are for issues Jira could not read this time.
        assert [i["key"] for i in body["issues"]] == ["ENG-1", "OPS-1"] and body["issueErrors"] == []
        cloud_sim.site.lifecycle.set_issue_errors({"OPS-1"})
        r = c.post("/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": ["ENG-1", "OPS-1"]})
        assert [i["key"] for i in r.json()["issues"]] == ["ENG-1"]
        assert r.json()["issueErrors"] == [
            {
                "id": str(cloud_sim.site.find("OPS-1").id),
                "errorMessage": r.json()["issueErrors"][0]["errorMessage"],
            }
        ]
        cloud_sim.site.lifecycle.set_issue_errors(set())
        assert "names" in body["issues"][0]
        too_many = c.post(
            "/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": [f"ENG-{n}" for n in range(101)]}
        )
        assert too_many.status_code == 400
        assert (
            c.post(
                "/rest/api/3/issue/bulkfetch", json={"issueIdsOrKeys": ["ENG-1"], "expand": "names"}
            ).status_code
            == 400
        )


def test_agile_boards_sprints_and_moves(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        boards = c.get("/rest/agile/1.0/board", params={"maxResults": 1}).json()
        assert boards["isLast"] is False and len(boards["values"]) == 1
        sprints = c.get("/rest/agile/1.0/board/1/sprint", params={"state": "active,future"}).json()["values"]
        assert {s["state"] for s in sprints} == {"active", "future"}
        assert set(sprints[0]) >= {"id", "self", "state", "name", "originBoardId", "goal"}
        future = next(s for s in sprints if s["state"] == "future")
        assert "startDate" not in future
        one = c.get(f"/rest/agile/1.0/sprint/{future['id']}").json()
        assert one == future
        before = any_sim.issue("ENG-3")["updated"]
        moved = c.post(f"/rest/agile/1.0/sprint/{future['id']}/issue", json={"issues": ["ENG-3", "ENG-5"]})
        assert moved.status_code == 204
        assert (
            future["id"] in any_sim.issue("ENG-3")["sprints"] and any_sim.issue("ENG-3")["updated"] > before
        )
        in_sprint = c.get(f"/rest/agile/1.0/sprint/{future['id']}/issue").json()
        assert {"ENG-3", "ENG-5"} <= {i["key"] for i in in_sprint["issues"]}
        closed = next(s.id for s in any_sim.site.sprints.values() if s.state == "closed")
        assert c.post(f"/rest/agile/1.0/sprint/{closed}/issue", json={"issues": ["ENG-3"]}).status_code == 400
        assert (
            c.post(
                f"/rest/agile/1.0/sprint/{future['id']}/issue",
                json={"issues": [f"ENG-{n}" for n in range(1, 52)]},
            ).status_code
            == 400
        )
        assert c.post("/rest/agile/1.0/backlog/issue", json={"issues": ["ENG-3"]}).status_code == 204
        assert future["id"] not in any_sim.issue("ENG-3")["sprints"]
        board_issues = c.get("/rest/agile/1.0/board/1/issue", params={"maxResults": 5}).json()
        assert len(board_issues["issues"]) == 5 and board_issues["total"] == 100


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_seeded_data_is_deterministic(flavor: str) -> None:
    from jira_console.simulator import SimConfig
    from jira_console.simulator.state import Site

    a = Site(SimConfig(flavor=flavor, issues=50, seed=9))  # type: ignore[arg-type]
    b = Site(SimConfig(flavor=flavor, issues=50, seed=9))  # type: ignore[arg-type]
    c = Site(SimConfig(flavor=flavor, issues=50, seed=10))  # type: ignore[arg-type]
    assert [(i.key, i.updated, i.summary) for i in a.issues.values()] == [
        (i.key, i.updated, i.summary) for i in b.issues.values()
    ]
    assert [i.updated for i in a.issues.values()] != [i.updated for i in c.issues.values()]
