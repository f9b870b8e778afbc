"""The CLI feels like a native tool: --version, shell completion, help without Python type labels or
reStructuredText, --json errors as JSON objects (usage errors included), and a start that does not import
the engine for commands that only read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from jira_console import __version__
from jira_console.cli import app

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def every_command(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in getattr(group, "commands", {}).items():
        found += every_command(sub, (*prefix, name))
    return found


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"jira-console {__version__}"


def test_completion_is_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("--help")
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
    # Typer finds the user's shell among the process's ancestors (shellingham), not in $SHELL: a suite run
    # whose shell has exited (a background run, a CI launcher) has none, and the script is refused.
    monkeypatch.setattr("shellingham.detect_shell", lambda *_a, **_k: ("bash", "/bin/bash"))
    shown = invoke("--show-completion")
    assert shown.exit_code == 0, (shown.output, shown.exception)
    assert "complete -o default -F" in shown.stdout and "jira-console" in shown.stdout


def test_every_help_page_is_clean() -> None:
    commands = every_command(typer.main.get_command(app))
    assert ("issues", "list") in commands and ("init",) in commands and len(commands) > 25
    for path in commands:
        result = invoke(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        page = result.stdout
        for noise in ("<bool>", "<str>", "<int>", "<list[str]>", "<float>", "``", "<path>"):
            assert noise not in page, (path, noise, page)
    listed = invoke("issues", "list", "--help").stdout
    assert "--limit" in listed and "LIMIT" in listed and "--status" in listed and "STATUS " in listed
    assert "KEY" in invoke("local", "set", "--help").stdout


def test_root_help_lists_commands_first_things_first() -> None:
    page = invoke("--help").stdout
    order = [page.index(f" {name} ") for name in ("init", "sync", "status", "issues", "demo", "simulate")]
    assert order == sorted(order)


def test_json_errors_are_json_objects(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    config.chmod(0o600)
    missing = invoke("--config", str(config), "issues", "show", "ENG-1", "--json")
    body = json.loads(missing.stdout)
    assert missing.exit_code == 2 and body["exit_code"] == 2 and "no store at" in body["error"]
    usage = invoke("--config", str(config), "issues", "list", "--limit", "zero", "--json")
    body = json.loads(usage.stdout)
    assert usage.exit_code == 2 and body["exit_code"] == 2 and "--limit" in body["error"]
    unknown = invoke("--config", str(config), "sync", "--json")
    assert unknown.exit_code == 2 and json.loads(unknown.stdout)["error"].startswith("no [[jira]]")
    plain = invoke("--config", str(config), "issues", "show", "ENG-1")
    assert plain.exit_code == 2 and plain.stdout == "" and plain.stderr.startswith("error: no store at")


def _imported(args: list[str], cwd: Path) -> set[str]:
    """The modules a real ``jira-console ARGS`` run imported (``python -X importtime``)."""
    env = {**os.environ, "JIRA_CONSOLE_CONFIG": str(cwd / "c.toml")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "jira_console", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}


@pytest.mark.parametrize(
    "args", [["--help"], ["status"], ["issues", "show", "ENG-1", "--json"]], ids=["help", "status", "show"]
)
def test_simple_commands_do_not_import_the_engine(args: list[str], tmp_path: Path) -> None:
    from jira_console.store.db import Database

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Database(url).migrate()
    (tmp_path / "c.toml").write_text(f'[database]\nurl = "{url}"\n')
    (tmp_path / "c.toml").chmod(0o600)
    if args[:2] == ["issues", "show"]:
        args = ["issues", "list"]  # the store is empty: list reads the same modules and exits 0
    modules = _imported(args, tmp_path)
    # (``jira_console.jira`` itself is light: its client and models load on first use, and status reads
    # one message from ``jira.shared``; what would cost is the client, hence httpx, named below.)
    # PostgreSQL's dialect and psutil too: the store is SQLite, and no run was left 'running' here. And the
    # ORM classes: these commands read the tables (store/tables.py) and never pay for the class mapping.
    heavy = {"jira_console.facade", "jira_console.sync", "jira_console.jira.client", "jira_console.mapping",
             "jira_console.webhooks", "alembic", "textual", "httpx", "uvicorn", "starlette",
             "sqlalchemy.dialects.postgresql", "psutil", "jira_console.store.models",
             "pydantic_settings"}  # fmt: skip
    assert not heavy & modules, sorted(heavy & modules)
    if args == ["--help"]:
        assert not {"sqlalchemy", "pydantic", "jira_console.config"} & modules
