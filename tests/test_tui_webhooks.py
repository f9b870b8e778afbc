"""Webhooks screen: events, status filter, payload view, rates and retrying failed events."""

from __future__ import annotations

from textual.widgets import DataTable

from jira_console import events as ev
from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.webhooks import WebhooksScreen
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
        assert "in 3/min" in text and "done 2/min" in text and "failed 2" in text and "applied 7" in text
        assert "ignored 1" in text and "stale 0" not in text  # statuses nothing is in stay off the line
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
            status="received",
            attempts=0,
            last_error=None,
            payload="not json {",
        )
        assert await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 11)
        await settle(pilot)
        assert payload(app) == "not json {"  # shown as received when it does not parse


async def test_a_status_the_engine_reports_joins_the_filter_cycle() -> None:
    engine = FakeEngine()
    engine.add_webhook(
        connection="cloud",
        identifier="wh-q",
        event_type="jira:issue_updated",
        issue_key="OPS-51",
        status="quarantined",
        attempts=1,
        last_error=None,
        payload="{}",
    )
    app = make_app(engine)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.statuses[-1] == "quarantined" and "quarantined 1" in screen_text(app)
        for _ in screen.statuses:
            await pilot.press("f")
        await settle(pilot)
        assert screen.status_filter == "quarantined"
        assert [e.issue_key for e in screen.events] == ["OPS-51"]


def status_cell(app: JiraConsoleApp, event_id: int) -> str:
    table = app.screen.query_one(DataTable)
    return table.get_cell(str(event_id), table.ordered_columns[3].key).plain


async def test_a_processed_event_is_updated_in_place_by_its_id() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        pages, single = engine.reads["list_webhook_events"], engine.reads.get("get_webhook_event", 0)
        await pilot.press("down", "down")  # on event 8; the cursor stays on it through the update
        engine.process_webhook(8, "applied")
        assert await wait_for(pilot, lambda: status_cell(app, 8) == "applied")
        await settle(pilot)
        assert engine.reads["list_webhook_events"] == pages  # no reload: only event 8 was read again
        assert engine.reads["get_webhook_event"] == single + 1
        assert app.screen.query_one(DataTable).row_count == 10
        assert app.screen.selected().id == 8 and not payload(app).startswith("error")
        assert "failed 1" in screen_text(app) and "applied 8" in screen_text(app)


async def test_a_processed_event_leaves_a_filter_it_no_longer_matches_and_joins_one_it_does() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert [e.id for e in app.screen.events] == [8, 3]
        pages = engine.reads["list_webhook_events"]
        engine.process_webhook(8, "applied")
        assert await wait_for(pilot, lambda: [e.id for e in app.screen.events] == [3])
        await settle(pilot)
        assert engine.reads["list_webhook_events"] == pages
        assert app.screen.query_one(DataTable).row_count == 1
        engine.process_webhook(5, "failed", "Jira said 400")  # not shown yet: its place needs the page
        assert await wait_for(pilot, lambda: [e.id for e in app.screen.events] == [5, 3])
        assert engine.reads["list_webhook_events"] == pages + 1
        assert payload(app).startswith("error: Jira said 400")


async def test_duplicate_deliveries_cost_nothing_and_an_event_without_id_reloads() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        pages, single = engine.reads["list_webhook_events"], engine.reads.get("get_webhook_event", 0)
        engine.emit(ev.WebhookReceived(4, "cloud", "jira:issue_updated", "OPS-4", duplicate=True))
        engine.process_webhook(3, "applied")
        assert await wait_for(pilot, lambda: status_cell(app, 3) == "applied")
        await settle(pilot)
        assert engine.reads["get_webhook_event"] == single + 1  # event 3 only; the duplicate was skipped
        assert engine.reads["list_webhook_events"] == pages
        engine.emit(ev.WebhookReceived(None, "cloud", "jira:issue_updated", "OPS-4"))
        assert await wait_for(pilot, lambda: engine.reads["list_webhook_events"] == pages + 1)
