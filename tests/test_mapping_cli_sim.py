"""`mapping validate` and `mapping test` against the simulator, both flavors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jira_console.cli import app
from jira_console.mapping import dumps, templates
from jira_console.simulator import FIELD_IDS
from tests.fixtures.simulator import connection_for


def _config(tmp_path: Path, conn, db_url: str) -> Path:
    path = tmp_path / "cfg.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[[jira]]\nname = "s"\nurl = "{conn.url}"\n'
        f'user = "{conn.user}"\ntoken_env = "{conn.token_env}"\n'
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_validate_and_test_against_the_site(tmp_path, sim_factory, monkeypatch, sqlite_url, flavor) -> None:
    sim = sim_factory(flavor, issues=10)
    cfg = _config(tmp_path, connection_for(sim, monkeypatch), sqlite_url)
    ids = dict(FIELD_IDS[flavor])
    good = [templates.story_points(flavor, ids), templates.team(flavor, ids), templates.labels(flavor, ids)]
    mappings = tmp_path / "m.toml"
    mappings.write_text(dumps(good))
    run = CliRunner().invoke
    imported = run(app, ["--config", str(cfg), "mapping", "import", str(mappings), "--connection", "s"])
    assert imported.exit_code == 0, imported.output

    ok = run(
        app, ["--config", str(cfg), "mapping", "validate", "--connection", "s", "--issue", "ENG-1", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert report["ok"] is True and report["checked"] == 3

    tested = run(app, ["--config", str(cfg), "mapping", "test", "ENG-1", "--connection", "s", "--json"])
    assert tested.exit_code == 0, tested.output
    results = {r["mapping"]: r for r in json.loads(tested.output)["results"]}
    assert set(results) == {"story_points", "team", "labels"}
    assert results["story_points"]["internal_value"] == sim.issue("ENG-1")["story_points"]

    broken = dumps([templates.story_points(flavor, {"story_points": "customfield_99999"})])
    mappings.write_text(broken.replace('name = "story_points"', 'name = "broken_points"'))
    refused = run(app, ["--config", str(cfg), "mapping", "import", str(mappings), "--connection", "s"])
    assert refused.exit_code == 2 and "customfield_99999" in refused.output  # refused at import (issue 13)
    # A mapping stored before its field went away (or by SQL) is still reported by validate.
    from jira_console.mapping import loads
    from jira_console.mapping import repo as mrepo
    from jira_console.store.db import Database

    with Database(sqlite_url) as db:
        mrepo.save(db, loads(mappings.read_text())[0], connection="s")
    bad = run(app, ["--config", str(cfg), "mapping", "validate", "--connection", "s", "--json"])
    assert bad.exit_code == 1, bad.output
    problems = json.loads(bad.output)["problems"]
    assert any(p["mapping"] == "broken_points" and "customfield_99999" in json.dumps(p) for p in problems)
