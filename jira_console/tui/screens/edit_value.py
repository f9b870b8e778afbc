"""Modal: type the value a conflict should resolve to, as JSON. Saving is only possible while it parses."""

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

from jira_console.tui.format import json_inline, literal

NOTHING = object()


class EditValueScreen(ModalScreen[Any]):
    """Dismisses with the parsed JSON value, or with ``NOTHING`` when cancelled (``None`` is valid JSON)."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, record: Any) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        r = self.record
        with Vertical(classes="dialog"):
            yield Static(
                literal(f"Resolve #{r.id} {r.issue_key} {r.field} to a value (JSON)"), classes="title"
            )
            yield Static(
                Text.assemble("local ", json_inline(r.local, 60), "\njira  ", json_inline(r.jira, 60))
            )
            yield Input(json.dumps(r.local, ensure_ascii=False, default=str), id="value")
            yield Static(id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Resolve", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def parsed(self) -> tuple[Any, str | None]:
        """The input's value and the reason it does not parse (``None`` when it does)."""
        try:
            return json.loads(self.query_one("#value", Input).value), None
        except ValueError as exc:
            return NOTHING, f"not valid JSON: {exc}"

    @on(Input.Changed, "#value")
    def _validate(self) -> None:
        _, error = self.parsed()
        self.query_one("#error", Static).update(Text(error or ""))
        self.query_one("#ok", Button).disabled = error is not None

    @on(Input.Submitted, "#value")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        value, error = self.parsed()
        if error is None:
            self.dismiss(value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(NOTHING)
