"""What every console screen shares: the engine, a clock, and a two-step refresh.

``load()`` does the blocking facade reads and runs in a thread worker (it must not touch widgets);
``show(data)`` applies the result on the UI thread. The App's refresh loop calls ``poll()`` (by default the
same as ``load()``) for the visible screen only; screens reload themselves when they become visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker


class ConsoleScreen(Screen[None]):
    """Base of the five main screens. Subclasses set ``TITLE``, implement ``load`` and ``show``."""

    TITLE: ClassVar[str] = ""

    class Loaded(Message, bubble=False):
        """Fresh data for this screen, read in a worker thread."""

        def __init__(self, data: Any) -> None:
            self.data = data
            super().__init__()

    def __init__(self, engine: Any, *, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.engine = engine
        self.now = now
        self.title = self.TITLE
        self.loaded_once = asyncio.Event()
        """Set when the first data has been shown (actions that act on a selection need it)."""

    @classmethod
    def action_bindings(cls) -> list[Binding]:
        """This screen's own bindings that have a description; the command palette lists them."""
        return [b for b in cls.BINDINGS if isinstance(b, Binding) and b.description]

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

    def reload(self) -> None:
        """Start a full reload in a thread worker."""
        self.run_worker(
            lambda: self.fetch(self.load), thread=True, group="load", exclusive=True, exit_on_error=False
        )

    def on_screen_resume(self) -> None:
        self.reload()

    def on_console_screen_loaded(self, message: ConsoleScreen.Loaded) -> None:
        self.show(message.data)
        self.loaded_once.set()

    def action_reload(self) -> None:
        """Re-read everything this screen shows."""
        self.reload()
