"""Modal: type the value a conflict should resolve to. The engine reads what is typed the way the field
takes it (``ConsoleEngine.read_value``): a text field (summary, status…) takes the text as typed (``42`` is
the text "42"); another field takes JSON when it parses (``5``, ``null``, ``["a", "b"]``), else the text.
The line under the field says what would be saved, and what is wrong with it, as the operator types; a
value the field cannot take keeps the dialog open with the problem shown, so nothing has to be retyped."""

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

from jira_console.facade import ConsoleEngine, ValueReading
from jira_console.store.converters import ConflictRecord
from jira_console.tui.format import json_inline, literal

NOTHING = object()


def initial_text(engine: ConsoleEngine, field: str, value: Any) -> str:
    """What the field starts with: a text value as it is (no quotes to step around) when it reads back as
    that text, else its JSON (a text ``5`` of a field that reads ``5`` as a number keeps its quotes)."""
    if isinstance(value, str) and engine.read_value(field, value).value == value:
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


class EditValueScreen(ModalScreen[Any]):
    """Dismisses with the value, or with ``NOTHING`` when cancelled (``None`` is a value: JSON ``null``)."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, record: ConflictRecord, engine: ConsoleEngine) -> None:
        super().__init__()
        self.record = record
        self.engine = engine

    def compose(self) -> ComposeResult:
        r = self.record
        with Vertical(classes="dialog"):
            yield Static(literal(f"Resolve #{r.id} {r.issue_key} {r.field} with a value"), classes="title")
            yield Static(
                Text.assemble("local ", json_inline(r.local, 60), "\njira  ", json_inline(r.jira, 60))
            )
            yield Input(initial_text(self.engine, r.field, r.local), id="value")
            yield Static(id="reading", classes="hint")
            yield Static(id="problem", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Resolve", variant="primary", id="ok")

    def reading(self) -> ValueReading:
        """The input's value as the field takes it, and what is wrong with it."""
        return self.engine.read_value(self.record.field, self.query_one("#value", Input).value)

    def on_mount(self) -> None:
        self._show_reading()

    @on(Input.Changed, "#value")
    def _show_reading(self) -> None:
        self._show(self.reading())

    def _show(self, reading: ValueReading) -> None:
        hint = Text("saves ", style="dim")
        if reading.value is None:
            hint.append("no value (null)")
        else:
            hint.append_text(json_inline(reading.value, 60))
            hint.append(f" as {'JSON' if reading.as_json else 'text'}", style="dim")
        self.query_one("#reading", Static).update(hint)
        problem = self.query_one("#problem", Static)
        problem.display = reading.problem is not None
        problem.update(literal(reading.problem or ""))
        self.query_one("#ok", Button).disabled = reading.problem is not None

    @on(Input.Submitted, "#value")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        reading = self.reading()
        self._show(reading)
        if reading.problem is not None:
            self.query_one("#value", Input).focus()  # stays open, as typed: the line above says why
            self.app.bell()
            return
        self.dismiss(reading.value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(NOTHING)
