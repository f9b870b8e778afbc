"""Conflicts: the open-conflict queue with filters, the three values of the selected conflict, and the
resolutions (take Jira, take local, type a value, or resolve everything matching the filter).

The queue can hold tens of thousands of rows, so it is read a page at a time (``PAGE``) into a
``LazyTable``; resolving rows removes them in place rather than reloading, which keeps the cursor put.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

from jira_console.tui import messages
from jira_console.tui.format import json_inline, literal
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.screens.edit_value import NOTHING, EditValueScreen
from jira_console.tui.screens.resolve_all import ResolveAllScreen
from jira_console.tui.widgets.conflict_detail import ConflictDetail
from jira_console.tui.widgets.lazy_table import LazyTable


@dataclass(frozen=True)
class Filters:
    connection: str | None = None
    field: str | None = None
    issue_key: str | None = None

    def describe(self) -> str:
        parts = [f"{name}={value}" for name, value in vars(self).items() if value]
        return ", ".join(parts) or "everything open"


@dataclass(frozen=True)
class ConflictPage:
    generation: int
    total: int
    records: list[Any]
    first: bool


@dataclass(frozen=True)
class ConflictCount:
    generation: int
    total: int


class ConflictsScreen(ConsoleScreen):
    """The open-conflict queue."""

    TITLE = "Conflicts"
    CSS_PATH = "conflicts.tcss"
    AUTO_FOCUS = "#queue"
    PAGE = 500
    FILTER_DELAY = 0.3
    BINDINGS = [
        Binding("j", "take('jira')", "Take Jira"),
        Binding("l", "take('local')", "Take local"),
        Binding("e", "edit_value", "Edit value"),
        Binding("A", "resolve_all", "Resolve all…"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, engine: Any, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self.filters = Filters()
        self.generation = 0
        self.records: dict[int, Any] = {}
        self.total = 0
        self.pending: set[int] = set()
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder="connection", id="f-connection", compact=True)
            yield Input(placeholder="field", id="f-field", compact=True)
            yield Input(placeholder="issue key contains", id="f-key", compact=True)
        yield LazyTable(id="queue")
        yield ConflictDetail(id="detail")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LazyTable).add_columns("id", "conn", "key", "field", "local", "jira")

    # -- reading ------------------------------------------------------------------------------------

    def load(self) -> ConflictPage:
        generation, f = self.generation, self.filters
        total = self.engine.count_conflicts(connection=f.connection, field=f.field, issue_key=f.issue_key)
        rows = self.engine.list_conflicts(
            connection=f.connection, field=f.field, issue_key=f.issue_key, limit=self.PAGE, offset=0
        )
        return ConflictPage(generation, total, rows, first=True)

    def poll(self) -> ConflictCount:
        """Only the count: re-reading pages every few seconds would reset the operator's place."""
        f = self.filters
        total = self.engine.count_conflicts(connection=f.connection, field=f.field, issue_key=f.issue_key)
        return ConflictCount(self.generation, total)

    def _load_more(self) -> ConflictPage:
        # Resolved rows have left the open set, so the next unseen row sits at len(records).
        generation, f, offset = self.generation, self.filters, len(self.records)
        rows = self.engine.list_conflicts(
            connection=f.connection, field=f.field, issue_key=f.issue_key, limit=self.PAGE, offset=offset
        )
        return ConflictPage(generation, self.total, rows, first=False)

    @on(LazyTable.NearEnd)
    def _near_end(self) -> None:
        self.run_worker(
            lambda: self.fetch(self._load_more),
            thread=True,
            group="more",
            exclusive=True,
            exit_on_error=False,
        )

    def show(self, data: ConflictPage | ConflictCount) -> None:
        if data.generation != self.generation:
            return  # read under filters that have since changed
        table = self.query_one(LazyTable)
        self.total = data.total
        if isinstance(data, ConflictPage):
            if data.first:
                row = table.cursor_row
                table.clear()
                self.records = {}
            fresh = [r for r in data.records if r.id not in self.records]
            self.records.update((r.id, r) for r in fresh)
            for record in fresh:
                table.add_row(*self._cells(record), key=str(record.id))
            if data.first and self.records:
                table.move_cursor(row=min(max(row, 0), len(self.records) - 1))
            table.page_loaded(exhausted=len(data.records) < self.PAGE or len(self.records) >= self.total)
            self._show_selected()
        self._render_status()

    @staticmethod
    def _cells(record: Any) -> tuple[Text, ...]:
        return (
            Text(str(record.id)),
            literal(record.connection),
            literal(record.issue_key),
            literal(record.field),
            json_inline(record.local, 18),
            json_inline(record.jira, 18),
        )

    def _render_status(self) -> None:
        text = Text(f"showing {len(self.records):,} of {self.total:,} open", style="bold")
        text.append("  filter: ")
        text.append_text(literal(self.filters.describe()))
        if self.pending:
            text.append(f"  resolving {len(self.pending)}…", style="yellow")
        self.query_one("#status", Static).update(text)

    def selected(self) -> Any | None:
        """The conflict under the cursor."""
        table = self.query_one(LazyTable)
        if not self.records or table.cursor_row < 0:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self.records.get(int(key)) if key is not None else None

    def _show_selected(self) -> None:
        self.query_one(ConflictDetail).show(self.selected())

    @on(DataTable.RowHighlighted, "#queue")
    def _row_highlighted(self) -> None:
        self._show_selected()

    # -- filters ------------------------------------------------------------------------------------

    @on(Input.Changed, "#filters Input")
    def _filter_typed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(self.FILTER_DELAY, self.apply_filters)

    @on(Input.Submitted, "#filters Input")
    def _filter_submitted(self) -> None:
        self.apply_filters()
        self.query_one(LazyTable).focus()

    def apply_filters(self) -> None:
        """Read the filter inputs; when they changed, start over from the first page."""
        if self._filter_timer is not None:
            self._filter_timer.stop()
        values = [
            self.query_one(f"#f-{name}", Input).value.strip() or None for name in ("connection", "field")
        ]
        key = self.query_one("#f-key", Input).value.strip() or None
        filters = Filters(values[0], values[1], key)
        if filters != self.filters:
            self.filters = filters
            self.generation += 1
            self.reload()

    def action_focus_filter(self) -> None:
        """Move the focus to the filter inputs."""
        self.query_one("#f-connection", Input).focus()

    # -- resolving ----------------------------------------------------------------------------------

    def action_take(self, take: str) -> None:
        """Resolve the selected conflict with the Jira or the local value."""
        record = self.selected()
        if record is not None and record.id not in self.pending:
            self._resolve(record, take, None)

    def action_edit_value(self) -> None:
        """Resolve the selected conflict with a value typed as JSON."""
        record = self.selected()
        if record is None or record.id in self.pending:
            return

        def chosen(value: Any) -> None:
            if value is not NOTHING:
                self._resolve(record, "value", value)

        self.app.push_screen(EditValueScreen(record), chosen)

    # Not exclusive: resolving one row then the next must not cancel the first mid-write.
    @work(group="resolve", exit_on_error=False)
    async def _resolve(self, record: Any, take: str, value: Any) -> None:
        self.pending.add(record.id)
        self._render_status()
        try:
            await self.engine.resolve_conflict(record.id, take, value=value, actor="console")
        finally:
            self.pending.discard(record.id)
        self._drop(record.id)

    def _drop(self, conflict_id: int) -> None:
        """Take a resolved conflict out of the queue without disturbing the rest."""
        if self.records.pop(conflict_id, None) is not None:
            self.query_one(LazyTable).remove_row(str(conflict_id))
            self.total = max(self.total - 1, 0)
            self._show_selected()
        self._render_status()

    def action_resolve_all(self) -> None:
        """Resolve every open conflict matching the filter, after a confirmation."""
        if self.total == 0:
            self.notify("Nothing matches the filter", severity="warning")
            return
        filters = self.filters

        def chosen(take: str | None) -> None:
            if take is not None:
                self._resolve_all(filters, take)

        self.app.push_screen(ResolveAllScreen(self.total, filters.describe()), chosen)

    @work(group="resolve-all", exclusive=True, exit_on_error=False)
    async def _resolve_all(self, filters: Filters, take: str) -> None:
        count = await self.engine.resolve_conflicts(
            take,
            connection=filters.connection,
            field=filters.field,
            issue_key=filters.issue_key,
            actor="console",
        )
        self.notify(f"Resolved {count} conflicts (took {take})")
        self.generation += 1
        self.reload()

    # -- engine events ------------------------------------------------------------------------------

    @on(messages.ConflictResolved)
    def _resolved_elsewhere(self, message: messages.ConflictResolved) -> None:
        if message.event.conflict_id not in self.pending:
            self._drop(message.event.conflict_id)

    @on(messages.ConflictDetected)
    def _detected(self) -> None:
        self.run_worker(
            lambda: self.fetch(self.poll), thread=True, group="poll", exclusive=True, exit_on_error=False
        )
