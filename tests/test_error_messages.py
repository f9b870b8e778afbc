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


def test_a_configuration_problem_says_what_the_key_takes_and_what_it_got(tmp_path) -> None:
    from jira_console.config import ConfigError, load_config

    path = tmp_path / "c.toml"
    path.write_text(
        '[[jira]]\nname = "a b/c"\nurl = "https://x.atlassian.net"\nuser = "u"\n'
        'sync_interval_seconds = "5m"\nverify_tls = "perhaps"\ntoken = 987654321\npassword = "pw-canary"\n'
        "[webhooks]\nport = 8080\n[api]\nzzz = 1\n"
    )
    path.chmod(0o600)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    said = str(err.value)
    assert "jira.0.name: takes letters, digits, '_', '.' and '-' only (1 to 64 of them), got 'a b/c'" in said
    assert "jira.0.sync_interval_seconds: takes a whole number of seconds, e.g. 300, got '5m'" in said
    assert "jira.0.verify_tls: takes true or false without quotes (a TOML boolean), got 'perhaps'" in said
    assert "jira.0.token: takes a text in quotes" in said and "987654321" not in said  # a secret: not echoed
    assert "jira.0.password: unknown key; here that is token_env" in said and "pw-canary" not in said
    assert "webhooks.port: unknown key; here that is listen" in said
    assert "api.zzz: unknown key (see config.example.toml for the keys)" in said
    assert "\n" not in said  # one line: scripts read the first line of stderr
