"""Conflicts: the open-conflict queue with filters (substrings), sortable columns, the three values of the
selected conflict with when each side made its edit, and the resolutions (take Jira, take local, type a
value, or resolve everything matching the filter). People are shown by name where the store knows them.

The queue can hold tens of thousands of rows, so it is read a page at a time (``PAGE``) into a
``LazyTable``, sorted by the store; resolving rows removes them in place rather than reloading, which
keeps the cursor put. Value columns share whatever width the terminal has.

Attached to a daemon no event says that a conflict appeared, went, or that Jira's value changed, so the
periodic refresh asks the store for the queue's change marker (one aggregate row: how many open conflicts
match the filters, the sum of their ids and of their revisions, which a sync refreshing a value in place
moves) and reads the loaded part of the queue again only when it moved. What the operator reads before
``j`` is at most one refresh old; rows are keyed by the conflict's id and the highlight stays on its
conflict. The names of people and sprints are read again with the rows (or with ``r``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from jira_console.facade import ConsoleEngine, EngineState, KnownNames, QueueMarker, names_wanted
from jira_console.store.converters import ConflictRecord
from jira_console.sync.conflicts import Take
from jira_console.tui import messages
from jira_console.tui.format import literal, value_inline
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.screens.edit_value import NOTHING, EditValueScreen
from jira_console.tui.screens.resolution_words import SIDES, push_words, resolution_words
from jira_console.tui.screens.resolve_all import ResolveAllScreen
from jira_console.tui.widgets.conflict_detail import ConflictDetail
from jira_console.tui.widgets.lazy_table import LazyTable


@dataclass(frozen=True)
class Filters:
    """What the three filter fields hold: each matches as a substring, ignoring case."""

    connection: str | None = None
    field: str | None = None
    issue_key: str | None = None

    def describe(self) -> str:
        parts = [f"{name}~{value}" for name, value in vars(self).items() if value]
        return ", ".join(parts) or "everything open"


SORTS: dict[str, str] = {
    "detected": "detected",
    "key": "key",
    "field": "field",
    "connection": "conn",
    "local_edited": "local edit",
    "jira_edited": "jira edit",
    "id": "id",
}
"""The orders ``o`` cycles through (the store's names) and how the status line names them."""
COLUMNS = ("id", "conn", "key", "field", "local", "jira")
SORT_OF_COLUMN = {"id": "id", "conn": "connection", "key": "key", "field": "field"}


@dataclass(frozen=True)
class ConflictPage:
    """One page of the queue read under the filters and order of ``generation`` (``first``: from the
    top, replacing what is shown), with the names the store knows for the people and sprints in it.
    ``dropped``: how many conflicts the screen had taken out when the read started (those taken out
    since may still be in it)."""

    generation: int
    total: int
    records: list[ConflictRecord]
    first: bool
    names: dict[str, KnownNames]
    dropped: int = 0
    marker: QueueMarker | None = None
    """The queue's change marker, read before the rows (``first`` pages only)."""


@dataclass(frozen=True)
class QueueUnchanged:
    """The refresh found the marker where the screen last read it: nothing to read or redraw."""

    generation: int


class ConflictsScreen(ConsoleScreen):
    """The open-conflict queue."""

    TITLE = "Conflicts"
    MODE = "conflicts"
    CSS_PATH = "conflicts.tcss"
    AUTO_FOCUS = "#queue"
    PAGE = 500
    FILTER_DELAY = 0.3
    BINDINGS = [
        Binding("j", "take('jira')", "Jira", tooltip="resolve by taking Jira's value"),
        Binding("l", "take('local')", "Local", tooltip="resolve by keeping the local value"),
        Binding("e", "edit_value", "Edit", tooltip="resolve with a value you type"),
        Binding("A", "resolve_all", "All…", tooltip="resolve every conflict the filter matches"),
        Binding("slash", "focus_filter", "Filter", key_display="/", tooltip="type in the filter fields"),
        Binding("o", "cycle_sort", "Sort", tooltip="order by the next column (O: reverse)"),
        Binding("O", "reverse_sort", "Reverse", show=False, tooltip="reverse the order"),
        Binding("r", "reload", "Reload", show=False),
    ]
    HELP_NOTES = (
        "Filters match substrings; Enter or Esc leaves them. A click on a column header sorts by it.",
    )
    RUN_FROM_ANYWHERE = frozenset({"resolve_all", "focus_filter", "cycle_sort", "reverse_sort", "reload"})

    def __init__(self, engine: ConsoleEngine, *, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now=now)
        self.filters = Filters()
        self.generation = 0
        self.records: dict[int, ConflictRecord] = {}
        self.total = 0
        self.pending: set[int] = set()
        self.pushing = 0
        """Resolutions being sent to Jira (or queued for the daemon) right now."""
        self.sort = "detected"
        self._laid_out_for = 0
        self.names: dict[str, KnownNames] = {}
        self._filter_timer: Timer | None = None
        self._dropped: list[int] = []
        """Conflicts taken out of the queue here (resolved), in order: a read that started before one was
        taken out must not bring it back."""
        self._shown: tuple[int, QueueMarker] | None = None
        """The generation and change marker of what is shown (less the conflicts taken out here since)."""

    def compose(self) -> ComposeResult:
        yield self.screen_bar()
        with Horizontal(id="filters"):
            yield Input(placeholder="connection", id="f-connection", compact=True)
            yield Input(placeholder="field", id="f-field", compact=True)
            yield Input(placeholder="issue key contains", id="f-key", compact=True)
        yield LazyTable(id="queue")
        yield Static(id="empty")
        yield ConflictDetail(id="detail")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LazyTable).add_columns(*COLUMNS)
        self.query_one("#empty", Static).display = False

    # -- reading ------------------------------------------------------------------------------------

    def _marker(self) -> QueueMarker:
        f = self.filters
        return self.engine.conflict_marker(
            connection=f.connection, field=f.field, issue_key=f.issue_key, contains=True
        )

    def _page(self, offset: int, limit: int | None = None) -> list[ConflictRecord]:
        f = self.filters
        return self.engine.list_conflicts(
            connection=f.connection, field=f.field, issue_key=f.issue_key, limit=limit or self.PAGE,
            offset=offset, contains=True, sort=self.sort,
        )  # fmt: skip

    def _names(self, records: list[ConflictRecord]) -> dict[str, KnownNames]:
        """Names of the people and sprints the page's values mention, per connection."""
        values = ((r.connection, r.field, v) for r in records for v in (r.base, r.local, r.jira))
        wanted = names_wanted(values)
        return {
            conn: self.engine.known_names(conn, people, sprints) for conn, (people, sprints) in wanted.items()
        }

    def load(self) -> ConflictPage:
        """The queue from the top: the first page, or as many rows as are loaded (the refresh reads those
        again, so new conflicts appear, resolved ones go and changed values show; the highlight stays on
        its conflict)."""
        generation, dropped = self.generation, len(self._dropped)
        return self._top(generation, dropped, self._marker())

    def poll(self) -> ConflictPage | QueueUnchanged:
        """The refresh: the change marker, and the rows again only when it moved since they were read."""
        generation, dropped, shown = self.generation, len(self._dropped), self._shown
        marker = self._marker()
        if shown == (generation, marker):
            return QueueUnchanged(generation)
        return self._top(generation, dropped, marker)

    def _top(self, generation: int, dropped: int, marker: QueueMarker) -> ConflictPage:
        # The marker first: a conflict resolved here after both reads is in both, and one changed after
        # the marker was read moves it again.
        rows = self._page(0, max(self.PAGE, len(self.records)))
        return ConflictPage(generation, marker.count, rows, True, self._names(rows), dropped, marker)

    def _load_more(self) -> ConflictPage:
        # Resolved rows have left the open set, so the next unseen row sits at len(records).
        generation, dropped, rows = self.generation, len(self._dropped), self._page(len(self.records))
        return ConflictPage(generation, self.total, rows, False, self._names(rows), dropped)

    @on(LazyTable.NearEnd)
    def _near_end(self) -> None:
        self.read_in_worker(self._load_more, "Reading more conflicts", "more")

    def show(self, data: ConflictPage | QueueUnchanged) -> None:
        if data.generation != self.generation:
            return  # read under filters that have since changed
        if isinstance(data, QueueUnchanged):
            self._show_selected()  # the detail's ages move on
            return
        table = self.query_one(LazyTable)
        gone = set(self._dropped[data.dropped :])
        records = [r for r in data.records if r.id not in gone]
        self.total = max(data.total - (len(data.records) - len(records)), 0)
        if data.marker is not None:
            marker = data.marker
            for record in data.records:
                if record.id in gone:
                    marker = marker.without(record)
            self._shown = (data.generation, marker)
        if data.first:
            names = dict(data.names)
            if records != list(self.records.values()) or names != self.names or not self._laid_out_for:
                self.records, self.names = {r.id: r for r in records}, names
                self._laid_out_for = 0  # the widths depend on the rows: lay the table out again
                self.on_resize()
        else:
            for conn, found in data.names.items():
                known = self.names.get(conn) or KnownNames()
                self.names[conn] = KnownNames(known.people | found.people, known.sprints | found.sprints)
            fresh = [r for r in records if r.id not in self.records]
            self.records.update((r.id, r) for r in fresh)
            width = self.value_width()
            for record in fresh:
                table.add_row(*self._cells(record, width), key=str(record.id))
        table.page_loaded(exhausted=len(data.records) < self.PAGE or len(self.records) >= self.total)
        self._show_selected()
        self._render_status()

    def value_width(self) -> int:
        """How wide each of the two value columns may be: what the other columns leave of the screen (the
        loaded rows' id, connection, key and field, as wide as their longest, plus cell padding)."""
        fixed = [len(label) for label in COLUMNS[:4]]
        for r in self.records.values():
            for i, text in enumerate((str(r.id), r.connection, r.issue_key, r.field)):
                fixed[i] = max(fixed[i], len(text))
        padding = 2 * self.query_one(LazyTable).cell_padding * len(COLUMNS)
        return max(12, (self.size.width - sum(fixed) - padding - 2) // 2)  # and the scrollbar

    def shown(self, record: ConflictRecord, value: object) -> object:
        """A person or sprint value as its name when the store knows it (the id stays in the detail)."""
        names = self.names.get(record.connection)
        name = names.name_of(record.field, value) if names is not None else None
        return value if name is None else name

    def _cells(self, record: ConflictRecord, width: int) -> tuple[Text, ...]:
        """A row's cells, the values cut to ``width`` (``value_width``, worked out once per batch of rows:
        it goes over every loaded row, so once per row made opening the queue quadratic)."""
        return (
            Text(str(record.id)),
            literal(record.connection),
            literal(record.issue_key),
            literal(record.field),
            value_inline(self.shown(record, record.local), width),
            value_inline(self.shown(record, record.jira), width),
        )

    def on_resize(self) -> None:
        """Give the value columns the new width: cells are cut when made, and a DataTable column never
        narrows, so the rows are made again (from what is loaded: nothing is read)."""
        width = self.size.width
        if width == self._laid_out_for:
            return
        self._laid_out_for = width
        table = self.query_one(LazyTable)
        with table.keeping_cursor():
            table.clear(columns=True)
            table.add_columns(*COLUMNS)
            value_width = self.value_width()
            for record in self.records.values():
                table.add_row(*self._cells(record, value_width), key=str(record.id))

    def _render_status(self) -> None:
        text = Text(f"showing {len(self.records):,} of {self.total:,} open", style="bold")
        # Work under way first: at 80 columns the end of the line is cut.
        if self.pending:
            text.append(f"  resolving {len(self.pending)}…", style="yellow")
        if self.pushing:
            text.append(f"  sending {self.pushing} to Jira…", style="yellow")
        text.append("  filter: ")
        text.append_text(literal(self.filters.describe()))
        descending = self.sort.startswith("-")
        text.append(f"  sort: {SORTS[self.sort.removeprefix('-')]} {'↓' if descending else '↑'}")
        self.query_one("#status", Static).update(text)
        self._render_empty()

    def _render_empty(self) -> None:
        empty = self.total == 0 and not self.records
        table, note = self.query_one(LazyTable), self.query_one("#empty", Static)
        table.display, note.display = not empty, empty
        if not empty and self.focused is None:  # it lost the focus when it was hidden: keys move it again
            table.focus()
        if empty:
            matching = "" if self.filters == Filters() else f" match {self.filters.describe()}"
            note.update(Text(f"no open conflicts{matching}", style="bold green"))

    def selected(self) -> ConflictRecord | None:
        """The conflict under the cursor."""
        key = self.query_one(LazyTable).cursor_key
        return self.records.get(int(key)) if key is not None else None

    def _show_selected(self) -> None:
        record = self.selected()
        self.query_one(ConflictDetail).show(record, self.now(), self._named(record) if record else {})

    def _named(self, record: ConflictRecord) -> dict[str, str]:
        """The detail's captions: the name of each side's value when it is a known person or sprint."""
        out = {}
        for side in ("base", "local", "jira"):
            value = getattr(record, side)
            name = self.shown(record, value)
            if name is not value:
                out[side] = str(name)
        return out

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

    # -- sorting ------------------------------------------------------------------------------------

    def sort_by(self, sort: str) -> None:
        """Read the queue again in another order (``-`` in front: descending)."""
        if sort != self.sort:
            self.sort = sort
            self.generation += 1
            self.reload()
            self._render_status()

    def action_cycle_sort(self) -> None:
        """Order the queue by the next column."""
        names = list(SORTS)
        current = self.sort.removeprefix("-")
        self.sort_by(names[(names.index(current) + 1) % len(names)])

    def action_reverse_sort(self) -> None:
        """Reverse the order."""
        self.sort_by(self.sort[1:] if self.sort.startswith("-") else f"-{self.sort}")

    @on(DataTable.HeaderSelected, "#queue")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = COLUMNS[event.column_index]
        sort = SORT_OF_COLUMN.get(column)
        if sort is not None:
            self.sort_by(f"-{sort}" if self.sort == sort else sort)

    # -- resolving ----------------------------------------------------------------------------------

    async def action_take(self, take: str) -> None:
        """Resolve the selected conflict with the Jira or the local value."""
        await self.first_read()
        record = self.selected()
        if record is not None and record.id not in self.pending:
            self._resolve(record, "jira" if take == "jira" else "local", None)

    async def action_edit_value(self) -> None:
        """Resolve the selected conflict with a value the operator types (checked as they type)."""
        await self.first_read()
        record = self.selected()
        if record is None or record.id in self.pending:
            return

        def chosen(value: Any) -> None:
            if value is not NOTHING:
                self._resolve(record, "value", value)

        self.app.push_screen(EditValueScreen(record, self.engine), chosen)

    # Not exclusive: resolving one row then the next must not cancel the first mid-write.
    @work(name="Resolving the conflict", group="resolve", exit_on_error=False)
    async def _resolve(self, record: ConflictRecord, take: Take, value: Any) -> None:
        self.pending.add(record.id)
        self._render_status()
        try:
            done = await self.engine.resolve_conflict(
                record.id, take, value=value, actor="console", push=False
            )
        finally:
            self.pending.discard(record.id)
        self._drop(record.id)
        # Said as soon as it is stored: the push that follows may wait (a breaker, a busy daemon).
        sends = done.resolved_value != done.jira
        self.notify(resolution_words(done, sends, self._engine_state(), self.now()), markup=False)
        self.pushing += sends
        self._render_status()
        try:
            await self.engine.push_resolved(record.connection)
        finally:
            self.pushing -= sends
            self._render_status()

    def _engine_state(self) -> EngineState:
        """Where the engine runs, as the App last read it (a daemon that stopped beating is said)."""
        state = getattr(self.app, "engine_state", None)
        return state if isinstance(state, EngineState) else EngineState(self.engine.mode)

    def _drop(self, conflict_id: int) -> None:
        """Take a resolved conflict out of the queue without disturbing the rest."""
        self._dropped.append(conflict_id)
        record = self.records.pop(conflict_id, None)
        if record is not None:
            if self._shown is not None:  # one not loaded here moves the marker: the refresh reads again
                self._shown = (self._shown[0], self._shown[1].without(record))
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
            if take in ("jira", "local"):
                self._resolve_all(filters, "jira" if take == "jira" else "local")

        self.app.push_screen(ResolveAllScreen(self.total, filters.describe()), chosen)

    @work(name="Resolving the conflicts", group="resolve-all", exclusive=True, exit_on_error=False)
    async def _resolve_all(self, filters: Filters, take: Literal["jira", "local"]) -> None:
        count = await self.engine.resolve_conflicts(
            take,
            connection=filters.connection,
            field=filters.field,
            issue_key=filters.issue_key,
            actor="console",
            contains=True,
        )
        state = self._engine_state()
        queued = f"; {push_words(state, self.now())}" if count and state.mode == "attached" else ""
        self.notify(f"Resolved {count} conflicts with {SIDES[take]}{queued}", markup=False)
        self.generation += 1
        self.reload()

    # -- engine events ------------------------------------------------------------------------------

    @on(messages.ConflictResolved)
    def _resolved_elsewhere(self, message: messages.ConflictResolved) -> None:
        if message.event.conflict_id not in self.pending:
            self._drop(message.event.conflict_id)

    @on(messages.ConflictDetected)
    def _detected(self) -> None:
        self.read_in_worker(self.poll, "Reading the conflicts", "poll")
