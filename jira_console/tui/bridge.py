"""The one place engine events enter the console.

The engine calls its subscribers from whatever thread or loop produced the event. ``EngineBridge`` turns
each event into a Textual message and posts it to the App; ``post_message`` is thread-safe (it hops onto
the App's loop when called from elsewhere), so nothing here touches widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App

from jira_console import events as ev
from jira_console.facade import ConsoleEngine
from jira_console.tui.messages import message_for


class EngineBridge:
    """Subscribes to the engine while the App runs and forwards every event to the App as a message."""

    def __init__(self, engine: ConsoleEngine, app: App[Any]) -> None:
        self._engine = engine
        self._app = app
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def connected(self) -> bool:
        return self._unsubscribe is not None

    def start(self) -> None:
        """Subscribe; idempotent."""
        if self._unsubscribe is None:
            self._unsubscribe = self._engine.subscribe(self._deliver)

    def stop(self) -> None:
        """Unsubscribe; idempotent. Events racing the unsubscribe are dropped by ``post_message`` once the
        App is closing."""
        if self._unsubscribe is not None:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            unsubscribe()

    def _deliver(self, event: ev.EngineEvent) -> None:
        message = message_for(event)
        if message is not None:
            self._app.post_message(message)
