"""Webhooks screen: events, status filter, payload view, rates and retrying failed events."""

from __future__ import annotations

from textual.widgets import DataTable

from jira_console import events as ev
from jira_console.facade import WebhookStats
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
        assert "\nerror: mapping story-points: expected a number, got 'lots'\n" in payload(app)


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
        assert app.screen.selected().id == 10  # the highlight stays on the event it was on
        await pilot.press("up")
        await settle(pilot)
        assert payload(app).endswith("\nnot json {")  # shown as received when it does not parse


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
        assert app.screen.selected().id == 8 and "error" not in payload(app)
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
        assert app.screen.selected().id == 3  # the highlight stayed on its event, below the new one
        await pilot.press("up")
        await settle(pilot)
        assert "\nerror: Jira said 400\n" in payload(app)


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


def add_event(engine: FakeEngine, key: str, status: str = "applied") -> int:
    return engine.add_webhook(
        connection="cloud",
        identifier=f"wh-{key}",
        event_type="jira:issue_updated",
        issue_key=key,
        status=status,
        attempts=1,
        last_error=None,
        payload="{}",
    ).id


def subtitle(app: JiraConsoleApp) -> str:
    return str(app.screen.query_one("#payload-pane").border_subtitle)


async def test_the_highlight_stays_on_its_event_while_new_ones_arrive_above_it() -> None:
    """The demo adds an event every few seconds, newest first: the highlight stayed on a row number, so the
    payload pane went #12 -> #13 -> #14 by itself and `t` retried whatever had slid under it."""
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        await pilot.press("down", "down")  # event 8, failed
        await settle(pilot)
        assert app.screen.selected().id == 8 and subtitle(app) == "#8"
        for n in range(3):
            add_event(engine, f"OPS-{60 + n}")
            assert await wait_for(pilot, lambda n=n: table.row_count == 11 + n)
            await settle(pilot)
        assert app.screen.selected().id == 8 and subtitle(app) == "#8" and table.cursor_row == 5
        await pilot.press("t")
        await settle(pilot)
        assert engine.retried == [8]
        assert app.screen.selected().id == 8  # the retry's reload keeps it too (it used to jump to the top)


async def test_the_view_stays_steady_when_events_arrive_above_the_highlight() -> None:
    engine = FakeEngine()
    for n in range(30):
        add_event(engine, f"OPS-{100 + n}")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=25)
        await settle(pilot)
        chosen, line = app.screen.selected().id, table.cursor_row - table.scroll_y
        assert table.scroll_y > 0
        for n in range(2):
            add_event(engine, f"OPS-{200 + n}")
        assert await wait_for(pilot, lambda: table.row_count == 42)
        await settle(pilot)
        assert app.screen.selected().id == chosen and table.cursor_row == 27
        assert table.cursor_row - table.scroll_y == line  # on the same line of the screen


async def test_an_event_leaving_the_filter_above_the_highlight_does_not_move_it() -> None:
    engine = FakeEngine()
    add_event(engine, "OPS-70", status="failed")
    add_event(engine, "OPS-71", status="failed")
    app = make_app(engine)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f", "down", "down")
        await settle(pilot)
        assert [e.id for e in app.screen.events] == [12, 11, 8, 3] and app.screen.selected().id == 8
        engine.process_webhook(11, "applied")
        assert await wait_for(pilot, lambda: [e.id for e in app.screen.events] == [12, 8, 3])
        await settle(pilot)
        assert app.screen.selected().id == 8 and subtitle(app) == "#8"


async def test_a_retry_reports_its_outcome_when_it_lands_and_the_pane_shows_the_events_state() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f")  # failed: 8, 3
        await settle(pilot)
        assert payload(app).startswith("failed · 2 attempt(s) · received 09:28:30 · processed —\n")
        await pilot.press("t")
        await settle(pilot)
        assert engine.retried == [8]
        assert any("queued again" in n.message for n in app._notifications)
        # No longer failed, it left the filter: the highlight went to the next failed event.
        assert [e.id for e in app.screen.events] == [3] and app.screen.selected().id == 3
        engine.process_webhook(8, "failed", "Jira said 400 about story points")
        expected = (
            "Retried webhook event #8 failed again: Jira said 400 about story points; it failed at once"
        )
        assert await wait_for(pilot, lambda: any(n.message.startswith(expected) for n in app._notifications))
        await settle(pilot)
        assert [e.id for e in app.screen.events] == [8, 3] and app.screen.selected().id == 3
        await pilot.press("up")
        await settle(pilot)
        assert payload(app).startswith("failed · 1 attempt(s) · received 09:28:30 · processed 09:30:00\n")

        # Attached to a daemon no event arrives: the periodic refresh brings the outcome.
        await pilot.press("down", "t")
        await settle(pilot)
        assert engine.retried == [8, 3]
        engine.emit = lambda event: None  # type: ignore[method-assign]
        engine.process_webhook(3, "applied")
        app.action_refresh_now()
        assert await wait_for(
            pilot, lambda: any(n.message == "Retried webhook event #3: applied" for n in app._notifications)
        )


async def test_the_rates_line_is_not_cut_at_80_columns() -> None:
    """`queue 0  applied 511  failed 0  ignored` lost the ignored count at 80x24."""
    engine = FakeEngine()
    counts = {"applied": 511, "failed": 0, "ignored": 37, "received": 0, "processing": 0, "stale": 0}
    stats = WebhookStats(counts, queue_depth=0, received_per_minute=12, processed_per_minute=11)
    engine.webhook_stats = lambda: stats  # type: ignore[method-assign]
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "queue 0" in text and "applied 511" in text and "ignored 37" in text
    app = make_app(engine)
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        assert "queue 0  applied 511  failed 0  ignored 37" in screen_text(app)  # one line where it fits
