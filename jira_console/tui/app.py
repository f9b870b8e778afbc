"""The console's App: a coordinator, not a controller.

Layout decision: each area is a Textual *mode* with its own screen (``tui/screens/*.py``) rather than tabs
on one screen. Modes keep every screen's state (cursor, filters, unsaved edits) while the operator moves
between them, give each screen its own footer bindings, and spend no rows on a tab bar at 80x24.

The App owns what outlives a screen: the engine-event bridge, the periodic refresh of the visible screen
(facade reads in thread workers), syncs the operator starts, and turning failed workers into
notifications. Engine-event messages are forwarded to every screen that exists; each handles what it
cares about.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from jira_console.tui import messages
from jira_console.tui.bridge import EngineBridge
from jira_console.tui.commands import ConsoleCommands
from jira_console.tui.format import counts, duration
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.screens.conflicts import ConflictsScreen
from jira_console.tui.screens.health import HealthScreen
from jira_console.tui.screens.mappings import MappingsScreen
from jira_console.tui.screens.sync import SyncScreen
from jira_console.tui.screens.webhooks import WebhooksScreen

MODE_SCREENS: dict[str, type[ConsoleScreen]] = {
    "health": HealthScreen,
    "sync": SyncScreen,
    "conflicts": ConflictsScreen,
    "mappings": MappingsScreen,
    "webhooks": WebhooksScreen,
}
_SCREENS = Binding.Group("Screens", compact=True)


def describe_sync(result: Any) -> tuple[str, bool]:
    """Words for what ``run_sync`` returned, and whether it all went well. The facade returns one report per
    connection (none in attached mode, where the daemon runs the sync); each report's counts may be a dict
    or a method returning one."""
    reports = result if isinstance(result, list) else [result]
    if not reports:
        return "requested; the daemon runs it", True
    parts = []
    for report in reports:
        numbers = report.counts() if callable(report.counts) else report.counts
        who = getattr(report, "connection", None)
        prefix = f"{who}: " if who else ""
        parts.append(f"{prefix}{report.status}, {counts(numbers)} in {duration(report.duration_ms)}")
    return "; ".join(parts), all(report.status == "ok" for report in reports)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JiraConsoleApp(App[None]):
    """The operations console over one engine facade.

    ``now`` is the wall clock used for countdowns and heartbeat ages (tests freeze it);
    ``refresh_interval`` is how often the visible screen re-reads (``None`` turns the loop off).
    """

    TITLE = "jira-console"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS = [
        *(
            Binding(str(n), f"switch_mode('{mode}')", cls.TITLE, group=_SCREENS)
            for n, (mode, cls) in enumerate(MODE_SCREENS.items(), start=1)
        ),
        Binding("f5", "refresh_now", "Refresh", show=False),
    ]

    def __init__(
        self,
        engine: Any,
        *,
        demo: bool = False,
        start_mode: str = "health",
        now: Callable[[], datetime] = _utc_now,
        refresh_interval: float | None = 2.0,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.demo = demo
        self.now = now
        self.refresh_interval = refresh_interval
        self.start_mode = start_mode
        self.bridge = EngineBridge(engine, self)
        self.mode_screens = MODE_SCREENS
        self.screens_made: dict[str, ConsoleScreen] = {}
        for mode in MODE_SCREENS:
            self.add_mode(mode, lambda mode=mode: self._make_screen(mode))

    def _make_screen(self, mode: str) -> ConsoleScreen:
        screen = MODE_SCREENS[mode](self.engine, now=self.now)
        self.screens_made[mode] = screen
        return screen

    def on_mount(self) -> None:
        where = "attached to daemon" if self.engine.mode == "attached" else "in-process engine"
        self.sub_title = f"{where} · DEMO (simulated Jira)" if self.demo else where
        self.bridge.start()
        self.switch_mode(self.start_mode)
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.action_refresh_now)

    def on_unmount(self) -> None:
        self.bridge.stop()

    def action_refresh_now(self) -> None:
        """Re-read the visible screen's data in a thread worker (only the visible one: hidden screens
        reload when they are shown again)."""
        screen = self.screen
        if isinstance(screen, ConsoleScreen):
            self.run_worker(
                lambda: screen.fetch(screen.poll),
                thread=True,
                group=f"refresh-{type(screen).__name__}",
                exclusive=True,
                exit_on_error=False,
            )

    async def run_on_screen(self, mode: str, action: str) -> None:
        """Switch to ``mode`` and run one of its screen's actions (used by the command palette)."""
        await self.switch_mode(mode)
        screen = self.screen
        if isinstance(screen, ConsoleScreen):
            # A screen shown for the first time has no selection until its first read lands.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(screen.loaded_once.wait(), timeout=5)
        await screen.run_action(action)

    # -- syncs --------------------------------------------------------------------------------------

    def start_sync(self, connection: str | None, full: bool) -> None:
        """Run a sync as an App worker, so it carries on whichever screen is shown."""
        label = f"{'full' if full else 'incremental'} sync of {connection or 'all connections'}"
        self.notify(f"Started {label}", markup=False)
        self.run_worker(self._sync(connection, full, label), group="sync", name=label, exit_on_error=False)

    async def _sync(self, connection: str | None, full: bool, label: str) -> None:
        result = await self.engine.run_sync(connection=connection, full=full)
        summary, ok = describe_sync(result)
        self.notify(f"{label}: {summary}", severity="information" if ok else "warning", markup=False)

    @on(SyncScreen.SyncRequested)
    def _sync_requested(self, message: SyncScreen.SyncRequested) -> None:
        self.start_sync(message.connection, message.full)

    # -- engine events and failures -----------------------------------------------------------------

    @on(messages.EngineMessage)
    def _engine_event(self, message: messages.EngineMessage) -> None:
        for screen in self.screens_made.values():
            screen.post_message(type(message)(message.event))
        if isinstance(message, messages.NoticePosted):
            level = message.event.level
            severity = (
                "error"
                if level in ("error", "critical")
                else "warning"
                if level == "warning"
                else "information"
            )
            self.notify(message.event.message, severity=severity, markup=False)
        elif isinstance(message, messages.SyncFinished) and message.event.error:
            event = message.event
            self.notify(
                f"Sync {event.connection}/{event.scope} failed: {event.error}", severity="error", markup=False
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker (the App's or a screen's) that fails ends up here, as a notification."""
        if event.state is WorkerState.ERROR:
            worker = event.worker
            what = worker.name or worker.group
            self.notify(f"{what} failed: {worker.error}", severity="error", timeout=8, markup=False)
