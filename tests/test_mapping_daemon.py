"""Issue 13: a running daemon applies a new mapping version within one sync interval, without a restart.

The daemon runs as a real process; the mapping is imported with the CLI (which attaches to it). Both flavors,
both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jira_console.cli import app
from jira_console.simulator import Simulator
from jira_console.simulator.model import TEAM_OPTIONS
from jira_console.store import models as m
from jira_console.store.db import Database
from tests.test_daemon import daemons, issue_count, wait_for  # noqa: F401 - daemons is a fixture

INTERVAL = 5  # the least the configuration allows
ISSUES = 25

MAPPING = """
[[mapping]]
name = "team"
jira_field = { schema_custom = "com.atlassian.jira.plugin.system.customfieldtypes:select", name = "Team" }
internal_field = "team"
steps = [
  { op = "option" },
  { op = "value_map", table = { Backend = "be", Frontend = "fe", Platform = "pl" } },
]
"""


def _config(tmp_path: Path, sim: Simulator, db_url: str) -> Path:
    user, _ = sim.credentials["basic"]
    path = tmp_path / "daemon.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[[jira]]
name = "sim"
url = "{sim.url}"
auth = "basic"
user = "{user}"
token_env = "JIRA_SIM_TOKEN"
overlap_seconds = 0
sync_interval_seconds = {INTERVAL}
reconcile_interval_seconds = 3600
[daemon]
heartbeat_seconds = 0.5
lease_seconds = 5
[logging]
level = "WARNING"
"""
    )
    path.chmod(0o600)
    return path


def _teams(db: Database) -> dict[str, str | None]:
    with db.session() as s:
        return {r.key: (r.fields or {}).get("team") for r in s.query(m.Issue).filter_by(connection="sim")}


def _backfilled(db: Database, expected: dict[str, str | None]) -> tuple[datetime, int] | None:
    """(when the newest run started, how many issues it back-filled) once every issue holds its expected
    team and that run finished; None before."""
    with db.session() as s:
        teams = {r.key: (r.fields or {}).get("team") for r in s.query(m.Issue).filter_by(connection="sim")}
        state = s.get(m.SyncState, ("sim", "issues"))
        if teams != expected or state is None or state.last_status in (None, "running"):
            return None  # the back-fill's pages are committed before its run is recorded as finished
        assert state.last_started_at is not None
        started = state.last_started_at.replace(tzinfo=state.last_started_at.tzinfo or UTC)
        return started, int((state.counts or {}).get("backfilled", 0))


@pytest.mark.timing
@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_a_running_daemon_applies_a_new_mapping_within_one_sync_interval(
    tmp_path,
    sim_factory,
    db_url,
    daemons,  # noqa: F811 - the fixture imported above
    monkeypatch,
    flavor,
) -> None:
    sim = sim_factory(flavor, issues=ISSUES)
    config = _config(tmp_path, sim, db_url)
    monkeypatch.setenv("JIRA_SIM_TOKEN", sim.credentials["basic"][1])
    db = Database(db_url)
    try:
        db.migrate()
        d = daemons(config, "d-map", sim, listen=False)
        wait_for(lambda: issue_count(db, "sim") == ISSUES, "the first import", daemons=(d,))
        assert set(_teams(db).values()) == {None}

        file = tmp_path / "team.toml"
        file.write_text(MAPPING)
        result = CliRunner().invoke(app, ["--config", str(config), "mapping", "import", str(file)])
        assert result.exit_code == 0, result.output
        # From when the new version is stored (the command checks it against Jira first, which on a loaded
        # machine took seconds of the interval before the daemon could see it).
        imported_at = datetime.now(UTC)

        codes = {"Backend": "be", "Frontend": "fe", "Platform": "pl"}
        expected = {}
        for key in _teams(db):
            option = sim.issue(key)["team"]
            expected[key] = codes[dict(TEAM_OPTIONS)[option]] if option else None
        assert any(expected.values())
        started, backfilled = wait_for(
            lambda: _backfilled(db, expected), "every issue back-filled by the daemon", daemons=(d,)
        )
        d.alive()  # the same process: no restart
        # The run that back-filled (the newest: the teams and the run's record are read together) started
        # within one interval of the import, plus the rest of a run that was under way at the time.
        assert backfilled == ISSUES
        assert started - imported_at < timedelta(seconds=INTERVAL + 2), (started, imported_at)
    finally:
        db.close()
