"""The App as coordinator: bridge lifecycle, screen switching, command palette, refresh loop, failures."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from jira_console import events as ev
from jira_console.facade import SyncReport
from jira_console.store.db import StoreError
from jira_console.tui.app import MODE_SCREENS, JiraConsoleApp, describe_sync
from jira_console.tui.commands import ConsoleCommands
from jira_console.tui.screens.health import HealthScreen
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
            for binding in screen_class.action_bindings():
                assert f"{screen_class.TITLE}: {binding.description}" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to webhooks")
        await settle(pilot)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: app.current_mode == "webhooks")


async def test_palette_action_on_another_screen_switches_and_runs_it() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.run_on_screen("sync", "sync(True)")
        await settle(pilot)
        assert app.current_mode == "sync"
        assert engine.sync_calls == [("cloud", True)]


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
    assert second == "dc: failed (Jira is down), nothing in 20ms"
