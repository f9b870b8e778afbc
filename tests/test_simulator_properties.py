"""Issue entity properties in the simulator, over real HTTP on both flavors.

Jira stores arbitrary JSON against an issue (``/issue/{key}/properties/{propertyKey}``, the ``properties``
list of create and edit bodies) and returns the requested ones from reads and searches. They belong to the
issue id, are not fields: setting one moves no ``updated`` and fires no webhook.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jira_console.simulator import Simulator, lifecycle
from jira_console.simulator.edits import EditError

ERRORS = {"errorMessages", "errors"}
BIG = "x" * (32_768 - 2)
"""A JSON string value of exactly 32,768 bytes (the two quotes count)."""


def client(sim: Simulator) -> httpx.Client:
    return httpx.Client(base_url=sim.url or "", auth=sim.credentials["basic"], timeout=10)


def v(sim: Simulator) -> str:
    return "3" if sim.config.flavor == "cloud" else "2"


def create(
    c: httpx.Client, sim: Simulator, properties: Any, summary: str = "with properties"
) -> httpx.Response:
    fields = {"project": {"key": "ENG"}, "summary": summary, "issuetype": {"name": "Task"}}
    return c.post(f"/rest/api/{v(sim)}/issue", json={"fields": fields, "properties": properties})


def props_url(sim: Simulator, key: str, prop: str | None = None) -> str:
    url = f"/rest/api/{v(sim)}/issue/{key}/properties"
    return url if prop is None else f"{url}/{prop}"


# ------------------------------------------------------------------------------------------- create + read
def test_create_with_properties_and_read_them_back(any_sim: Simulator) -> None:
    meta = {"row": 42, "tags": ["a", "b"], "nested": {"ok": None}}
    with client(any_sim) as c:
        made = create(c, any_sim, [{"key": "sync.meta", "value": meta}, {"key": "flag", "value": True}])
        assert made.status_code == 201
        key = made.json()["key"]
        keys = c.get(props_url(any_sim, key))
        one = c.get(props_url(any_sim, key, "sync.meta"))
        flag = c.get(props_url(any_sim, key, "flag"))
    base = f"{any_sim.url}/rest/api/{v(any_sim)}/issue/{key}/properties"
    assert keys.status_code == 200
    assert keys.json() == {
        "keys": [{"self": f"{base}/flag", "key": "flag"}, {"self": f"{base}/sync.meta", "key": "sync.meta"}]
    }
    assert (one.status_code, one.json()) == (200, {"key": "sync.meta", "value": meta})
    assert flag.json() == {"key": "flag", "value": True}
    assert any_sim.issue_properties(key) == {"sync.meta": meta, "flag": True}
    assert any_sim.violations == []


def test_an_issue_without_properties_lists_none(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        r = c.get(props_url(any_sim, "ENG-1"))
        missing = c.get(props_url(any_sim, "ENG-1", "nope"))
    assert (r.status_code, r.json()) == (200, {"keys": []})
    assert missing.status_code == 404
    assert missing.json() == {"errorMessages": ["The property with key 'nope' does not exist."], "errors": {}}
    assert any_sim.issue_properties("ENG-1") == {}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"key": "a", "value": 1}, "properties must be an array of entity properties."),
        ([{"key": "a"}], "Each entity property must be an object with a 'key' and a 'value'."),
        ([{"value": 1}], "Each entity property must be an object with a 'key' and a 'value'."),
        (["a"], "Each entity property must be an object with a 'key' and a 'value'."),
        ([{"key": 7, "value": 1}], "The property key cannot be empty."),
        ([{"key": "", "value": 1}], "The property key cannot be empty."),
        ([{"key": "k" * 256, "value": 1}], "The property key cannot be longer than 255 characters."),
        ([{"key": "a", "value": BIG + "y"}], "The property value cannot be longer than 32768 characters."),
        (
            [{"key": "a", "value": 1, "extra": 2}],
            'Unrecognized field "extra" (Class EntityProperty), not marked as ignorable',
        ),
    ],
)
def test_create_refuses_bad_properties_and_creates_nothing(
    any_sim: Simulator, properties: Any, message: str
) -> None:
    before = len(any_sim.site.issues)
    with client(any_sim) as c:
        r = create(c, any_sim, properties)
    assert r.status_code == 400
    assert r.json() == {"errorMessages": [message], "errors": {}}
    assert len(any_sim.site.issues) == before


def test_create_takes_values_and_keys_at_the_limits(any_sim: Simulator) -> None:
    long_key = "k" * 255
    assert len(json.dumps(BIG).encode()) == 32_768
    with client(any_sim) as c:
        made = create(c, any_sim, [{"key": long_key, "value": BIG}, {"key": "ü", "value": "é" * 10}])
    assert made.status_code == 201
    assert any_sim.issue_properties(made.json()["key"]) == {long_key: BIG, "ü": "é" * 10}


def test_value_limit_counts_utf8_bytes(any_sim: Simulator) -> None:
    # 16,384 two-byte characters and their quotes: 32,770 bytes although only 16,386 characters.
    with client(any_sim) as c:
        r = create(c, any_sim, [{"key": "wide", "value": "é" * 16_384}])
    assert r.status_code == 400
    assert r.json()["errorMessages"] == ["The property value cannot be longer than 32768 characters."]


# ----------------------------------------------------------------------------------- property endpoints
def test_put_get_delete_statuses(any_sim: Simulator) -> None:
    url = props_url(any_sim, "ENG-3", "app.state")
    with client(any_sim) as c:
        first = c.put(url, json={"step": 1})
        second = c.put(url, json={"step": 2})
        got = c.get(url)
        gone = c.delete(url)
        after = c.get(url)
        again = c.delete(url)
        listed = c.get(props_url(any_sim, "ENG-3"))
    assert (first.status_code, first.content) == (201, b"")
    assert (second.status_code, second.content) == (200, b"")
    assert got.json() == {"key": "app.state", "value": {"step": 2}}
    assert (gone.status_code, gone.content) == (204, b"")
    assert after.status_code == 404 and set(after.json()) == ERRORS
    assert again.status_code == 404
    assert again.json() == {
        "errorMessages": ["The property with key 'app.state' does not exist."],
        "errors": {},
    }
    assert listed.json() == {"keys": []}
    assert any_sim.issue_properties("ENG-3") == {}


@pytest.mark.parametrize("value", [0, False, None, "text", [1, 2], {"a": {"b": [None]}}])
def test_any_json_document_is_a_value(any_sim: Simulator, value: Any) -> None:
    url = props_url(any_sim, "ENG-4", "any")
    with client(any_sim) as c:
        put = c.put(url, content=json.dumps(value), headers={"Content-Type": "application/json"})
        got = c.get(url)
    assert put.status_code == 201
    assert got.json() == {"key": "any", "value": value}


def test_put_refuses_bad_bodies(any_sim: Simulator) -> None:
    url = props_url(any_sim, "ENG-5", "p")
    headers = {"Content-Type": "application/json"}
    with client(any_sim) as c:
        empty = c.put(url, content=b"", headers=headers)
        broken = c.put(url, content=b"{nope", headers=headers)
        big = c.put(url, json=BIG + "y")
        long_key = c.put(props_url(any_sim, "ENG-5", "k" * 256), json=1)
        exact = c.put(url, json=BIG)
    assert empty.json() == {"errorMessages": ["The property value cannot be empty."], "errors": {}}
    assert broken.json() == {
        "errorMessages": ["The property value is not a valid JSON document."],
        "errors": {},
    }
    assert big.json() == {
        "errorMessages": ["The property value cannot be longer than 32768 characters."],
        "errors": {},
    }
    assert long_key.json() == {
        "errorMessages": ["The property key cannot be longer than 255 characters."],
        "errors": {},
    }
    assert [r.status_code for r in (empty, broken, big, long_key, exact)] == [400, 400, 400, 400, 201]
    assert any_sim.issue_properties("ENG-5") == {"p": BIG}
    assert sorted(x["kind"] for x in any_sim.violations) == ["bad_body", "bad_body"]


def test_property_endpoints_of_a_missing_issue_are_404(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        answers = [
            c.get(props_url(any_sim, "ENG-99999")),
            c.get(props_url(any_sim, "ENG-99999", "p")),
            c.put(props_url(any_sim, "ENG-99999", "p"), json=1),
            c.delete(props_url(any_sim, "ENG-99999", "p")),
        ]
    for r in answers:
        assert r.status_code == 404
        assert r.json() == {
            "errorMessages": ["Issue does not exist or you do not have permission to see it."],
            "errors": {},
        }


def test_issue_id_works_like_the_key(any_sim: Simulator) -> None:
    issue_id = str(any_sim.issue("ENG-6")["id"])
    with client(any_sim) as c:
        assert c.put(props_url(any_sim, issue_id, "by.id"), json=[1]).status_code == 201
        by_key = c.get(props_url(any_sim, "ENG-6", "by.id")).json()
    assert by_key == {"key": "by.id", "value": [1]}


def test_server_has_no_v3_property_endpoints(server_sim: Simulator) -> None:
    with client(server_sim) as c:
        r = c.get("/rest/api/3/issue/ENG-1/properties")
    assert r.status_code == 404


# ---------------------------------------------------------------------- not a field: no updated, no hook
def test_properties_move_no_updated_and_fire_no_webhook(sim_factory: Any) -> None:
    for flavor in ("cloud", "server"):
        sim = sim_factory(flavor, webhook_retry_delays=())
        sim.add_webhook_target("http://127.0.0.1:9/unreachable")
        before = sim.issue("ENG-7")
        with client(sim) as c:
            assert c.put(props_url(sim, "ENG-7", "p"), json={"a": 1}).status_code == 201
            assert c.put(props_url(sim, "ENG-7", "p"), json={"a": 2}).status_code == 200
            edit = c.put(f"/rest/api/{v(sim)}/issue/ENG-7", json={"properties": [{"key": "q", "value": 3}]})
            assert edit.status_code == 204
            assert c.delete(props_url(sim, "ENG-7", "p")).status_code == 204
        sim.set_issue_property("ENG-7", "r", "control api")
        assert sim.wait_for_webhooks(10)
        after = sim.issue("ENG-7")
        assert (after["updated"], after["changelog"]) == (before["updated"], before["changelog"])
        assert sim.webhook_deliveries == []
        assert sim.issue_properties("ENG-7") == {"q": 3, "r": "control api"}
        # The positive control: a field edit does both.
        sim.edit_issue("ENG-7", {"summary": "a field this time"})
        assert sim.wait_for_webhooks(10)
        assert [json.loads(d["body"])["webhookEvent"] for d in sim.webhook_deliveries] == [
            "jira:issue_updated"
        ]
        assert sim.issue("ENG-7")["updated"] >= before["updated"]
        assert len(sim.issue("ENG-7")["changelog"]) == len(before["changelog"]) + 1


# ----------------------------------------------------------------------------------- edit and transition
def test_issue_edit_sets_properties_with_fields(any_sim: Simulator) -> None:
    with client(any_sim) as c:
        r = c.put(
            f"/rest/api/{v(any_sim)}/issue/ENG-8",
            json={
                "fields": {"summary": "edited with a property"},
                "properties": [{"key": "a", "value": 1}, {"key": "b", "value": {"x": "y"}}],
            },
        )
        again = c.put(f"/rest/api/{v(any_sim)}/issue/ENG-8", json={"properties": [{"key": "a", "value": 2}]})
    assert (r.status_code, again.status_code) == (204, 204)
    assert any_sim.issue("ENG-8")["summary"] == "edited with a property"
    assert any_sim.issue_properties("ENG-8") == {"a": 2, "b": {"x": "y"}}


def test_a_refused_edit_sets_no_property_and_no_field(any_sim: Simulator) -> None:
    summary = any_sim.issue("ENG-9")["summary"]
    with client(any_sim) as c:
        bad_prop = c.put(
            f"/rest/api/{v(any_sim)}/issue/ENG-9",
            json={"fields": {"summary": "not applied"}, "properties": [{"key": "k" * 256, "value": 1}]},
        )
        bad_field = c.put(
            f"/rest/api/{v(any_sim)}/issue/ENG-9",
            json={"fields": {"customfield_99999": 1}, "properties": [{"key": "ok", "value": 1}]},
        )
    assert bad_prop.status_code == 400
    assert bad_prop.json() == {
        "errorMessages": ["The property key cannot be longer than 255 characters."],
        "errors": {},
    }
    assert bad_field.status_code == 400 and set(bad_field.json()) == ERRORS
    assert any_sim.issue("ENG-9")["summary"] == summary
    assert any_sim.issue_properties("ENG-9") == {}


def test_transition_sets_properties(any_sim: Simulator) -> None:
    key = any_sim.create_issue("ENG", {"summary": "to start", "issuetype": "Task"})
    with client(any_sim) as c:
        r = c.post(
            f"/rest/api/{v(any_sim)}/issue/{key}/transitions",
            json={"transition": {"id": "11"}, "properties": [{"key": "started.by", "value": "robot"}]},
        )
    assert r.status_code == 204
    assert any_sim.issue(key)["status"] == "In Progress"
    assert any_sim.issue_properties(key) == {"started.by": "robot"}


# ---------------------------------------------------------------------------------------------- reads
def _seed_three(sim: Simulator) -> list[str]:
    """Three new ENG issues: one with a and b, one with b only, one with none."""
    return [
        sim.create_issue("ENG", {"summary": "p1", "issuetype": "Task"}, properties={"a": 1, "b": {"n": 1}}),
        sim.create_issue("ENG", {"summary": "p2", "issuetype": "Task"}, properties={"b": [2]}),
        sim.create_issue("ENG", {"summary": "p3", "issuetype": "Task"}),
    ]


def test_issue_get_returns_the_requested_properties(any_sim: Simulator) -> None:
    k1, _, k3 = _seed_three(any_sim)
    any_sim.set_issue_property(k1, "c", "three")
    url = f"/rest/api/{v(any_sim)}/issue/{k1}"
    with client(any_sim) as c:
        plain = c.get(url).json()
        named = c.get(url, params={"properties": "a,missing"}).json()
        twice = c.get(url, params=[("properties", "a"), ("properties", "c")]).json()
        every = c.get(url, params={"properties": "*all"}).json()
        but_b = c.get(url, params={"properties": "*all,-b"}).json()
        none = c.get(f"/rest/api/{v(any_sim)}/issue/{k3}", params={"properties": "a"}).json()
    assert "properties" not in plain
    assert named["properties"] == {"a": 1}
    assert twice["properties"] == {"a": 1, "c": "three"}
    assert every["properties"] == {"a": 1, "b": {"n": 1}, "c": "three"}
    assert but_b["properties"] == {"a": 1, "c": "three"}
    assert none["properties"] == {}
    assert named["fields"] == plain["fields"]
    assert any_sim.violations == []


def test_cloud_search_jql_returns_requested_properties(cloud_sim: Simulator) -> None:
    keys = _seed_three(cloud_sim)
    jql = f"key in ({', '.join(keys)}) ORDER BY key ASC"
    with client(cloud_sim) as c:
        plain = c.get("/rest/api/3/search/jql", params={"jql": jql, "fields": "summary"}).json()
        got = c.get(
            "/rest/api/3/search/jql", params={"jql": jql, "fields": "summary", "properties": "a,b"}
        ).json()
        ids_only = c.post("/rest/api/3/search/jql", json={"jql": jql, "properties": ["b"]}).json()
        posted = c.post(
            "/rest/api/3/search/jql", json={"jql": jql, "fields": ["summary"], "properties": ["a"]}
        ).json()
        six = c.get("/rest/api/3/search/jql", params={"jql": jql, "properties": "a,b,c,d,e,f"})
        six_post = c.post("/rest/api/3/search/jql", json={"jql": jql, "properties": list("abcdef")})
        not_list = c.post("/rest/api/3/search/jql", json={"jql": jql, "properties": [1]})
    assert all("properties" not in i for i in plain["issues"])
    assert [(i["key"], i["properties"]) for i in got["issues"]] == [
        (keys[0], {"a": 1, "b": {"n": 1}}),
        (keys[1], {"b": [2]}),
        (keys[2], {}),
    ]
    assert [i["fields"] for i in got["issues"]] == [i["fields"] for i in plain["issues"]]
    ids = [str(cloud_sim.issue(k)["id"]) for k in keys]
    assert ids_only["issues"] == [
        {"id": ids[0], "properties": {"b": {"n": 1}}},
        {"id": ids[1], "properties": {"b": [2]}},
        {"id": ids[2], "properties": {}},
    ]
    assert [i["properties"] for i in posted["issues"]] == [{"a": 1}, {}, {}]
    for bad in (six, six_post):
        assert bad.status_code == 400
        assert bad.json() == {
            "errorMessages": ["You can request at most 5 issue properties; 6 were requested."],
            "errors": {},
        }
    assert not_list.status_code == 400
    assert not_list.json() == {"errorMessages": ["properties must be a list of strings."], "errors": {}}


def test_server_search_returns_requested_properties(server_sim: Simulator) -> None:
    keys = _seed_three(server_sim)
    jql = f"key in ({', '.join(keys)}) ORDER BY key ASC"
    with client(server_sim) as c:
        plain = c.get("/rest/api/2/search", params={"jql": jql, "fields": "summary"}).json()
        got = c.get("/rest/api/2/search", params={"jql": jql, "fields": "summary", "properties": "b"}).json()
        posted = c.post(
            "/rest/api/2/search", json={"jql": jql, "fields": ["summary"], "properties": ["a", "b"]}
        )
        five = c.get("/rest/api/2/search", params={"jql": jql, "properties": "a,b,c,d,e"})
        six = c.get("/rest/api/2/search", params={"jql": jql, "properties": "a,b,c,d,e,f"})
    assert plain["total"] == 3 and all("properties" not in i for i in plain["issues"])
    assert [(i["key"], i["properties"]) for i in got["issues"]] == [
        (keys[0], {"b": {"n": 1}}),
        (keys[1], {"b": [2]}),
        (keys[2], {}),
    ]
    assert [i["properties"] for i in posted.json()["issues"]] == [{"a": 1, "b": {"n": 1}}, {"b": [2]}, {}]
    assert five.status_code == 200
    assert six.status_code == 400
    assert six.json() == {
        "errorMessages": ["You can request at most 5 issue properties; 6 were requested."],
        "errors": {},
    }


def test_cloud_bulkfetch_returns_requested_properties(cloud_sim: Simulator) -> None:
    keys = _seed_three(cloud_sim)
    body: dict[str, Any] = {"issueIdsOrKeys": keys, "fields": ["summary"]}
    with client(cloud_sim) as c:
        plain = c.post("/rest/api/3/issue/bulkfetch", json={**body, "properties": []}).json()
        got = c.post("/rest/api/3/issue/bulkfetch", json={**body, "properties": ["a", "b"]}).json()
        six = c.post("/rest/api/3/issue/bulkfetch", json={**body, "properties": list("abcdef")})
    assert all("properties" not in i for i in plain["issues"])
    assert {i["key"]: i["properties"] for i in got["issues"]} == {
        keys[0]: {"a": 1, "b": {"n": 1}},
        keys[1]: {"b": [2]},
        keys[2]: {},
    }
    assert six.status_code == 400
    assert six.json()["errorMessages"] == ["You can request at most 5 issue properties; 6 were requested."]


# ------------------------------------------------------------------------------ moves, renames, deletes
def test_properties_follow_moves_and_renames(any_sim: Simulator) -> None:
    key = any_sim.create_issue("ENG", {"summary": "travels", "issuetype": "Task"}, properties={"p": "kept"})
    moved = lifecycle.move_issue(any_sim.site, key, "OPS", "other")
    assert moved.startswith("OPS-") and moved != key
    with client(any_sim) as c:
        new = c.get(props_url(any_sim, moved, "p"))
        old = c.get(props_url(any_sim, key, "p"))
        listed = c.get(props_url(any_sim, moved)).json()
    assert new.json() == old.json() == {"key": "p", "value": "kept"}
    base = f"{any_sim.url}/rest/api/{v(any_sim)}/issue/{moved}/properties"
    assert listed == {"keys": [{"self": f"{base}/p", "key": "p"}]}
    renamed = lifecycle.rename_project(any_sim.site, "OPS", "NEWOPS")
    assert any_sim.issue_properties(renamed[moved]) == {"p": "kept"}


def test_properties_go_with_a_deleted_issue(any_sim: Simulator) -> None:
    key = any_sim.create_issue("ENG", {"summary": "doomed", "issuetype": "Task"}, properties={"p": 1})
    issue_id = int(any_sim.issue(key)["id"])
    with client(any_sim) as c:
        assert c.delete(f"/rest/api/{v(any_sim)}/issue/{key}").status_code == 204
        r = c.get(props_url(any_sim, key, "p"))
    assert r.status_code == 404
    assert issue_id not in any_sim.site.properties
    with pytest.raises(KeyError):
        any_sim.issue_properties(key)


# ----------------------------------------------------------------------------------------- control API
def test_control_api(any_sim: Simulator) -> None:
    key = any_sim.create_issue("ENG", {"summary": "ctl", "issuetype": "Task"}, properties={"d": {"l": [1]}})
    copy = any_sim.issue_properties(key)
    copy["d"]["l"].append(2)
    assert any_sim.issue_properties(key) == {"d": {"l": [1]}}, "a copy, not the live state"
    assert any_sim.set_issue_property(key, "e", 5) is True
    assert any_sim.set_issue_property(key, "e", 6) is False
    assert any_sim.delete_issue_property(key, "d") is True
    assert any_sim.delete_issue_property(key, "d") is False
    assert any_sim.issue_properties(key) == {"e": 6}
    before = len(any_sim.site.issues)
    with pytest.raises(EditError):
        any_sim.create_issue("ENG", {"summary": "x", "issuetype": "Task"}, properties={"k" * 256: 1})
    with pytest.raises(EditError):
        any_sim.set_issue_property(key, "big", BIG + "y")
    assert len(any_sim.site.issues) == before
    with pytest.raises(KeyError):
        any_sim.set_issue_property("ENG-99999", "p", 1)
    with pytest.raises(KeyError):
        any_sim.delete_issue_property("ENG-99999", "p")
