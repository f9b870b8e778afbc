"""The console as a new operator drives it, at 80x24 and 120x40: a screen bar naming every screen, a key
reference on ? and F1, Esc out of every text field, an editor that says how to leave it, empty states that
say so, sparklines on Health, every screen complete at 80 columns, and a daemon that died said so with the
offer to run the engine here. Toasts say what really happened."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from textual.widgets import DataTable, Input, Sparkline, TextArea

from jira_console.tui.app import MODE_SCREENS, JiraConsoleApp
from jira_console.tui.screens.conflicts import ConflictsScreen
from jira_console.tui.screens.daemon_gone import DaemonBackScreen, DaemonGoneScreen
from jira_console.tui.screens.help import HelpScreen
from jira_console.tui.screens.mappings import MappingsScreen
from jira_console.tui.screens.resolve_all import ResolveAllScreen
from jira_console.tui.widgets.activity import ActivityStrip
from jira_console.tui.widgets.lazy_table import LazyTable
from jira_console.tui.widgets.screen_bar import ScreenBar
from tests.fakes import screen_text, settle, wait_for
from tests.fakes.engine import FIXED_NOW, FakeEngine

SIZES = [(80, 24), (120, 40)]
TITLES = [cls.TITLE for cls in MODE_SCREENS.values()]


def make_app(engine: FakeEngine | None = None, mode: str = "health") -> JiraConsoleApp:
    return JiraConsoleApp(
        engine or FakeEngine(), now=lambda: FIXED_NOW, refresh_interval=None, start_mode=mode
    )


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.current = FIXED_NOW

    def __call__(self) -> datetime:
        return self.current


def lines(app: JiraConsoleApp) -> list[str]:
    return screen_text(app).splitlines()


def bar(app: JiraConsoleApp) -> ScreenBar:
    return app.screen.query_one(ScreenBar)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mode", list(MODE_SCREENS))
async def test_every_screen_names_all_five_on_its_top_line_and_is_complete(
    mode: str, size: tuple[int, int]
) -> None:
    app = make_app(mode=mode)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, pause=0.5)
        top = lines(app)[0]
        for number, title in enumerate(TITLES, start=1):
            assert f" {number} {title} " in top, top
        assert bar(app).current == mode
        footer = lines(app)[-1]
        # Every key the screen shows fits in the footer, with help and quit, at 80 columns too.
        for binding in MODE_SCREENS[mode].action_bindings():
            if binding.show:
                assert f"{app.get_key_display(binding)} {binding.description}" in footer, footer
        assert "? Help" in footer and "^q Quit" in footer and "palette" in footer


@pytest.mark.parametrize("size", SIZES)
async def test_a_click_on_a_screens_name_shows_it(size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        start = lines(app)[0].index(" 3 Conflicts ")
        await pilot.click(ScreenBar, offset=(start + 3, 0))
        assert await wait_for(pilot, lambda: app.current_mode == "conflicts")
        await settle(pilot)
        assert bar(app).current == "conflicts" and "Conflicts" in lines(app)[0]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("key", ["question_mark", "f1"])
@pytest.mark.parametrize("mode", list(MODE_SCREENS))
async def test_question_mark_and_f1_open_the_key_reference(
    mode: str, key: str, size: tuple[int, int]
) -> None:
    app = make_app(mode=mode)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert f"Keys — {MODE_SCREENS[mode].TITLE}" in text
        for binding in MODE_SCREENS[mode].BINDINGS:  # the footer's keys and those it hides (Reload)
            assert (binding.tooltip or binding.description) in text
        for line in ("1 … 5", "Ctrl+Q", "leave a text field", "F1", "Ctrl+P"):
            assert line in text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MODE_SCREENS[mode])


@pytest.mark.parametrize("size", SIZES)
async def test_esc_leaves_the_conflict_filter_so_keys_act_again(size: tuple[int, int]) -> None:
    engine = FakeEngine()
    app = make_app(engine, "conflicts")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("slash", "tab", *"stat")
        await settle(pilot, pause=0.4)
        screen = app.screen
        assert isinstance(screen.focused, Input)
        assert "typing · Esc leaves" in lines(app)[0]
        await pilot.press("escape")
        await settle(pilot)
        assert screen.focused is screen.query_one(LazyTable)
        assert "typing" not in lines(app)[0]
        await pilot.press("A")  # acts on the queue, not typed into the filter
        await settle(pilot)
        assert isinstance(app.screen, ResolveAllScreen)
        assert screen.query_one("#f-field", Input).value == "stat"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert app.current_mode == "sync"


@pytest.mark.parametrize("size", SIZES)
async def test_the_mapping_editor_says_how_to_leave_and_esc_does(size: tuple[int, int]) -> None:
    app = make_app(mode="mappings")
    async with app.run_test(size=size) as pilot:
        await settle(pilot, pause=0.6)
        screen = app.screen
        assert isinstance(screen, MappingsScreen)
        editor = screen.query_one("#editor", TextArea)
        assert "Esc leaves" in screen_text(app)  # on the editor's border, before anyone needs it
        await pilot.press("f2")
        await settle(pilot)
        assert screen.focused is editor and "typing · Esc leaves" in lines(app)[0]
        before = editor.text
        await pilot.press("2")  # an editor types what it is given: it does not navigate
        await settle(pilot)
        assert editor.text != before and app.current_mode == "mappings"
        await pilot.press("escape")
        await settle(pilot)
        assert screen.focused is screen.query_one("#mapping-list")
        await pilot.press("f2", "tab")  # Tab moves on to the issue field; Esc leaves that too
        await settle(pilot)
        assert screen.focused is screen.query_one("#issues", Input)
        await pilot.press("escape", "2")
        await settle(pilot)
        assert app.current_mode == "sync"


@pytest.mark.parametrize("size", SIZES)
async def test_the_key_reference_tells_how_to_leave_the_editor(size: tuple[int, int]) -> None:
    app = make_app(mode="mappings")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        text = screen_text(app)
        assert "Editor and issue field take all keys: Esc or F3 leaves." in text


@pytest.mark.parametrize("size", SIZES)
async def test_an_empty_queue_says_no_open_conflicts(size: tuple[int, int]) -> None:
    app = make_app(FakeEngine(conflicts=0), "conflicts")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert "no open conflicts" in screen_text(app)
        assert not app.screen.query_one(LazyTable).display


@pytest.mark.parametrize("size", SIZES)
async def test_a_filter_matching_nothing_says_so_and_clearing_it_brings_the_queue_back(
    size: tuple[int, int],
) -> None:
    app = make_app(mode="conflicts")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("slash", "tab", *"nosuchfield", "enter")
        await settle(pilot, pause=0.4)
        assert "no open conflicts match field~nosuchfield" in screen_text(app)
        app.screen.query_one("#f-field", Input).value = ""
        await settle(pilot, pause=0.4)
        assert app.screen.query_one(LazyTable).display and "showing 40 of 40 open" in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
async def test_webhooks_with_no_event_of_a_status_say_so(size: tuple[int, int]) -> None:
    app = make_app(mode="webhooks")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        while app.screen.status_filter != "stale":
            await pilot.press("f")
            await settle(pilot)
        assert "no stale events" in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
async def test_health_has_four_sparklines_per_connection(size: tuple[int, int]) -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        strips = list(app.screen.query(ActivityStrip))
        assert len(strips) == 2
        for strip, name in zip(strips, ("cloud", "dc"), strict=True):
            sparks = list(strip.query(Sparkline))
            assert [s.id for s in sparks] == [
                "spark-requests",
                "spark-latency",
                "spark-errors",
                "spark-webhooks",
            ]
            assert all(s.data is not None and len(s.data) == 30 for s in sparks)
            assert all(s.size.width >= 5 for s in sparks)  # drawn, not squeezed away at 80 columns
            activity = engine.connections()[0 if name == "cloud" else 1].activity
            assert list(sparks[0].data) == [n * 6.0 for n in activity.requests]  # per minute
        text = screen_text(app)
        assert "req 58/m" in text and "429/5xx 46" in text and "hooks 14/m" in text
        assert any(ch in text for ch in "▂▃▄▅▆▇█")


@pytest.mark.parametrize("size", SIZES)
async def test_health_says_a_failing_connection_is_degraded_with_its_last_success(
    size: tuple[int, int],
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        dc = app.screen.cards()["dc"].render_status(FIXED_NOW).plain
        assert "✖ DOWN" in dc  # the breaker is open; the sync streak is said too
        assert "sync failed 11× in a row for 12m00s" in dc and "last success 09:17:00 (13m00s ago)" in dc
        assert "error at 09:29:00: Jira is unavailable: GET /rest/api/2/search answered 503" in dc


@pytest.mark.parametrize("size", SIZES)
async def test_a_dead_daemon_is_said_on_screen_with_the_offer_to_run_here(size: tuple[int, int]) -> None:
    engine = FakeEngine(mode="attached")
    app = make_app(engine, "sync")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert "attached to syncd" in lines(app)[0]
        engine.daemon_died()
        app.action_refresh_now()  # the periodic re-read (off in tests) notices the stale heartbeat
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonGoneScreen))
        await settle(pilot)
        assert "daemon syncd silent for 0s" in screen_text(app)
        await pilot.press("escape")  # keep waiting: the warning stays on every screen
        await settle(pilot)
        assert "⚠ daemon syncd silent for 0s — press i to run the engine here" in lines(app)[1]
        await pilot.press("s")  # nothing is queued for a daemon that is not there
        await settle(pilot)
        assert engine.sync_calls == []
        assert any(n.message.startswith("Not queued: daemon syncd silent") for n in app._notifications)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, DaemonGoneScreen)
        await pilot.press("i")  # run here
        assert await wait_for(pilot, lambda: engine.mode == "inprocess")
        await settle(pilot)
        assert "in-process" in lines(app)[0] and "⚠" not in screen_text(app)
        await pilot.press("s")
        await settle(pilot)
        assert engine.sync_calls == [("cloud", False)]


async def test_the_offer_to_run_here_goes_away_when_the_daemon_beats_again() -> None:
    """A database outage longer than three heartbeats makes a live daemon look gone for a moment."""
    engine = FakeEngine(mode="attached")
    app = make_app(engine, "health")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        engine.daemon_died()
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonGoneScreen))
        engine.state = replace(engine.state, alive=True)  # its next heartbeat got through
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: not isinstance(app.screen, DaemonGoneScreen))
        await settle(pilot)
        assert "attached to syncd" in lines(app)[0] and "⚠" not in screen_text(app)
        assert any(n.message == "Daemon syncd is beating again" for n in app._notifications)
        assert engine.mode == "attached"
        # Gone again while the key reference covers the offer: one offer, never two stacked.
        engine.daemon_died()
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonGoneScreen))
        await pilot.press("f1")
        await settle(pilot)
        engine.state = replace(engine.state, alive=True)
        app.action_refresh_now()
        await settle(pilot)
        engine.daemon_died()
        app.action_refresh_now()
        await settle(pilot)
        app.action_offer_run_here()
        await settle(pilot)
        assert sum(isinstance(s, DaemonGoneScreen) for s in app.screen_stack) == 1


async def test_a_console_running_the_engine_offers_to_attach_when_a_daemon_is_alive_again() -> None:
    """The daemon died, the operator ran the engine here, the daemon was restarted: one engine again."""
    engine = FakeEngine(mode="attached")
    app = make_app(engine, "sync")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        engine.daemon_died()
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonGoneScreen))
        await pilot.press("i")
        assert await wait_for(pilot, lambda: engine.mode == "inprocess")
        await settle(pilot)
        engine.daemon_back()  # restarted: it beats on the database again
        app.action_refresh_now()  # the periodic re-read (off in tests) notices it
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonBackScreen))
        await settle(pilot)
        assert "daemon syncd is running on this database" in screen_text(app)
        assert any(n.message.startswith("Daemon syncd is running: press i") for n in app._notifications)
        await pilot.press("escape")  # keep running here for now: the screen bar keeps the offer
        await settle(pilot)
        assert "in-process, daemon syncd is running — press i to attach" in lines(app)[1]
        # A sync running here holds the hand-over back: never two engines on one connection.
        engine.sync_gate = asyncio.Event()
        await pilot.press("s")
        assert await wait_for(pilot, lambda: engine.sync_states()[0].running)
        await pilot.press("i")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonBackScreen))
        await pilot.press("a")
        refusal = "Not attached: a sync of cloud runs in this console; attach once it has finished"
        assert await wait_for(pilot, lambda: any(n.message == refusal for n in app._notifications))
        assert engine.mode == "inprocess"
        engine.sync_gate.set()
        await settle(pilot)
        await pilot.press("i")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonBackScreen))
        await pilot.press("a")
        assert await wait_for(pilot, lambda: engine.mode == "attached")
        await settle(pilot)
        assert "attached to syncd" in lines(app)[0] and "⚠" not in screen_text(app)
        await pilot.press("s")  # queued for the daemon again
        await settle(pilot)
        assert any(n.message.endswith("queued for daemon syncd") for n in app._notifications)


async def test_the_figures_under_the_daemon_gone_dialog_keep_counting() -> None:
    clock = Clock()
    engine = FakeEngine(mode="attached")
    app = JiraConsoleApp(engine, now=clock, refresh_interval=None, start_mode="health")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        health = app.screen
        engine.daemon_died()
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonGoneScreen))
        clock.current += timedelta(seconds=40)

        def daemon_line() -> str:
            return str(health.query_one("#daemons").render())

        assert await wait_for(pilot, lambda: "heartbeat 09:30:00 (40s ago)" in daemon_line()), daemon_line()
        assert await wait_for(pilot, lambda: "silent for 40s" in screen_text(app))  # the dialog's title too


async def test_an_attached_sync_is_queued_for_the_daemon_and_its_outcome_reported() -> None:
    engine = FakeEngine(mode="attached")
    app = make_app(engine, "sync")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert messages[0] == "Incremental sync of cloud queued for daemon syncd"
        assert messages[1].startswith("daemon syncd ran the incremental sync of cloud: ok, ")
        assert not any(m.startswith("Started") for m in messages)


@pytest.mark.parametrize("size", SIZES)
async def test_conflicts_sort_by_key_press_and_header_click(size: tuple[int, int]) -> None:
    app = make_app(mode="conflicts")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)

        def keys() -> list[str]:
            return [r.issue_key for r in screen.records.values()]

        await pilot.press("o")  # detected → key
        await settle(pilot)
        assert screen.sort == "key" and "sort: key ↑" in screen_text(app)
        assert keys()[:5] == ["DC-3", "DC-6", "DC-9", "DC-12", "DC-15"]  # by project, DC-9 before DC-12
        assert keys()[12:14] == ["DC-39", "OPS-1"]
        await pilot.press("O")
        await settle(pilot)
        assert screen.sort == "-key" and keys()[0] == "OPS-40"
        await pilot.click("#queue", offset=(2, 0))  # the id column's header
        await settle(pilot)
        assert screen.sort == "id" and keys()[:2] == ["OPS-1", "OPS-2"]
        await pilot.click("#queue", offset=(2, 0))
        await settle(pilot)
        assert screen.sort == "-id" and keys()[0] == "OPS-40"


@pytest.mark.parametrize("size", SIZES)
async def test_conflicts_name_people_show_both_edit_times_and_use_the_width(size: tuple[int, int]) -> None:
    engine = FakeEngine()
    engine.add_conflict(
        connection="cloud", issue_key="OPS-77", field="summary", base="b", local="L" * 100, jira="J" * 100
    )
    app = make_app(engine, "conflicts")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(LazyTable)
        row = table.get_row("3")  # an assignee conflict: acct-bo locally, acct-cy (unknown) in Jira
        assert (row[4].plain, row[5].plain) == ("Bo Chen", "acct-cy")
        await pilot.press("down", "down")
        await settle(pilot)
        text = screen_text(app)
        assert "Ana Lopez" in text and "Bo Chen" in text  # the detail names base and local
        assert "edited 08:49:00" in text and "edited 08:54:00" in text  # local, then Jira's edit
        long_local = table.get_row("41")[4].plain
        assert long_local.endswith("…") and len(long_local) == screen.value_width()
        assert screen.value_width() >= (17 if size[0] == 80 else 37)
        assert table.virtual_size.width <= size[0]  # nothing cut off to the right


async def test_webhooks_show_connection_coloured_status_and_the_reason_for_ignoring() -> None:
    app = make_app(mode="webhooks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        columns = [str(c.label) for c in table.ordered_columns]
        assert columns == ["id", "received", "conn", "status", "try", "type", "issue", "note"]
        statuses = {table.get_row(str(i))[3].plain: table.get_row(str(i))[3].style for i in (6, 8, 10)}
        assert statuses == {"ignored": "dim", "failed": "bold red", "applied": "green"}
        assert table.get_row("8")[2].plain == "dc"
        await pilot.press("down", "down", "down", "down")  # event 6, ignored
        await settle(pilot)
        assert "ignored because: event jira:worklog_updated does not change synced fields" in screen_text(app)
        seen = []
        for _ in range(len(app.screen.statuses) + 1):
            seen.append(app.screen.status_filter)
            await pilot.press("f")
            await settle(pilot)
        assert seen == [None, "failed", "received", "processing", "applied", "ignored", "stale"]


@pytest.mark.parametrize("size", SIZES)
async def test_mapping_messages_never_name_a_placeholder_file(size: tuple[int, int]) -> None:
    app = make_app(mode="mappings")
    async with app.run_test(size=size) as pilot:
        await settle(pilot, pause=0.6)
        editor = app.screen.query_one("#editor", TextArea)
        editor.load_text("[[mapping]]\nname = 'x'\n[[mapping]]\nname = 'x'\n")
        await settle(pilot, pause=0.6)
        text = screen_text(app)
        assert "invalid" in text and "<file>" not in text


@pytest.mark.parametrize("size", SIZES)
async def test_the_mapping_list_and_preview_fit_the_screen(size: tuple[int, int]) -> None:
    app = make_app(mode="mappings")
    async with app.run_test(size=size) as pilot:
        await settle(pilot, pause=0.6)
        options = app.screen.query_one("#mapping-list")
        assert options.option_count == 2
        text = screen_text(app)
        assert "story-points v1" in text and "summary v1 · cloud" in text
        preview = app.screen.query_one("#preview", DataTable)
        assert preview.row_count > 0
        assert app.screen.value_width() >= (12 if size[0] == 80 else 20)
        assert preview.virtual_size.width <= size[0]  # the notes too: nothing runs off the right edge


async def test_the_audit_log_says_where_the_engine_runs_and_that_its_daemon_went() -> None:
    """Pushed over the Sync screen, the audit log's bar said nothing of the engine: attached to a daemon
    that stopped, the warning (and its `i`) was missing exactly where undo is pressed."""
    engine = FakeEngine(mode="attached")
    app = make_app(engine, "sync")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert app.screen.TITLE == "Audit log" and "attached to syncd" in lines(app)[0]
        engine.daemon_died()
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: isinstance(app.screen, DaemonGoneScreen))
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.TITLE == "Audit log"
        assert "⚠ daemon syncd silent for 0s — press i to run the engine here" in lines(app)[1]
