"""Webhooks screen: events, status filter, payload view, rates and retrying failed events."""

from __future__ import annotations

from textual.widgets import DataTable

from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.webhooks import WebhooksScreen, status_counts
from tests.fakes import screen_text, settle, wait_for
from tests.fakes.engine import FIXED_NOW, FakeEngine


def make_app(engine: FakeEngine) -> JiraConsoleApp:
    return JiraConsoleApp(engine, now=lambda: FIXED_NOW, refresh_interval=None, start_mode="webhooks")


def payload(app: JiraConsoleApp) -> str:
    return str(app.screen.query_one("#payload").render())


async def test_events_rates_and_pretty_payload() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WebhooksScreen)
        assert app.screen.query_one(DataTable).row_count == 10
        text = screen_text(app)
        assert (
            "in 2.0/min" in text and "done 1.6/min" in text and "failed 2" in text and "processed 8" in text
        )
        assert '"key": "OPS-10"' in payload(app)  # newest first, pretty-printed over lines
        assert "\n" in payload(app)


async def test_status_filter_cycles_and_shows_the_error() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        screen = app.screen
        assert screen.status_filter == "failed"
        assert [e.id for e in screen.events] == [8, 3]
        assert "filter: failed" in screen_text(app)
        assert payload(app).startswith("error: mapping story-points: expected a number, got 'lots'")


async def test_retry_the_selected_failed_event() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f", "down")
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert engine.retried == [3]
        assert await wait_for(pilot, lambda: [e.id for e in app.screen.events] == [8])
        assert "failed 1" in screen_text(app)


async def test_retry_refuses_an_event_that_did_not_fail() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert engine.retried == []
        assert any("Select a failed event" in n.message for n in app._notifications)


async def test_received_event_refreshes_the_table() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        engine.add_webhook(
            connection="cloud",
            identifier="wh-x",
            event_type="jira:issue_created",
            issue_key="OPS-50",
            status="pending",
            attempts=0,
            last_error=None,
            payload="not json {",
        )
        assert await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 11)
        await settle(pilot)
        assert payload(app) == "not json {"  # shown as received when it does not parse


def test_status_counts_nested_or_flat() -> None:
    assert status_counts({"counts": {"failed": 2}, "queue_depth": 1}) == {"failed": 2}
    assert status_counts({"failed": 2, "processed": 5, "queue_depth": 1, "received_per_minute": 3.0}) == {
        "failed": 2,
        "processed": 5,
    }
