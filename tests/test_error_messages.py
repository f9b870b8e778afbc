"""Error messages a person reads: a listed error keeps one problem per line without letting any text start
a line of its own, an unknown mapping step is named with the nearest known ones, and a problem of a whole
mapping file names no mapping and no value it does not have."""

from __future__ import annotations

import pytest
import typer

from jira_console.cli import common
from jira_console.mapping.check import Problem
from jira_console.mapping.errors import MappingDefinitionError
from jira_console.mapping.model import parse_definition
from tests.cli_isolation import fresh_cli_state  # noqa: F401 - autouse: no --json left by another test


def test_a_listed_error_keeps_its_lines_and_no_text_inside_starts_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as exited:
        common.fail("the mapping definitions are invalid:\n  first\n  second\x1b[2J\nerror: forged", 2)
    assert exited.value.exit_code == 2
    lines = capsys.readouterr().err.rstrip("\n").split("\n")
    assert lines == [
        "error: the mapping definitions are invalid:",
        "  first",
        "  second\\x1b[2J\\x0aerror: forged",
    ]


def test_a_one_line_error_stays_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit):
        common.fail("no issue KEY-1\nerror: forged")
    assert capsys.readouterr().err == "error: no issue KEY-1\\x0aerror: forged\n"


def test_an_unknown_step_is_named_with_the_nearest_known_ones() -> None:
    definition = {"name": "m", "jira_field": "priority", "internal_field": "p", "direction": "pull"}
    with pytest.raises(MappingDefinitionError) as caught:
        parse_definition({**definition, "steps": [{"op": "lowr"}]})
    [problem] = caught.value.problems
    assert problem.startswith("steps[0]: unknown step op 'lowr'; did you mean 'lower'? the steps are ")
    assert "'path'" not in problem and "path," in problem and "expected tags" not in problem
    with pytest.raises(MappingDefinitionError) as caught:
        parse_definition({**definition, "steps": [{"op": "get"}]})
    assert "did you mean" not in caught.value.problems[0]


def test_a_problem_shows_the_mapping_and_value_only_when_it_has_them() -> None:
    assert str(Problem("", None, None, "[[mapping]] #1: bad")) == "error: [[mapping]] #1: bad"
    assert str(Problem("prio", "steps[0] path", "priority", "no such key", "warning")) == (
        "warning: mapping 'prio', step steps[0] path: no such key (value: 'priority')"
    )
