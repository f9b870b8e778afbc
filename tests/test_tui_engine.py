"""The console over the real engine facade and a simulated Jira (the other console tests use a fake):
each operator action reaches the store and the simulator."""

from __future__ import annotations

import json

from textual.coordinate import Coordinate
from textual.widgets import DataTable, TextArea

from jira_console.mapping import templates
from jira_console.mapping.compiled import field_dicts
from jira_console.store import queue as q
from jira_console.tui.app import JiraConsoleApp
from tests.fakes import screen_text, settle, wait_for


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
        assert table.row_count > 0

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
        after = internal_values()
        changed = [k for k in before if before[k] not in ("null", "") and before[k] != after.get(k)]
        assert changed, (before, after)
        key = changed[0]
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
        assert "field errors 1" in text and f"{key} priority" in text
