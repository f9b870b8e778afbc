"""The daemon tells the truth about its connections, as a real process over real HTTP: a connection whose
syncs keep failing makes ``/healthz`` say ``degraded`` (still 200) and ``/metrics`` carry its last
successful sync time and failing streak; every sync run is one log line; SIGTERM drains and leaves the
daemon row marked stopped; an operator's sync that overlaps the schedule runs after it without APScheduler's
"maximum number of running instances" flood."""

from __future__ import annotations

import logging
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jira_console.simulator import Simulator
from jira_console.store import state as st
from jira_console.store.db import Database
from tests.test_daemon import SECRET_ENV, DaemonProcess, free_port, listener_up, wait_for


@pytest.fixture
def daemons() -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(config: Path, name: str, sim: Simulator) -> DaemonProcess:
        started.append(DaemonProcess(config, name, sim))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def health_config(
    tmp_path: Path, sim: Simulator, db_url: str, *, interval: int = 5, rate: float = 50, page_size: int = 100
) -> tuple[Path, int]:
    port = free_port()
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
sync_interval_seconds = {interval}
reconcile_interval_seconds = 3600
rate_limit_per_second = {rate}
page_size = {page_size}
breaker_recovery_seconds = 1
[webhooks]
listen = "127.0.0.1:{port}"
secret_env = "{SECRET_ENV}"
previous_secret_env = "JC_DAEMON_TEST_NO_PREVIOUS"
[daemon]
heartbeat_seconds = 0.5
[logging]
level = "INFO"
format = "json"
"""
    )
    path.chmod(0o600)
    return path, port


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sync_runs(log: str) -> list[str]:
    return [line for line in log.splitlines() if '"event": "sync run"' in line]


def test_failing_connection_is_degraded_in_healthz_and_metrics_then_sigterm_marks_it_stopped(
    tmp_path: Path, sim_factory, db_url: str, daemons
) -> None:
    sim = sim_factory("server", issues=20)
    config, port = health_config(tmp_path, sim, db_url)
    daemon = daemons(config, "healthd", sim)
    db = Database(db_url)
    try:
        wait_for(lambda: listener_up(port), "the listener", daemons=(daemon,))

        def state():
            with db.session() as s:
                return st.get_sync_state(s, "sim", "issues")

        first = wait_for(
            lambda: (r := state()) and r.last_success_at and r, "a first good sync", daemons=(daemon,)
        )
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok"

        sim.faults.set(outage=True)
        body = wait_for(
            lambda: (b := httpx.get(f"http://127.0.0.1:{port}/healthz").json())["status"] == "degraded" and b,
            "/healthz to say degraded",
            daemons=(daemon,),
        )
        assert body["degraded"] == ["sim"] and body["database"] == "ok"
        sync = body["syncs"]["sim"]
        assert sync["state"] == "degraded" and sync["failures"] >= 2 and sync["failing_seconds"] >= 10
        assert sync["last_success_at"] == first.last_success_at.isoformat()
        assert "\n" not in sync["last_error"] and "[SQL" not in sync["last_error"]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # webhooks keep flowing

        labels = (("connection", "sim"),)
        samples = [scrape(port), scrape(port)]
        for metrics in samples:  # the series is there on every scrape, and does not move while failing
            assert metrics[("jira_sync_last_success_timestamp_seconds", labels)] == pytest.approx(
                first.last_success_at.timestamp()
            )
            assert metrics[("jira_sync_failures", labels)] >= 2
            assert metrics[("jira_sync_degraded", labels)] == 1.0
            assert metrics[("jira_quarantined_issues", labels)] == 0.0

        sim.faults.clear()
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(60) == 0, daemon.tail()
    finally:
        sim.faults.clear()
    log = daemon.log.read_text()
    runs = sync_runs(log)
    failed = [line for line in runs if '"status": "failed"' in line]
    assert len(failed) >= 2 and any('"status": "ok"' in line for line in runs), log[-3000:]
    assert all('"duration_ms"' in line and '"full": false' in line for line in runs)
    assert all('"seen"' in line for line in runs if '"status": "ok"' in line)
    for event in ("daemon started", "daemon draining", "daemon drained", "daemon stopped"):
        assert f'"event": "{event}"' in log, event
    with db.session() as s:
        [row] = st.list_daemons(s)
    assert row.name == "healthd" and row.stopped_at is not None
    db.close()


def test_an_operators_sync_during_a_scheduled_one_runs_after_it_without_a_scheduler_flood(
    tmp_path: Path, sim_factory, db_url: str, daemons
) -> None:
    # Slow syncs: 400 issues in pages of 10 at 8 requests a second take several seconds each.
    sim = sim_factory("server", issues=400)
    config, port = health_config(tmp_path, sim, db_url, rate=8, page_size=10)
    daemon = daemons(config, "slowd", sim)
    db = Database(db_url)
    wait_for(lambda: listener_up(port), "the listener", daemons=(daemon,))

    def running() -> bool:
        with db.session() as s:
            record = st.get_sync_state(s, "sim", "issues")
        return record is not None and record.last_status == "running"

    wait_for(running, "the scheduled first sync to run", daemons=(daemon,))
    with db.session() as s:
        command_id = st.enqueue_command(s, "sync", {"connection": "sim", "full": False}, created_by="test")

    def finished():
        with db.session() as s:
            command = st.get_command(s, command_id)
        return command if command is not None and command.finished_at is not None else None

    command = wait_for(finished, "the operator's sync to finish", timeout=180, daemons=(daemon,))
    assert command.error is None and command.result["reports"][0]["status"] == "ok"
    daemon.proc.send_signal(signal.SIGINT)
    assert daemon.proc.wait(60) == 0, daemon.tail()
    log = daemon.log.read_text()
    assert "maximum number of running instances" not in log
    triggers = re.findall(r'"trigger": "(\w+)"', "\n".join(sync_runs(log)))
    assert triggers[:2] == ["schedule", "command"], log[-3000:]
    db.close()


def test_a_skipped_housekeeping_run_is_not_a_warning_but_a_skipped_sync_would_be(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """APScheduler's own warning, as it words it, for a heartbeat that overran (a slow database) and for a
    sync job (which must never overlap, so its warning must stay)."""
    import jira_console.daemon  # noqa: F401 - installs the filter

    scheduler_log = logging.getLogger("apscheduler.scheduler")
    message = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'
    with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
        for job_id in ("heartbeat", "mappings", "commands", "sync:sim"):
            scheduler_log.warning(message, SimpleNamespace(id=job_id), 1)
    # (as text: a scrubbing handler another test configured may have formatted the records already)
    shown = [r.getMessage() for r in caplog.records if "maximum number of running" in r.getMessage()]
    assert len(shown) == 1 and "sync:sim" in shown[0], shown


@pytest.mark.parametrize(("status", "level"), [("ok", "info"), ("partial", "warning")])
async def test_a_sync_run_that_did_not_get_everything_through_is_logged_as_a_warning(status, level) -> None:
    from structlog.testing import capture_logs

    from jira_console.daemon import Daemon
    from jira_console.sync.report import SyncReport

    class Engine:
        async def run_sync(self, connection: str, full: bool = False) -> list[SyncReport]:
            return [SyncReport(connection, status=status)]

    with capture_logs() as logged:
        daemon = SimpleNamespace(engine=Engine(), local_watch=SimpleNamespace(began=lambda _name: None))
        await Daemon._run_sync(daemon, "sim", False, "schedule")  # type: ignore[arg-type]
    assert [(line["event"], line["log_level"], line["status"]) for line in logged] == [
        ("sync run", level, status)
    ]


async def test_a_sync_asked_for_a_connection_the_daemon_was_not_started_with_says_so(
    sim_factory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A connection added to the file after the daemon started: an attached console lists it (its own config
    # has it) and queues its sync; the daemon's answer says where its list of connections comes from.
    import asyncio

    from jira_console.config import Settings
    from jira_console.daemon import Daemon
    from tests.fixtures.simulator import connection_for

    sim = sim_factory("cloud", issues=2)
    conn = connection_for(sim, monkeypatch, overlap_seconds=0)
    settings = Settings(database={"url": db_url}, jira=[conn.model_dump()])  # type: ignore[arg-type]
    daemon = Daemon(settings, listen=False)
    await daemon.start()
    try:
        with daemon.engine.db.session(write=True) as s:
            command_id = st.enqueue_command(
                s, "sync", {"connection": "later", "full": False}, created_by="test"
            )
        for _ in range(600):  # the commands job runs every second
            with daemon.engine.db.session() as s:
                command = st.get_command(s, command_id)
            if command is not None and command.finished_at is not None:
                break
            await asyncio.sleep(0.05)
        assert command is not None and command.finished_at is not None
        assert "no connection named 'later'" in (command.error or "")
        assert "read when it started" in (command.error or "")
    finally:
        await daemon.shutdown(grace_seconds=5)
