"""Modal: the people the issues name whom nobody mapped yet (every connection), and a way to map one: pick
the row, type their e-mail and/or your own id, Map. Jira's names and e-mails are shown as plain text. Nothing
is matched by display name here: the operator says who is who."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static
from textual.worker import Worker

from jira_console.facade import ConsoleEngine
from jira_console.mapping.people import JiraPerson
from jira_console.tui.format import literal
from jira_console.tui.screens.base import report_failed_worker

COLUMNS = ("connection", "name", "jira user", "e-mail Jira shows")


@dataclass(frozen=True)
class Pending:
    connection: str
    person: JiraPerson


class PeopleScreen(ModalScreen[None]):
    """Lists the unresolved people; Map stores the typed e-mail / id for the highlighted one."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, engine: ConsoleEngine) -> None:
        super().__init__()
        self.engine = engine
        self.pending: list[Pending] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog people"):
            yield Static("People nobody mapped yet", classes="title")
            yield DataTable(id="people", cursor_type="row")
            yield Input(placeholder="e-mail", id="email", compact=True)
            yield Input(placeholder="your id for them (optional)", id="internal-id", compact=True)
            yield Static(id="people-hint", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close")
                yield Button("Map", variant="primary", id="map")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failed_worker(self, event)

    def on_mount(self) -> None:
        self.query_one("#people", DataTable).add_columns(*COLUMNS)
        self.reload()

    @work(name="Reading the people to link", thread=True, group="people", exclusive=True, exit_on_error=False)
    def reload(self) -> None:
        found = [
            Pending(c.name, p)
            for c in self.engine.connections()
            for p in self.engine.unresolved_people(c.name)
        ]
        self.app.call_from_thread(self._show, found)

    def _show(self, found: list[Pending]) -> None:
        self.pending = found
        table = self.query_one("#people", DataTable)
        table.clear()
        for row in found:
            p = row.person
            table.add_row(
                literal(row.connection), literal(p.display_name or "?"), literal(p.jira_user),
                literal(p.email or "hidden"),
            )  # fmt: skip
        hint = f"{len(found)} unresolved" if found else "everyone the issues name is mapped"
        self.query_one("#people-hint", Static).update(hint)
        if found:
            self._highlighted()

    def chosen(self) -> Pending | None:
        table = self.query_one("#people", DataTable)
        return self.pending[table.cursor_row] if 0 <= table.cursor_row < len(self.pending) else None

    @on(DataTable.RowHighlighted, "#people")
    def _highlighted(self) -> None:
        row = self.chosen()
        if row is not None:  # Jira's e-mail, where it shows one, is the likely answer: prefilled, not stored
            self.query_one("#email", Input).value = row.person.email or ""

    @on(Button.Pressed, "#map")
    @on(Input.Submitted)
    def _map(self) -> None:
        row = self.chosen()
        email = self.query_one("#email", Input).value.strip() or None
        internal_id = self.query_one("#internal-id", Input).value.strip() or None
        if row is None or (email is None and internal_id is None):
            self.notify("Pick a person and type an e-mail or an id", severity="warning")
            return
        self._store(row, email, internal_id)

    @work(name="Linking the person", group="map", exclusive=True, exit_on_error=False)
    async def _store(self, row: Pending, email: str | None, internal_id: str | None) -> None:
        p = row.person
        await self.engine.set_identity(
            row.connection, p.jira_user, email=email, internal_id=internal_id, display_name=p.display_name
        )
        self.notify(f"Mapped {p.display_name or p.jira_user}; the next sync applies it", markup=False)
        self.query_one("#internal-id", Input).value = ""
        self.reload()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
