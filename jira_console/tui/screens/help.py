"""Modal: the key reference (``?`` or F1): the keys that work everywhere, the current screen's own keys
(the footer's and those it has no room for), and how to get out of a text field."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL_KEYS: list[tuple[str, str]] = [
    ("1 … 5", "show a screen (named in the top bar; a click works too)"),
    ("? F1 · Ctrl+P", "this key reference · the command palette (every key by name)"),
    ("Esc", "leave a text field (its keys type until then) or close a dialog"),
    ("Tab · F5", "move between the parts of a screen · read its data again now"),
    ("Ctrl+Q", "quit"),
]


def key_label(binding: Binding) -> str:
    """How a binding's key is written for a person (``/``, ``?``, ``j``)."""
    return binding.key_display or {"slash": "/", "question_mark": "?"}.get(binding.key, binding.key)


class HelpScreen(ModalScreen[None]):
    """Built from the screen it is opened over, so it lists exactly the keys that screen has."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", show=False),
        Binding("f1", "close", show=False),
        Binding("q", "close", show=False),
    ]

    def __init__(self, screen_title: str, screen_keys: list[Binding], notes: list[str]) -> None:
        super().__init__()
        self.screen_title = screen_title
        self.screen_keys = screen_keys
        self.notes = notes

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            title = Text(f"Keys — {self.screen_title}", style="bold")
            title.append("   (Esc, ? or F1 closes this)", style="dim")
            yield Static(title)
            yield Static(self._table(), id="keys")

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        table.add_row(Text("This screen", style="bold underline"), "")
        for binding in self.screen_keys:
            table.add_row(key_label(binding), binding.tooltip or binding.description)
        for note in self.notes:
            table.add_row("", Text(note, style="italic"))
        table.add_row(Text("Everywhere", style="bold underline"), "")
        for key, what in GLOBAL_KEYS:
            table.add_row(key, what)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
