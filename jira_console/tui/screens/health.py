"""Health: every connection's state (the truth about its syncs included) with sparklines of its last
minutes, the webhook listener, and (when attached) the daemons' heartbeats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from jira_console.facade import ConnectionStatus, ConsoleEngine, ListenerStatus
from jira_console.store.converters import DaemonRecord
from jira_console.tui import messages
from jira_console.tui.format import ago, literal, moment
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.widgets.connection_card import ConnectionCard, flow


@dataclass(frozen=True)
class HealthData:
    """One read of everything the screen shows, and when it was read (the countdowns start there)."""

    connections: list[ConnectionStatus]
    listener: ListenerStatus
    daemons: list[DaemonRecord]
    read_at: datetime


class HealthScreen(ConsoleScreen):
    """Connections, listener and daemon. Breaker countdowns and heartbeat ages tick locally every second
    between reads."""

    TITLE = "Health"
    MODE = "health"
    CSS_PATH = "health.tcss"
    BINDINGS = [Binding("r", "reload", "Reload")]

    def __init__(self, engine: ConsoleEngine, *, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now=now)
        self.data: HealthData | None = None
        """The last read (the footer's ages are re-measured from it every second)."""

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
        self.data = data
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
        self._render_footer(data.read_at)

    def _render_footer(self, now: datetime) -> None:
        """The listener and the daemons' lines, their parts flowed to the width (never a value cut from
        its label at the edge), the heartbeats' ages measured from ``now``."""
        if self.data is None:
            return
        for selector, text in (
            ("#listener", self._listener_text(self.data.listener)),
            ("#daemons", self._daemon_text(self.data.daemons, now)),
        ):
            line = self.query_one(selector, Static)
            width = line.content_size.width or None
            line.update(Text("\n").join(flow(parts, width) for parts in text))

    def _listener_text(self, listener: ListenerStatus) -> list[list[Text]]:
        where = Text("listener ", style="bold")
        if listener.listening:
            where.append("● ", style="green")
            where.append_text(literal(listener.address))
        elif self.engine.mode != "attached":
            # Expected here: the daemon listens (the demo's machinery too); a console on its own does not.
            where.append("none in this console (jira-console daemon receives webhooks)", style="dim")
        else:
            where.append("not listening", style="bold red")
        figures = (
            f"received {listener.received}",
            f"failed {listener.failed}",
            f"queue {listener.queue_depth}",
        )
        return [[where, *(Text(figure) for figure in figures)]]

    def _daemon_text(self, daemons: list[DaemonRecord], now: datetime) -> list[list[Text]]:
        if self.engine.mode != "attached":
            return [[Text("engine running in this console (in-process)", style="dim")]]
        if not daemons:
            return [[Text("attached, but no daemon has reported a heartbeat", style="bold red")]]
        lines = []
        for daemon in daemons:
            name = Text("daemon ", style="bold")
            name.append_text(literal(f"{daemon.name}@{daemon.host} pid {daemon.pid}"))
            if daemon.stopped_at is not None:
                lines.append([name, Text(f"stopped at {moment(daemon.stopped_at, now)}", style="yellow")])
                continue
            beat = Text(f"heartbeat {ago(daemon.heartbeat_at, now)}")
            lines.append([name, beat, Text(f"up since {moment(daemon.started_at, now)}")])
        return lines

    def on_resize(self) -> None:
        self._render_footer(self.now())

    def tick(self) -> None:
        """Re-render the countdowns and the heartbeats' ages against the current time."""
        now = self.now()
        for card in self.query(ConnectionCard):
            card.tick(now)
        self._render_footer(now)

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
