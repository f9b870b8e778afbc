"""Sync screen: states, starting syncs by key, and live progress from SyncProgressed events."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, ProgressBar

from jira_console import events as ev
from jira_console.tui import messages
from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.sync import SyncScreen
from tests.fakes import screen_text, scroll_to_the_end, settle, wait_for
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
        # Watermark 1741944000000 ms as a time (same day as the clock: no date), next run as a countdown.
        assert [str(table.get_cell_at(Coordinate(r, 3))) for r in range(3)] == ["09:20:00"] * 3
        assert [str(table.get_cell_at(Coordinate(r, 4))) for r in range(3)] == ["in 1m00s"] * 3
        assert "pulled 12 · pushed 3 · conflicts 1" in text
        assert [state_cell(app, r) for r in range(3)] == ["ok", "ok", "failed ×11"]


async def test_the_fields_failing_most_are_named_and_the_rest_counted() -> None:
    engine = FakeEngine()
    name = engine.sync_states()[0].connection
    engine.error_counts = {name: {"status": 1, "labels": 7, "sprint_id": 2, "assignee": 3, "team": 1}}
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "field errors 14  (labels on 7, assignee on 3, sprint_id on 2, 2 more)" in text


async def test_requests_to_create_issues_are_counted_and_the_refused_ones_say_why() -> None:
    from jira_console.store.creations import CreationRecord

    engine = FakeEngine()
    name = engine.sync_states()[0].connection
    other = engine.sync_states()[2].connection
    engine.creations = [
        CreationRecord(1, name, "ENG", "Task", {"summary": "made"}, "created", issue_key="ENG-9"),
        CreationRecord(2, name, "ENG", "Task", {"summary": "waits"}, "pending"),
        CreationRecord(3, name, "NOPE", "Task", {"summary": "[bold]nowhere[/bold]"}, "failed",
                       error="Jira refused the creation: project: Specify a valid project ID or key"),
        CreationRecord(4, other, "ENG", "Task", {"summary": "elsewhere"}, "creating"),
    ]  # fmt: skip
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "creations 1 waiting, 1 refused" in text
        refusal = "Jira refused the creation: project: Specify a valid project ID or key"
        assert f"#3 NOPE [bold]nowhere[/bold]: {refusal}" in text  # plain text, never markup
        await pilot.press("down", "down")  # the other connection: one waiting, none refused
        assert await wait_for(pilot, lambda: "creations 1 waiting, 0 refused" in screen_text(app))
        assert "nowhere" not in screen_text(app)


async def test_local_edits_and_outbox_rows_waiting_for_the_push_are_counted() -> None:
    engine = FakeEngine()
    name = engine.sync_states()[0].connection
    other = engine.sync_states()[2].connection
    engine.local_edits = {name: 2}
    engine.outbox = {name: {"pending": 1, "refused": 3}, other: {"pending": 4, "refused": 0}}
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert "local edits 2 to push, outbox 1 waiting, 3 refused" in screen_text(app)
        await pilot.press("down", "down")
        assert await wait_for(pilot, lambda: "local edits 0 to push, outbox 4 waiting" in screen_text(app))
        assert "refused" not in screen_text(app)


async def test_s_starts_an_incremental_sync_of_the_selected_connection() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert engine.sync_calls == [("cloud", False)]
        assert await wait_for(pilot, lambda: "09:21:00" in screen_text(app))  # watermark moved
        messages = [n.message for n in app._notifications]
        assert messages[0] == "Started incremental sync of cloud"  # in this process: true as said
        assert any(m.startswith("Incremental sync of cloud: ok, ") for m in messages)


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
        # The fake's first page: 50 of 600 issues after 2 s (25/s), so 22 s to go.
        assert await wait_for(pilot, lambda: state_cell(app, 0) == "running 8%")
        assert "reading 50 of 600 issues (8%) · 25/s · ETA 22s · page 1" in screen_text(app)
        bar = app.screen.query_one(ProgressBar)
        assert bar.display and (bar.total, bar.progress) == (600, 50)
        assert state_cell(app, 1) == "ok"  # other scopes are untouched until their turn
        engine.sync_gate.set()
        assert await wait_for(pilot, lambda: state_cell(app, 0) == "ok" and state_cell(app, 1) == "ok")
        await settle(pilot)
        assert "reading" not in screen_text(app) and not bar.display


async def test_the_progress_cell_widens_its_column_when_no_state_was_as_wide() -> None:
    # Every row "ok": the column is as wide as its header, and a progress report updates its cell in place;
    # "running 12,345" was cut to the column's width.
    engine = FakeEngine()
    engine._sync = {k: replace(v, failures=0, last_status="ok") for k, v in engine._sync.items()}
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        event = ev.SyncProgressed("cloud", "issues", pages=3, seen=12345, pulled=0, pushed=0, conflicts=0)
        app.screen.post_message(messages.SyncProgressed(event))
        await settle(pilot)
        assert state_cell(app, 0) == "running 12,345"
        assert re.search(r"^ cloud +issues +running 12,345 ", screen_text(app), re.MULTILINE), screen_text(
            app
        )


async def test_quarantined_issues_show_in_the_detail_as_plain_text() -> None:
    from dataclasses import replace

    engine = FakeEngine()
    key = next(iter(engine._sync))
    # A cause from Jira's side is data: shown as text, never as markup.
    engine._sync[key] = replace(
        engine._sync[key], quarantined=("ENG-9: UniqueViolation: [b]broke[/b] a rule",)
    )
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "quarantined 1" in text and "ENG-9: UniqueViolation: [b]broke[/b] a rule" in text


def test_the_progress_line_counts_the_issues_created_in_jira() -> None:
    from jira_console.tui.screens.sync import progress_text

    reading = ev.SyncProgressed("cloud", "issues", 2, 200, 3, 1, 0, 200, 2000)
    assert progress_text(reading) == "200 of 200 issues (100%) · 100/s · ETA 0s · page 2 · ↓3 ↑1 ⚠0"
    creating = replace(reading, created=1250)
    assert progress_text(creating).endswith("page 2 · ↓3 ↑1 ⚠0 · 1,250 created in Jira")


def test_a_run_that_found_issues_outside_a_changed_jql_says_so_in_words() -> None:
    from jira_console.tui.format import counts

    assert counts({"seen": 40, "deleted": 0, "left_scope": 12}) == "seen 40 · outside the JQL now 12"


async def test_s_pressed_before_the_first_read_lands_syncs_the_row_it_brings() -> None:
    """A key pressed right after switching to the screen waits (bounded) for the rows, instead of
    finding nothing selected: the e2e run pressed 2 then s on a busy machine and lost the key."""
    import threading

    engine = FakeEngine()
    release = threading.Event()
    read = engine.sync_states

    def slow_states() -> list:
        release.wait(10)
        return read()

    engine.sync_states = slow_states  # type: ignore[method-assign]
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, SyncScreen) and not screen.loaded_once.is_set()
        waited: list[bool] = []
        first_read = screen.first_read

        async def noted_first_read() -> None:
            waited.append(True)
            await first_read()

        screen.first_read = noted_first_read  # type: ignore[method-assign]
        pressed = asyncio.ensure_future(pilot.press("s"))
        assert await wait_for(pilot, lambda: pressed.done() or bool(waited))  # the key reached the screen
        release.set()
        await pressed
        assert await wait_for(pilot, lambda: engine.sync_calls == [("cloud", False)])
        assert "No connection selected" not in [n.message for n in app._notifications]


async def test_the_highlight_stays_on_its_scope_when_a_state_appears_above_it() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("down", "down")
        await settle(pilot)
        assert (screen.selected().connection, screen.selected().scope) == ("dc", "issues")
        first = engine._sync["cloud", "issues"]
        engine._sync = {("alpha", "issues"): replace(first, connection="alpha"), **engine._sync}
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: screen.query_one(DataTable).row_count == 4)
        await settle(pilot)
        assert (screen.selected().connection, screen.selected().scope) == ("dc", "issues")
        assert screen.query_one(DataTable).cursor_row == 3


BREAKER_ERROR = (
    "Jira is unavailable: GET /rest/api/3/search/jql -> circuit breaker for connection 'cloud' is open after "
    "repeated failures; it half-opens in 9.7s; the last failure: GET /rest/api/3/search/jql answered 503"
)


def cloud_in_outage() -> FakeEngine:
    """The operator's case: cloud's syncs failing on its open breaker, an issue edited here (``local set``)
    and an issue asked to be created (``local create``) waiting for the push, and field errors."""
    from jira_console.store.creations import CreationRecord

    engine = FakeEngine()
    key = ("cloud", "issues")
    engine._sync[key] = replace(
        engine._sync[key], last_status="failed", failures=3, last_error=BREAKER_ERROR,
        counts={"pages": 0, "seen": 0}, last_finished_at=FIXED_NOW - timedelta(seconds=20),
    )  # fmt: skip
    engine.error_counts = {"cloud": {"status": 2, "labels": 1}}
    engine.local_edits = {"cloud": 1}
    engine.outbox = {"cloud": {"pending": 0}}
    engine.creations = [CreationRecord(1, "cloud", "ENG", "Task", {"summary": "new"}, "pending")]
    return engine


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_every_line_of_the_detail_can_be_read(size: tuple[int, int]) -> None:
    app = make_app(cloud_in_outage())
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if size == (80, 24):  # a short screen may scroll the detail; a tall one shows it whole
            scroll_to_the_end(app.screen.query_one("#detail"))
            await settle(pilot)
        text = screen_text(app)
        assert "local edits 1 to push, outbox 0 waiting" in text
        assert "creations 1 waiting, 0 refused" in text
        if size == (160, 50):
            assert "cloud / issues" in text


async def test_a_breaker_error_is_dated_and_carries_no_frozen_countdown() -> None:
    app = make_app(cloud_in_outage())
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "error at 09:29:40: Jira is unavailable" in text
        assert "is open after repeated failures; the last" in text
        assert "half-opens in" not in text
        # A run that read nothing says so in words, not as a bare "nothing" line.
        assert "last run found nothing new" in text
        assert not re.search(r"^ *nothing *$", text, re.MULTILINE)


async def test_home_and_end_move_the_highlight_to_the_first_and_last_row() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        await pilot.press("end")
        assert table.cursor_row == 2
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("end", "s")
        await settle(pilot)
        assert engine.sync_calls == [("dc", False)]


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
@pytest.mark.parametrize("unread", [0, 3])
async def test_issues_jira_could_not_return_are_said_in_a_sentence_of_their_own(
    size: tuple[int, int], unread: int
) -> None:
    """They were the last figure of a long line, in words that read "not returned by Jira this time 3"."""
    from jira_console.sync.report import SyncReport
    from jira_console.tui.app import describe_sync

    report = SyncReport("cloud", pages=3, seen=157, updated=4, pulled_fields=12, pushed_fields=3, conflicts=1,
                        unread=unread, duration_ms=900)  # fmt: skip
    engine = FakeEngine()
    engine._sync["cloud", "issues"] = replace(engine._sync["cloud", "issues"], counts=report.counts())
    app = make_app(engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        shown = screen_text(app)
    said = "3 issues unread: Jira could not return them this time; read again next sync"
    toast, _ok = describe_sync([report])
    if unread:
        assert said in shown and toast.endswith(f"in 900ms ({said})")
    else:
        assert "unread" not in shown and "unread" not in toast
    assert "this time 3" not in shown and "conflicts 1" in shown
