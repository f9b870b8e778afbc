"""Sync screen: states, starting syncs by key, and live progress from SyncProgressed events."""

from __future__ import annotations

import asyncio

from textual.coordinate import Coordinate
from textual.widgets import DataTable

from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.sync import SyncScreen
from tests.fakes import screen_text, settle, wait_for
from tests.fakes.engine import FIXED_NOW, FakeEngine


def make_app(engine: FakeEngine) -> JiraConsoleApp:
    return JiraConsoleApp(engine, now=lambda: FIXED_NOW, refresh_interval=None, start_mode="sync")


def state_cell(app: JiraConsoleApp, row: int) -> str:
    return app.screen.query_one(DataTable).get_cell_at(Coordinate(row, 2)).plain


async def test_states_show_watermark_and_next_run() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SyncScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 3
        assert [str(table.get_cell_at(Coordinate(r, 1))) for r in range(3)] == ["issues", "sprints", "issues"]
        text = screen_text(app)
        assert "2025-03-14 09:20:00" in text  # watermark 1741944000000 ms as a time
        assert "counts pulled 12 · pushed 3 · conflicts 1" in text


async def test_s_starts_an_incremental_sync_of_the_selected_connection() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert engine.sync_calls == [("cloud", False)]
        assert await wait_for(pilot, lambda: "2025-03-14 09:21:00" in screen_text(app))  # watermark moved
        assert any("cloud: ok" in n.message for n in app._notifications)


async def test_f_starts_a_full_sync_and_a_syncs_everything() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "f")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert engine.sync_calls == [("dc", True), (None, False)]


async def test_progress_events_show_on_the_running_row() -> None:
    engine = FakeEngine()
    engine.sync_gate = asyncio.Event()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        assert await wait_for(pilot, lambda: "running p1 seen 50" in state_cell(app, 0))
        assert "progress p1 seen 50" in screen_text(app)
        assert state_cell(app, 1) == "ok"  # other scopes are untouched until their turn
        engine.sync_gate.set()
        assert await wait_for(pilot, lambda: state_cell(app, 0) == "ok" and state_cell(app, 1) == "ok")
        await settle(pilot)
        assert "progress" not in screen_text(app)
