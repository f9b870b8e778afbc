"""Audit log: every change either side received, newest first, filtered by issue, run, side and field; the
selected line in full (values, reason, who and what caused it); and undo: "undo this" (the selected line)
and "undo this run" (every line of its run), each shown first as a dry run in a confirmation that says
what will be written where. Reached from the Sync screen (``l``) or the command palette.

The log is read a page (``PAGE`` lines) at a time into a ``LazyTable``: older pages load as the operator
scrolls down. The refresh reads only the lines newer than the newest shown and puts them on top; the
highlight stays on its line (rows are keyed by the line's id), so ``u`` undoes the line the operator read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.notifications import SeverityLevel
from textual.widgets import DataTable, Footer, Input, Static

from jira_console.facade import ConsoleEngine
from jira_console.facade.undo import AuditQuery, UndoResult, UndoSelection
from jira_console.store.converters import AuditEntry
from jira_console.store.issues import GONE
from jira_console.sync.undo import UndoError
from jira_console.tui.format import clip, json_block, literal, moment, value_inline, when
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.screens.undo_confirm import UndoConfirmScreen
from jira_console.tui.widgets.lazy_table import LazyTable

COLUMNS = ("id", "at", "issue", "side", "field", "change", "cause")
SIDES: tuple[str | None, ...] = (None, "jira", "local")
PAGE = 300
CAUSE_STYLE = {"undo": "magenta", "webhook": "cyan", "operator": "yellow"}
SHORT_REASONS = {GONE: "deleted/not visible"}
"""Reasons of field-less lines said shorter in the change column when they do not fit: cut, the reason of
an issue Jira no longer returns read "deleted in Jira, o…", the one thing it does not say. The detail
below the table has it in full."""


@dataclass(frozen=True)
class AuditFilter:
    """What the log is narrowed to (every given part must match)."""

    issue_key: str | None = None
    run_id: int | None = None
    side: str | None = None
    field: str | None = None

    def describe(self) -> str:
        parts = [
            f"issue {self.issue_key}" if self.issue_key else "",
            f"run {self.run_id}" if self.run_id is not None else "",
            f"side {self.side}" if self.side else "",
            f"field {self.field}" if self.field else "",
        ]
        return " · ".join(p for p in parts if p) or "everything"

    def query(self, offset: int = 0) -> AuditQuery:
        return AuditQuery(self.issue_key, self.run_id, self.side, self.field, limit=PAGE, offset=offset)


@dataclass(frozen=True)
class AuditPage:
    """A page of lines under ``wanted``: the newest (``first``, the table starts over) or older ones."""

    wanted: AuditFilter
    entries: list[AuditEntry]
    first: bool


@dataclass(frozen=True)
class AuditNewer:
    """The lines under ``wanted`` newer than the newest shown when they were read, newest first."""

    wanted: AuditFilter
    entries: list[AuditEntry]


def parse_filter(text: str) -> AuditFilter:
    """``OPS-12 run:41 side:jira field:summary`` (any of them, any order; a bare word is an issue key).
    ValueError naming the part that does not read."""
    found = AuditFilter()
    for token in text.split():
        name, sep, value = token.partition(":")
        if not sep:
            found = replace(found, issue_key=token)
        elif name == "run" and value.isdigit():
            found = replace(found, run_id=int(value))
        elif name == "side" and value in ("jira", "local"):
            found = replace(found, side=value)
        elif name == "field" and value:
            found = replace(found, field=value)
        elif name == "issue" and value:
            found = replace(found, issue_key=value)
        else:
            raise ValueError(f"cannot read {token!r}: use KEY, run:N, side:jira|local, field:NAME")
    return found


def cause_text(entry: AuditEntry) -> Text:
    """``sync 41`` / ``webhook #8`` / ``undo 43 of #5`` / ``operator``."""
    if entry.cause is None:
        return literal(entry.actor, style="dim")
    ref = f" {entry.run_id}" if entry.run_id is not None else f" #{entry.event_id}" if entry.event_id else ""
    undo = f" of #{entry.undo_of}" if entry.undo_of else ""
    return literal(f"{entry.cause}{ref}{undo}", style=CAUSE_STYLE.get(entry.cause, ""))


class AuditScreen(ConsoleScreen):
    """Audit lines (newest first) under a filter line, and the selected line in full."""

    TITLE = "Audit log"
    MODE = "sync"
    CSS_PATH = "audit.tcss"
    AUTO_FOCUS = "#audit"
    BINDINGS = [
        Binding("u", "undo_line", "Undo this", tooltip="undo the highlighted line (shows the plan first)"),
        Binding(
            "U",
            "undo_run",
            "Undo this run",
            key_display="U",
            tooltip="undo the whole run of the highlighted line",
        ),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="filter by issue, run, side, field"),
        Binding("s", "cycle_side", "Side", tooltip="show both sides, then only Jira, then only local"),
        Binding("n", "this_run", "This run", tooltip="show only the highlighted line's run"),
        Binding("c", "clear_filter", "Clear", show=False, tooltip="clear the filter"),
        Binding("escape", "leave_input", "Back", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]
    RUN_FROM_ANYWHERE = frozenset({"filter", "cycle_side", "clear_filter", "reload"})
    HELP_NOTES = (
        "u undoes the highlighted line, U every line of its run; both show what will be written where first.",
        "/ filters: OPS-12 run:41 side:jira field:summary (Enter applies, Esc leaves). Esc goes back.",
    )

    def __init__(self, engine: ConsoleEngine, *, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now=now)
        self.filter = AuditFilter()
        self.entries: list[AuditEntry] = []
        self._newest: int | None = None
        """The id of the newest line shown (what the refresh reads beyond)."""
        self._room = 15
        self._widths: list[int] = []

    def compose(self) -> ComposeResult:
        yield self.screen_bar()
        yield Static(id="audit-filter-line")
        yield Input(placeholder="KEY run:N side:jira|local field:NAME", id="audit-filter")
        yield LazyTable(id="audit", threshold=30)
        with VerticalScroll(id="audit-detail-pane"):
            yield Static(id="audit-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.query_one("#audit-detail-pane").border_title = "change"
        self.query_one("#audit-filter", Input).display = False

    # -- reading -------------------------------------------------------------------------------------

    def load(self) -> AuditPage:
        wanted = self.filter
        return AuditPage(wanted, self.engine.audit_log(wanted.query()), first=True)

    def poll(self) -> AuditPage | AuditNewer:
        """The lines newer than the newest shown (every page of them), so the pages the operator has
        scrolled through stay loaded."""
        wanted, newest = self.filter, self._newest
        if newest is None:
            return self.load()
        fresh: list[AuditEntry] = []
        offset = 0
        while True:
            page = self.engine.audit_log(wanted.query(offset))
            fresh += [entry for entry in page if entry.id > newest]
            if len(page) < PAGE or page[-1].id <= newest:
                return AuditNewer(wanted, fresh)
            offset += PAGE

    def _older(self) -> AuditPage:
        # Lines written since the top was read push the log down: the page may start with lines shown.
        wanted = self.filter
        return AuditPage(wanted, self.engine.audit_log(wanted.query(len(self.entries))), first=False)

    @on(LazyTable.NearEnd, "#audit")
    def _near_end(self) -> None:
        self.read_in_worker(self._older, "Reading older audit lines", "more")

    def refresh_newer(self) -> None:
        """Read the lines written since the newest shown (after an undo, or coming back to the screen)."""
        self.read_in_worker(self.poll, f"Refreshing {self.TITLE}", "poll")

    def on_screen_resume(self) -> None:
        # Back from a confirmation: a reload would drop the older pages the operator scrolled to.
        if self.loaded_once.is_set():
            self.refresh_newer()
        else:
            self.reload()

    def show(self, data: AuditPage | AuditNewer) -> None:
        if data.wanted != self.filter:
            return  # read before the filter changed
        table = self.query_one(LazyTable)
        if isinstance(data, AuditNewer):  # two reads may overlap: each line goes in once
            fresh = [entry for entry in data.entries if self._newest is None or entry.id > self._newest]
            if not fresh:
                return
            self.entries = fresh + self.entries
            self._add_rows(fresh)
        elif data.first:
            self.entries = data.entries
            self._fill_table()
            table.page_loaded(exhausted=len(data.entries) < PAGE)
        else:
            oldest = self.entries[-1].id if self.entries else None
            older = [entry for entry in data.entries if oldest is None or entry.id < oldest]
            self.entries += older
            self._add_rows(older)
            table.page_loaded(exhausted=len(data.entries) < PAGE)
        self._newest = self.entries[0].id if self.entries else None
        self._render_filter_line()
        self._show_selected()

    def _render_filter_line(self) -> None:
        line = Text(f"audit log: {self.filter.describe()}", style="bold")
        count = len(self.entries)
        if self.query_one(LazyTable).exhausted:
            line.append(f"  {count} line(s), newest first", style="dim")
        else:
            line.append(f"  the newest {count} line(s); older ones load as you scroll", style="dim")
        self.query_one("#audit-filter-line", Static).update(line)

    # -- the table -----------------------------------------------------------------------------------

    def _fill_table(self) -> None:
        """Rows for ``entries``; the change column gets what the others leave of the screen's width. The
        columns are made anew: a DataTable column never narrows."""
        table = self.query_one(LazyTable)
        with table.keeping_cursor():
            table.clear(columns=True)
            table.add_columns(*COLUMNS)
            rows = [self._cells(entry) for entry in self.entries]
            self._widths = [
                max([len(label), *(r[i].cell_len for r in rows)]) for i, label in enumerate(COLUMNS)
            ]
            others = sum(
                w + 2 * table.cell_padding for i, w in enumerate(self._widths) if COLUMNS[i] != "change"
            )
            self._room = max(15, self.size.width - others - 2 * table.cell_padding - 2)
            for entry, cells in zip(self.entries, rows, strict=True):
                table.add_row(*cells[:5], self._change(entry, self._room), cells[6], key=str(entry.id))

    def _add_rows(self, entries: list[AuditEntry]) -> None:
        """Add lines to the table in place, newest first, keeping the highlight on its line; the whole
        table is laid out again when one is wider than the columns (the change column's room shrinks)."""
        rows = [self._cells(entry) for entry in entries]
        if any(r[i].cell_len > w for r in rows for i, w in enumerate(self._widths) if COLUMNS[i] != "change"):
            self._fill_table()
            return
        table = self.query_one(LazyTable)
        with table.keeping_cursor():
            for entry, cells in zip(entries, rows, strict=True):
                table.add_row(*cells[:5], self._change(entry, self._room), cells[6], key=str(entry.id))
            table.sort(key=_newest_first)

    def on_resize(self) -> None:
        if self.entries:
            self._fill_table()

    @staticmethod
    def _change(entry: AuditEntry, width: int) -> Text:
        """``old → new``, each cut to half the room."""
        if entry.field is None:  # an import or a deletion: its reason says what happened
            reason = entry.reason or ""
            if len(reason) > width:
                reason = next(
                    (short for long, short in SHORT_REASONS.items() if reason.startswith(long)), reason
                )
            return literal(clip(reason, width), style="dim")
        half = max(6, (width - 3) // 2)
        change = value_inline(entry.old, half)
        change.append(" → ")
        change.append_text(value_inline(entry.new, half))
        return change

    def _cells(self, entry: AuditEntry) -> tuple[Text, ...]:
        return (
            Text(str(entry.id)),
            Text(moment(entry.at, self.now())),
            literal(entry.issue_key),
            literal(entry.side, style="bold" if entry.side == "jira" else ""),
            literal(entry.field or "*"),
            Text(),  # sized by _fill_table
            cause_text(entry),
        )

    def selected(self) -> AuditEntry | None:
        """The line under the highlight."""
        key = self.query_one(LazyTable).cursor_key
        return next((entry for entry in self.entries if str(entry.id) == key), None)

    def _show_selected(self) -> None:
        entry = self.selected()
        detail = self.query_one("#audit-detail", Static)
        if entry is None:
            detail.update(Text("no audit lines match", style="dim"))
            return
        text = Text()
        text.append(f"#{entry.id} {when(entry.at)} ", style="bold")
        text.append_text(literal(f"{entry.connection} {entry.issue_key or '-'} {entry.field or '*'}"))
        text.append(f" written to {'Jira' if entry.side == 'jira' else 'the local database'}\n")
        text.append("reason: ", style="bold")
        text.append_text(literal(entry.reason))
        text.append("  by: ", style="bold")
        text.append_text(literal(entry.actor))
        text.append("  cause: ", style="bold")
        text.append_text(cause_text(entry))
        text.append("\nbefore: ", style="bold")
        text.append_text(json_block(entry.old))
        text.append("\nafter:  ", style="bold")
        text.append_text(json_block(entry.new))
        detail.update(text)

    @on(DataTable.RowHighlighted, "#audit")
    def _row_highlighted(self) -> None:
        self._show_selected()

    # -- filters -------------------------------------------------------------------------------------

    def _set_filter(self, wanted: AuditFilter) -> None:
        self.filter = wanted
        self.reload()

    def action_filter(self) -> None:
        """Type a filter (issue key, run, side, field)."""
        box = self.query_one("#audit-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#audit-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            wanted = parse_filter(event.value)
        except ValueError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        event.input.display = False
        self.query_one("#audit", DataTable).focus()
        self._set_filter(wanted)

    def action_leave_input(self) -> None:
        """Esc: out of the filter field; otherwise back to the screen this one was opened from."""
        box = self.query_one("#audit-filter", Input)
        if self.focused is box:
            box.display = False
            self.query_one("#audit", DataTable).focus()
        else:
            self.app.pop_screen()

    def action_cycle_side(self) -> None:
        """Show both sides, then only Jira, then only local."""
        index = SIDES.index(self.filter.side) if self.filter.side in SIDES else 0
        self._set_filter(replace(self.filter, side=SIDES[(index + 1) % len(SIDES)]))

    async def action_this_run(self) -> None:
        """Show only the highlighted line's run."""
        await self.first_read()
        entry = self.selected()
        if entry is None or entry.run_id is None:
            self.notify("The highlighted line names no run", severity="warning")
            return
        self._set_filter(AuditFilter(run_id=entry.run_id))

    def action_clear_filter(self) -> None:
        self._set_filter(AuditFilter())

    # -- undo ----------------------------------------------------------------------------------------

    async def action_undo_line(self) -> None:
        """Undo the highlighted line (after a confirmation showing what is written where)."""
        await self.first_read()
        entry = self.selected()
        if entry is None:
            self.notify("Select an audit line to undo", severity="warning")
            return
        self._plan(UndoSelection(entry_ids=(entry.id,)), f"audit #{entry.id}")

    async def action_undo_run(self) -> None:
        """Undo every line of the highlighted line's run (after a confirmation)."""
        await self.first_read()
        entry = self.selected()
        if entry is None or entry.run_id is None:
            self.notify("The highlighted line names no run to undo", severity="warning")
            return
        self._plan(UndoSelection(run_id=entry.run_id), f"run {entry.run_id}")

    @work(name="Planning the undo", group="undo", exclusive=True, exit_on_error=False)
    async def _plan(self, selection: UndoSelection, what: str) -> None:
        try:
            plan = await self.engine.undo(selection)
        except UndoError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return

        def chosen(apply: bool | None) -> None:
            if apply:
                self._apply(selection, what)

        self.app.push_screen(UndoConfirmScreen(what, plan), chosen)

    @work(name="The undo", group="undo", exclusive=True, exit_on_error=False)
    async def _apply(self, selection: UndoSelection, what: str) -> None:
        self.notify(f"Undoing {what}…", markup=False)
        result = await self.engine.undo(selection, apply=True, actor="console")
        self.notify(describe_undo(what, result), severity=_severity(result), markup=False)
        self.refresh_newer()  # the undo's own lines go on top; the highlight stays where it was


def _newest_first(cells: tuple[Text, ...]) -> int:
    """The table's sort key: the line's id (the first cell), negated."""
    return -int(cells[0].plain)


def describe_undo(what: str, result: UndoResult) -> str:
    counts = ", ".join(f"{n} {a}" for a, n in sorted(result.counts().items()))
    runs = ", ".join(str(r) for r in result.run_ids)
    return f"Undo of {what}{f' (run {runs})' if runs else ''}: {counts or 'nothing to do'}"


def _severity(result: UndoResult) -> SeverityLevel:
    if result.count("failed"):
        return "error"
    return "warning" if result.count("conflict") or result.count("refused") else "information"
