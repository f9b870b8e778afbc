"""Sync: per connection and scope, the watermark, last and next run, counts, and live progress of a
running sync. Starting a sync is asked of the App (``SyncRequested``) because it outlives this screen."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from jira_console import events as ev
from jira_console.tui import messages
from jira_console.tui.format import counts, duration, literal, when, when_ms
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.widgets.console_table import ConsoleTable

COLUMNS = ("connection", "scope", "state", "watermark", "next run")


def progress_text(progress: ev.SyncProgressed) -> str:
    return (
        f"p{progress.pages} seen {progress.seen} ↓{progress.pulled} ↑{progress.pushed} ⚠{progress.conflicts}"
    )


class SyncScreen(ConsoleScreen):
    """Table of sync states; the detail line below describes the selected row."""

    TITLE = "Sync"
    CSS_PATH = "sync.tcss"
    BINDINGS = [
        Binding("s", "sync(False)", "Sync"),
        Binding("f", "sync(True)", "Full sync"),
        Binding("a", "sync_all", "Sync all"),
        Binding("r", "reload", "Reload"),
    ]

    class SyncRequested(Message):
        """The operator asked for a sync (``connection`` None = every connection)."""

        def __init__(self, connection: str | None, full: bool) -> None:
            self.connection = connection
            self.full = full
            super().__init__()

    def __init__(self, engine: Any, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self.states: list[Any] = []
        self.field_errors: list[Any] = []
        self.progress: dict[tuple[str, str], ev.SyncProgressed] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConsoleTable(id="states")
        yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def load(self) -> tuple[list[Any], list[Any]]:
        errors = getattr(self.engine, "recent_field_errors", None)
        return self.engine.sync_states(), (errors(limit=50) if errors else [])

    def show(self, data: tuple[list[Any], list[Any]]) -> None:
        self.states, self.field_errors = data
        for state in self.states:
            if not state.running:
                self.progress.pop((state.connection, state.scope), None)
        self._render_table()

    def _render_table(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for state in self.states:
            table.add_row(
                literal(state.connection),
                literal(state.scope),
                self._state_text(state),
                Text(when_ms(state.watermark_ms)),
                Text(when(state.next_run_at)),
                key=f"{state.connection}\0{state.scope}",
            )
        if self.states:
            table.move_cursor(row=min(row, len(self.states) - 1))
        self._render_detail()

    def _state_text(self, state: Any) -> Text:
        progress = self.progress.get((state.connection, state.scope))
        if state.running or progress is not None:
            return Text("running " + (progress_text(progress) if progress else ""), style="bold yellow")
        status = state.last_status or "never run"
        style = {"ok": "green", "error": "bold red", "failed": "bold red"}.get(status, "")
        return Text(status, style=style)

    def selected(self) -> Any | None:
        table = self.query_one(DataTable)
        if not self.states or table.cursor_row < 0:
            return None
        return self.states[min(table.cursor_row, len(self.states) - 1)]

    def _render_detail(self) -> None:
        state = self.selected()
        detail = self.query_one("#detail", Static)
        if state is None:
            detail.update(Text("no sync state yet", style="dim"))
            return
        text = Text()
        text.append_text(literal(f"{state.connection} / {state.scope}", style="bold"))
        text.append(f"\nlast started {when(state.last_started_at)}  finished {when(state.last_finished_at)}")
        text.append(f"\nduration {duration(state.duration_ms)}  api calls {state.api_calls or 0}")
        text.append("  counts ")
        text.append_text(literal(counts(state.counts)))
        progress = self.progress.get((state.connection, state.scope))
        if progress is not None:
            text.append("\nprogress " + progress_text(progress), style="yellow")
        if state.last_error:
            text.append("\nerror ", style="bold red")
            text.append_text(literal(state.last_error))
        mine = [e for e in self.field_errors if e.connection == state.connection]
        if mine:
            # Values that could not be mapped or written: recorded on the issue, the rest keeps syncing.
            text.append(f"\nfield errors {len(mine)}", style="bold yellow")
            for e in mine[:3]:
                text.append("\n  ")
                text.append_text(literal(f"{e.issue_key} {e.field}: {e.message}"))
        detail.update(text)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._render_detail()

    def action_sync(self, full: bool) -> None:
        """Sync the selected row's connection (incremental, or full from the beginning)."""
        state = self.selected()
        if state is None:
            self.notify("No connection selected", severity="warning")
            return
        self.post_message(self.SyncRequested(state.connection, full))

    def action_sync_all(self) -> None:
        """Incremental sync of every connection."""
        self.post_message(self.SyncRequested(None, False))

    @on(messages.SyncStarted)
    @on(messages.SyncFinished)
    def _sync_changed(self) -> None:
        self.reload()

    @on(messages.SyncProgressed)
    def _sync_progressed(self, message: messages.SyncProgressed) -> None:
        event = message.event
        self.progress[(event.connection, event.scope)] = event
        # Update the affected cells in place: a full reload per progress report would hammer the DB.
        table = self.query_one(DataTable)
        for index, state in enumerate(self.states):
            if (state.connection, state.scope) == (event.connection, event.scope):
                table.update_cell_at(Coordinate(index, COLUMNS.index("state")), self._state_text(state))
        self._render_detail()
