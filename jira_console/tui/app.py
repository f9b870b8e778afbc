"""The console's App: a coordinator, not a controller.

Layout decision: each area is a Textual *mode* with its own screen (``tui/screens/*.py``) rather than tabs
on one screen. Modes keep every screen's state (cursor, filters, unsaved edits) while the operator moves
between them and give each screen its own footer bindings; each screen's top line (the screen bar) names
all five and where the engine runs, in the row a header would take.

The App owns what outlives a screen: the engine-event bridge, the periodic refresh of the visible screen
(facade reads in thread workers), watching whether the daemon it is attached to is alive (and offering to
run the engine here when it is not), syncs the operator starts (with toasts that say what really happens:
run here, or queued for a daemon and later its outcome), the key reference, and turning failed workers
into notifications. Engine-event messages are forwarded to every screen that exists; each handles what it
cares about.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.worker import Worker, get_current_worker

from jira_console.facade import ConsoleEngine, EngineState, NoLiveDaemon, SyncReport
from jira_console.health import one_line
from jira_console.tui import messages
from jira_console.tui.bridge import EngineBridge
from jira_console.tui.commands import ConsoleCommands
from jira_console.tui.format import MISSING, counts, duration, unread_words
from jira_console.tui.screens.base import ConsoleScreen, report_failed_worker
from jira_console.tui.screens.conflicts import ConflictsScreen
from jira_console.tui.screens.daemon_gone import DaemonBackScreen, DaemonGoneScreen, describe_gone
from jira_console.tui.screens.health import HealthScreen
from jira_console.tui.screens.help import HelpScreen
from jira_console.tui.screens.mappings import MappingsScreen
from jira_console.tui.screens.sync import SyncScreen
from jira_console.tui.screens.webhooks import WebhooksScreen
from jira_console.tui.widgets.screen_bar import BarState

MODE_SCREENS: dict[str, type[ConsoleScreen]] = {
    "health": HealthScreen,
    "sync": SyncScreen,
    "conflicts": ConflictsScreen,
    "mappings": MappingsScreen,
    "webhooks": WebhooksScreen,
}


def describe_sync(reports: list[SyncReport], connection: str | None = None) -> tuple[str, bool]:
    """Words for what ``run_sync`` returned (one report per connection, whether this process or a daemon
    ran it), and whether it all went well. The report of ``connection`` (the one asked for, which the
    toast names already) is not named again."""
    if not reports:
        return "nothing to sync", True
    parts = []
    for r in reports:
        name = "" if r.connection == connection else f"{r.connection}: "
        error = f" ({one_line(r.errors[0], 120)})" if r.errors else ""
        done = counts(r.counts())
        if done in ("nothing", MISSING):  # said in words, not as a bare "nothing"
            done = "nothing new" if r.status == "ok" else ""
        unread = unread_words(r.counts())
        unread = f" ({unread})" if unread else ""
        parts.append(
            f"{name}{r.status}{error}{', ' + done if done else ''} in {duration(r.duration_ms)}{unread}"
        )
    return "; ".join(parts), all(report.status == "ok" for report in reports)


def spare_the_collector() -> None:
    """Put every object alive now (the imported modules, the engine, the App) in the garbage collector's
    permanent generation; ``jira-console`` calls it just before running the App.

    They live as long as the console, yet each full collection went over all of them (some 110,000 objects
    left by the imports alone, about 100 ms on a 2-core machine), and the first one after start-up fell in
    whatever the operator did next: opening the Conflicts screen, most of the time. Frozen, they are left
    out (reference counting still frees them). The young generations are collected first so that their
    garbage is not kept; the old one is not (a full pass would cost start-up what it saves later)."""
    gc.collect(1)
    gc.freeze()


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
    # The screen bar names the screens with their keys, so the footer keeps its room for each screen's.
    BINDINGS = [
        *(
            Binding(str(n), f"switch_mode('{mode}')", cls.TITLE, show=False)
            for n, (mode, cls) in enumerate(MODE_SCREENS.items(), start=1)
        ),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("i", "switch_engine", "Run here / attach", show=False),
        Binding("f5", "refresh_now", "Refresh", show=False),
    ]

    class EngineStateRead(Message):
        """A fresh read of where the engine runs (posted by a thread worker)."""

        def __init__(self, state: EngineState) -> None:
            self.state = state
            super().__init__()

    def __init__(
        self,
        engine: ConsoleEngine,
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
        self.engine_state = EngineState(engine.mode)
        """The last read of where the engine runs (refreshed with the visible screen)."""
        self._offered_run_here = False
        self._offered_attach = False
        for mode in MODE_SCREENS:
            self.add_mode(mode, partial(self._make_screen, mode))

    def _make_screen(self, mode: str) -> ConsoleScreen:
        screen = MODE_SCREENS[mode](self.engine, now=self.now)
        self.screens_made[mode] = screen
        screen.call_after_refresh(lambda: screen.set_bar_state(self.bar_state()))
        return screen

    def on_mount(self) -> None:
        self.bridge.start()
        self._show_engine_state(self.engine_state)
        self.switch_mode(self.start_mode)
        self.check_engine()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.action_refresh_now)

    def on_unmount(self) -> None:
        self.bridge.stop()

    # -- where the engine runs -----------------------------------------------------------------------

    def check_engine(self) -> None:
        """Read where the engine runs (is the daemon attached to still alive?) in a thread worker."""

        def read() -> None:
            state = self.engine.engine_state()
            if not get_current_worker().is_cancelled:
                self.post_message(self.EngineStateRead(state))

        self.run_worker(
            read, name="Reading the daemon's state", thread=True, group="engine-state", exclusive=True,
            exit_on_error=False,
        )  # fmt: skip

    @on(EngineStateRead)
    def _engine_state_read(self, message: EngineStateRead) -> None:
        self._show_engine_state(message.state)

    def bar_state(self) -> BarState:
        """The screen bar's words for the engine's whereabouts."""
        state = self.engine_state
        demo = " · DEMO" if self.demo else ""
        if state.mode == "inprocess" and state.live_daemon:
            return BarState(
                f"in-process, daemon {state.live_daemon} is running — press i to attach", trouble=True
            )
        if state.mode == "inprocess":
            return BarState(f"in-process{demo}")
        if state.alive:
            return BarState(f"attached to {state.daemon}{demo}")
        return BarState(f"{describe_gone(state, self.now())} — press i to run the engine here", trouble=True)

    def _show_engine_state(self, state: EngineState) -> None:
        self.engine_state = state
        bar = self.bar_state()
        self.sub_title = bar.engine
        # And the screens pushed over them (the audit log): the stack shown, the others at the next read.
        for screen in {*self.screens_made.values(), *self.screen_stack}:
            if isinstance(screen, ConsoleScreen):
                screen.set_bar_state(bar)
        if state.mode == "attached" and not state.alive and not self._offered_run_here:
            self._offered_run_here = True  # offered once per loss; the key stays on the screen bar
            self.notify(
                f"{describe_gone(state, self.now())}: press i to run the engine here", severity="error"
            )
            self.action_offer_run_here()
        elif state.alive:
            if self._offered_run_here and isinstance(self.screen, DaemonGoneScreen):
                # Back before anyone chose (its heartbeat waited out a database outage, a restart):
                # the offer no longer stands.
                self.screen.dismiss(False)
                self.notify(f"Daemon {state.daemon} is beating again", severity="information", markup=False)
            self._offered_run_here = False
        self._offer_attach_once(state)

    def _offer_attach_once(self, state: EngineState) -> None:
        """Running here while a daemon is alive: offer once per return to hand the engine back to it (the
        key stays on the screen bar); the offer goes when the daemon does."""
        if state.mode == "inprocess" and state.live_daemon and not self._offered_attach:
            self._offered_attach = True
            self.notify(
                f"Daemon {state.live_daemon} is running: press i to attach to it "
                "(the engine in this console stops)",
                severity="warning",
                markup=False,
            )
            self.action_offer_attach()
        elif not state.live_daemon and self._offered_attach:
            offer = self.screen_stack[-1] if self.screen_stack else None
            if isinstance(offer, DaemonBackScreen):
                offer.dismiss(False)  # the daemon went again (or this console attached): no offer stands
            self._offered_attach = False

    def action_switch_engine(self) -> None:
        """Move the engine where it can run: here when the daemon attached to is gone, back to a daemon
        that is alive while it runs here."""
        if self.engine_state.mode == "inprocess" and self.engine_state.live_daemon:
            self.action_offer_attach()
        else:
            self.action_offer_run_here()

    def action_offer_run_here(self) -> None:
        """Offer to run the engine in this console (when the daemon it is attached to is gone)."""
        state = self.engine_state
        if state.mode != "attached" or state.alive:
            self.notify("The engine is running; nothing to take over", severity="information")
            return

        if any(isinstance(screen, DaemonGoneScreen) for screen in self.screen_stack):
            return  # asked already (a second one under it would stay when this one is answered)

        def chosen(here: bool | None) -> None:
            if here:
                self._run_here()

        self.push_screen(DaemonGoneScreen(state, self.now), chosen)

    def action_offer_attach(self) -> None:
        """Offer to attach to the daemon that is alive while the engine runs in this console."""
        state = self.engine_state
        if state.mode != "inprocess" or not state.live_daemon:
            return
        if any(isinstance(screen, DaemonBackScreen) for screen in self.screen_stack):
            return

        def chosen(attach: bool | None) -> None:
            if attach:
                self._attach_to_daemon()

        self.push_screen(DaemonBackScreen(state, self.now), chosen)

    @work(name="Running the engine here", group="run-here", exclusive=True, exit_on_error=False)
    async def _run_here(self) -> None:
        await self.engine.run_here()
        self._show_engine_state(self.engine.engine_state())
        self.action_refresh_now()

    @work(name="Attaching to the daemon", group="run-here", exclusive=True, exit_on_error=False)
    async def _attach_to_daemon(self) -> None:
        try:
            await self.engine.attach()
        except Exception as exc:  # noqa: BLE001 - refused (a sync runs here, the daemon went): said, not raised
            self.notify(f"Not attached: {exc}", severity="warning", markup=False)
        self._show_engine_state(self.engine.engine_state())
        self.action_refresh_now()

    # -- keys -----------------------------------------------------------------------------------------

    def action_help(self) -> None:
        """The key reference for the screen shown."""
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        if isinstance(screen, ConsoleScreen):
            keys = [b for b in type(screen).__dict__.get("BINDINGS", []) if isinstance(b, Binding)]
            self.push_screen(HelpScreen(screen.TITLE, keys, list(screen.HELP_NOTES)))

    def action_refresh_now(self) -> None:
        """Re-read the visible screen's data in a thread worker (only the visible one: hidden screens
        reload when they are shown again), and whether the engine still runs where it did."""
        if not self.screen_stack:
            return  # the console is closing (its refresh timer can tick once more on a busy machine)
        self.check_engine()  # attached: is the daemon alive? in-process: is one alive to attach to?
        # The screen shown, or under a dialog the one it covers (a dialog must not freeze its figures).
        screen = next((s for s in reversed(self.screen_stack) if isinstance(s, ConsoleScreen)), None)
        if screen is not None:
            self.run_worker(
                lambda: screen.fetch(screen.poll),
                name=f"Refreshing {screen.TITLE}",
                thread=True,
                group=f"refresh-{type(screen).__name__}",
                exclusive=True,
                exit_on_error=False,
            )

    # -- syncs --------------------------------------------------------------------------------------

    def start_sync(self, connection: str | None, full: bool) -> None:
        """Run a sync as an App worker, so it carries on whichever screen is shown. Attached, the daemon
        runs it: the toast says it was queued there, and a second one its outcome when the daemon is done."""
        label = f"{'full' if full else 'incremental'} sync of {connection or 'all connections'}"
        state = self.engine_state
        if state.mode == "attached" and not state.alive:
            self.notify(
                f"Not queued: {describe_gone(state, self.now())}. Press i to run the engine here.",
                severity="warning",
                markup=False,
            )
            return
        where = f"daemon {state.daemon}" if state.mode == "attached" else None
        self.notify(f"{label.capitalize()} queued for {where}" if where else f"Started {label}", markup=False)
        self.run_worker(
            self._sync(connection, full, label, where), group="sync", name=label, exit_on_error=False
        )

    async def _sync(self, connection: str | None, full: bool, label: str, where: str | None) -> None:
        try:
            reports = await self.engine.run_sync(connection=connection, full=full)
        except NoLiveDaemon as exc:
            self.notify(f"{label}: {exc}. Press i to run the engine here.", severity="error", markup=False)
            self.check_engine()
            return
        summary, ok = describe_sync(reports, connection)
        who = f"{where} ran the {label}" if where else label.capitalize()
        self.notify(f"{who}: {summary}", severity="information" if ok else "warning", markup=False)

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
            severity: SeverityLevel = (
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
        report_failed_worker(self, event)
