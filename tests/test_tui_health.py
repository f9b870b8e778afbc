"""Health screen: connection cards, the breaker countdown, events, listener and daemon heartbeat."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.health import HealthScreen
from tests.fakes import screen_text, settle, wait_for
from tests.fakes.engine import FIXED_NOW, FakeEngine


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.current = FIXED_NOW

    def __call__(self):
        return self.current


def card_text(app: JiraConsoleApp, name: str, clock: Clock) -> str:
    card = app.screen.cards()[name]
    return card.render_status(clock()).plain


async def test_cards_show_each_connection() -> None:
    clock = Clock()
    app = JiraConsoleApp(FakeEngine(), now=clock, refresh_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HealthScreen)
        assert set(app.screen.cards()) == {"cloud", "dc"}
        cloud = card_text(app, "cloud", clock)
        assert "cloud 1001.0.0-SNAPSHOT" in cloud and "auth api-token" in cloud
        assert "latency 182ms" in cloud and "rate budget 940" in cloud and "CLOSED" in cloud
        dc = card_text(app, "dc", clock)
        assert "DOWN" in dc and "503 Service Unavailable" in dc and "rate budget —" in dc
        assert app.screen.cards()["dc"].has_class("-down")


async def test_open_breaker_counts_down_to_half_open() -> None:
    clock = Clock()
    app = JiraConsoleApp(FakeEngine(), now=clock, refresh_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "half-open in 42s" in screen_text(app)
        clock.current += timedelta(seconds=10)
        app.screen.tick()
        await pilot.pause()
        assert "half-open in 32s" in screen_text(app)
        clock.current += timedelta(seconds=60)
        app.screen.tick()
        await pilot.pause()
        # Past its time the breaker waits for the next call to try (it does not half-open by itself).
        assert "half-open: next call" in screen_text(app) and "half-open in" not in screen_text(app)


async def test_breaker_event_changes_the_display_without_polling() -> None:
    clock = Clock()
    engine = FakeEngine()
    app = JiraConsoleApp(engine, now=clock, refresh_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        card = app.screen.cards()["cloud"]
        assert card.breaker == "closed" and not card.has_class("-down")
        engine.set_breaker("cloud", "open", opens_in=30)
        assert await wait_for(pilot, lambda: card.breaker == "open")
        await settle(pilot)
        assert "OPEN half-open in 30s" in card_text(app, "cloud", clock)
        assert card.has_class("-down")
        engine.set_breaker("cloud", "half-open")
        assert await wait_for(pilot, lambda: card.breaker == "half-open")
        assert "HALF-OPEN" in card_text(app, "cloud", clock)


async def test_listener_and_inprocess_engine() -> None:
    app = JiraConsoleApp(FakeEngine(), now=Clock(), refresh_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "listener ● 0.0.0.0:8787/webhooks" in text and "failed 2" in text
        assert "in-process" in text


@pytest.mark.parametrize(
    ("mode", "says"),
    [("inprocess", "listener none in this console (jira-console daemon receives webhooks)"),
     ("attached", "listener not listening")],
)  # fmt: skip
async def test_no_listener_is_an_alarm_only_where_a_daemon_should_listen(mode, says) -> None:
    engine = FakeEngine(mode=mode)
    engine.listening = False
    app = JiraConsoleApp(engine, now=Clock(), refresh_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert says in screen_text(app)


async def test_attached_mode_shows_daemon_heartbeat() -> None:
    clock = Clock()
    clock.current += timedelta(seconds=7)
    app = JiraConsoleApp(FakeEngine(mode="attached"), now=clock, refresh_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "syncd@ops-1 pid 4242" in text
        assert "heartbeat 09:30:00 (7s ago)" in text
        assert app.sub_title == "attached to syncd"


async def test_listener_figures_follow_webhook_events() -> None:
    engine = FakeEngine()
    app = JiraConsoleApp(engine, now=Clock(), refresh_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "received 10  failed 2  queue 0" in screen_text(app)
        engine.process_webhook(3, "applied")
        assert await wait_for(pilot, lambda: "received 10  failed 1  queue 0" in screen_text(app))
        engine.add_webhook(
            connection="cloud", identifier="wh-new", event_type="jira:issue_created", issue_key="OPS-60",
            status="received", attempts=0, last_error=None, payload="{}",
        )  # fmt: skip
        assert await wait_for(pilot, lambda: "received 11  failed 1  queue 1" in screen_text(app))


def test_a_card_says_in_plain_words_that_credentials_are_held_back() -> None:
    from jira_console.facade.views import ConnectionStatus
    from jira_console.jira.shared import blocked_message
    from jira_console.tui.widgets.connection_card import ConnectionCard

    note = blocked_message("dc", "CAPTCHA_CHALLENGE [red]markup[/red]")
    status = ConnectionStatus(name="dc", url="https://jira.example.com", auth="basic")
    blocked = ConnectionStatus(
        name="dc", url="https://jira.example.com", auth="basic", auth_state="blocked", auth_note=note
    )
    assert blocked.verdict == "auth" and status.verdict != "auth"
    text = ConnectionCard(blocked, FIXED_NOW).render_status(FIXED_NOW).plain
    assert "auth basic blocked" in text
    assert "stopped sending its Basic credentials" in text and "[red]markup[/red]" in text  # plain text
    # Before any call the credentials' state is not known: said so, not as the bare word "unknown".
    fresh = ConnectionCard(status, FIXED_NOW).render_status(FIXED_NOW).plain
    assert "auth basic not checked yet" in fresh


async def test_a_breaker_error_does_not_contradict_the_live_countdown() -> None:
    from jira_console.health import SyncHealth

    clock = Clock()
    engine = FakeEngine()
    error = (
        "Jira is unavailable: circuit breaker for connection 'dc' is open after repeated failures; "
        "it half-opens in 9.7s; the last failure: GET /rest/api/2/search answered 503"
    )
    failed = SyncHealth(
        last_status="failed", last_finished_at=FIXED_NOW - timedelta(seconds=8), failures=2, last_error=error
    )
    engine.update_connection("dc", opens_in_seconds=2.0, sync=failed)
    app = JiraConsoleApp(engine, now=clock, refresh_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dc = card_text(app, "dc", clock)
        assert "breaker OPEN half-open in 2s" in dc  # the one countdown, live
        assert "half-opens in" not in dc
        assert "error at 09:29:52: Jira is unavailable: circuit breaker for connection 'dc' is open" in dc
        assert "after repeated failures; the last failure: GET /rest/api/2/search answered 503" in dc


async def test_at_80_columns_no_value_is_split_from_its_label() -> None:
    engine = FakeEngine()
    engine.listening = False  # in this console: the longest listener line
    engine.update_connection("cloud", calls_by_status={"200": 1210, "429": 3, "503": 5})  # a longer line
    for n in range(529):
        engine.add_webhook(
            connection="cloud", identifier=f"wh-{n}", event_type="jira:issue_updated", issue_key="OPS-1",
            status="applied", attempts=1, last_error=None, payload="{}",
        )  # fmt: skip
    app = JiraConsoleApp(engine, now=Clock(), refresh_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "received 539  failed 2" in text and "queue 0" in text
        assert await wait_for(pilot, lambda: "last webhook 09:29:48" in screen_text(app))
        for line in screen_text(app).splitlines():
            assert not line.rstrip(" │").endswith(("last", "queue", "received", "failed", "heartbeat")), line
