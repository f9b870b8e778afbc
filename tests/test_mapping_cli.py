"""``jira-console mapping`` list/show/import/export against a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

MAPPINGS = """
[[mapping]]
name = "points"
jira_field = "customfield_10016"
internal_field = "points"
steps = [{ op = "to_float" }, { op = "round", digits = 1 }]

[[mapping]]
name = "team"
jira_field = { schema_custom = "com.atlassian.jira.plugin.system.customfieldtypes:select", name = "Team" }
internal_field = "team"
steps = [{ op = "option" }, { op = "value_map", table = { Backend = "be", Frontend = "fe" } }]
strategy = "jira_wins"
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from jira_console.cli import app
    from jira_console.cli.common import state

    cfg = tmp_path / "jira-console.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    monkeypatch.setattr(state, "_loaded", None)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--config", str(cfg), "mapping", *args])

    return run


def test_import_list_show_export(cli, tmp_path: Path):
    source = tmp_path / "m.toml"
    source.write_text(MAPPINGS)
    result = cli("import", str(source), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"name": "points", "connection": None, "version": 1},
        {"name": "team", "connection": None, "version": 1},
    ]
    listed = json.loads(cli("list", "--json").stdout)
    assert [(m["name"], m["steps"]) for m in listed] == [
        ("points", ["to_float", "round"]),
        ("team", ["option", "value_map"]),
    ]
    shown = cli("show", "team")
    assert shown.exit_code == 0 and 'strategy = "jira_wins"' in shown.stdout and "# v1" in shown.stdout
    out = tmp_path / "out.toml"
    assert cli("export", "--output", str(out)).exit_code == 0
    source.write_text(out.read_text().replace("digits = 1", "digits = 2"))
    assert json.loads(cli("import", str(source), "--json").stdout)[0]["version"] == 2
    assert cli("export").stdout == out.read_text().replace("digits = 1", "digits = 2")


def test_errors_and_exit_codes(cli, tmp_path: Path):
    assert cli("show", "nope").exit_code == 2  # no database yet: reading does not create one
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[mapping]]\nname = "x"\njira_field = "f"\ninternal_field = "x"\nsteps = [{ op = "lower" }]\n'
    )
    result = cli("import", str(bad))
    assert result.exit_code == 2
    assert "steps[0] (lower) cannot be inverted" in result.output
    assert cli("show", "nope").exit_code == 3
    assert json.loads(cli("list", "--json").stdout) == []
