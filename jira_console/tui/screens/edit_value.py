"""Modal: type the value a conflict should resolve to. What is typed is taken as text (``Merged wording``),
unless it parses as JSON (``5``, ``null``, ``["a", "b"]``, ``"quoted"``): the line under the field says
which, before anything is saved."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from jira_console.store.converters import ConflictRecord
from jira_console.tui.format import json_inline, literal

NOTHING = object()


def typed_value(text: str) -> tuple[Any, str]:
    """The value ``text`` stands for and how it was read: ``json`` when it parses as JSON, else ``text``
    (taken as typed; an empty field is an empty text)."""
    try:
        return json.loads(text), "json"
    except ValueError:
        return text, "text"


def initial_text(value: Any) -> str:
    """What the field starts with: a text value as it is (no quotes to step around), else its JSON."""
    if isinstance(value, str):
        # A text that would read as JSON (``5``, ``null``) keeps its quotes, so it stays a text.
        return value if typed_value(value)[1] == "text" else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


class EditValueScreen(ModalScreen[Any]):
    """Dismisses with the value, or with ``NOTHING`` when cancelled (``None`` is a value: JSON ``null``)."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, record: ConflictRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        r = self.record
        with Vertical(classes="dialog"):
            title = literal(f"Resolve #{r.id} {r.issue_key} {r.field} to a value")
            title.append(" — text, or JSON when it parses", style="dim")
            yield Static(title, classes="title")
            yield Static(
                Text.assemble("local ", json_inline(r.local, 60), "\njira  ", json_inline(r.jira, 60))
            )
            yield Input(initial_text(r.local), id="value")
            yield Static(id="reading", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Resolve", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def parsed(self) -> tuple[Any, str]:
        """The input's value and how it is read (``json`` or ``text``)."""
        return typed_value(self.query_one("#value", Input).value)

    def on_mount(self) -> None:
        self._show_reading()

    @on(Input.Changed, "#value")
    def _show_reading(self) -> None:
        value, kind = self.parsed()
        hint = Text("saves ", style="dim")
        hint.append_text(json_inline(value, 60))
        hint.append(f" as {'JSON' if kind == 'json' else 'text'}", style="dim")
        self.query_one("#reading", Static).update(hint)

    @on(Input.Submitted, "#value")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        self.dismiss(self.parsed()[0])

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(NOTHING)
