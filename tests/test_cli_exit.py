"""The console script's ending: after a sync it leaves without the interpreter's teardown, and what it
stored, printed and its exit code are all there (the process is run as users run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from jira_console.store import tables
from jira_console.store.db import Database

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, sim, *, dead: bool) -> Path:
    user, _ = sim.credentials["basic"]
    text = f"""
[database]
url = "sqlite:///{tmp_path / "exit.db"}"
[webhooks]
enabled = false
[[jira]]
name = "sim"
url = "{sim.url}"
user = "{user}"
token_env = "JC_EXIT_TOKEN"
rate_limit_per_second = 200
"""
    if dead:  # a second site nobody answers for: its report says failed, and the exit code says so
        text += """
[[jira]]
name = "dead"
url = "http://127.0.0.1:9"
flavor = "cloud"
user = "x"
token_env = "JC_EXIT_TOKEN"
max_attempts = 1
timeout_seconds = 1
"""
    path = tmp_path / "exit.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def _sync(config: Path, sim) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JC_EXIT_TOKEN": sim.credentials["basic"][1]}
    return subprocess.run(
        [sys.executable, "-m", "jira_console", "--config", str(config), "sync", "--full", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_a_sync_run_as_the_script_stores_and_prints_all_before_it_leaves(sim_factory, tmp_path) -> None:
    sim = sim_factory("cloud", issues=300)
    done = _sync(_config(tmp_path, sim, dead=False), sim)
    assert done.returncode == 0, done.stderr[-2000:]
    [report] = json.loads(done.stdout)  # the whole JSON document reached the pipe
    assert (report["status"], report["created"]) == ("ok", 300)
    db = Database(f"sqlite:///{tmp_path / 'exit.db'}")
    with db.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(tables.issues)).scalar_one() == 300
        assert c.execute(select(tables.sync_runs.c.status)).scalars().all() == ["ok"]
    db.close()


def test_a_failed_connection_still_ends_with_exit_code_1_and_its_report(sim_factory, tmp_path) -> None:
    sim = sim_factory("cloud", issues=20)
    done = _sync(_config(tmp_path, sim, dead=True), sim)
    assert done.returncode == 1, done.stderr[-2000:]
    reports = {r["connection"]: r for r in json.loads(done.stdout)}
    assert reports["sim"]["status"] == "ok" and reports["dead"]["status"] == "failed"
