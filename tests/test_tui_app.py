"""The App as coordinator: bridge lifecycle, screen switching, command palette, refresh loop, failures."""

from __future__ import annotations

import gc

import pytest
from textual.widgets import DataTable

from jira_console import events as ev
from jira_console.cli.console_cmd import _run_console
from jira_console.facade import SyncReport
from jira_console.store.db import StoreError
from jira_console.tui.app import MODE_SCREENS, JiraConsoleApp, describe_sync
from jira_console.tui.commands import ConsoleCommands
from jira_console.tui.screens.audit import AuditScreen
from jira_console.tui.screens.health import HealthScreen
from jira_console.tui.screens.resolve_all import ResolveAllScreen
from jira_console.tui.screens.sync import SyncScreen
from jira_console.tui.screens.undo_confirm import UndoConfirmScreen
from tests.fakes import screen_text, settle, wait_for
from tests.fakes.engine import FIXED_NOW, FakeEngine


def make_app(engine: FakeEngine, **kwargs) -> JiraConsoleApp:
    kwargs.setdefault("refresh_interval", None)
    return JiraConsoleApp(engine, now=lambda: FIXED_NOW, **kwargs)


async def test_bridge_subscribes_while_running_and_unsubscribes_on_exit() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert engine.subscriber_count == 1
        assert app.bridge.connected
    assert engine.subscriber_count == 0
    assert not app.bridge.connected


@pytest.mark.parametrize("size", [(80, 24), (132, 43)])
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("health", "half-open in 42s"),
        ("sync", "sprints"),
        ("conflicts", "showing 40 of 40 open"),
        ("mappings", "story-points v1"),
        ("webhooks", "failed 2"),
    ],
)
async def test_every_screen_renders_from_the_engine(mode: str, expected: str, size: tuple[int, int]) -> None:
    app = make_app(FakeEngine(), start_mode=mode)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MODE_SCREENS[mode])
        text = screen_text(app)
        assert expected in text
        # The footer shows the screen's first action and the palette key at every size.
        footer = text.splitlines()[-1]
        assert MODE_SCREENS[mode].action_bindings()[0].description in footer
        assert "palette" in footer


async def test_number_keys_switch_screens_and_keep_state() -> None:
    app = make_app(FakeEngine(), start_mode="conflicts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        await pilot.press("2")
        await settle(pilot)
        assert app.current_mode == "sync"
        await pilot.press("3")
        await settle(pilot)
        assert app.screen.query_one("#queue", DataTable).cursor_row == 2


async def test_command_palette_has_every_screen_and_action() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [title for title, _, _ in ConsoleCommands(app.screen).entries()]
        for screen_class in MODE_SCREENS.values():
            assert f"Go to {screen_class.TITLE}" in titles
        # Every key of every screen (the audit log's too), by what it does.
        for screen_class in [*MODE_SCREENS.values(), AuditScreen]:
            for binding in screen_class.action_bindings():
                if binding.key != "escape":
                    assert f"{screen_class.TITLE}: {binding.tooltip or binding.description}" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to webhooks")
        await settle(pilot)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: app.current_mode == "webhooks")


async def choose_in_palette(pilot, typed: str) -> None:
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*typed)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


def told(app: JiraConsoleApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_palette_never_resolves_a_conflict_on_a_screen_not_shown() -> None:
    # On Health, "Conflicts: Jira" switched to Conflicts having resolved whichever row was highlighted.
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await choose_in_palette(pilot, "conflicts jira")
        assert app.current_mode == "conflicts"
        assert engine.count_conflicts() == 40 and engine.get_conflict(1).status == "open"
        assert any("press j to resolve by taking Jira's value" in m for m in told(app)), told(app)
        # Shown, the same entry acts as the key does: on the row the operator sees.
        await choose_in_palette(pilot, "conflicts jira")
        assert await wait_for(pilot, lambda: engine.count_conflicts() == 39)
        assert engine.get_conflict(1).resolution == "jira"


async def test_palette_runs_from_anywhere_only_what_acts_on_no_row() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await choose_in_palette(pilot, "highlighted connection from the start")
        assert app.current_mode == "sync" and engine.sync_calls == []
        assert any("press f to sync the highlighted connection from the start" in m for m in told(app))
        await pilot.press("1")
        await settle(pilot)
        # Resolve-all asks first (how many, matching what): it may run from another screen.
        await choose_in_palette(pilot, "resolve every conflict")
        assert isinstance(app.screen, ResolveAllScreen)
        assert "Resolve 40 open conflicts?" in screen_text(app)


async def test_palette_lists_the_audit_keys_and_undoes_only_on_the_audit_log() -> None:
    # "undo" and "resolve" found nothing; the audit keys were not in the palette at all.
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [title for title, _, _ in ConsoleCommands(app.screen).entries()]
        assert "Audit log: undo the highlighted line (shows the plan first)" in titles
        assert "Conflicts: resolve by keeping the local value" in titles
        await choose_in_palette(pilot, "undo the highlighted")
        assert isinstance(app.screen, AuditScreen)
        assert any("press u to undo the highlighted line" in m for m in told(app))
        await choose_in_palette(pilot, "undo the highlighted")
        assert await wait_for(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await pilot.press("escape")
        await settle(pilot)
        assert engine.undos == []
        # A Sync key that acts on no row, chosen over the audit log: back on the Sync screen, done.
        await choose_in_palette(pilot, "incremental sync of every")
        assert isinstance(app.screen, SyncScreen)
        assert await wait_for(pilot, lambda: engine.sync_calls == [(None, False)])


@pytest.mark.timing
async def test_refresh_loop_rereads_the_visible_screen() -> None:
    engine = FakeEngine()
    app = make_app(engine, refresh_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # A change with no event: only the periodic re-read can show it.
        engine.update_connection("cloud", rate_limit_remaining=12)
        assert await wait_for(pilot, lambda: "rate budget 12" in screen_text(app))


async def test_failed_worker_becomes_a_notification() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.start_sync("nowhere", False)
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("unknown connection 'nowhere'" in m and "failed" in m for m in messages)
        assert app.is_running


async def test_a_database_that_does_not_answer_is_one_notification_not_one_per_read() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)

        def down(*_args: object, **_kw: object) -> None:
            raise StoreError("cannot connect to the database at postgresql://db/x: Connection refused")

        engine.engine_state = down  # type: ignore[method-assign]
        engine.connections = down  # type: ignore[method-assign]
        for _ in range(4):  # four refreshes: two failing reads each (where the engine runs, the screen)
            app.action_refresh_now()
            app.check_engine()
            await settle(pilot)
        said = [n.message for n in app._notifications if "database" in n.message]
        assert len(said) == 1, said
        assert said[0].startswith("The database does not answer; the console tries again at every refresh.")
        assert "Connection refused" in said[0]
        app.start_sync("nowhere", False)  # another failure is still said
        await settle(pilot)
        assert any("unknown connection 'nowhere'" in n.message for n in app._notifications)


async def test_notice_event_is_shown_literally() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        engine.emit(ev.Notice("error", "token for [b]cloud[/b] expired"))
        assert await wait_for(pilot, lambda: any("[b]cloud[/b]" in n.message for n in app._notifications))
        notice = next(n for n in app._notifications if "[b]cloud[/b]" in n.message)
        assert notice.severity == "error"
        assert not notice.markup


async def test_events_reach_screens_that_are_not_visible() -> None:
    engine = FakeEngine()
    app = make_app(engine, start_mode="conflicts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        assert isinstance(app.screen, HealthScreen)
        engine.resolve_elsewhere(1, "jira")
        conflicts = app.screens_made["conflicts"]
        assert await wait_for(pilot, lambda: 1 not in conflicts.records)


def test_describe_sync_words_each_connections_report() -> None:
    assert describe_sync([]) == ("nothing to sync", True)
    ok = SyncReport("cloud", seen=3, pulled_fields=2, duration_ms=1500)
    failed = SyncReport("dc", status="failed", errors=["Jira is down"], duration_ms=20)
    text, all_ok = describe_sync([ok, failed])
    assert not all_ok
    first, second = text.split("; ")
    assert first == "cloud: ok, seen 3 · fields pulled 2 in 1.5s"  # zeros left out
    assert second == "dc: failed (Jira is down) in 20ms"
    # The connection asked for is named by the toast already; a run that read nothing says so in words.
    text, all_ok = describe_sync([SyncReport("cloud", duration_ms=900)], "cloud")
    assert (text, all_ok) == ("ok, nothing new in 900ms", True)


async def test_the_console_leaves_its_start_up_objects_out_of_full_collections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """jira-console runs the App with what the start-up left (modules, engine, App) frozen: each full
    collection went over all of it, and the first one after start-up fell in opening a screen."""
    frozen_when_run: list[int] = []

    async def run_async(app: JiraConsoleApp) -> None:
        frozen_when_run.append(gc.get_freeze_count())

    monkeypatch.setattr(JiraConsoleApp, "run_async", run_async)
    try:
        await _run_console(FakeEngine())
    finally:
        gc.unfreeze()  # this test process's objects go back to the collector
    assert frozen_when_run and frozen_when_run[0] > 0
