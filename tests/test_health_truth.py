"""Health that tells the truth, engine side: the failing streak and the degraded rule, errors in one line
without the rows they were about, the activity series, the heartbeat's round trip, attached mode's judgment
of its daemon, the conflict queue's substring filters and natural order, names from the store, and the
listener's ``/healthz`` and ``/metrics`` over the sync health it is given."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jira_console import events as ev
from jira_console.activity import Activity, ActivityRecorder
from jira_console.cli.sync_cmd import _sync_one
from jira_console.config import Settings
from jira_console.facade import ConnectionStatus, NoLiveDaemon
from jira_console.health import SyncHealth, one_line, sync_health
from jira_console.store import catalog, conflict_queue, repo
from jira_console.store import models as m
from jira_console.store import sprints as store_sprints
from jira_console.store import state as st
from jira_console.store.converters import SyncStateRecord
from jira_console.store.db import Database
from jira_console.webhooks.listener import create_listener_app
from tests.waiting import until

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)

SQL_ERROR = (
    '(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "uq_issues_key"\n'
    "DETAIL:  Key (connection, key)=(cloud, ENG-1) already exists.\n"
    "[SQL: INSERT INTO issues (connection, key, summary) VALUES (%(connection)s, %(key)s, %(summary)s)]\n"
    "[parameters: {'connection': 'cloud', 'key': 'ENG-1', 'summary': 'Secret roadmap item'}]\n"
    "(Background on this error at: https://sqlalche.me/e/20/gkpj)"
)


def test_one_line_keeps_the_error_and_drops_the_statement_and_row() -> None:
    line = one_line(SQL_ERROR)
    assert (
        line
        == '(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "uq_issues_key"'
    )
    assert one_line("first\nsecond") == "first"
    assert one_line("x" * 500) == "x" * 199 + "…"
    assert one_line(None) is None and one_line("\n  \n") == "error (no message)"


def record(**values: object) -> SyncStateRecord:
    return SyncStateRecord(connection="c", scope="issues", last_started_at=NOW, **values)  # type: ignore[arg-type]


def test_degraded_only_after_failing_for_longer_than_two_intervals() -> None:
    assert sync_health(None, 60, NOW) == SyncHealth() and SyncHealth().verdict == "never run"
    failing = record(last_status="failed", failures=3, failing_since=NOW - timedelta(seconds=120),
                     last_success_at=NOW - timedelta(hours=1), last_error=SQL_ERROR)  # fmt: skip
    health = sync_health(failing, 60, NOW)
    assert (health.verdict, health.failures, health.degraded) == ("failing", 3, False)  # exactly two: not yet
    error = health.last_error
    assert error is not None and "[SQL" not in error and "ENG-1" not in error and "roadmap" not in error
    assert sync_health(failing, 60, NOW + timedelta(seconds=1)).verdict == "degraded"
    assert sync_health(failing, 600, NOW + timedelta(seconds=1)).verdict == "failing"  # a longer interval
    ok = record(last_status="ok", last_success_at=NOW, last_error="stale error from before")
    assert sync_health(ok, 60, NOW).verdict == "ok" and sync_health(ok, 60, NOW).last_error is None
    partial = record(last_status="partial", last_success_at=NOW, last_error="2 issues could not be written")
    assert sync_health(partial, 60, NOW).last_error == "2 issues could not be written"


def test_the_streak_is_kept_by_the_store(db: Database) -> None:
    def finish(status: str) -> SyncStateRecord:
        with db.session() as s:
            st.mark_sync_started(s, "c", "issues")
            error = None if status == "ok" else "boom"
            st.mark_sync_finished(
                s, "c", "issues", "me", status=status, error=error, counts={}, duration_ms=1, api_calls=1
            )
        with db.session() as s:
            found = st.get_sync_state(s, "c", "issues")
        assert found is not None
        return found

    first = finish("ok")
    assert first.last_success_at is not None and first.failures == 0 and first.failing_since is None
    one, two = finish("failed"), finish("failed")
    assert (one.failures, two.failures) == (1, 2) and one.failing_since == two.failing_since
    assert two.last_success_at == first.last_success_at
    back = finish("partial")
    assert back.failures == 0 and back.failing_since is None and back.last_success_at > first.last_success_at


def test_activity_buckets_the_last_minutes_by_the_wall_clock() -> None:
    recorder = ActivityRecorder(bucket_seconds=10, buckets=6)
    base = 1_000_000.0  # a bucket boundary
    recorder.call(200, 100.0, base + 1)
    recorder.call(200, 300.0, base + 9)
    recorder.call(429, 50.0, base + 12)
    recorder.call(0, 5000.0, base + 25)
    recorder.call(503, 10.0, base + 25)
    recorder.webhook(base + 26)
    snap = recorder.snapshot(now=base + 29)
    assert snap.ends_at == base + 30
    assert snap.requests == (0, 0, 0, 2, 1, 2)
    assert snap.latency_ms[3:] == (200.0, 50.0, 2505.0)
    assert snap.throttled == (0, 0, 0, 0, 1, 0)
    assert snap.failed == (0, 0, 0, 0, 0, 2) and snap.webhooks == (0, 0, 0, 0, 0, 1)
    assert snap.per_minute(snap.requests)[-1] == 12.0 and snap.minutes == 1.0
    later = recorder.snapshot(now=base + 59)  # the window moved on: the first bucket fell out
    assert later.requests == (2, 1, 2, 0, 0, 0)
    recorder.call(200, 1.0, base + 200)  # recording far later forgets what left the window
    assert recorder.snapshot(now=base + 200).requests == (0, 0, 0, 0, 0, 1)
    assert Activity.from_json(json.loads(json.dumps(asdict(snap)))) == snap


async def test_health_travels_through_the_heartbeat_unchanged(engine_factory) -> None:
    engine, _sim = await engine_factory("cloud")
    await engine.run_sync(full=True)
    engine.emit(ev.WebhookReceived(1, "sim-cloud", "jira:issue_updated", "ENG-1"))
    engine.emit(ev.WebhookReceived(None, "sim-cloud", "jira:issue_updated", "ENG-1", duplicate=True))
    [status] = engine.connections()
    assert sum(status.activity.requests) == status.total_calls > 0
    assert sum(status.activity.webhooks) == 1  # a duplicate delivery stored nothing
    assert status.auth_state == "ok" and status.sync.verdict == "ok" and status.sync.last_success_at
    [snapshot] = engine.health_snapshot()
    assert ConnectionStatus.from_json(json.loads(json.dumps(snapshot))) == status


async def test_attached_mode_judges_its_daemon_by_its_heartbeat(engine_factory) -> None:
    owner, _ = await engine_factory("cloud")
    with owner.db.session() as s:
        st.heartbeat(s, "daemon-a", host="h", pid=1, version="x", status={"connections": []})
    engine, _ = await engine_factory("cloud", attach=None)
    state = engine.engine_state()
    assert (state.mode, state.daemon, state.alive) == ("attached", "daemon-a", True)
    with owner.db.session() as s:
        s.query(m.Daemon).update({m.Daemon.heartbeat_at: datetime.now(UTC) - timedelta(seconds=10)})
    assert not engine.engine_state().alive  # three one-second intervals have passed without a beat
    with pytest.raises(NoLiveDaemon, match="daemon daemon-a is not running"):
        await engine.run_sync()
    with owner.db.session() as s:
        assert st.list_commands(s) == []  # nothing was queued for nobody
        st.mark_stopped(s, "daemon-a")
    assert engine.engine_state().stopped_at is not None
    await engine.run_here()
    assert engine.mode == "inprocess" and engine.engine_state().alive
    [report] = await engine.run_sync()
    assert report.status == "ok"


async def test_a_console_running_the_engine_hands_it_back_to_a_daemon_alive_again(
    engine_factory, monkeypatch
) -> None:
    daemon, _ = await engine_factory("cloud")  # started to run the engine for good, as a daemon is
    with daemon.db.session() as s:
        st.heartbeat(s, "daemon-a", host="h", pid=1, version="x", status={"connections": []})
    engine, _ = await engine_factory("cloud", attach=None)  # a console: attached to daemon-a
    with daemon.db.session() as s:
        st.mark_stopped(s, "daemon-a")
    await engine.run_here()
    assert engine.engine_state().live_daemon is None  # nobody to hand the engine back to
    with pytest.raises(NoLiveDaemon, match="no daemon is alive"):
        await engine.attach()
    with daemon.db.session() as s:  # restarted (a new start clears the clean stop of the last run)
        st.heartbeat(s, "daemon-a", host="h", pid=2, version="x", started_at=datetime.now(UTC))
    assert engine.engine_state().live_daemon == "daemon-a"
    # A sync running here holds the hand-over back: never two engines on one connection.
    name = engine.settings.jira[0].name
    sync, gate = engine.syncs[name], asyncio.Event()
    run = sync.run

    async def held(**kwargs):
        await gate.wait()
        return await run(**kwargs)

    monkeypatch.setattr(sync, "run", held)
    syncing = asyncio.ensure_future(engine.run_sync(name))
    await until(lambda: engine.runner.busy() is not None, "the sync running here")
    with pytest.raises(RuntimeError, match=f"a sync of {name} runs in this console"):
        await engine.attach()
    assert engine.mode == "inprocess"
    gate.set()
    [report] = await syncing
    assert report.status == "ok"
    assert await engine.attach() == "daemon-a"
    assert engine.mode == "attached" and engine.clients == {} and engine.engine_state().alive
    # The daemon's own engine never hands itself to another daemon.
    assert daemon.engine_state().live_daemon is None
    with pytest.raises(RuntimeError, match="this process is a daemon"):
        await daemon.attach()


async def test_a_queued_sync_fails_when_its_daemon_dies_waiting(engine_factory) -> None:
    owner, _ = await engine_factory("cloud")
    with owner.db.session() as s:
        st.heartbeat(s, "daemon-a", host="h", pid=1, version="x", status={"connections": []})
    engine, _ = await engine_factory("cloud", attach=None)
    waiting = asyncio.ensure_future(engine.run_sync())
    await asyncio.sleep(0.3)
    assert not waiting.done()  # queued, waiting for the daemon's outcome
    with owner.db.session() as s:
        st.mark_stopped(s, "daemon-a")
    with pytest.raises(NoLiveDaemon, match="stopped before finishing"):
        await asyncio.wait_for(waiting, timeout=10)


async def test_cli_sync_runs_here_when_its_daemon_dies_while_it_waits(engine_factory, capsys) -> None:
    owner, _ = await engine_factory("cloud")
    with owner.db.session() as s:
        st.heartbeat(s, "daemon-a", host="h", pid=1, version="x", status={"connections": []})
    engine, _ = await engine_factory("cloud", attach=None)
    name = engine.settings.jira[0].name
    waiting = asyncio.ensure_future(_sync_one(engine, name, False))

    def queued() -> bool:
        with owner.db.session() as s:
            return bool(st.list_commands(s))

    await until(queued, "the sync queued for the daemon")
    with owner.db.session() as s:
        st.mark_stopped(s, "daemon-a")  # as a daemon that dies takes its sync with it
    [report] = await asyncio.wait_for(waiting, timeout=30)
    # `jira-console sync` syncs: it said "failed" before, and the operator had to run it again.
    assert report.status == "ok" and report.connection == name and engine.mode == "inprocess"
    assert "daemon daemon-a stopped before finishing" in capsys.readouterr().err


def seed_conflicts(db: Database) -> None:
    with db.session(write=True) as s:
        for n, (conn, key, field) in enumerate(
            [
                ("cloud", "ENG-10", "summary"),
                ("cloud", "ENG-9", "story_points"),
                ("dc", "OPS-2", "summary"),
                ("cloud", "ENG-100", "assignee"),
                ("dc", "OPS-1", "labels"),
            ]  # fmt: skip
        ):
            issue = m.Issue(connection=conn, key=key, fields={}, base={})
            s.add(issue)
            s.flush()
            repo.open_conflict(s, issue.id, field, base=n, local=n + 1, jira=n + 2,
                               jira_edited_at=NOW - timedelta(minutes=n))  # fmt: skip


def test_the_conflict_queue_filters_by_substring_and_sorts_naturally(db: Database) -> None:
    seed_conflicts(db)
    with db.session() as s:
        assert conflict_queue.count_conflicts(s, field="summ") == 0  # exact, as scripts expect
        assert conflict_queue.count_conflicts(s, field="SUMM", contains=True) == 2
        assert conflict_queue.count_conflicts(s, issue_key="eng-1", contains=True) == 2  # ENG-10, ENG-100
        assert conflict_queue.count_conflicts(s, field="%", contains=True) == 0  # LIKE wildcards are literal
        keys = [c.issue_key for c in conflict_queue.list_conflicts(s, sort="key")]
        assert keys == ["ENG-9", "ENG-10", "ENG-100", "OPS-1", "OPS-2"]
        assert [c.issue_key for c in conflict_queue.list_conflicts(s, sort="-key")] == keys[::-1]
        newest_jira_edit = conflict_queue.list_conflicts(s, sort="-jira_edited")[0]
        assert newest_jira_edit.issue_key == "ENG-10" and newest_jira_edit.jira_edited_at == NOW
        ids = conflict_queue.open_conflict_ids(s, connection="DC", contains=True)
        assert len(ids) == 2
        with pytest.raises(ValueError, match="cannot sort conflicts by 'nope'"):
            conflict_queue.list_conflicts(s, sort="nope")


def test_names_the_store_knows(db: Database) -> None:
    with db.session(write=True) as s:
        for key, account, name in (("ENG-1", "acc-1", "Ana Lopez"), ("ENG-2", "acc-2", "Bo Chen")):
            raw = {"key": key, "fields": {"assignee": {"accountId": account, "displayName": name}}}
            s.add(m.Issue(connection="cloud", key=key, assignee=account, raw=raw, fields={}, base={}))
        catalog.upsert_identity(s, "cloud", "acc-2", display_name="Bo C. (HR)")
        store_sprints.upsert_sprint(s, "cloud", 7, {"name": "Sprint 7"})
        # Assigned locally (a host program's UPDATE) to someone Jira has not confirmed: Jira's version of the
        # issue still names its own assignee, whose name is not this person's.
        raw = {"key": "ENG-3", "fields": {"assignee": {"accountId": "acc-1", "displayName": "Ana Lopez"}}}
        s.add(m.Issue(connection="cloud", key="ENG-3", assignee="acc-typo", raw=raw, fields={}, base={}))
        raw = {"key": "OPS-1", "fields": {"assignee": {"name": "dave", "displayName": "Dave Okafor"}}}
        s.add(m.Issue(connection="dc", key="OPS-1", assignee="dave", raw=raw, fields={}, base={}))
        raw = {"key": "OPS-2", "fields": {"assignee": {"name": "dave", "displayName": "Dave Okafor"}}}
        s.add(m.Issue(connection="dc", key="OPS-2", assignee="nobody", raw=raw, fields={}, base={}))
    with db.session() as s:
        people, sprints = catalog.known_names(s, "cloud", ["acc-1", "acc-2", "acc-3", "acc-typo"], [7, 8])
        server_people, _ = catalog.known_names(s, "dc", ["dave", "nobody"])
    assert people == {"acc-1": "Ana Lopez", "acc-2": "Bo C. (HR)"}  # the identity table first
    assert sprints == {7: "Sprint 7"}
    assert server_people == {"dave": "Dave Okafor"}  # Server names people by user name


async def test_healthz_says_degraded_but_stays_200_and_metrics_carry_the_series(db: Database) -> None:
    settings = Settings(database={"url": "sqlite://"}, jira=[])
    health = {
        "cloud": SyncHealth(last_status="ok", last_success_at=NOW),
        "dc": SyncHealth(
            last_status="failed", last_success_at=NOW - timedelta(hours=1), failures=4,
            failing_since=NOW - timedelta(minutes=30), last_error="Jira said 503", degraded=True,
        ),
    }  # fmt: skip
    app = create_listener_app(db, settings, sync_health=lambda: health)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get("/healthz")
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "degraded" and body["degraded"] == ["dc"]
        assert body["syncs"]["dc"]["state"] == "degraded" and body["syncs"]["dc"]["failures"] == 4
        assert body["syncs"]["cloud"] == {
            "state": "ok", "last_success_at": NOW.isoformat(), "failures": 0, "failing_seconds": None,
            "last_error": None, "quarantined": 0,
        }  # fmt: skip
        metrics = (await client.get("/metrics")).text
    samples = {
        (sample.name, sample.labels.get("connection")): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    assert samples["jira_sync_last_success_timestamp_seconds", "cloud"] == NOW.timestamp()
    assert samples["jira_sync_failures", "dc"] == 4 and samples["jira_sync_degraded", "dc"] == 1
    assert samples["jira_sync_degraded", "cloud"] == 0 and samples["jira_quarantined_issues", "cloud"] == 0
    health.pop("dc")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"


async def test_a_console_reading_the_daemons_configuration_attaches_to_that_daemon(engine_factory) -> None:
    # `[daemon] name = "sync-1"` in the shared file named the console "sync-1" too: it took the live daemon
    # for itself, never attached, and would have held sync leases under the daemon's name.
    from jira_console.facade import Engine

    owner, _ = await engine_factory("cloud")
    with owner.db.session() as s:
        st.heartbeat(s, "sync-1", host="h", pid=1, version="x", status={"connections": []})
    daemon_cfg = owner.settings.daemon.model_copy(update={"name": "sync-1"})
    console = Engine(owner.settings.model_copy(update={"daemon": daemon_cfg}))
    await console.start(attach=None)
    try:
        assert console.owner != "sync-1"
        state = console.engine_state()
        assert (state.mode, state.daemon, state.alive) == ("attached", "sync-1", True)
    finally:
        await console.stop()
