"""What every console screen shares: the engine, a clock, a two-step refresh, the screen bar, and keys
that never trap the operator.

``load()`` does the blocking facade reads and runs in a thread worker (it must not touch widgets);
``show(data)`` applies the result on the UI thread. The App's refresh loop calls ``poll()`` (by default the
same as ``load()``) for the visible screen only; screens reload themselves when they become visible.

Esc always leaves a text field (back to the screen's main widget), and while one has the focus the
screen bar says so: the number keys and screen keys type into it until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.events import DescendantBlur, DescendantFocus
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from jira_console.facade import ConsoleEngine
from jira_console.store.outage import database_down, outage_reason
from jira_console.tui.widgets.screen_bar import BarState, ScreenBar

TEXT_FIELDS = (Input, TextArea)
"""Widgets that take printable keys (and so the screen keys) while they have the focus."""


READ_GROUPS = frozenset({"load", "engine-state", "poll", "reread"})
"""Worker groups of the console's own reads (a screen's load, where the engine runs, a re-read after an
event), besides the refresh loop's ``refresh-<screen>``."""
FAILURE_SECONDS = 8.0
"""How long a failure's notification stays; the same words are not shown again meanwhile."""
_SHOWN: weakref.WeakKeyDictionary[App[Any], dict[str, float]] = weakref.WeakKeyDictionary()


def report_failed_worker(node: MessagePump, event: Worker.StateChanged) -> None:
    """A failed worker as an error notification, saying what failed (its name) and why. A worker's state
    changes reach only the node that started it (they do not bubble), so the App and every screen that
    starts workers call this from their own handler: otherwise a refused action just did nothing.

    A database that does not answer fails every read of every refresh (two a second or so): that is said
    as one notification, in the same words whatever read met it, and not again while it is still shown.
    An operator's action that meets it (a save, a resolution) says what failed, as any other failure."""
    if event.state is not WorkerState.ERROR:
        return
    worker = event.worker
    error = worker.error
    background = worker.group in READ_GROUPS or worker.group.startswith("refresh-")
    if error is not None and background and database_down(error):
        reason = outage_reason(error)
        text = f"The database does not answer; the console tries again at every refresh. {reason}"
    else:
        text = f"{worker.name or worker.group} failed: {error}"
    now = time.monotonic()
    shown = _SHOWN.setdefault(node.app, {})
    for gone in [t for t, at in shown.items() if now - at >= FAILURE_SECONDS]:
        del shown[gone]  # only what is on screen is remembered
    if text in shown:
        return
    shown[text] = now
    node.app.notify(text, severity="error", timeout=FAILURE_SECONDS, markup=False)


class ConsoleScreen(Screen[None]):
    """Base of the five main screens. Subclasses set ``TITLE``, implement ``load`` and ``show``."""

    TITLE: ClassVar[str] = ""
    MODE: ClassVar[str] = ""
    """The App mode that shows this screen (its name in the screen bar's order)."""
    HELP_NOTES: ClassVar[tuple[str, ...]] = ()
    """Lines for the key reference beyond the bindings (how to get out of an editor, what a key needs)."""
    RUN_FROM_ANYWHERE: ClassVar[frozenset[str]] = frozenset()
    """Actions (names without arguments) the command palette may run while another screen is shown: they
    act on nothing the operator has to see first, or ask before acting. Any other action of the screen the
    palette only opens the screen for (its key then does it): nothing acts on a row not seen."""
    HOME: ClassVar[str | None] = None
    """Where Esc sends the focus from a text field (default: ``AUTO_FOCUS``)."""
    BINDINGS = [Binding("escape", "leave_input", "Leave field", show=False)]
    RELOAD_SOON_DELAY: ClassVar[float] = 0.25
    """How long :meth:`reload_soon` gathers a burst of events before reading once."""
    FIRST_READ_WAIT: ClassVar[float] = 5.0
    """How long an action on the selection waits for the screen's first read (:meth:`first_read`)."""

    class Loaded(Message, bubble=False):
        """Fresh data for this screen, read in a worker thread."""

        def __init__(self, data: Any) -> None:
            self.data = data
            super().__init__()

    def __init__(self, engine: ConsoleEngine, *, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.engine = engine
        self.now = now
        self.title = self.TITLE
        self.loaded_once = asyncio.Event()
        """Set when the first data has been shown (actions that act on a selection need it)."""
        self._reload_timer: Timer | None = None

    @classmethod
    def action_bindings(cls) -> list[Binding]:
        """This screen's own bindings that have a description; the command palette lists them."""
        own = cls.__dict__.get("BINDINGS", [])
        return [b for b in own if isinstance(b, Binding) and b.description]

    # -- the screen bar and text fields ---------------------------------------------------------------

    def screen_bar(self) -> ScreenBar:
        """The bar to compose at the top of the screen."""
        screens = getattr(self.app, "mode_screens", {})
        bar = ScreenBar([(mode, cls.TITLE) for mode, cls in screens.items()], self.MODE)
        state = getattr(self.app, "bar_state", None)
        if callable(state):  # a screen pushed later (the audit log) starts with the engine's whereabouts
            bar.set_reactive(ScreenBar.state, state())
        return bar

    def set_bar_state(self, state: BarState) -> None:
        """Show the engine's whereabouts (the App calls this); the typing flag stays this screen's own."""
        for bar in self.query(ScreenBar):
            bar.state = BarState(state.engine, state.trouble, bar.state.typing)

    def _typing(self, typing: bool) -> None:
        for bar in self.query(ScreenBar):
            bar.state = BarState(bar.state.engine, bar.state.trouble, typing)

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        self._typing(isinstance(self.focused, TEXT_FIELDS))

    def on_descendant_blur(self, event: DescendantBlur) -> None:
        # The blur of the old widget may arrive after the focus of the new one: ask where the focus is.
        self._typing(isinstance(self.focused, TEXT_FIELDS))

    def home(self) -> Widget | None:
        """The screen's main widget (the focus goes back there when a text field is left)."""
        selector = self.HOME or self.AUTO_FOCUS
        if selector:
            found = self.query(selector)
            if found:
                return found.first()
        return None

    def action_leave_input(self) -> None:
        """Leave a text field for the screen's main widget (so the screen keys work again)."""
        if isinstance(self.focused, TEXT_FIELDS):
            home = self.home()
            if home is not None and home is not self.focused:
                home.focus()
            else:
                self.set_focus(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failed_worker(self, event)

    def load(self) -> Any:
        """Read what the screen shows. Runs in a thread: facade calls only, no widgets."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Apply data from ``load`` (or ``poll``) to the widgets."""
        raise NotImplementedError

    def poll(self) -> Any:
        """What the periodic refresh reads; screens with costly loads override it with something lighter."""
        return self.load()

    def fetch(self, read: Callable[[], Any]) -> None:
        """Thread-worker body: call ``read`` and post the result back, unless the worker was superseded."""
        data = read()
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(data))

    def read_in_worker(
        self, read: Callable[[], Any], name: str, group: str, *, exclusive: bool = True
    ) -> None:
        """Run :meth:`fetch` of ``read`` in a thread worker of ``group`` (``exclusive``: a newer read of the
        group cancels an older one); a failure is reported, never raised into the console."""
        self.run_worker(
            lambda: self.fetch(read),
            name=name,
            thread=True,
            group=group,
            exclusive=exclusive,
            exit_on_error=False,
        )

    def reload(self) -> None:
        """Start a full reload in a thread worker."""
        self.read_in_worker(self.load, f"Reading {self.TITLE}", "load")

    def reload_soon(self) -> None:
        """Reload once for a burst of engine events: the first one starts a short timer, those arriving
        before it fires ride along."""
        if self._reload_timer is None:
            self._reload_timer = self.set_timer(self.RELOAD_SOON_DELAY, self._reload_due)

    def _reload_due(self) -> None:
        self._reload_timer = None
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def on_console_screen_loaded(self, message: ConsoleScreen.Loaded) -> None:
        self.show(message.data)
        self.loaded_once.set()

    async def first_read(self) -> None:
        """Wait (bounded) until the screen shows its first data: a key pressed right after the screen was
        switched to acts on the row it will show, instead of finding nothing selected yet."""
        if not self.loaded_once.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.loaded_once.wait(), timeout=self.FIRST_READ_WAIT)

    def action_reload(self) -> None:
        """Re-read everything this screen shows."""
        self.reload()
