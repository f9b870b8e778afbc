"""Sync: per connection and scope, the state (with the failing streak), watermark, next run, and live
progress of a running sync: count, total (Server's search total, Cloud's approximate count), rate and
ETA, with a progress bar. Starting a sync is asked of the App (``SyncRequested``) because it outlives this
screen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Footer, ProgressBar, Static

from jira_console import events as ev
from jira_console.facade import ConsoleEngine, CreationRecord, FieldErrorView, SyncStateView
from jira_console.tui import messages
from jira_console.tui.format import age, ago, counts, duration, literal, moment, unread_words
from jira_console.tui.screens.audit import AuditScreen
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.widgets.connection_card import without_countdown
from jira_console.tui.widgets.console_table import ConsoleTable
from jira_console.tui.widgets.text_panel import TextPanel

COLUMNS = ("connection", "scope", "state", "watermark", "next run")


class LocalWork(NamedTuple):
    """What host programs left for the push, per connection: issues edited here, outbox rows (pending and
    refused), creation requests (waiting and failed) and the newest refused requests."""

    edited: dict[str, int]
    outbox: dict[str, dict[str, int]]
    creations: dict[str, dict[str, int]]
    refused: list[CreationRecord]


NO_LOCAL_WORK = LocalWork({}, {}, {}, [])
SyncData = tuple[list[SyncStateView], list[FieldErrorView], dict[str, dict[str, int]], LocalWork]


def rate_and_eta(progress: ev.SyncProgressed) -> tuple[float | None, float | None]:
    """Issues read per second so far, and the seconds left at that rate (None when not known yet)."""
    if progress.elapsed_ms <= 0 or progress.seen <= 0:
        return None, None
    rate = progress.seen / (progress.elapsed_ms / 1000)
    if progress.total is None:
        return rate, None
    return rate, max(progress.total - progress.seen, 0) / rate


def progress_text(progress: ev.SyncProgressed) -> str:
    """``1,200 of 5,000 issues (24%) · 310/s · ETA 12s · page 12 · ↓40 ↑3 ⚠1`` (and ``· 50 created in
    Jira`` once requests in ``new_issues`` are being created)."""
    parts = [f"{progress.seen:,} issues"]
    if progress.total:
        share = min(progress.seen / progress.total, 1.0)
        parts = [f"{progress.seen:,} of {progress.total:,} issues ({share:.0%})"]
    rate, eta = rate_and_eta(progress)
    if rate is not None:
        parts.append(f"{rate:,.0f}/s")
    if eta is not None:
        parts.append(f"ETA {age(eta + 0.999)}")
    parts.append(f"page {progress.pages} · ↓{progress.pulled} ↑{progress.pushed} ⚠{progress.conflicts}")
    if progress.created:
        parts.append(f"{progress.created:,} created in Jira")
    if progress.backfill:
        parts.insert(0, "back-fill (mappings changed)")
    return " · ".join(parts)


def progress_cell(progress: ev.SyncProgressed | None) -> str:
    """The short form for the table: ``running 24%`` (or the count when no total is known)."""
    if progress is None:
        return "running"
    if progress.total:
        return f"running {min(progress.seen / progress.total, 1.0):.0%}"
    return f"running {progress.seen:,}"


class SyncScreen(ConsoleScreen):
    """Table of sync states; the detail line below describes the selected row."""

    TITLE = "Sync"
    MODE = "sync"
    CSS_PATH = "sync.tcss"
    AUTO_FOCUS = "#states"
    BINDINGS = [
        Binding("s", "sync(False)", "Sync", tooltip="sync the highlighted connection (incremental)"),
        Binding("f", "sync(True)", "Full sync", tooltip="sync the highlighted connection from the start"),
        Binding("a", "sync_all", "Sync all", tooltip="incremental sync of every connection"),
        Binding("l", "audit_log", "Audit log", tooltip="open the audit log (undo is there)"),
        Binding("r", "reload", "Reload", show=False),
    ]
    RUN_FROM_ANYWHERE = frozenset({"sync_all", "audit_log", "reload"})
    HELP_NOTES = (
        "s and f sync the highlighted row's connection; attached, the daemon runs it and a second toast",
        "tells its outcome.",
    )

    class SyncRequested(Message):
        """The operator asked for a sync (``connection`` None = every connection)."""

        def __init__(self, connection: str | None, full: bool) -> None:
            self.connection = connection
            self.full = full
            super().__init__()

    def __init__(self, engine: ConsoleEngine, *, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now=now)
        self.states: list[SyncStateView] = []
        self.field_errors: list[FieldErrorView] = []
        self.field_error_counts: dict[str, dict[str, int]] = {}
        self.local_work = NO_LOCAL_WORK
        self.progress: dict[tuple[str, str], ev.SyncProgressed] = {}

    def compose(self) -> ComposeResult:
        yield self.screen_bar()
        yield ConsoleTable(id="states")
        with TextPanel(id="detail-box"):  # as long as it needs: scrolls where the screen is too short
            yield Static(id="detail")
        yield ProgressBar(id="progress", show_eta=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.query_one(ProgressBar).display = False

    def load(self) -> SyncData:
        engine = self.engine
        waiting = engine.creation_counts()
        refused = engine.list_creations(state="failed", limit=20) if waiting else []
        local = LocalWork(engine.local_edit_counts(), engine.outbox_counts(), waiting, refused)
        return engine.sync_states(), engine.recent_field_errors(limit=50), engine.field_error_counts(), local

    def show(self, data: SyncData) -> None:
        self.states, self.field_errors, self.field_error_counts, self.local_work = data
        for state in self.states:
            if not state.running:
                self.progress.pop((state.connection, state.scope), None)
        self._render_table()

    def _render_table(self) -> None:
        table = self.query_one(ConsoleTable)
        with table.keeping_cursor():  # on the same connection and scope, whatever the order read
            table.clear()
            for state in self.states:
                table.add_row(
                    literal(state.connection),
                    literal(state.scope),
                    self._state_text(state),
                    Text(self._watermark(state)),
                    self._next_run(state),
                    key=f"{state.connection}\0{state.scope}",
                )
        self._render_detail()

    def _watermark(self, state: SyncStateView) -> str:
        if state.watermark_ms is None:
            return "—"
        return moment(datetime.fromtimestamp(state.watermark_ms / 1000, tz=UTC), self.now())

    def _next_run(self, state: SyncStateView) -> Text:
        if state.next_run_at is None:
            # In this process without a schedule (no daemon): a sync runs when the operator asks for one.
            return Text("on request" if self.engine.mode != "attached" else "—", style="dim")
        seconds = (state.next_run_at - self.now()).total_seconds()
        return Text(f"in {age(seconds)}" if seconds > 0 else "due")

    def _state_text(self, state: SyncStateView) -> Text:
        progress = self.progress.get((state.connection, state.scope))
        if state.running or progress is not None:
            return Text(progress_cell(progress), style="bold yellow")
        if state.failures:
            return Text(f"failed ×{state.failures}", style="bold red")
        status = state.last_status or "never run"
        style = {"ok": "green", "partial": "yellow", "failed": "bold red"}.get(status, "")
        return Text(status, style=style)

    def selected(self) -> SyncStateView | None:
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
        now = self.now()
        text = Text()
        text.append_text(literal(f"{state.connection} / {state.scope}", style="bold"))
        text.append(
            f"  started {moment(state.last_started_at, now)}  finished {moment(state.last_finished_at, now)}"
        )
        text.append("\nlast success ")
        if state.last_success_at is None:
            text.append("never", style="yellow")
        else:
            text.append(ago(state.last_success_at, now))
        text.append(f"  took {duration(state.duration_ms)}  api calls {state.api_calls or 0}")
        if state.counts:
            done = counts(state.counts)
            text.append("\nlast run ")
            text.append_text(literal("found nothing new" if done == "nothing" else done))
            unread = unread_words(state.counts)
            if unread:
                text.append(f"\n{unread}", style="yellow")
        progress = self.progress.get((state.connection, state.scope))
        if progress is not None:
            text.append("\nreading " + progress_text(progress), style="yellow")
        if state.failures:
            text.append(f"\nfailed {state.failures}× in a row", style="bold red")
        if state.last_error:
            # Dated, without the breaker's countdown of that moment (it would read as a live one).
            text.append("\nerror ", style="bold red")
            if state.last_finished_at is not None:
                text.append(f"at {moment(state.last_finished_at, now)}: ", style="bold red")
            text.append_text(literal(without_countdown(state.last_error)))
        if state.quarantined:
            # Issues that could not be applied: set aside (key and cause, no values), tried again each sync.
            text.append(f"\nquarantined {len(state.quarantined)}", style="bold red")
            for line in state.quarantined[:3]:
                text.append("\n  ")
                text.append_text(literal(line))
        mine = [e for e in self.field_errors if e.connection == state.connection]
        by_field = self.field_error_counts.get(state.connection, {})
        if mine or by_field:
            # Values that could not be mapped or written: recorded on the issue, the rest keeps syncing. The
            # count is every issue's; the lines below are the newest few.
            text.append(f"\nfield errors {sum(by_field.values()) or len(mine)}", style="bold yellow")
            worst = sorted(by_field.items(), key=lambda item: -item[1])[:3]
            if worst:
                more = len(by_field) - len(worst)
                said = ", ".join(f"{name} on {n}" for name, n in worst) + (f", {more} more" if more else "")
                text.append_text(literal(f"  ({said})"))
            for e in mine[:3]:
                text.append("\n  ")
                text.append_text(literal(f"{e.issue_key} {e.field}: {e.message}"))
        self._render_local_work(text, state.connection)
        detail.update(text)
        self._render_progress_bar(progress)

    def _render_local_work(self, text: Text, connection: str) -> None:
        """What host programs left for the push: issues edited here, outbox rows, and issues asked to be
        created in Jira (``new_issues``): how many wait, how many Jira or the request itself refused, and
        why the newest refusals were refused."""
        work = self.local_work
        edited = work.edited.get(connection, 0)
        rows = work.outbox.get(connection, {})
        if edited or rows.get("pending") or rows.get("refused"):
            text.append("\nlocal edits ", style="bold yellow" if rows.get("refused") else "")
            text.append(f"{edited} to push, outbox {rows.get('pending', 0)} waiting")
            text.append(f", {rows.get('refused', 0)} refused" if rows.get("refused") else "")
        waiting = work.creations.get(connection, {})
        if not waiting.get("waiting") and not waiting.get("failed"):
            return
        text.append("\ncreations ", style="bold yellow" if waiting.get("failed") else "")
        text.append(f"{waiting.get('waiting', 0)} waiting, {waiting.get('failed', 0)} refused")
        for r in [r for r in work.refused if r.connection == connection][:3]:
            text.append("\n  ")
            summary = (r.fields or {}).get("summary")
            text.append_text(literal(f"#{r.id} {r.project_key} {summary}: {r.error}"))

    def _render_progress_bar(self, progress: ev.SyncProgressed | None) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = progress is not None and bool(progress.total)
        if progress is not None and progress.total:
            bar.update(total=progress.total, progress=min(progress.seen, progress.total))

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._render_detail()

    async def action_sync(self, full: bool) -> None:
        """Sync the selected row's connection (incremental, or full from the beginning)."""
        await self.first_read()
        state = self.selected()
        if state is None:
            self.notify("No connection selected", severity="warning")
            return
        self.post_message(self.SyncRequested(state.connection, full))

    def action_sync_all(self) -> None:
        """Incremental sync of every connection."""
        self.post_message(self.SyncRequested(None, False))

    def action_audit_log(self) -> None:
        """The audit log, with undo of a change or of a whole run."""
        self.app.push_screen(AuditScreen(self.engine, now=self.now))

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
                cell = Coordinate(index, COLUMNS.index("state"))
                table.update_cell_at(cell, self._state_text(state), update_width=True)
        self._render_detail()
