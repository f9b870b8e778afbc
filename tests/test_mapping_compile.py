"""Compiled mappings: from/to Jira, reverse derivation, MappingSet, preview, TOML, round-trip properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jira_console.mapping import (
    FieldSelector,
    JiraWrite,
    MappingContext,
    MappingDefinition,
    MappingDefinitionError,
    MappingError,
    MappingSet,
    compile_mapping,
    dumps,
    loads,
    parse_definition,
    preview,
)

CTX = MappingContext(flavor="cloud")
FIELDS = [
    {
        "id": "customfield_10016",
        "name": "Story point estimate",
        "custom": True,
        "schema": {
            "type": "number",
            "custom": "com.pyxis.greenhopper.jira:jsw-story-points",
            "customId": 10016,
        },
    },
    {
        "id": "customfield_10026",
        "name": "Story Points",
        "custom": True,
        "schema": {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"},
    },
    {
        "id": "customfield_10027",
        "name": "Risk",
        "custom": True,
        "schema": {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"},
    },
]


def defn(**kw) -> MappingDefinition:
    base = {"name": "m", "jira_field": "customfield_10026", "internal_field": "points"}
    return parse_definition({**base, **kw})


def test_from_jira_and_to_jira_with_derived_reverse():
    m = compile_mapping(
        defn(steps=[{"op": "to_float"}, {"op": "scale", "factor": 2}, {"op": "round", "digits": 1}])
    )
    assert m.from_jira({"customfield_10026": "1.26"}, CTX) == 2.5
    assert m.to_jira(2.5, CTX) == JiraWrite("field", "customfield_10026", 1.25)
    assert m.from_jira({}, CTX) is None
    assert m.to_jira(None, CTX) == JiraWrite("field", "customfield_10026", None)


def test_errors_name_mapping_step_and_value():
    m = compile_mapping(defn(steps=[{"op": "trim"}, {"op": "to_int"}]))
    with pytest.raises(MappingError) as info:
        m.from_jira({"customfield_10026": " x "}, CTX)
    err = info.value
    assert (err.mapping, err.step, err.value) == ("m", "steps[1] to_int", "x")
    assert str(err) == "mapping 'm', step steps[1] to_int: 'x' is not an integer (value: 'x')"
    with pytest.raises(MappingError, match=r"step steps\[1\] to_int \(inverse\)"):
        compile_mapping(defn(steps=[{"op": "trim"}, {"op": "to_int", "back": "int"}])).to_jira("y", CTX)


def test_explicit_reverse_steps_run_forward():
    m = compile_mapping(
        defn(
            jira_field="summary",
            internal_field="code",
            steps=[{"op": "regex_extract", "pattern": r"\[(\w+)\]", "group": 1}, {"op": "lower"}],
            reverse_steps=[{"op": "upper"}, {"op": "template", "template": "[{value}]"}],
        )
    )
    assert m.from_jira({"summary": "[ABC] fix it"}, CTX) == "abc"
    assert m.to_jira("abc", CTX).value == "[ABC]"
    with pytest.raises(MappingError, match=r"reverse_steps\[0\] upper"):
        m.to_jira(5, CTX)


def test_lossy_pipeline_needs_reverse_steps_unless_pull():
    with pytest.raises(MappingDefinitionError, match=r"steps\[1\] \(first\) cannot be inverted"):
        defn(steps=[{"op": "split"}, {"op": "first"}])
    pull_only = compile_mapping(defn(direction="pull", steps=[{"op": "split"}, {"op": "first"}]))
    assert pull_only.from_jira({"customfield_10026": "a,b"}, CTX) == "a"
    with pytest.raises(MappingError, match="never writes"):
        pull_only.to_jira("a", CTX)


def test_write_kinds():
    status = compile_mapping(
        defn(jira_field="status", internal_field="status", steps=[{"op": "path", "path": "name"}])
    )
    assert status.from_jira({"status": {"name": "In Progress", "id": "3"}}, CTX) == "In Progress"
    assert status.to_jira("Done", CTX) == JiraWrite("transition", "status", "Done")
    labels = compile_mapping(defn(jira_field="labels", internal_field="labels", write="update"))
    assert labels.to_jira(["a"], CTX) == JiraWrite("update", "labels", [{"set": ["a"]}])


def test_selectors_resolve_through_the_field_list():
    by_type = compile_mapping(
        defn(jira_field={"schema_custom": "com.pyxis.greenhopper.jira:jsw-story-points"}), FIELDS
    )
    assert by_type.jira_field == "customfield_10016"
    assert (
        compile_mapping(defn(jira_field={"name": "story points"}), FIELDS).jira_field == "customfield_10026"
    )
    with pytest.raises(MappingError, match="matches several fields: customfield_10026 .*customfield_10027"):
        compile_mapping(
            defn(jira_field={"schema_custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"}),
            FIELDS,
        )
    with pytest.raises(MappingError, match="no Jira field matches"):
        compile_mapping(defn(jira_field={"name": "Nope"}), FIELDS)
    with pytest.raises(MappingError, match="needs the Jira field list"):
        compile_mapping(defn(jira_field={"name": "Story Points"}))


def test_validate_value_rules():
    m = compile_mapping(
        defn(
            validate={"type": "number", "required": True, "min": 0, "max": 40, "allowed": [1, 2, 3, 5, 8, 50]}
        )
    )
    assert m.validate_value(5) == []
    assert m.validate_value(None) == ["a value is required"]
    assert m.validate_value(50) == ["50 is above the maximum 40"]
    assert m.validate_value(4) == ["4 not among the allowed values"]
    assert m.validate_value("5") == ["expected number, got str"]
    text = compile_mapping(defn(validate={"pattern": r"[A-Z]+-\d+", "max": 8}))
    assert text.validate_value("ENG-12") == []
    assert text.validate_value("eng-123456") == [
        "10 (length) is above the maximum 8",
        "'eng-123456' does not match the pattern '[A-Z]+-\\\\d+'",
    ]


def test_mapping_set_pull_continues_and_applies_defaults():
    mset = MappingSet.compile(
        [
            defn(name="points", steps=[{"op": "to_float"}], default=0.0, validate={"max": 10}),
            defn(
                name="risk", jira_field="customfield_10027", internal_field="risk", steps=[{"op": "to_int"}]
            ),
            defn(name="title", jira_field="summary", internal_field="title", steps=[{"op": "trim"}]),
            defn(name="other", jira_field="x", internal_field="x", connection="elsewhere"),
        ],
        connection="main",
    )
    assert [m.name for m in mset] == ["points", "risk", "title"]
    values, errors = mset.pull(
        {"customfield_10026": "lots", "customfield_10027": 2.5, "summary": " Hi "}, CTX
    )
    assert values == {"points": 0.0, "title": "Hi"}  # risk failed without a default: left out
    assert [(e.mapping, e.step) for e in errors] == [
        ("points", "steps[0] to_float"),
        ("risk", "steps[0] to_int"),
    ]
    values, errors = mset.pull({"customfield_10026": 12, "customfield_10027": 1}, CTX)
    assert values["points"] == 12.0 and [(e.mapping, e.step) for e in errors] == [("points", "validate")]


def test_mapping_set_push_refuses_rule_violations():
    mset = MappingSet.compile([defn(steps=[{"op": "to_float"}], validate={"min": 0})])
    writes, errors = mset.push({"points": 3.0, "unrelated": 1}, CTX)
    assert writes == [JiraWrite("field", "customfield_10026", 3.0)] and errors == []
    writes, errors = mset.push({"points": -1.0}, CTX)
    assert writes == [] and "below the minimum" in errors[0].message


def test_two_mappings_pulling_into_one_field_are_refused():
    with pytest.raises(ValueError, match="both pull into 'points'"):
        MappingSet.compile([defn(name="a"), defn(name="b", jira_field="customfield_10016")])


def test_preview_rows():
    issues = [
        {"key": "ENG-1", "fields": {"customfield_10026": "3"}},
        {"key": "ENG-2", "fields": {"customfield_10026": "x"}},
        {"key": "ENG-3", "fields": {"customfield_10026": "99"}},
    ]
    rows = preview(defn(steps=[{"op": "to_float"}], default=1.0, validate={"max": 20}), issues, CTX)
    assert [(r.key, r.jira_value, r.internal_value) for r in rows] == [
        ("ENG-1", "3", 3.0),
        ("ENG-2", "x", 1.0),
        ("ENG-3", "99", 99.0),
    ]
    assert rows[0].back_to_jira == JiraWrite("field", "customfield_10026", 3.0) and rows[0].errors == []
    assert rows[1].used_default and "not a number" in rows[1].errors[0]
    assert rows[2].validation == ["99.0 is above the maximum 20"]


def test_toml_round_trip_is_stable():
    definitions = [
        defn(
            name="weird",
            jira_field={"schema_custom": "com.pyxis.greenhopper.jira:jsw-story-points", "name": 'Say "hi"'},
            steps=[
                {
                    "op": "value_map",
                    "table": {"Back end": "be", "Ünïcode\n": "u", "x.y": "xy"},
                    "default": "?",
                },
                {"op": "map_each", "steps": [{"op": "prefix", "text": 'q"\\'}]},
            ],
            reverse_steps=[{"op": "regex_replace", "pattern": r"\d+\t", "replacement": r"\g<0>"}],
            validate={"allowed": ["be", 1, 2.5, True]},
            default=0,
            strategy="newest_wins",
            direction="push",
        ),
        defn(name="plain", steps=[{"op": "scale", "factor": 0.1}], default="n/a"),
    ]
    text = dumps(definitions)
    assert loads(text) == definitions
    assert dumps(loads(text)) == text
    assert loads(text)[0].has_default and loads(text)[0].default == 0


def test_toml_import_reports_every_bad_mapping():
    text = """
[[mapping]]
name = "a"
jira_field = "x"
internal_field = "a"
steps = [{ op = "round", digits = -1 }]

[[mapping]]
name = "a"
jira_field = "y"
internal_field = "b"
direction = "sideways"
"""
    with pytest.raises(MappingDefinitionError) as info:
        loads(text)
    problems = info.value.problems
    assert any("#1 'a'" in p and "steps[0] (round).digits" in p for p in problems)
    assert any("#2 'a'" in p and "direction" in p for p in problems)
    with pytest.raises(MappingDefinitionError, match="not valid TOML"):
        loads("[[mapping]\n")


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
words = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=","), min_size=1, max_size=8)


@given(value=finite, factor=st.sampled_from([0.5, 2.0, 3600.0, 0.001]))
def test_property_scale_pipeline_round_trips(value, factor):
    m = compile_mapping(defn(steps=[{"op": "to_float"}, {"op": "scale", "factor": factor}]))
    back = m.to_jira(value, CTX).value
    assert math.isclose(m.from_jira({"customfield_10026": back}, CTX), value, rel_tol=1e-9, abs_tol=1e-9)


@given(items=st.lists(words, max_size=6))
def test_property_list_pipelines_round_trip(items):
    m = compile_mapping(
        defn(
            jira_field="customfield_1",
            internal_field="tags",
            steps=[{"op": "split"}, {"op": "map_each", "steps": [{"op": "prefix", "text": "t:"}]}],
        )
    )
    internal = [f"t:{i}" for i in items]
    raw = m.to_jira(internal, CTX).value
    assert m.from_jira({"customfield_1": raw}, CTX) == internal


@given(
    moment=st.datetimes(
        min_value=__import__("datetime").datetime(1990, 1, 1),
        max_value=__import__("datetime").datetime(2090, 1, 1),
    ),
    zone=st.sampled_from(["UTC", "Australia/Sydney", "America/New_York", "Asia/Kolkata"]),
)
def test_property_datetime_round_trips(moment, zone):
    from zoneinfo import ZoneInfo

    m = compile_mapping(
        defn(jira_field="duedate", internal_field="due", steps=[{"op": "datetime", "tz": zone}])
    )
    aware = moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=ZoneInfo("UTC"))
    internal = aware.astimezone(ZoneInfo(zone)).isoformat(timespec="milliseconds")
    raw = m.to_jira(internal, CTX).value
    assert m.from_jira({"duedate": raw}, CTX) == internal


@given(table=st.dictionaries(words, st.integers(), min_size=1, max_size=6), pick=st.integers(0, 5))
def test_property_value_map_inverse_when_one_to_one(table, pick):
    from jira_console.mapping import parse_step

    step = parse_step({"op": "value_map", "table": table})
    assert step.is_invertible() == (len(set(table.values())) == len(table))
    if step.is_invertible():
        internal = list(table.values())[pick % len(table)]
        assert step.forward(step.inverse(internal, CTX), CTX) == internal


@given(text=st.text(max_size=30))
def test_property_toml_string_escaping(text):
    d = defn(name="t", steps=[{"op": "prefix", "text": text}], description=text)
    assert loads(dumps([d])) == [d]


def test_field_selector_needs_a_key():
    with pytest.raises(Exception, match="needs one of"):
        FieldSelector()
