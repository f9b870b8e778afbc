"""Bulk create (``POST /rest/api/{2,3}/issue/bulk``) in the simulator, over real HTTP on both flavors.

Up to 50 ``issueUpdates``, each created exactly as ``POST /issue`` creates it. Elements Jira refuses are
reported by their 0-based index (``failedElementNumber``) and do not stop the others: 201 when any issue was
created, 400 with the same ``CreatedIssues`` body when none was. A body Jira cannot read at all is a plain
400 error envelope and creates nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from jira_console.simulator import Simulator

ADF = {
    "version": 1,
    "type": "doc",
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "From ADF"}]}],
}
ADF_REFUSED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
PROJECT_REFUSED = {"project": "Specify a valid project ID or key"}


def client(sim: Simulator) -> httpx.Client:
    return httpx.Client(base_url=sim.url or "", auth=sim.credentials["basic"], timeout=10)


def v(sim: Simulator) -> str:
    return "3" if sim.config.flavor == "cloud" else "2"


def element(summary: str, project: str = "ENG", **extra: Any) -> dict[str, Any]:
    fields = {"project": {"key": project}, "summary": summary, "issuetype": {"name": "Task"}}
    return {"fields": {**fields, **extra.pop("fields", {})}, **extra}


def bulk(c: httpx.Client, sim: Simulator, updates: Any, version: str | None = None) -> httpx.Response:
    return c.post(f"/rest/api/{version or v(sim)}/issue/bulk", json={"issueUpdates": updates})


def next_issue(c: httpx.Client, sim: Simulator) -> tuple[int, int]:
    """Create one issue the single way and return (its id, its ENG number): what a bulk create follows."""
    made = c.post(f"/rest/api/{v(sim)}/issue", json=element("marker"))
    assert made.status_code == 201
    return int(made.json()["id"]), int(made.json()["key"].split("-")[1])


def created(sim: Simulator, issue_id: int, key: str, version: str | None = None) -> dict[str, str]:
    return {
        "id": str(issue_id),
        "key": key,
        "self": f"{sim.url}/rest/api/{version or v(sim)}/issue/{issue_id}",
    }


def failed(
    number: int, errors: dict[str, str] | None = None, messages: list[str] | None = None
) -> dict[str, Any]:
    return {
        "status": 400,
        "elementErrors": {"errorMessages": messages or [], "errors": errors or {}},
        "failedElementNumber": number,
    }


# ------------------------------------------------------------------------------------- partial success
@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (element("unknown project", project="NOPE"), failed(1, PROJECT_REFUSED)),
        (
            {"fields": {"project": {"key": "ENG"}, "issuetype": {"name": "Task"}}},
            failed(1, {"summary": "You must specify a summary of the issue."}),
        ),
        (
            element("bad properties", properties={"key": "a", "value": 1}),
            failed(1, messages=["properties must be an array of entity properties."]),
        ),
        (element("no project at all", fields={"project": None}), failed(1, PROJECT_REFUSED)),
        (element("project by a bad id", fields={"project": {"id": "abc"}}), failed(1, PROJECT_REFUSED)),
    ],
)
def test_a_failing_middle_element_does_not_stop_the_others(
    any_sim: Simulator, bad: dict[str, Any], expected: dict[str, Any]
) -> None:
    with client(any_sim) as c:
        first_id, number = next_issue(c, any_sim)
        before = len(any_sim.site.issues)
        r = bulk(
            c,
            any_sim,
            [
                element("first of three", properties=[{"key": "row", "value": {"n": 1}}]),
                bad,
                element(
                    "third of three",
                    properties=[{"key": "row", "value": {"n": 3}}, {"key": "f", "value": True}],
                ),
            ],
        )
    one, three = f"ENG-{number + 1}", f"ENG-{number + 2}"
    assert r.status_code == 201
    assert r.json() == {
        "issues": [created(any_sim, first_id + 1, one), created(any_sim, first_id + 2, three)],
        "errors": [expected],
    }
    assert len(any_sim.site.issues) == before + 2
    assert (any_sim.issue(one)["summary"], any_sim.issue(three)["summary"]) == (
        "first of three",
        "third of three",
    )
    assert any_sim.issue_properties(one) == {"row": {"n": 1}}
    assert any_sim.issue_properties(three) == {"row": {"n": 3}, "f": True}
    assert any_sim.violations == []


def test_project_by_id_and_other_fields_are_taken_like_the_single_create(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        first_id, number = next_issue(c, any_sim)
        r = bulk(
            c,
            any_sim,
            [
                {
                    "fields": {
                        "project": {"id": "10001"},
                        "summary": "in OPS by id",
                        "issuetype": {"name": "Bug"},
                    }
                },
                element("labelled", fields={"labels": ["x", "y"], "priority": {"name": "High"}}),
            ],
        )
    assert r.status_code == 201
    issues = r.json()["issues"]
    assert [i["id"] for i in issues] == [str(first_id + 1), str(first_id + 2)]
    assert issues[1]["key"] == f"ENG-{number + 1}"
    ops = any_sim.issue(issues[0]["key"])
    assert (ops["project"], ops["issuetype"], ops["summary"]) == ("OPS", "Bug", "in OPS by id")
    eng = any_sim.issue(issues[1]["key"])
    assert (eng["labels"], eng["priority"], eng["reporter"]) == (["x", "y"], "High", any_sim.site.me.name)
    assert r.json()["errors"] == []


def test_each_created_issue_fires_its_own_webhook(sim_factory: Any) -> None:
    for flavor in ("cloud", "server"):
        sim = sim_factory(flavor, webhook_retry_delays=())
        sim.add_webhook_target("http://127.0.0.1:9/unreachable")
        with client(sim) as c:
            r = bulk(c, sim, [element("hook one"), element("refused", project="NOPE"), element("hook two")])
        assert r.status_code == 201
        assert sim.wait_for_webhooks(10)
        bodies = [json.loads(d["body"]) for d in sim.webhook_deliveries]
        assert [(b["webhookEvent"], b["issue"]["key"]) for b in bodies] == [
            ("jira:issue_created", r.json()["issues"][0]["key"]),
            ("jira:issue_created", r.json()["issues"][1]["key"]),
        ]


# ------------------------------------------------------------------------------------------- all failing
def test_when_every_element_fails_the_answer_is_400_with_the_same_body(any_sim: Simulator) -> None:
    before = len(any_sim.site.issues)
    with client(any_sim) as c:
        r = bulk(
            c,
            any_sim,
            [
                element("nowhere", project="NOPE"),
                element("  "),
                element("bad type", fields={"issuetype": {"name": "Nonsense"}}),
            ],
        )
    assert r.status_code == 400
    body = r.json()
    assert body["issues"] == []
    assert body == {
        "issues": [],
        "errors": [
            failed(0, PROJECT_REFUSED),
            failed(1, {"summary": "You must specify a summary of the issue."}),
            failed(2, {"issuetype": "Specify a valid 'issue type' name"}),
        ],
    }
    assert len(any_sim.site.issues) == before
    assert any_sim.violations == []


# ------------------------------------------------------------------------------------------------ limits
def test_fifty_elements_are_taken(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        r = bulk(c, any_sim, [element(f"batch {n}") for n in range(50)])
    assert r.status_code == 201
    issues = r.json()["issues"]
    assert len(issues) == 50 and r.json()["errors"] == []
    assert [any_sim.issue(i["key"])["summary"] for i in issues] == [f"batch {n}" for n in range(50)]


def test_fifty_one_elements_are_refused_and_nothing_is_created(any_sim: Simulator) -> None:
    before = len(any_sim.site.issues)
    with client(any_sim) as c:
        r = bulk(c, any_sim, [element(f"batch {n}") for n in range(51)])
    assert r.status_code == 400
    assert r.json() == {
        "errorMessages": ["You can create at most 50 issues in one request; 51 were sent."],
        "errors": {},
    }
    assert len(any_sim.site.issues) == before


def test_an_empty_list_is_refused(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        r = bulk(c, any_sim, [])
    assert r.status_code == 400
    assert r.json() == {
        "errorMessages": ["No issues to create were supplied: issueUpdates is empty."],
        "errors": {},
    }


# ------------------------------------------------------------------------------------------ bad bodies
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([element("a list, not an object")], "Can not deserialize instance of dict from the request body"),
        ({}, "Can not deserialize the request body: issueUpdates must be a JSON array."),
        ({"issueUpdates": None}, "Can not deserialize the request body: issueUpdates must be a JSON array."),
        (
            {"issueUpdates": element("x")},
            "Can not deserialize the request body: issueUpdates must be a JSON array.",
        ),
        (
            {"issueUpdates": [element("fine"), "not an object"]},
            "Can not deserialize the request body: an issue to create must be a JSON object.",
        ),
        (
            {"issueUpdates": [element("fine"), {"fields": "summary"}]},
            "Can not deserialize the request body: fields must be a JSON object.",
        ),
        (
            {"issueUpdates": [{**element("fine"), "update": []}]},
            "Can not deserialize the request body: update must be a JSON object.",
        ),
        (
            {"issueUpdates": [{**element("fine"), "bogus": 1}]},
            'Unrecognized field "bogus" (Class IssueUpdateBean), not marked as ignorable',
        ),
        (
            {"issueUpdates": [element("fine")], "extra": 1},
            'Unrecognized field "extra" (Class SearchRequestBean), not marked as ignorable',
        ),
    ],
)
def test_malformed_bodies_are_400_create_nothing_and_are_recorded(
    any_sim: Simulator, body: Any, message: str
) -> None:
    before = len(any_sim.site.issues)
    with client(any_sim) as c:
        r = c.post(f"/rest/api/{v(any_sim)}/issue/bulk", json=body)
    assert r.status_code == 400
    assert r.json() == {"errorMessages": [message], "errors": {}}
    assert len(any_sim.site.issues) == before
    assert [x["kind"] for x in any_sim.violations] == ["bad_body"]


def test_malformed_json_is_400_and_recorded(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        r = c.post(
            f"/rest/api/{v(any_sim)}/issue/bulk",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 400
    assert r.json()["errorMessages"][0].startswith("Unexpected character: ")
    assert [x["kind"] for x in any_sim.violations] == ["bad_body"]


def test_single_create_refuses_fields_that_are_not_an_object(any_sim: Simulator) -> None:
    before = len(any_sim.site.issues)
    with client(any_sim) as c:
        r = c.post(f"/rest/api/{v(any_sim)}/issue", json={"fields": ["summary"]})
    assert r.status_code == 400
    assert r.json() == {
        "errorMessages": ["Can not deserialize the request body: fields must be a JSON object."],
        "errors": {},
    }
    assert len(any_sim.site.issues) == before
    assert [x["kind"] for x in any_sim.violations] == ["bad_body"]


# ------------------------------------------------------------------------------------------- rich text
def test_cloud_v3_takes_adf_and_v2_takes_wiki(cloud_sim: Simulator) -> None:
    with client(cloud_sim) as c:
        first_id, _ = next_issue(c, cloud_sim)
        v3 = bulk(
            c,
            cloud_sim,
            [
                element("adf", fields={"description": ADF}),
                element("wiki on v3", fields={"description": "h1. Title"}),
            ],
            "3",
        )
        v2 = bulk(
            c,
            cloud_sim,
            [
                element("wiki on v2", fields={"description": "h1. Title"}),
                element("adf on v2", fields={"description": ADF}),
            ],
            "2",
        )
    assert v3.status_code == 201
    assert v3.json()["errors"] == [failed(1, {"description": ADF_REFUSED})]
    assert v3.json()["issues"] == [created(cloud_sim, first_id + 1, v3.json()["issues"][0]["key"], "3")]
    assert cloud_sim.issue(v3.json()["issues"][0]["key"])["description"] == ADF
    assert v2.status_code == 201
    assert v2.json()["errors"] == [failed(1, {"description": "Operation value must be a string"})]
    assert v2.json()["issues"] == [created(cloud_sim, first_id + 2, v2.json()["issues"][0]["key"], "2")]
    assert cloud_sim.issue(v2.json()["issues"][0]["key"])["description"] == {
        "version": 1,
        "type": "doc",
        "content": [
            {"type": "heading", "attrs": {"level": 1}, "content": [{"type": "text", "text": "Title"}]}
        ],
    }


def test_server_v2_takes_wiki_and_has_no_v3(server_sim: Simulator) -> None:
    with client(server_sim) as c:
        r = bulk(
            c,
            server_sim,
            [element("wiki", fields={"description": "*bold*"}), element("adf", fields={"description": ADF})],
        )
        v3 = bulk(c, server_sim, [element("v3")], "3")
    assert r.status_code == 201
    assert server_sim.issue(r.json()["issues"][0]["key"])["description"] == "*bold*"
    assert r.json()["errors"] == [failed(1, {"description": "Operation value must be a string"})]
    assert v3.status_code == 404


# ---------------------------------------------------------------------------------------- conformance
@pytest.mark.conformance
def test_bulk_answers_are_declared_by_the_platform_spec(samples: Path, cloud_sim: Simulator) -> None:
    spec = json.loads((samples / "specs/jira-cloud-platform-v3.openapi.json").read_text())
    schemas = spec["components"]["schemas"]
    op = spec["paths"]["/rest/api/3/issue/bulk"]["post"]
    assert set(op["responses"]) >= {"201", "400"}
    with client(cloud_sim) as c:
        some = bulk(c, cloud_sim, [element("ok"), element("refused", project="NOPE")])
        none = bulk(c, cloud_sim, [element("refused", project="NOPE")])
    for r, status in ((some, 201), (none, 400)):
        assert r.status_code == status
        ref = op["responses"][str(status)]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/CreatedIssues"
        body = r.json()
        assert set(body) == set(schemas["CreatedIssues"]["properties"])
        for issue in body["issues"]:
            assert {"id", "key", "self"} == set(issue) and set(issue) <= set(
                schemas["CreatedIssue"]["properties"]
            )
        for error in body["errors"]:
            assert set(error) == set(schemas["BulkOperationErrorResult"]["properties"])
            assert set(error["elementErrors"]) <= set(schemas["ErrorCollection"]["properties"])
    assert len(some.json()["issues"]) == 1 and none.json()["issues"] == []
