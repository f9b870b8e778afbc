"""The sprint field: Cloud objects, Server legacy strings, the current-sprint rule, the write value."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jira_console.jira.sprintfield import (
    SprintRef,
    current_sprint,
    parse_legacy,
    parse_legacy_sprint,
    parse_object,
    parse_sprint_value,
    sprint_write_value,
)

LEGACY = (
    "com.atlassian.greenhopper.service.sprint.Sprint@1bf75fd[id=1,rapidViewId=1,state=CLOSED,name=Sprint 1,"
    "goal=,startDate=2015-04-01T10:07:33.563+03:00,endDate=<null>,completeDate=<null>,sequence=1]"
)
LEGACY_8X = (
    "com.atlassian.greenhopper.service.sprint.Sprint@6f3a1c[id=8,rapidViewId=3,state=ACTIVE,name=SP Sprint 1,"
    "startDate=2020-03-02T09:00:00.000+01:00,endDate=2020-03-16T09:00:00.000+01:00,completeDate=<null>,"
    "activatedDate=2020-03-02T09:05:00.000+01:00,sequence=8,goal=Ship it, then rest,synced=false,"
    "autoStartStop=false,incompleteIssuesDestinationId=<null>]"
)


def test_legacy_string_in_the_documented_form() -> None:
    (ref,) = parse_sprint_value([LEGACY])
    assert ref == SprintRef(
        id=1,
        name="Sprint 1",
        state="closed",
        board_id=1,
        goal=None,
        start_date=datetime(2015, 4, 1, 10, 7, 33, 563000, tzinfo=timezone(timedelta(hours=3))),
    )


def test_legacy_string_of_newer_servers_with_extra_fields_and_a_comma_in_the_goal() -> None:
    (ref,) = parse_sprint_value(LEGACY_8X)
    assert (ref.id, ref.name, ref.state, ref.board_id) == (8, "SP Sprint 1", "active", 3)
    assert ref.goal == "Ship it, then rest"
    assert ref.end_date == datetime(2020, 3, 16, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    ["Sprint 1, the [big] one", "a=b", "x,y=z", "]", "[", ",", "name=", "Q3 [team=A, B]", "x,id=5", "=,[]="],
)
def test_legacy_names_with_commas_brackets_and_equals(name: str) -> None:
    text = LEGACY.replace("name=Sprint 1", f"name={name}")
    (ref,) = parse_sprint_value(text)
    assert ref.name == name
    assert ref.id == 1 and ref.state == "closed" and ref.board_id == 1


legacy_names = st.text(alphabet="ab Z9,[]=<>_-é", min_size=0, max_size=25).filter(lambda s: s != "<null>")


@settings(max_examples=300, deadline=None)
@given(
    name=legacy_names,
    goal=legacy_names,
    sprint_id=st.integers(1, 10**9),
    state=st.sampled_from(["ACTIVE", "FUTURE", "CLOSED"]),
)
def test_legacy_round_trip_for_generated_names(name: str, goal: str, sprint_id: int, state: str) -> None:
    text = (
        f"com.atlassian.greenhopper.service.sprint.Sprint@abc[id={sprint_id},rapidViewId=7,state={state},"
        f"name={name},startDate=<null>,endDate=2021-01-01T00:00:00.000Z,completeDate=<null>,"
        f"activatedDate=<null>,sequence={sprint_id},goal={goal},synced=false]"
    )
    (ref,) = parse_sprint_value([text])
    assert ref.id == sprint_id
    assert ref.name == name
    assert ref.goal == (goal or None)
    assert ref.state == state.lower()
    assert ref.end_date == datetime(2021, 1, 1, tzinfo=UTC)


def test_single_entry_helpers() -> None:
    assert parse_legacy(LEGACY) == parse_sprint_value(LEGACY)[0]
    assert parse_legacy("not a sprint") is None
    assert parse_object({"id": 3, "state": "FUTURE", "originBoardId": 9}) == SprintRef(3, "", "future", 9)
    assert parse_object({"state": "active"}) is None


def test_legacy_fields_keep_null_as_none() -> None:
    fields = parse_legacy_sprint(LEGACY)
    assert fields is not None
    assert fields["endDate"] is None and fields["goal"] == ""


def test_cloud_objects_with_missing_keys() -> None:
    value = [
        {"id": 37, "name": "Sprint 1", "state": "closed", "boardId": 5, "goal": "",
         "startDate": "2024-01-01T09:00:00.000Z", "endDate": "2024-01-15T09:00:00.000Z",
         "completeDate": "2024-01-15T10:00:00.000Z"},
        {"id": 38, "name": "Sprint 2", "state": "ACTIVE"},
        {"name": "no id"},
        {"id": "39", "state": None},
    ]  # fmt: skip
    refs = parse_sprint_value(value)
    assert [r.id for r in refs] == [37, 38, 39]
    assert refs[0].goal is None and refs[0].board_id == 5
    assert refs[0].complete_date == datetime(2024, 1, 15, 10, tzinfo=UTC)
    assert refs[1].state == "active" and refs[1].board_id is None
    assert refs[2] == SprintRef(id=39, name="", state="")


@pytest.mark.parametrize(
    "value", [None, [], "", "garbage", 0, True, {"id": None}, [None, 3.5, object()], "Sprint@x[broken"]
)
def test_malformed_values_give_no_sprints_and_never_raise(value: object) -> None:
    assert parse_sprint_value(value) == []


def test_single_values_bare_ids_and_duplicates() -> None:
    assert [r.id for r in parse_sprint_value({"id": 4, "state": "future"})] == [4]
    assert [r.id for r in parse_sprint_value([LEGACY, {"id": 1, "name": "dup"}, 12, "13"])] == [1, 12, 13]


def _ref(i: int, state: str, **kw: object) -> SprintRef:
    return SprintRef(id=i, name=f"S{i}", state=state, **kw)  # type: ignore[arg-type]


def test_current_sprint_prefers_active_then_lowest_future_then_latest_closed() -> None:
    closed_old = _ref(1, "closed", complete_date=datetime(2024, 1, 1, tzinfo=UTC))
    closed_new = _ref(2, "closed", complete_date=datetime(2024, 2, 1, tzinfo=UTC))
    future_a, future_b = _ref(9, "future"), _ref(7, "future")
    active = _ref(5, "active")
    assert current_sprint([closed_old, future_a, active, future_b]) == active
    assert current_sprint([closed_old, future_a, future_b]) == future_b
    assert current_sprint([closed_new, closed_old]) == closed_new
    assert current_sprint([]) is None


def test_current_sprint_with_parallel_active_sprints_takes_the_latest_started() -> None:
    early = _ref(10, "active", start_date=datetime(2024, 3, 1, tzinfo=UTC))
    late = _ref(4, "active", start_date=datetime(2024, 3, 8, tzinfo=UTC))
    assert current_sprint([early, late]) == late


def test_current_sprint_accepts_a_raw_field_value() -> None:
    assert current_sprint([LEGACY, LEGACY_8X]).id == 8  # type: ignore[union-attr]


def test_sprint_write_value_is_a_bare_number() -> None:
    assert sprint_write_value(42) == 42
    assert sprint_write_value("42") == 42
    assert sprint_write_value(None) is None
    for bad in (0, -1, "x", True, 1.5, [42]):
        with pytest.raises(ValueError):
            sprint_write_value(bad)


@pytest.mark.conformance
def test_go_jira_agile_sprint_list(samples: Path) -> None:
    data = json.loads((samples / "api/go-jira/sprints.json").read_text())
    refs = parse_sprint_value(data["values"])
    assert [r.id for r in refs] == [740, 776, 807, 832, 845, 846]
    assert {r.state for r in refs} == {"closed", "active", "future"}
    assert all(r.board_id == 734 for r in refs)
    assert refs[-1].goal == "My Goal"
    assert refs[0].complete_date == datetime(
        2016, 4, 28, 5, 8, 48, 543000, tzinfo=timezone(timedelta(hours=-7))
    )
    assert current_sprint(refs).id == 832  # type: ignore[union-attr]
    assert current_sprint([r for r in refs if r.state != "active"]).id == 845  # type: ignore[union-attr]


@pytest.mark.conformance
def test_sprint_values_in_recorded_payloads_parse(samples: Path) -> None:
    """Every legacy sprint string anywhere in the recordings parses to the id it states."""
    pattern = re.compile(r"com\.atlassian\.greenhopper\.service\.sprint\.Sprint@[0-9a-f]+\[id=(\d+)[^\"]*\]")
    for path in sorted((samples / "api").rglob("*.json")) + sorted((samples / "webhooks").rglob("*.json")):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            (ref,) = parse_sprint_value(json.loads(f'"{match.group(0)}"'))
            assert ref.id == int(match.group(1)), path
    data = json.loads((samples / "api/go-jira/issues_in_sprint.json").read_text())
    for issue in data["issues"]:
        # no sprint field was recorded on these issues: the parser must say "no sprint", not fail
        assert parse_sprint_value(issue["fields"].get("sprint")) == []
