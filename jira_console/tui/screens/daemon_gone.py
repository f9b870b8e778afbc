"""Modals that move the engine: the daemon this console is attached to is gone (offer to run the engine in
this console), or a daemon is alive while the engine runs here (offer to attach to it again, so that one
engine, the daemon's, syncs each connection)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from jira_console.facade import EngineState
from jira_console.tui.format import age, when


def describe_gone(state: EngineState, now: datetime) -> str:
    """Why the daemon counts as gone, in a few words."""
    name = state.daemon or "?"
    if state.stopped_at is not None:
        return f"daemon {name} stopped at {when(state.stopped_at)}"
    if state.heartbeat_at is None:
        return f"daemon {name} has no heartbeat"
    return f"daemon {name} silent for {age((now - state.heartbeat_at).total_seconds())}"


class EngineChoiceScreen(ModalScreen[bool]):
    """A title that follows the clock (re-rendered every second), an explanation and two buttons; dismisses
    with True (move the engine: the ``#go`` button or the screen's key) or False (leave it where it is)."""

    CSS_PATH = ["modals.tcss", "daemon_gone.tcss"]
    BODY: ClassVar[str] = ""
    STAY: ClassVar[str] = ""
    GO: ClassVar[str] = ""

    def __init__(self, state: EngineState, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.state = state
        self.clock = clock

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text(), classes="title")
            yield Static(Text(self.BODY))
            with Horizontal(classes="buttons"):
                yield Button(self.STAY, id="stay")
                yield Button(self.GO, variant="warning", id="go")

    def on_mount(self) -> None:
        self.set_interval(1.0, self.tick)

    def title_text(self) -> Text:
        raise NotImplementedError

    def tick(self) -> None:
        """Re-render the title against the clock (how long the daemon has been silent keeps growing)."""
        self.query_one(".title", Static).update(self.title_text())

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "go")

    def action_choose(self, go: bool) -> None:
        self.dismiss(go)


class DaemonGoneScreen(EngineChoiceScreen):
    """The daemon attached to is gone: True runs the engine here, False keeps waiting for a daemon."""

    BINDINGS = [
        Binding("escape", "choose(False)", "Keep waiting"),
        Binding("i", "choose(True)", "Run here"),
    ]
    BODY = (
        "This console is attached to it: syncs and pushes asked for here would wait for a daemon that is not "
        "there. Run the engine in this console instead (it syncs with Jira itself until you quit, or until "
        "you attach to a daemon again), or keep waiting for the daemon to come back."
    )
    STAY = "Keep waiting"
    GO = "Run here (i)"

    def title_text(self) -> Text:
        return Text(describe_gone(self.state, self.clock()), style="bold red")


class DaemonBackScreen(EngineChoiceScreen):
    """A daemon is alive while the engine runs here: True attaches to it, False keeps running here."""

    BINDINGS = [
        Binding("escape", "choose(False)", "Keep running here"),
        Binding("a", "choose(True)", "Attach"),
    ]
    BODY = (
        "The engine runs in this console. Attach to the daemon: the engine here stops and the daemon alone "
        "syncs, pushes and receives webhooks (syncs asked for here are queued for it). Or keep running "
        "here, and press i to attach later."
    )
    STAY = "Keep running here"
    GO = "Attach (a)"

    def title_text(self) -> Text:
        return Text(f"daemon {self.state.live_daemon or '?'} is running on this database", style="bold")
