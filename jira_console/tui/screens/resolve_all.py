"""Modal: confirm resolving every open conflict that matches the current filter, and pick the side."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ResolveAllScreen(ModalScreen[str | None]):
    """Dismisses with ``"jira"``, ``"local"`` or ``None`` (cancelled). Cancel has the focus first, so a
    stray Enter does not resolve thousands of conflicts."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [
        Binding("escape", "choose(None)", "Cancel"),
        Binding("j", "choose('jira')", "Take Jira"),
        Binding("l", "choose('local')", "Take local"),
    ]

    def __init__(self, count: int, filter_text: str) -> None:
        super().__init__()
        self.count = count
        self.filter_text = filter_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Resolve {self.count} open conflicts?", style="bold"), classes="title")
            yield Static(Text(f"matching: {self.filter_text}"))
            yield Static(Text("This cannot be undone from the console.", style="italic"))
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Take Jira", variant="warning", id="jira")
                yield Button("Take local", variant="warning", id="local")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, take: str | None) -> None:
        self.dismiss(take)
