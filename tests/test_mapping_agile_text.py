"""The sprint and rich_text steps, through the shared sprint-field parser and rich-text converter."""

from __future__ import annotations

import pytest

from jira_console.mapping import JiraWrite, MappingContext, StepError, compile_mapping, parse_step
from jira_console.mapping.model import parse_definition

CLOUD = MappingContext(flavor="cloud")
SERVER = MappingContext(flavor="server")

CLOUD_SPRINTS = [
    {"id": 11, "name": "ENG Sprint 1", "state": "closed", "boardId": 3, "goal": ""},
    {"id": 12, "name": "ENG Sprint 2", "state": "active", "boardId": 3, "goal": "ship"},
]
SERVER_SPRINTS = [
    "com.atlassian.greenhopper.service.sprint.Sprint@1bf75fd[id=21,rapidViewId=4,state=CLOSED,name=OPS 1,"
    "startDate=2025-01-01T10:00:00.000+11:00,endDate=2025-01-14T10:00:00.000+11:00,completeDate=<null>,sequence=21]",
    "com.atlassian.greenhopper.service.sprint.Sprint@2c0a1ee[id=22,rapidViewId=4,state=ACTIVE,name=OPS 2,"
    "startDate=2025-01-15T10:00:00.000+11:00,endDate=<null>,completeDate=<null>,sequence=22]",
]


def sprint_mapping(field_id: str, **step):
    return compile_mapping(
        parse_definition(
            {
                "name": "sprint",
                "jira_field": field_id,
                "internal_field": "sprint_id",
                "steps": [{"op": "sprint", **step}],
            }
        )
    )


@pytest.mark.parametrize(
    ("ctx", "field_id", "raw", "current", "last"),
    [
        (CLOUD, "customfield_10020", CLOUD_SPRINTS, 12, 12),
        (SERVER, "customfield_10104", SERVER_SPRINTS, 22, 22),
        (CLOUD, "customfield_10020", CLOUD_SPRINTS[:1], 11, 11),  # only closed: the latest one
        (SERVER, "customfield_10104", SERVER_SPRINTS[:1], 21, 21),
        (CLOUD, "customfield_10020", None, None, None),
        (CLOUD, "customfield_10020", [], None, None),
    ],
)
def test_sprint_both_flavors(ctx, field_id, raw, current, last):
    assert sprint_mapping(field_id).from_jira({field_id: raw}, ctx) == current
    assert sprint_mapping(field_id, pick="last").from_jira({field_id: raw}, ctx) == last


def test_sprint_writes_a_bare_id_or_backlog():
    m = sprint_mapping("customfield_10020")
    assert m.to_jira(12, CLOUD) == JiraWrite("sprint", "customfield_10020", 12)
    assert m.to_jira("12", CLOUD) == JiraWrite("sprint", "customfield_10020", 12)
    assert m.to_jira(None, CLOUD) == JiraWrite("sprint", "customfield_10020", None)
    with pytest.raises(Exception, match="expected a sprint id"):
        m.to_jira(["12"], CLOUD)


def test_sprint_names_go_through_the_lookup():
    m = sprint_mapping("customfield_10020", output="name")
    assert m.from_jira({"customfield_10020": CLOUD_SPRINTS}, CLOUD) == "ENG Sprint 2"
    ctx = MappingContext(flavor="cloud", sprint_lookup={"ENG Sprint 2": 12}.get)
    assert m.to_jira("ENG Sprint 2", ctx).value == 12
    with pytest.raises(Exception, match="no sprint named 'Nope'") as info:
        m.to_jira("Nope", ctx)
    assert info.value.unresolved and ctx.unresolved[-1]["name"] == "Nope"


ADF = {
    "version": 1,
    "type": "doc",
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hello world"}]}],
}


@pytest.mark.parametrize(("ctx", "raw"), [(CLOUD, ADF), (SERVER, "Hello world")])
def test_rich_text_both_flavors(ctx, raw):
    step = parse_step({"op": "rich_text"})
    assert step.forward(raw, ctx).strip() == "Hello world"
    back = step.inverse("Hello **world**", ctx)
    if ctx.flavor == "cloud":
        assert isinstance(back, dict) and back.get("type") == "doc"
    else:
        assert isinstance(back, str) and "*world*" in back
    assert step.forward(back, ctx).strip() == "Hello **world**"


def test_rich_text_needs_text():
    with pytest.raises(StepError, match="expected Markdown text"):
        parse_step({"op": "rich_text"}).inverse(5, CLOUD)
