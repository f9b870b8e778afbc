"""Validation against field lists and editmeta (both flavors, plus the recorded samples), and templates."""

from __future__ import annotations

import json

import pytest

from jira_console.mapping import (
    Identity,
    IdentityTable,
    JiraWrite,
    MappingContext,
    check_mapping,
    compile_mapping,
)
from jira_console.mapping.check import check_with_client
from jira_console.mapping.model import parse_definition
from jira_console.mapping.templates import all_templates, discover_field_ids, story_points, team
from jira_console.simulator.model import FIELD_IDS

GH = "com.pyxis.greenhopper.jira:"
CT = "com.atlassian.jira.plugin.system.customfieldtypes:"


def system(fid, name, type_, items=None):
    schema = {"type": type_, "system": fid} | ({"items": items} if items else {})
    return {"id": fid, "key": fid, "name": name, "custom": False, "schema": schema}


def custom(fid, name, type_, ctype, items=None):
    schema = {"type": type_, "custom": ctype, "customId": int(fid.split("_")[1])} | (
        {"items": items} if items else {}
    )
    return {"id": fid, "key": fid, "name": name, "custom": True, "schema": schema}


COMMON = [
    system("summary", "Summary", "string"),
    system("description", "Description", "string"),
    system("labels", "Labels", "array", "string"),
    system("components", "Components", "array", "component"),
    system("priority", "Priority", "priority"),
    system("assignee", "Assignee", "user"),
    system("status", "Status", "status"),
    system("duedate", "Due date", "date"),
]
CLOUD_FIELDS = COMMON + [
    system("parent", "Parent", "issuelink"),
    custom("customfield_10016", "Story point estimate", "number", GH + "jsw-story-points"),
    custom("customfield_10026", "Story Points", "number", CT + "float"),
    custom("customfield_10020", "Sprint", "array", GH + "gh-sprint", "json"),
    custom("customfield_10050", "Team", "option", CT + "select"),
    custom("customfield_10001", "Team", "team", CT + "atlassian-team"),  # Cloud's native Team, same name
]
SERVER_FIELDS = COMMON + [
    custom("customfield_10106", "Story Points", "number", CT + "float"),
    custom("customfield_10104", "Sprint", "array", GH + "gh-sprint", "string"),
    custom("customfield_10100", "Epic Link", "any", GH + "gh-epic-link"),
    custom("customfield_10200", "Team", "option", CT + "select"),
]
TEAM_VALUES = [
    {"id": "10300", "value": "Backend"},
    {"id": "10301", "value": "Frontend"},
    {"id": "10302", "value": "Platform"},
]


def editmeta(fields, team_id):
    entries = {
        f["id"]: {"required": False, "schema": f["schema"], "name": f["name"], "operations": ["set"]}
        for f in fields
    }
    entries[team_id]["allowedValues"] = TEAM_VALUES
    entries.pop("status")
    return {"fields": entries}


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_discovery_finds_the_simulator_ids(flavor):
    fields = CLOUD_FIELDS if flavor == "cloud" else SERVER_FIELDS
    assert discover_field_ids(flavor, fields) == FIELD_IDS[flavor]


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_every_template_checks_clean(flavor):
    fields = CLOUD_FIELDS if flavor == "cloud" else SERVER_FIELDS
    meta = editmeta(fields, FIELD_IDS[flavor]["team"])
    templates = all_templates(flavor, FIELD_IDS[flavor])
    assert {d.name for d in templates} == {
        "story_points",
        "sprint",
        "team",
        "epic",
        "labels",
        "components",
        "priority",
        "assignee",
    } | ({"atlassian_team"} if flavor == "cloud" else set())
    for d in templates:
        assert check_mapping(d, fields, meta) == [], d.name


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_schema_mismatches_name_mapping_step_and_field(flavor):
    fields = CLOUD_FIELDS if flavor == "cloud" else SERVER_FIELDS
    ids = FIELD_IDS[flavor]
    cases = {
        "option": (ids["story_points"], "option needs a single-select field"),
        "user": (ids["team"], "user needs a user field, the field is option"),
        "sprint": (ids["team"], "sprint needs the gh-sprint field"),
        "rich_text": (ids["sprint"], "rich_text needs a text field"),
        "options": ("labels", "options needs a multi-select field"),
    }
    for op, (field_id, message) in cases.items():
        d = parse_definition(
            {"name": f"bad_{op}", "jira_field": field_id, "internal_field": "x", "steps": [{"op": op}]}
        )
        (problem,) = check_mapping(d, fields)
        assert (problem.mapping, problem.step, problem.value) == (f"bad_{op}", f"steps[0] {op}", field_id)
        assert message in problem.message


def test_missing_field_and_edit_screen_and_allowed_values():
    fields, ids = CLOUD_FIELDS, FIELD_IDS["cloud"]
    meta = editmeta(fields, ids["team"])
    missing = parse_definition({"name": "gone", "jira_field": "customfield_99999", "internal_field": "g"})
    message = check_mapping(missing, fields)[0].message
    assert message.startswith("no such field in the Jira field list; closest: customfield_")
    del meta["fields"]["customfield_10026"]
    classic = story_points("cloud", ids, classic=True)
    (problem,) = check_mapping(classic, fields, meta)
    assert "not on the edit screen" in problem.message
    pull_only = classic.model_copy(update={"direction": "pull"})
    assert check_mapping(pull_only, fields, meta) == []
    coded = team("cloud", ids, codes={"Backend": "be", "Mobile": "mob"})
    (problem,) = check_mapping(coded, fields, meta)
    assert (problem.step, problem.value) == ("steps[1] value_map", "Mobile")
    assert "'Mobile' is not an allowed value of customfield_10050" in problem.message
    meta["fields"]["customfield_10050"].pop("allowedValues")
    (warning,) = check_mapping(coded, fields, meta)
    assert warning.severity == "warning" and "allowed values of the field are unknown" in warning.message


async def test_check_with_any_client():
    class Client:
        async def fields(self):
            return SERVER_FIELDS

        def editmeta(self, key):
            assert key == "ENG-1"
            return {"fields": {}}

    problems = await check_with_client(all_templates("server", FIELD_IDS["server"]), Client(), "ENG-1")
    assert len(problems) == 8 and all("not on the edit screen" in p.message for p in problems)


def test_real_server_field_list_and_editmeta(samples):
    fields = json.loads((samples / "api/server-perceval/jira_fields.json").read_text())
    meta = json.loads((samples / "api/server-jira-to-matrix/editmeta.json").read_text())
    verifier = parse_definition(
        {
            "name": "verifier",
            "jira_field": {"name": "Verifier"},
            "internal_field": "verifier",
            "steps": [{"op": "user"}],
        }
    )
    assert check_mapping(verifier, fields) == []
    assert compile_mapping(verifier, fields).jira_field == "customfield_10408"
    # Old Server lists report selects as type "string"; the custom type still identifies them.
    chapter = parse_definition(
        {
            "name": "chapter",
            "jira_field": {"schema_custom": CT + "select", "name": "HD-Chapter"},
            "internal_field": "chapter",
            "direction": "pull",
            "steps": [{"op": "option"}],
        }
    )
    assert check_mapping(chapter, fields) == []
    flagged = parse_definition(
        {
            "name": "flagged",
            "jira_field": "customfield_10200",
            "internal_field": "f",
            "steps": [{"op": "option"}],
        }
    )
    assert "multicheckboxes" in check_mapping(flagged, fields)[0].message
    priority = parse_definition(
        {
            "name": "prio",
            "jira_field": "priority",
            "internal_field": "p",
            "steps": [
                {"op": "path", "path": "name"},
                {"op": "value_map", "table": {"Highest": 1, "Urgent": 0}},
            ],
        }
    )
    (problem,) = check_mapping(priority, fields, meta)
    assert problem.value == "Urgent" and "Highest" in problem.message
    # The sample's editmeta has no Story Points field: pushing it must be refused.
    sp = parse_definition({"name": "sp", "jira_field": "workratio", "internal_field": "sp"})
    assert "not on the edit screen" in check_mapping(sp, fields, meta)[0].message
    assert (
        check_mapping(
            parse_definition({"name": "l", "jira_field": "labels", "internal_field": "l"}), fields, meta
        )
        == []
    )


PEOPLE = IdentityTable(
    [Identity(id="u1", email="ana@example.com", account_id="557058:ana", name="ana", key="JIRAUSER1")]
)


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_templates_apply_to_realistic_values(flavor):
    ids = FIELD_IDS[flavor]
    ctx = MappingContext(flavor=flavor, identities=PEOPLE)
    by_name = {d.name: compile_mapping(d) for d in all_templates(flavor, ids)}
    user = (
        {"accountId": "557058:ana", "displayName": "Ana"}
        if flavor == "cloud"
        else {"name": "ana", "key": "JIRAUSER1"}
    )
    epic_raw = (
        {"id": "10001", "key": "ENG-7", "fields": {"summary": "Epic"}} if flavor == "cloud" else "ENG-7"
    )
    fields = {
        ids["story_points"]: 5.0,
        ids["team"]: {
            "self": "https://x/rest/api/2/customFieldOption/10301",
            "value": "Frontend",
            "id": "10301",
        },
        ids.get("parent", ids.get("epic_link")): epic_raw,
        "labels": ["backend", "urgent"],
        "components": [{"id": "1", "name": "API"}, {"id": "2", "name": "UI"}],
        "priority": {"id": "2", "name": "High"},
        "assignee": user,
    }
    expected = {
        "story_points": (5.0, 5.0),
        "team": ("Frontend", {"value": "Frontend"}),
        "epic": ("ENG-7", {"key": "ENG-7"} if flavor == "cloud" else "ENG-7"),
        "labels": (["backend", "urgent"], ["backend", "urgent"]),
        "components": (["API", "UI"], [{"name": "API"}, {"name": "UI"}]),
        "priority": ("High", {"name": "High"}),
        "assignee": (
            "ana@example.com",
            {"accountId": "557058:ana"} if flavor == "cloud" else {"name": "ana"},
        ),
    }
    for name, (internal, written) in expected.items():
        m = by_name[name]
        assert m.from_jira(fields, ctx) == internal, name
        assert m.validate_value(internal) == [], name
        assert m.to_jira(internal, ctx) == JiraWrite("field", m.jira_field, written), name
    assert by_name["labels"].from_jira({"labels": None}, ctx) == []
    assert by_name["story_points"].validate_value(-1.0) == ["-1.0 is below the minimum 0"]


async def test_check_with_the_typed_client_shapes():
    from jira_console.jira.models import JiraField

    class Client:
        async def fields(self):
            return [JiraField.from_json(f) for f in CLOUD_FIELDS]

        async def editmeta(self, key):
            return editmeta(CLOUD_FIELDS, "customfield_10050")["fields"]  # the client unwraps "fields"

    templates = all_templates("cloud", FIELD_IDS["cloud"])
    assert await check_with_client(templates, Client(), "ENG-1") == []
    bad = parse_definition(
        {"name": "b", "jira_field": "customfield_10050", "internal_field": "b", "steps": [{"op": "user"}]}
    )
    (problem,) = await check_with_client([bad], Client())
    assert "user needs a user field" in problem.message
