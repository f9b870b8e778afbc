"""Fuzzing every CLI command's arguments and the config file: exit codes 0-3, at most one ``error:`` line
on stderr, never a traceback. Kept small (a few hundred examples in all) so it runs in every suite."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jira_console.cli import app
from tests.cli_isolation import restore_logging  # noqa: F401 - autouse

# Long-running or interactive: the daemon, the console, the demo and the simulator serve until stopped.
SKIPPED = {"daemon", "console", "demo", "simulate"}
EXAMPLES_PER_COMMAND = 6
TOKEN_ENV = "JC_FUZZ_TOKEN"


def _leaf_commands() -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in sorted(subs.items()):
                walk(sub, (*path, name))
        elif path and path[0] not in SKIPPED:
            found.append((path, command))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _leaf_commands()

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=16)
_value = st.one_of(
    _text,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "-", "--", "0", "-1", "NaN", "1e309", "ENG-1", "jira", "local", "{}", "[", "null"]),
    st.sampled_from(["\x1b]0;t\x07", "\x00", "a\nb", "../../etc/passwd", "'; DROP TABLE issues;--"]),
)


def _argv(command: Any) -> st.SearchStrategy[list[str]]:
    """A token list mixing the command's own options (with fuzzed values), flags and loose values."""
    pieces: list[st.SearchStrategy[list[str]]] = [_value.map(lambda v: [v])]
    for param in command.params:
        if not param.opts or not param.opts[0].startswith("-"):
            continue
        if param.name == "output":  # mapping export writes there: keep it inside the test's directory
            pieces.append(
                st.sampled_from(["out.toml", "sub/out.toml", ""]).map(lambda v, p=param: [p.opts[0], v])
            )
        elif getattr(param, "is_flag", False):
            pieces.append(st.just([param.opts[0]]))
        else:
            pieces.append(_value.map(lambda v, p=param: [p.opts[0], v]))
    return st.lists(st.one_of(pieces), max_size=5).map(lambda parts: [t for part in parts for t in part])


def _check(args: list[str], result: Any) -> None:
    shown = (args, result.exit_code, result.stdout[-500:], result.stderr[-500:])
    assert result.exit_code in (0, 1, 2, 3), shown
    assert result.exception is None or isinstance(result.exception, SystemExit), (shown, result.exception)
    assert "Traceback" not in result.stdout + result.stderr, shown
    if result.exit_code == 0:
        return  # a success may say what it did on stderr ("wrote out.toml")
    errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(errors) <= 1 and all(line.startswith("error: ") for line in errors), shown


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fuzz")
    config = root / "fuzz.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{root / "fuzz.db"}"
[[jira]]
name = "site"
url = "http://127.0.0.1:9"
user = "bot"
token_env = "{TOKEN_ENV}"
max_attempts = 1
timeout_seconds = 2
operation_deadline_seconds = 3
[webhooks]
secret_env = "JC_FUZZ_SECRET"
[logging]
level = "ERROR"
"""
    )
    config.chmod(0o600)
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("JIRA_CONSOLE_")}
    os.environ[TOKEN_ENV] = "fuzz-token-123456"
    os.environ["JC_FUZZ_SECRET"] = "fuzz-secret-0123456789"
    yield root
    os.environ.pop(TOKEN_ENV, None)
    os.environ.pop("JC_FUZZ_SECRET", None)
    os.environ.update(saved)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_fuzzed_arguments_end_in_an_exit_code_and_one_line(workspace: Path, path, command) -> None:
    runner = CliRunner()

    @settings(
        max_examples=EXAMPLES_PER_COMMAND,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(tokens=_argv(command))
    def run(tokens: list[str]) -> None:
        args = ["--config", str(workspace / "fuzz.toml"), *path, *tokens]
        cwd = os.getcwd()
        os.chdir(workspace)
        try:
            result = runner.invoke(app, args)
        finally:
            os.chdir(cwd)
        _check(args, result)

    run()


def test_every_command_is_fuzzed() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {
        "issues show",
        "local set",
        "conflicts resolve",
        "webhooks register",
        "config show",
        "sync",
    } <= names


# ------------------------------------------------------------------------------------------ config files

_KEYS = {
    "database": ["url", "echo", "pool_size", "bogus"],
    "webhooks": ["enabled", "listen", "path", "require_signature", "max_body_bytes", "workers",
                 "max_connections", "request_timeout_seconds", "public_url", "secret_env"],
    "api": ["listen", "token_env"],
    "daemon": ["name", "heartbeat_seconds", "lease_seconds"],
    "logging": ["level", "format"],
    "jira": ["name", "url", "flavor", "auth", "user", "token_env", "token", "jql", "page_size",
             "rate_limit_per_second", "project_keys", "conflict_strategy", "verify_tls"],
}  # fmt: skip
_scalar = st.one_of(
    _text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["https://x.example", "127.0.0.1:1", "project = A) OR (B", "order by key", "basic"]),
)
_toml_value = st.one_of(_scalar, st.lists(_scalar, max_size=3))


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)  # JSON's escapes are TOML basic-string escapes


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:  # sometimes not TOML at all
        return draw(st.text(max_size=60))
    lines: list[str] = []
    for section in draw(st.lists(st.sampled_from(sorted(_KEYS)), max_size=4, unique=True)):
        header = "[[jira]]" if section == "jira" else f"[{section}]"
        for _ in range(draw(st.integers(1, 2)) if section == "jira" else 1):
            lines.append(header)
            for key in draw(st.lists(st.sampled_from(_KEYS[section]), max_size=5, unique=True)):
                lines.append(f"{key} = {_toml(draw(_toml_value))}")
    return "\n".join(lines) + "\n"


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=config_texts())
def test_fuzzed_config_files_end_in_an_exit_code_and_one_line(text: str) -> None:
    import tempfile

    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "c.toml"
        config.write_text(text)
        config.chmod(0o600)
        for command in (["config", "check", "--offline"], ["config", "show", "--json"]):
            args = ["--config", str(config), *command]
            result = runner.invoke(
                app, args, env={k: None for k in os.environ if k.startswith("JIRA_CONSOLE_")}
            )
            _check(args, result)
            assert result.exit_code in (0, 2), (text, result.stderr)
