"""Text from Jira, webhooks, mappings and errors is shown literally: markup in it neither styles nor acts."""

from __future__ import annotations

from dataclasses import replace

from textual.coordinate import Coordinate
from textual.widgets import DataTable

from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.widgets.lazy_table import LazyTable
from tests.fakes import screen_text, seed, settle
from tests.fakes.engine import FIXED_NOW, INJECTION, FakeEngine


def poisoned_engine() -> FakeEngine:
    engine = FakeEngine(conflicts=0)
    engine.add_conflict(
        connection="cloud",
        issue_key=INJECTION,
        field="summary",
        base=INJECTION,
        local=INJECTION,
        jira=INJECTION,
    )
    engine.add_issue(seed.issue(99, INJECTION, {"summary": INJECTION}, summary=INJECTION, status="Done"))
    engine.add_webhook(
        connection="cloud",
        identifier="wh-evil",
        event_type=INJECTION,
        issue_key=INJECTION,
        status="failed",
        attempts=1,
        last_error=INJECTION,
        payload=INJECTION,
    )
    engine._webhooks[-1] = replace(engine._webhooks[-1], headers={"user-agent": INJECTION})
    engine.update_connection("dc", recent_errors=[INJECTION])
    dc = engine.connections()[1]
    engine.update_connection(
        "dc", sync=replace(dc.sync, last_error=INJECTION), reported_by=INJECTION, reported_at=FIXED_NOW
    )
    return engine


async def test_conflict_text_is_literal_and_clicking_it_does_not_quit() -> None:
    app = JiraConsoleApp(
        poisoned_engine(), now=lambda: FIXED_NOW, refresh_interval=None, start_mode="conflicts"
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LazyTable)
        assert table.get_cell_at(Coordinate(0, 2)).plain == INJECTION
        assert INJECTION in screen_text(app)
        assert str(app.screen.query_one("#local-value").render()) == f'"{INJECTION}"'
        for target in ("#local-value", "#jira-value", "#queue"):
            await pilot.click(target, offset=(2, 0) if target != "#queue" else (20, 1))
            await settle(pilot)
        assert app.is_running and app.return_code is None


async def test_webhook_health_and_preview_text_is_literal() -> None:
    engine = poisoned_engine()
    app = JiraConsoleApp(engine, now=lambda: FIXED_NOW, refresh_interval=None, start_mode="webhooks")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        events = app.screen.query_one(DataTable)
        assert events.get_cell_at(Coordinate(0, 5)).plain == INJECTION
        assert events.get_cell_at(Coordinate(0, 7)).plain.startswith(INJECTION[:10])  # the note, as text
        pane = str(app.screen.query_one("#payload").render())
        assert pane.endswith(f"\nerror: {INJECTION}\n{INJECTION}\nheaders kept:\n  user-agent: {INJECTION}")
        await pilot.click("#payload", offset=(8, 1))
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        text = screen_text(app)
        assert f"! {INJECTION}" in text
        assert (
            f"error at 09:29:00: {INJECTION}" in text and f"via daemon {INJECTION}" in text
        )  # the sync error, the reporter
        await pilot.press("4")
        await settle(pilot)
        app.screen.query_one("#issues").value = INJECTION
        await settle(pilot, pause=0.5)
        preview = app.screen.query_one("#preview", DataTable)
        assert preview.get_cell_at(Coordinate(0, 0)).plain == INJECTION
        assert app.is_running and app.return_code is None
