"""Every step in both directions, with the error messages people will read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jira_console.mapping import Identity, IdentityTable, MappingContext, StepError, parse_step
from jira_console.mapping.errors import MappingDefinitionError
from jira_console.mapping.model import parse_definition

CTX = MappingContext(flavor="cloud")


def fwd(spec: dict, value, ctx: MappingContext = CTX):
    return parse_step(spec).forward(value, ctx)


def inv(spec: dict, value, ctx: MappingContext = CTX):
    return parse_step(spec).inverse(value, ctx)


@pytest.mark.parametrize(
    ("spec", "raw", "internal", "back"),
    [
        ({"op": "to_int"}, "42", 42, 42),
        ({"op": "to_int"}, 5.0, 5, 5),
        ({"op": "to_int", "back": "str"}, "7", 7, "7"),
        ({"op": "to_float"}, "2.5", 2.5, 2.5),
        ({"op": "to_float", "back": "str"}, 3, 3.0, "3.0"),
        ({"op": "to_str"}, 13, "13", "13"),
        ({"op": "to_str", "back": "int"}, 13, "13", 13),
        ({"op": "to_bool"}, "Yes", True, True),
        ({"op": "to_bool", "back": "str"}, 0, False, "false"),
        ({"op": "to_decimal"}, 0.1, Decimal("0.1"), 0.1),
        ({"op": "round", "digits": 1}, 2.345, 2.3, 2.3),
        ({"op": "round"}, 2.6, 3, 3),
        ({"op": "scale", "factor": 3600}, 2, 7200, 2),
        ({"op": "trim"}, "  a b ", "a b", "a b"),
        ({"op": "prefix", "text": "ENG-"}, "12", "ENG-12", "12"),
        ({"op": "suffix", "text": " pts"}, "3", "3 pts", "3"),
        ({"op": "split", "sep": ";"}, "a;b;c", ["a", "b", "c"], "a;b;c"),
        ({"op": "split"}, "", [], ""),
        ({"op": "join", "sep": "|"}, ["x", "y"], "x|y", ["x", "y"]),
        ({"op": "path", "path": "key"}, {"key": "ENG-1", "id": "10"}, "ENG-1", {"key": "ENG-1"}),
        ({"op": "path", "path": "a.b"}, {"a": {"b": 1}}, 1, {"a": {"b": 1}}),
        ({"op": "option"}, {"value": "Backend", "id": "10300"}, "Backend", {"value": "Backend"}),
        ({"op": "option", "by": "id"}, {"value": "Backend", "id": "10300"}, "10300", {"id": "10300"}),
        ({"op": "options"}, [{"value": "A", "id": "1"}, {"value": "B", "id": "2"}], ["A", "B"], None),
        ({"op": "date"}, "2025-01-31", "2025-01-31", "2025-01-31"),
        ({"op": "date", "format": "%d/%m/%Y"}, "2025-01-31", "31/01/2025", "2025-01-31"),
        ({"op": "value_map", "table": {"High": 1, "Low": 3}}, "Low", 3, "Low"),
        ({"op": "default_if_empty", "value": "none"}, "", "none", "none"),
        (
            {"op": "map_each", "steps": [{"op": "path", "path": "name"}]},
            [{"name": "UI"}],
            ["UI"],
            [{"name": "UI"}],
        ),
    ],
)
def test_invertible_steps_both_ways(spec, raw, internal, back):
    step = parse_step(spec)
    assert step.is_invertible()
    assert step.forward(raw, CTX) == internal
    expected_back = (
        back if back is not None else raw if spec["op"] != "options" else [{"value": "A"}, {"value": "B"}]
    )
    assert step.inverse(internal, CTX) == expected_back


@pytest.mark.parametrize(
    ("spec", "raw", "internal"),
    [
        ({"op": "lower"}, "HeLLo", "hello"),
        ({"op": "upper"}, "abc", "ABC"),
        ({"op": "regex_extract", "pattern": r"v(\d+)", "group": 1}, "release v12 beta", "12"),
        ({"op": "regex_extract", "pattern": r"(?P<n>\d+)", "group": "n"}, "no digits", None),
        ({"op": "regex_replace", "pattern": r"\s+", "replacement": " "}, "a   b\tc", "a b c"),
        ({"op": "regex_replace", "pattern": r"(\w+)@(\w+)", "replacement": r"\2/\1"}, "me@host", "host/me"),
        ({"op": "template", "template": "{value} pts"}, 3, "3 pts"),
        (
            {"op": "template", "template": "{key}: {fields.summary} {{x}}"},
            {"key": "A-1", "fields": {"summary": "S"}},
            "A-1: S {x}",
        ),
        ({"op": "first"}, ["a", "b"], "a"),
        ({"op": "first"}, [], None),
    ],
)
def test_lossy_steps_forward_and_refuse_inverse(spec, raw, internal):
    step = parse_step(spec)
    assert step.forward(raw, CTX) == internal
    assert not step.is_invertible()
    with pytest.raises(StepError, match="not invertible"):
        step.inverse(internal, CTX)


def test_none_passes_through_every_step_but_default_if_empty():
    for spec in ({"op": "to_int"}, {"op": "option"}, {"op": "path", "path": "key"}, {"op": "datetime"}):
        assert fwd(spec, None) is None
        assert inv(spec, None) is None
    assert fwd({"op": "default_if_empty", "value": []}, None) == []


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ({"op": "to_int"}, "abc", "'abc' is not an integer"),
        ({"op": "to_int"}, 2.5, "not a whole number"),
        ({"op": "to_float"}, "x1", "'x1' is not a number"),
        ({"op": "to_float"}, {"a": 1}, "cannot convert dict to float"),
        ({"op": "to_bool"}, "maybe", "not a boolean"),
        ({"op": "to_decimal"}, "1,5", "not a decimal number"),
        ({"op": "round"}, "3", "expected a number, got str"),
        ({"op": "trim"}, 5, "expected text, got int"),
        ({"op": "value_map", "table": {"A": 1}}, "B", "'B' is not in the value_map table"),
        ({"op": "option"}, {"id": "1"}, "no 'value' key"),
        ({"op": "options"}, "A", "expected a list of options"),
        ({"op": "path", "path": "a.b"}, {"a": 3}, "cannot read 'b' from int"),
        ({"op": "date"}, "31/01/2025", "is not a Jira date"),
        ({"op": "datetime"}, "2025-01-31T14:05:09", "has no UTC offset"),
        ({"op": "datetime"}, "yesterday", "is not a Jira datetime"),
        ({"op": "regex_extract", "pattern": "x", "required": True}, "abc", "does not match"),
        ({"op": "template", "template": "{nope}"}, {"a": 1}, "placeholder {nope} not found"),
        ({"op": "join"}, ["a", 1], "list of text"),
        ({"op": "join", "sep": ","}, ["a,b"], "contains the separator"),
        ({"op": "map_each", "steps": [{"op": "to_int"}]}, ["1", "x"], "item 1, inner step 0 \\(to_int\\)"),
    ],
)
def test_forward_errors_are_readable(spec, value, message):
    with pytest.raises(StepError, match=message):
        fwd(spec, value)


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ({"op": "prefix", "text": "ENG-"}, "OPS-1", "does not start with 'ENG-'"),
        ({"op": "suffix", "text": "h"}, "3m", "does not end with 'h'"),
        ({"op": "value_map", "table": {"A": 1}}, 2, "not an internal value"),
        ({"op": "date", "format": "%d/%m/%Y"}, "2025-01-31", "does not match the date format"),
        ({"op": "option"}, 5, "expected option text"),
    ],
)
def test_inverse_errors_are_readable(spec, value, message):
    with pytest.raises(StepError, match=message):
        inv(spec, value)


def test_value_map_default_and_number_keys():
    step = parse_step({"op": "value_map", "table": {"1": "one"}, "default": "other"})
    assert step.forward(1, CTX) == "one"
    assert step.forward("9", CTX) == "other"


def test_value_map_many_to_one_is_not_invertible():
    step = parse_step({"op": "value_map", "table": {"Highest": "high", "High": "high", "Low": "low"}})
    assert not step.is_invertible()
    with pytest.raises(MappingDefinitionError, match=r"steps\[0\] \(value_map\) cannot be inverted"):
        parse_definition(
            {"name": "p", "jira_field": "priority", "internal_field": "p", "steps": [step.model_dump()]}
        )


def test_datetime_converts_zones_and_round_trips():
    step = parse_step({"op": "datetime", "tz": "Europe/Berlin"})
    local = step.forward("2025-01-31T14:05:09.123+1100", CTX)
    assert local == "2025-01-31T04:05:09.123+01:00"
    assert step.inverse(local, CTX) == "2025-01-31T04:05:09.123+0100"
    naive = parse_step({"op": "datetime", "format": "%Y-%m-%d %H:%M"})
    ctx = MappingContext(tz="Australia/Sydney")
    assert naive.forward("2025-01-31T03:05:09.000+0000", ctx) == "2025-01-31 14:05"
    assert naive.inverse("2025-01-31 14:05", ctx) == "2025-01-31T14:05:00.000+1100"
    assert step.forward(1738332309123, CTX) == "2025-01-31T15:05:09.123+01:00"


def test_bad_time_zone_is_a_definition_error():
    with pytest.raises(Exception, match="unknown time zone 'Mars/Base'"):
        parse_step({"op": "datetime", "tz": "Mars/Base"})


PEOPLE = IdentityTable(
    [
        Identity(id="u1", email="ana@example.com", account_id="5b10a2844c20165700ede21g", name="ana"),
        Identity(id="u2", email="bo@example.com", name="bo", key="JIRAUSER10100"),
    ]
)


def test_user_cloud_and_server_both_ways():
    cloud = MappingContext(flavor="cloud", identities=PEOPLE)
    server = MappingContext(flavor="server", identities=PEOPLE)
    by_email = parse_step({"op": "user", "key": "email"})
    by_id = parse_step({"op": "user"})
    cloud_user = {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ana", "emailAddress": None}
    assert by_email.forward(cloud_user, cloud) == "ana@example.com"
    assert by_email.inverse("ana@example.com", cloud) == {"accountId": "5b10a2844c20165700ede21g"}
    assert by_id.forward({"name": "bo", "key": "JIRAUSER10100"}, server) == "u2"
    assert by_id.forward({"key": "JIRAUSER10100"}, server) == "u2"
    assert by_id.inverse("u2", server) == {"name": "bo"}
    assert (
        by_email.forward({"accountId": "other", "emailAddress": "BO@example.com"}, cloud) == "bo@example.com"
    )


def test_unknown_users_are_listed_never_invented():
    ctx = MappingContext(flavor="cloud", identities=PEOPLE)
    step = parse_step({"op": "user", "key": "email"})
    with pytest.raises(StepError, match="unresolved Jira user 'Zed'") as info:
        step.forward({"accountId": "nobody", "displayName": "Zed"}, ctx)
    assert info.value.unresolved
    with pytest.raises(StepError, match="no Jira accountId known for email 'bo@example.com'"):
        step.inverse("bo@example.com", ctx)  # bo has no Cloud account id: refuse rather than guess
    assert [u["direction"] for u in ctx.unresolved] == ["pull", "push"]
    with pytest.raises(StepError, match="unresolved"):
        step.forward({"accountId": "x"}, MappingContext())  # no table at all


def test_definition_errors_name_mapping_and_step():
    with pytest.raises(MappingDefinitionError) as info:
        parse_definition(
            {
                "name": "points",
                "jira_field": "customfield_1",
                "internal_field": "points",
                "steps": [{"op": "round", "digits": "two"}, {"op": "regex_extract", "pattern": "(a"}],
            }
        )
    text = str(info.value)
    assert "mapping 'points' is invalid" in text
    assert "steps[0] (round).digits" in text
    assert "steps[1] (regex_extract): bad regular expression" in text


def test_bad_regex_replacement_is_caught_at_definition_time():
    with pytest.raises(Exception, match="bad replacement"):
        parse_step({"op": "regex_replace", "pattern": "(a)", "replacement": r"\2"})


def test_template_never_evaluates_code():
    step = parse_step({"op": "template", "template": "{value.__class__}"})
    with pytest.raises(StepError, match="not found"):
        step.forward({"a": 1}, CTX)
    with pytest.raises(Exception, match="unbalanced brace"):
        parse_step({"op": "template", "template": "{value!r}"})
