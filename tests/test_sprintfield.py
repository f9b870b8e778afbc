"""The sprint field: Cloud objects and Server legacy strings."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from jira_console.jira.sprintfield import (
    SprintRef,
    current_sprint,
    parse_legacy,
    parse_sprint_value,
    sprint_write_value,
)

LEGACY = (
    "com.atlassian.greenhopper.service.sprint.Sprint@1bf75fd[id=1,rapidViewId=3,state=CLOSED,name=Sprint 1,"
    "goal=,startDate=2015-04-01T10:07:33.563+03:00,endDate=<null>,completeDate=<null>,sequence=1]"
)


def test_legacy_string() -> None:
    ref = parse_legacy(LEGACY)
    assert ref == SprintRef(1, "Sprint 1", "closed", 3, None, "2015-04-01T10:07:33.563+03:00", None, None)


def test_cloud_objects_and_mixed_shapes() -> None:
    value = [
        {"id": 7, "name": "ENG 7", "state": "active", "boardId": 2, "goal": "ship"},
        {"id": 5, "name": "ENG 5", "state": "closed", "boardId": 2},
    ]
    refs = parse_sprint_value(value)
    assert [r.id for r in refs] == [7, 5] and refs[0].board_id == 2 and refs[0].goal == "ship"
    assert parse_sprint_value(None) == [] and parse_sprint_value({"name": "no id"}) == []
    assert [r.id for r in parse_sprint_value(LEGACY)] == [1]


def test_current_sprint_rule() -> None:
    closed = SprintRef(1, "a", "closed")
    closed_later = SprintRef(4, "d", "closed")
    future_a, future_b = SprintRef(9, "f", "future"), SprintRef(8, "e", "future")
    active = SprintRef(3, "c", "active")
    assert current_sprint([closed, active, future_a]) == active
    assert current_sprint([closed, future_a, future_b]) == future_b
    assert current_sprint([closed, closed_later]) == closed_later
    assert current_sprint([]) is None


def test_write_value_is_a_bare_number() -> None:
    assert sprint_write_value(12) == 12 and sprint_write_value(None) is None


names = st.text(alphabet=st.sampled_from(list("abc XYZ,[]=-_.:01")), min_size=1, max_size=30).filter(
    lambda s: not any(f",{k}=" in s for k in ("id", "state", "name", "goal", "rapidViewId", "sequence"))
)


@given(
    sprint_id=st.integers(1, 10**6),
    name=names,
    goal=names,
    state=st.sampled_from(["ACTIVE", "CLOSED", "FUTURE"]),
)
def test_legacy_names_with_commas_brackets_and_equals(
    sprint_id: int, name: str, goal: str, state: str
) -> None:
    text = (
        f"com.atlassian.greenhopper.service.sprint.Sprint@a1[id={sprint_id},rapidViewId=1,state={state},"
        f"name={name},goal={goal},startDate=<null>,endDate=<null>,completeDate=<null>,sequence={sprint_id}]"
    )
    ref = parse_legacy(text)
    assert ref is not None
    assert (ref.id, ref.name, ref.goal, ref.state) == (sprint_id, name, goal, state.lower())


def test_recorded_samples(samples) -> None:
    sprints = json.loads((samples / "api/go-jira/sprints.json").read_text())
    refs = parse_sprint_value(sprints["values"])
    assert refs and all(r.id and r.state in ("active", "closed", "future") for r in refs)
    by_id = {r.id: r for r in refs}
    for raw in sprints["values"]:
        ref = by_id[raw["id"]]
        assert ref.name == raw["name"] and ref.state == raw["state"].lower()
        assert ref.board_id == raw.get("originBoardId")
