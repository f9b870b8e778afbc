"""kill -9 during a sync, at random points, then restart: the store converges with nothing lost and
nothing duplicated."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jira_console.store import models as m
from jira_console.store.db import Database

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, sim, db_url: str) -> Path:
    user, _ = sim.credentials["basic"]
    path = tmp_path / "crash.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[[jira]]
name = "crash"
url = "{sim.url}"
auth = "basic"
user = "{user}"
token_env = "JIRA_CRASH_TOKEN"
page_size = 20
overlap_seconds = 0
[logging]
level = "WARNING"
"""
    )
    path.chmod(0o600)
    return path


def run_sync(config: Path, *, kill_after: float | None) -> int | None:
    env = dict(os.environ, JIRA_CRASH_TOKEN="sim-api-token")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jira_console", "--config", str(config), "sync", "--full"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        return proc.returncode
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return None


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_9_at_random_points_then_restart_converges(sim_factory, db_url, tmp_path, seed) -> None:
    rng = random.Random(seed)
    sim = sim_factory("cloud" if seed % 2 else "server", issues=600, max_page_size=20, seed=seed)
    db = Database(db_url)
    db.migrate()
    config = write_config(tmp_path, sim, db_url)
    # First a complete import, then local edits, remote edits, and crashes in the middle of pushing/pulling.
    run_sync(config, kill_after=rng.uniform(0.3, 1.5))
    run_sync(config, kill_after=None)
    with sim.site.lock:
        keys = sorted(sim.site.issues)
    local_edits = rng.sample(keys, 15)
    remote_edits = [k for k in rng.sample(keys, 15) if k not in local_edits]
    with db.engine.begin() as conn:
        for k in local_edits:
            conn.execute(m.Issue.__table__.update().where(m.Issue.key == k).values(summary=f"local {k}"))
    for k in remote_edits:
        sim.edit_issue(k, {"summary": f"remote {k}"})
    for _ in range(3):
        run_sync(config, kill_after=rng.uniform(0.2, 1.2))
    run_sync(config, kill_after=None)
    run_sync(config, kill_after=None)

    with db.session() as s:
        rows = {r.key: r for r in s.scalars(select(m.Issue).where(m.Issue.connection == "crash"))}
        dupes = s.execute(
            select(m.Issue.key, func.count())
            .group_by(m.Issue.connection, m.Issue.key)
            .having(func.count() > 1)
        ).all()
    assert dupes == []
    assert sorted(rows) == keys
    for k in keys:
        assert rows[k].summary == sim.issue(k)["summary"], k
    for k in local_edits:
        assert sim.issue(k)["summary"] == f"local {k}"
        # pushed once: exactly one changelog entry for the summary change to the local value
        history = [
            item for h in sim.issue(k)["changelog"] for item in h["items"]
            if item.get("field") == "summary" and item.get("toString") == f"local {k}"
        ]  # fmt: skip
        assert len(history) == 1, (k, history)
        assert rows[k].local_dirty is False
    for k in remote_edits:
        assert rows[k].summary == f"remote {k}"
    db.close()
