"""Local work reaches Jira in seconds: the daemon syncs a connection as soon as a host program edits an
issue, adds an outbox row or asks for an issue (``[daemon] local_check_seconds``), not at its next scheduled
run; and work a run leaves behind (a conflict) does not start runs over and over. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from jira_console.config import Settings
from jira_console.daemon import Daemon
from jira_console.jira.errors import JiraUnavailable
from jira_console.store import creations
from jira_console.store import tables as t
from jira_console.store.local_work import LocalWatch
from tests.fixtures.simulator import connection_for
from tests.test_cli import cli_env  # noqa: F401 - the fixture
from tests.waiting import until


def _keys(sim) -> list[str]:
    with sim.site.lock:
        keys = [k for k, i in sim.site.issues.items() if i.key == k]
    return sorted(keys, key=lambda k: int(k.split("-")[1]))


async def test_marks_move_with_work_added_after_a_run_began_and_not_with_work_it_left(rig_factory) -> None:
    rig = await rig_factory("cloud", issues=12)
    await rig.engine.run(full=True)
    name = rig.engine.conn.name
    watch = LocalWatch(rig.db, [name, "another"])
    assert watch.read() == {}
    assert watch.due(watch.read(), [name]) == []

    k1, k2, k3 = _keys(rig.sim)[:3]
    rig.sql("UPDATE issues SET summary = 'edited here' WHERE key = :k", k=k1)
    assert watch.due(watch.read(), [name]) == [name]  # no run since this process began: any waiting work
    assert watch.due(watch.read(), []) == []  # a connection whose sync runs is not due

    watch.began(name)
    assert watch.due(watch.read(), [name]) == []  # the run that began now takes it
    await rig.engine.run()
    assert rig.sim.issue(k1)["summary"] == "edited here"
    assert watch.read() == {}

    # Jira fails the write (a timeout): the run leaves the issue dirty for the next one. What waited when
    # the run began does not make the connection due again.
    rig.sql("UPDATE issues SET summary = 'not yet' WHERE key = :k", k=k2)
    watch.began(name)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(rig.client, "edit_issue", _timing_out)
        report = await rig.engine.run()
    assert report.status != "ok"
    assert watch.read()[name].edited is not None
    assert watch.due(watch.read(), [name]) == []

    # Each kind of work added after that makes it due again.
    rig.sql("UPDATE issues SET labels = :l WHERE key = :k", l='["later"]', k=k3)
    assert watch.due(watch.read(), [name]) == [name]
    watch.began(name)
    rig.sql(
        "INSERT INTO local_changes (connection, issue_key, field, value) VALUES (:c, :k, 'summary', :v)",
        c=name, k=k3, v=json.dumps("through the outbox"),
    )  # fmt: skip
    assert watch.due(watch.read(), [name]) == [name]
    watch.began(name)
    rig.sql(
        "INSERT INTO new_issues (connection, project_key, issue_type, fields) VALUES (:c, 'ENG', 'Task', :f)",
        c=name, f=json.dumps({"summary": "asked for"}),
    )  # fmt: skip
    assert watch.due(watch.read(), [name]) == [name]
    assert watch.due(watch.read(), ["another"]) == []


async def _timing_out(*_args: Any, **_kwargs: Any) -> None:
    raise JiraUnavailable(0, "PUT", "/issue", ["read timed out"])


def _daemon(sim: Any, monkeypatch: pytest.MonkeyPatch, db_url: str, check: float) -> Daemon:
    conn = connection_for(sim, monkeypatch, overlap_seconds=0, sync_interval_seconds=3600)
    settings = Settings(
        database={"url": db_url},  # type: ignore[arg-type]
        jira=[conn.model_dump()],  # type: ignore[list-item]
        daemon={"heartbeat_seconds": 1, "local_check_seconds": check},  # type: ignore[arg-type]
    )
    return Daemon(settings, listen=False)


def _runs(daemon: Daemon) -> int:
    with daemon.engine.db.session() as s:
        return int(s.execute(select(func.count()).select_from(t.sync_runs)).scalar_one())


async def test_the_daemon_syncs_at_once_when_a_host_program_edits_or_asks(
    sim_factory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = sim_factory("server", issues=6)
    daemon = _daemon(sim, monkeypatch, db_url, check=0.2)
    await daemon.start()
    try:
        name = daemon.settings.jira[0].name
        # The start-up sync (the schedule's next one is an hour away).
        await until(lambda: _runs(daemon) >= 1 and not daemon._syncs, "the start-up sync")
        key = _keys(sim)[2]
        with daemon.engine.db.engine.begin() as c:
            c.execute(t.issues.update().where(t.issues.c.key == key).values(summary="straight to Jira"))
        await until(lambda: sim.issue(key)["summary"] == "straight to Jira", "the edit in Jira")

        with daemon.engine.db.engine.begin() as c:
            c.execute(
                t.new_issues.insert().values(
                    connection=name, project_key="ENG", issue_type="Task", fields={"summary": "made at once"}
                )
            )

        def created() -> creations.CreationRecord | None:
            with daemon.engine.db.session() as s:
                found = creations.list_requests(s, connection=name)
            return next((r for r in found if r.state == "created"), None)

        request = await until(created, "the request created")
        assert sim.issue(request.issue_key)["summary"] == "made at once"
    finally:
        await daemon.shutdown(grace_seconds=5)


async def test_work_a_run_left_behind_starts_no_more_runs_and_zero_turns_the_check_off(
    sim_factory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = sim_factory("cloud", issues=6)
    daemon = _daemon(sim, monkeypatch, db_url, check=0)  # the job is not scheduled: run by hand below
    await daemon.start()
    try:
        assert daemon.scheduler.get_job("local-work") is None
        await until(lambda: _runs(daemon) >= 1 and not daemon._syncs, "the start-up sync")
        key = _keys(sim)[1]
        name = daemon.settings.jira[0].name
        monkeypatch.setattr(daemon.engine.clients[name], "edit_issue", _timing_out)
        with daemon.engine.db.engine.begin() as c:
            c.execute(t.issues.update().where(t.issues.c.key == key).values(summary="not yet"))

        await daemon._local_work_job()
        assert set(daemon._syncs) == {name}  # the edit came after the last run began
        await until(lambda: not daemon._syncs, "the sync the edit started")
        runs = _runs(daemon)
        with daemon.engine.db.session() as s:
            dirty = s.execute(select(t.issues.c.local_dirty).where(t.issues.c.key == key)).scalar_one()
        assert dirty  # Jira timed out: left for the next scheduled run
        for _ in range(3):
            await daemon._local_work_job()
            assert daemon._syncs == {}
        assert _runs(daemon) == runs
    finally:
        await daemon.shutdown(grace_seconds=5)


def test_status_counts_the_issues_waiting_to_be_pushed(cli_env) -> None:  # noqa: F811
    sim, cli, _ = cli_env
    cli.json("sync")
    key = _keys(sim)[0]
    assert "local edits" not in cli("status").stdout
    cli("local", "set", key, "summary=waiting here")
    assert "local edits: sim 1 issue waiting to be pushed (issues list --dirty)" in cli("status").stdout
    assert cli.json("status")["local_edits"] == {"sim": 1}
    cli.json("sync")
    assert cli.json("status")["local_edits"] == {}


async def test_the_apis_sync_overview_counts_the_issues_waiting_to_be_pushed(api_factory) -> None:
    rig = await api_factory(issues=6)
    await rig.synced()
    for key in _keys(rig.sim)[:2]:
        rig.local_edit(key, summary="not pushed yet")
    overview = (await rig.client.get("/api/v1/integration/jira/sync")).json()
    assert overview["local_edits"] == {rig.daemon.settings.jira[0].name: 2}


async def test_the_demos_host_program_edits_the_database_and_the_daemon_pushes_it(tmp_path) -> None:
    """The demo's own host program: a plain UPDATE of an issue's priority every so often, which the demo's
    daemon finds and writes to the simulated site within seconds (its audit line on the Jira side)."""
    from jira_console.demo import start_demo
    from jira_console.store import models as m

    rig = await start_demo(issues=20, activity_per_second=0, workdir=tmp_path, host_edit_seconds=0.1)
    try:

        def pushed() -> list[tuple[str, str, Any]]:
            with rig.engine.db.session() as s:
                lines = s.scalars(
                    select(m.AuditLog).where(m.AuditLog.side == "jira", m.AuditLog.field == "priority")
                ).all()
                return [(a.connection, a.issue_key, a.new) for a in lines if a.issue_key]

        found = await until(lambda: pushed(), "a priority the host program set, pushed to Jira")
        connection, key, value = found[0]
        assert rig.sims[connection].issue(key)["priority"] == value
    finally:
        await rig.stop()


async def test_a_shutdown_stops_a_running_sync_after_its_page_and_the_next_sync_goes_on(
    sim_factory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first import of many pages used to run to its end after SIGTERM (or until the grace ran out and the
    # engine was closed under it); it now stops after the page it is writing, recorded as interrupted.
    import asyncio

    from jira_console.sync import pull as pull_module

    sim = sim_factory("server", issues=120)
    conn = connection_for(sim, monkeypatch, overlap_seconds=0, sync_interval_seconds=3600, page_size=10)
    settings = Settings(
        database={"url": db_url},  # type: ignore[arg-type]
        jira=[conn.model_dump()],  # type: ignore[list-item]
        daemon={"heartbeat_seconds": 1, "local_check_seconds": 0},  # type: ignore[arg-type]
    )
    gate, pages = asyncio.Event(), []
    real_apply = pull_module.Pull._apply

    async def held_after_two_pages(self: Any, issues: list[Any], *args: Any, **kwargs: Any) -> None:
        await real_apply(self, issues, *args, **kwargs)
        pages.append(len(issues))
        if len(pages) >= 2:
            await gate.wait()

    monkeypatch.setattr(pull_module.Pull, "_apply", held_after_two_pages)
    daemon = Daemon(settings, listen=False)
    await daemon.start()
    name = conn.name
    await until(lambda: len(pages) >= 2 and name in daemon._syncs, "the start-up sync's second page")
    task = daemon._syncs[name]
    stopping = asyncio.ensure_future(daemon.shutdown(grace_seconds=30))
    await until(lambda: daemon._stop.is_set(), "the shutdown under way")
    gate.set()
    report = await asyncio.wait_for(task, 30)
    await stopping
    assert report.status == "interrupted" and "shutdown" in report.errors[-1]
    assert len(pages) < 12  # stopped at a page, not after the 12 pages of the whole import

    monkeypatch.setattr(pull_module.Pull, "_apply", real_apply)
    again = Daemon(settings, listen=False)
    await again.engine.start()
    try:
        with again.engine.db.session() as s:
            stored = int(s.execute(select(func.count()).select_from(t.issues)).scalar_one())
            row = s.execute(select(t.sync_state).where(t.sync_state.c.connection == name)).one()
        assert 0 < stored < 120
        assert row.last_status == "interrupted" and not row.failures  # neither a failure nor a success
        finished = await again.engine.syncs[name].run()
        assert finished.status == "ok"
        with again.engine.db.session() as s:
            assert int(s.execute(select(func.count()).select_from(t.issues)).scalar_one()) == 120
    finally:
        await again.engine.stop()
