"""The console over the real engine facade and a simulated Jira (the other console tests use a fake):
each operator action reaches the store and the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, ProgressBar, TextArea

from jira_console import events as ev
from jira_console.mapping import templates
from jira_console.mapping.compiled import field_dicts
from jira_console.store import queue as q
from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.daemon_gone import DaemonGoneScreen
from tests.fakes import screen_text, settle, wait_for
from tests.fixtures.mappings import pull_only_summary


def app_for(engine, mode: str) -> JiraConsoleApp:
    return JiraConsoleApp(engine, refresh_interval=None, start_mode=mode)


async def test_resolving_a_conflict_in_the_console_reaches_the_simulator(engine_factory) -> None:
    engine, sim = await engine_factory("cloud")
    await engine.run_sync(full=True)
    key = engine.list_issues(limit=3)[1].key
    engine.set_local(key, {"summary": "chosen in the console"})
    sim.edit_issue(key, {"summary": "edited in Jira"})
    await engine.run_sync()
    assert engine.count_conflicts() == 1
    app = app_for(engine, "conflicts")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert key in screen_text(app)
        await pilot.press("l")  # take local
        await settle(pilot)
        assert await wait_for(pilot, lambda: sim.issue(key)["summary"] == "chosen in the console")
    assert engine.count_conflicts() == 0
    assert any("resolved" in (a.reason or "") for a in engine.audit(key))


async def test_editing_a_mapping_changes_its_live_preview(engine_factory) -> None:
    engine, _sim = await engine_factory("server")
    await engine.run_sync(full=True)
    sync = next(iter(engine.syncs.values()))
    ids = templates.discover_field_ids("server", field_dicts(sync.field_list))
    await engine.save_mapping(templates.story_points("server", ids).to_data(), actor="test")
    app = app_for(engine, "mappings")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, pause=0.6)
        table = app.screen.query_one("#preview", DataTable)
        # the preview reads issues in a worker, on a busy machine later than any fixed pause
        assert await wait_for(pilot, lambda: table.row_count > 0)

        def internal_values() -> dict[str, str]:
            return {
                str(table.get_cell_at(Coordinate(r, 0))): str(table.get_cell_at(Coordinate(r, 2)))
                for r in range(table.row_count)
            }

        before = internal_values()
        editor = app.screen.query_one(TextArea)
        old = '{ op = "to_float" }'
        text = editor.text
        assert old in text, text
        head = text[: text.index(old)]
        line, column = head.count("\n"), len(head.rsplit("\n", 1)[-1])
        editor.replace(
            '{ op = "to_float" }, { op = "scale", factor = 10.0 }', (line, column), (line, column + len(old))
        )
        await settle(pilot, pause=0.6)

        def changed() -> list[str]:
            after = internal_values()
            return [k for k in before if before[k] not in ("null", "") and before[k] != after.get(k)]

        assert await wait_for(pilot, lambda: bool(changed())), (before, internal_values())
        after = internal_values()
        key = changed()[0]
        assert float(after[key]) == float(before[key]) * 10


async def test_retrying_a_failed_webhook_in_the_console(engine_factory) -> None:
    engine, _sim = await engine_factory("cloud")
    with engine.db.session() as s:
        inserted = q.insert_event(
            s, identifier="test-failed-1", payload=json.dumps({"webhookEvent": "jira:issue_updated"}),
            event_type="jira:issue_updated", issue_key="ENG-1", status="failed",
        )  # fmt: skip
    app = app_for(engine, "webhooks")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "failed" in screen_text(app)
        await pilot.press("t")
        await settle(pilot)
        assert await wait_for(pilot, lambda: engine.get_webhook_event(inserted.id).status == "received")


async def test_breaker_opening_shows_on_the_health_screen(engine_factory) -> None:
    engine, sim = await engine_factory("server")
    await engine.run_sync(full=True)
    app = app_for(engine, "health")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "CLOSED" in screen_text(app)
        sim.faults.set(outage=True)
        try:
            await engine.run_sync()
        except Exception:  # noqa: BLE001 - the sync fails while Jira is down; the screen is what we check
            pass
        assert await wait_for(pilot, lambda: "OPEN" in screen_text(app))
        sim.faults.clear()


async def test_a_refused_field_shows_on_the_sync_screen(engine_factory) -> None:
    engine, sim = await engine_factory("cloud")
    await engine.run_sync(full=True)
    key = engine.list_issues(limit=2)[1].key
    engine.set_local(key, {"priority": "NoSuchPriority"})
    await engine.run_sync()
    assert engine.get_issue(key).priority == "NoSuchPriority"  # kept locally
    assert [(e.issue_key, e.field) for e in engine.recent_field_errors()] == [(key, "priority")]
    app = app_for(engine, "sync")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "field errors 1  (priority on 1)" in text and f"{key} priority" in text


async def test_a_connection_never_synced_is_listed_and_s_starts_its_first_sync(engine_factory) -> None:
    # A new database holds no sync state: the Sync screen listed nothing, so s said "No connection selected"
    # and a new operator could not start the first sync from the screen made for it.
    engine, sim = await engine_factory("cloud", issues=30)
    name = engine.connections()[0].name
    [view] = engine.sync_states()
    assert (view.connection, view.scope, view.last_status, view.watermark_ms) == (name, "issues", None, None)
    app = app_for(engine, "sync")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1 and str(table.get_cell_at(Coordinate(0, 2))) == "never run"
        assert str(table.get_cell_at(Coordinate(0, 4))) == "on request"  # no daemon here: no schedule
        await pilot.press("s")
        assert await wait_for(pilot, lambda: str(table.get_cell_at(Coordinate(0, 2))) == "ok")
        assert "No connection selected" not in [n.message for n in app._notifications]
    assert len(engine.list_issues(limit=100)) == 30
    assert [v.connection for v in engine.sync_states() if v.scope == "issues"] == [name]  # not listed twice


async def test_the_sync_screen_counts_every_issue_failing_a_mapping_not_only_the_newest(
    engine_factory,
) -> None:
    engine, sim = await engine_factory("server", issues=60)
    await engine.save_mapping(pull_only_summary("as_number", "to_int"), actor="test")
    await engine.run_sync(full=True)
    assert len(engine.recent_field_errors(limit=50)) == 50  # the newest, a sample
    assert engine.field_error_counts() == {engine.connections()[0].name: {"as_number": 60}}
    app = app_for(engine, "sync")
    async with app.run_test(size=(110, 30)) as pilot:
        await settle(pilot)
        assert await wait_for(pilot, lambda: "field errors 60  (as_number on 60)" in screen_text(app))


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_a_first_import_shows_count_total_rate_and_eta(engine_factory, flavor: str) -> None:
    # Slow enough to watch: 120 issues in pages of 10 at 8 requests a second.
    engine, sim = await engine_factory(flavor, issues=120, conn={"page_size": 10, "rate_limit_per_second": 8})
    seen: list[ev.SyncProgressed] = []
    engine.subscribe(lambda e: seen.append(e) if isinstance(e, ev.SyncProgressed) else None)
    app = app_for(engine, "sync")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.start_sync(None, False)  # a first import: nothing synced yet, so everything is read

        def reading() -> bool:
            text = screen_text(app)
            return " of 120 issues (" in text and "/s · ETA " in text

        assert await wait_for(pilot, reading, tries=1000), screen_text(app)
        bar = app.screen.query_one(ProgressBar)
        assert bar.display and bar.total == 120
        assert await wait_for(pilot, lambda: "reading" not in screen_text(app), tries=1500)
    assert seen and all(e.total == 120 for e in seen) and seen[-1].seen == 120
    assert [e.elapsed_ms for e in seen] == sorted(e.elapsed_ms for e in seen)
    # Cloud's search has no total: the estimate came from the approximate-count endpoint (once).
    counted = sim.request_count("/rest/api/3/search/approximate-count", "POST")
    assert counted == (1 if flavor == "cloud" else 0)


async def test_a_dead_daemon_is_said_and_the_console_runs_the_engine_here(engine_factory, heartbeat) -> None:
    owner, _ = await engine_factory("cloud")
    beating = heartbeat(owner.db, "daemon-a")
    engine, sim = await engine_factory("cloud", attach=None)
    assert engine.mode == "attached"
    app = JiraConsoleApp(engine, refresh_interval=0.2, start_mode="sync")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "attached to daemon-a" in screen_text(app).splitlines()[0]
        beating.stop()
        # Three heartbeat intervals (3 s here) without a beat: the console says so and offers a way out.
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonGoneScreen), tries=1000)
        await settle(pilot)
        assert "daemon daemon-a silent for" in screen_text(app)
        await pilot.press("i")
        assert await wait_for(pilot, lambda: engine.mode == "inprocess", tries=500)
        await settle(pilot)
        assert "in-process" in screen_text(app).splitlines()[0]
        app.start_sync(None, False)
        assert await wait_for(
            pilot, lambda: any(": sim-cloud: ok" in n.message for n in app._notifications), tries=1500
        )
    assert engine.list_issues(limit=1) and sim.request_count("/rest/api/3/search/jql") > 0


async def test_a_daemon_that_stopped_cleanly_is_said_so(engine_factory, heartbeat) -> None:
    from jira_console.store import state as st

    owner, _ = await engine_factory("cloud")
    beating = heartbeat(owner.db, "daemon-b")  # alive until it stops: never found silent first
    engine, _ = await engine_factory("cloud", attach=None)
    app = JiraConsoleApp(engine, refresh_interval=0.2, start_mode="health")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        beating.stop()
        with owner.db.session() as s:
            st.mark_stopped(s, "daemon-b")  # what the daemon does on SIGTERM/SIGINT
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonGoneScreen), tries=500)
        await settle(pilot)
        assert "daemon daemon-b stopped at" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert "daemon-b@h pid 1  stopped at" in screen_text(app)


async def test_an_attached_sync_is_queued_for_the_daemon_and_its_outcome_reported(
    engine_factory, heartbeat
) -> None:
    from dataclasses import asdict

    from jira_console.store import state as st

    owner, _ = await engine_factory("cloud")
    beating = heartbeat(owner.db, "daemon-a")

    async def carry_out() -> None:
        """The daemon's command job: claim the sync, run it against Jira, record the reports."""
        while True:
            # As the daemon does: a write transaction from its start (a deferred one that read first could
            # not take the write lock once another connection had written: "database is locked").
            with owner.db.session(write=True) as s:
                command = st.claim_command(s, "daemon-a")
            if command is not None:
                reports = await owner.run_sync(command.args.get("connection"))
                with owner.db.session(write=True) as s:
                    st.finish_command(s, command.id, result={"reports": [asdict(r) for r in reports]})
                return
            await asyncio.sleep(0.05)

    engine, _ = await engine_factory("cloud", attach=None)
    app = JiraConsoleApp(engine, refresh_interval=None, start_mode="sync")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            daemon = asyncio.ensure_future(carry_out())
            app.start_sync("sim-cloud", False)
            await pilot.pause()
            assert app._notifications and [n.message for n in app._notifications][0] == (
                "Incremental sync of sim-cloud queued for daemon daemon-a"
            )
            await daemon
            assert await wait_for(pilot, lambda: len(app._notifications) == 2, tries=1000)
            outcome = [n.message for n in app._notifications][1]
            assert outcome.startswith("daemon daemon-a ran the incremental sync of sim-cloud: ok")
            assert "seen 40" in outcome
    finally:
        beating.stop()


async def test_a_failing_connection_says_so_on_its_health_card(engine_factory) -> None:
    engine, sim = await engine_factory("server")
    await engine.run_sync(full=True)
    sim.faults.set(outage=True)
    for _ in range(2):
        with contextlib.suppress(Exception):
            await engine.run_sync()
    app = app_for(engine, "health")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        card = app.screen.cards()["sim-server"].render_status(datetime.now(UTC)).plain
        assert "sync failed 2× in a row" in card and "last success " in card
        # The last run's error, on one line of its own (here: the breaker the outage opened).
        error = next(line for line in card.splitlines() if line.strip().startswith("error "))
        # (each run first reads Jira's clock, serverInfo, so that is the call the outage fails first)
        assert "/rest/api/2/" in error and ("breaker" in error or "503" in error)
        assert card.startswith(("✖ DOWN", "▲ FAILING"))  # never "ok" while its syncs fail
    sim.faults.clear()
