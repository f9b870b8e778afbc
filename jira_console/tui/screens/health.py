"""Health: every connection's state (the truth about its syncs included) with sparklines of its last
minutes, the webhook listener, and (when attached) the daemons' heartbeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from jira_console.facade import ConnectionStatus, ListenerStatus
from jira_console.store.converters import DaemonRecord
from jira_console.tui import messages
from jira_console.tui.format import ago, literal, moment
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.widgets.connection_card import ConnectionCard


@dataclass(frozen=True)
class HealthData:
    """One read of everything the screen shows, and when it was read (the countdowns start there)."""

    connections: list[ConnectionStatus]
    listener: ListenerStatus
    daemons: list[DaemonRecord]
    read_at: datetime


class HealthScreen(ConsoleScreen):
    """Connections, listener and daemon. Breaker countdowns tick locally every second between reads."""

    TITLE = "Health"
    MODE = "health"
    CSS_PATH = "health.tcss"
    BINDINGS = [Binding("r", "reload", "Reload")]

    def compose(self) -> ComposeResult:
        yield self.screen_bar()
        with VerticalScroll(id="cards"):
            yield Static(Text("loading…", style="dim"), id="placeholder")
        yield Static(id="listener")
        yield Static(id="daemons")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self.tick)

    def load(self) -> HealthData:
        engine = self.engine
        daemons = engine.daemons() if engine.mode == "attached" else []
        return HealthData(engine.connections(), engine.listener_status(), daemons, self.now())

    def cards(self) -> dict[str, ConnectionCard]:
        """The cards on screen, by connection name."""
        return {card.status.name: card for card in self.query(ConnectionCard)}

    def show(self, data: HealthData) -> None:
        container = self.query_one("#cards", VerticalScroll)
        placeholder = self.query_one("#placeholder", Static)
        placeholder.display = not data.connections
        placeholder.update(Text("no connections configured (add a [[jira]] section)", style="yellow"))
        existing = self.cards()
        for status in data.connections:
            card = existing.pop(status.name, None)
            if card is None:
                container.mount(ConnectionCard(status, data.read_at))
            else:
                card.set_status(status, data.read_at)
        for stale in existing.values():
            stale.remove()
        self.query_one("#listener", Static).update(self._listener_text(data.listener))
        self.query_one("#daemons", Static).update(self._daemon_text(data.daemons, data.read_at))

    def _listener_text(self, listener: ListenerStatus) -> Text:
        text = Text("listener ", style="bold")
        if listener.listening:
            text.append("● ", style="green")
            text.append_text(literal(listener.address))
        elif self.engine.mode != "attached":
            # Expected here: the daemon listens (the demo's machinery too); a console on its own does not.
            text.append("none in this console (jira-console daemon receives webhooks)", style="dim")
        else:
            text.append("not listening", style="bold red")
        text.append(f"  received {listener.received}  failed {listener.failed}  queue {listener.queue_depth}")
        return text

    def _daemon_text(self, daemons: list[DaemonRecord], now: datetime) -> Text:
        if self.engine.mode != "attached":
            return Text("engine running in this console (in-process)", style="dim")
        if not daemons:
            return Text("attached, but no daemon has reported a heartbeat", style="bold red")
        text = Text()
        for daemon in daemons:
            text.append("daemon ", style="bold")
            text.append_text(literal(f"{daemon.name}@{daemon.host} pid {daemon.pid}"))
            if daemon.stopped_at is not None:
                text.append(f"  stopped at {moment(daemon.stopped_at, now)}", style="yellow")
                text.append("\n")
                continue
            text.append(f"  heartbeat {ago(daemon.heartbeat_at, now)}")
            text.append(f"  up since {moment(daemon.started_at, now)}\n")
        text.rstrip()
        return text

    def tick(self) -> None:
        """Re-render the countdowns against the current time."""
        now = self.now()
        for card in self.query(ConnectionCard):
            card.tick(now)

    @on(messages.BreakerStateChanged)
    def _breaker_changed(self, message: messages.BreakerStateChanged) -> None:
        card = self.cards().get(message.event.connection)
        if card is not None:
            card.set_breaker(message.event.new, self.now())
        # The event carries no countdown; the next read brings opens_in_seconds.
        self.reload()

    @on(messages.HealthChanged)
    @on(messages.WebhookReceived)
    @on(messages.WebhookProcessed)
    def _health_changed(self) -> None:
        # High-rate events (every API call, every delivery, every processed event): one read per burst.
        if self.is_current:
            self.reload_soon()
