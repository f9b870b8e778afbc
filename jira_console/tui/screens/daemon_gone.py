"""Modal: the daemon this console is attached to is gone; offer to run the engine in this console."""

from __future__ import annotations

from datetime import datetime

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


class DaemonGoneScreen(ModalScreen[bool]):
    """Dismisses with True (run the engine here) or False (keep waiting for a daemon)."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [
        Binding("escape", "choose(False)", "Keep waiting"),
        Binding("i", "choose(True)", "Run here"),
    ]

    def __init__(self, state: EngineState, now: datetime) -> None:
        super().__init__()
        self.state = state
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(describe_gone(self.state, self.now), style="bold red"), classes="title")
            yield Static(
                Text(
                    "This console is attached to it: syncs and pushes asked for here would wait for a daemon "
                    "that is not there. Run the engine in this console instead (it syncs with Jira itself "
                    "until you quit), or keep waiting for the daemon to come back."
                )
            )
            with Horizontal(classes="buttons"):
                yield Button("Keep waiting", id="wait")
                yield Button("Run here (i)", variant="warning", id="here")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "here")

    def action_choose(self, here: bool) -> None:
        self.dismiss(here)
