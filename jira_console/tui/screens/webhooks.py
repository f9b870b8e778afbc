"""Webhooks: received events (with their connection, coloured by status, and why an event was ignored or
failed) under a filter of the statuses the store really has, the selected event's payload, the
receive/process rates, and a retry for failed events.

The table follows the engine's events by id: ``WebhookReceived`` and ``WebhookProcessed`` name the stored
event, which is re-read alone and updated in place (or dropped when it left the filter); only an event the
table does not show yet that now matches the filter costs a reload of the page. Ids reported while a
re-read is under way wait for it and go in the next one, so a burst of events costs a few reads, not one
read per event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import Worker, WorkerState

from jira_console.facade import ConsoleEngine, WebhookStats
from jira_console.store.converters import WebhookEventRecord
from jira_console.store.queue import EVENT_STATUSES
from jira_console.tui import messages
from jira_console.tui.format import clip, literal, moment, payload_block
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.widgets.console_table import ConsoleTable

STATUS_FILTERS: tuple[str, ...] = ("failed", *(s for s in EVENT_STATUSES if s != "failed"))
"""The store's statuses (failed first: what an operator filters for most); a status the store reports
later (a newer engine's) joins the cycle when it appears."""
STATUS_STYLE = {
    "failed": "bold red",
    "received": "yellow",
    "processing": "bold yellow",
    "applied": "green",
    "ignored": "dim",
    "stale": "cyan",
}
COLUMNS = ("id", "received", "conn", "status", "try", "type", "issue", "note")
MAX_IN_PLACE = 50
"""More events than this reported at once: reload the page rather than re-read each."""


@dataclass(frozen=True)
class WebhookData:
    """A page of events under the ``status`` filter, and the queue's figures."""

    status: str | None
    events: list[WebhookEventRecord]
    stats: WebhookStats


@dataclass(frozen=True)
class EventsReread:
    """Events the engine reported received or processed, read again by id (missing ones left out)."""

    status: str | None
    events: list[WebhookEventRecord]
    stats: WebhookStats


class WebhooksScreen(ConsoleScreen):
    """Events table (newest first), payload pane and a rates line."""

    TITLE = "Webhooks"
    MODE = "webhooks"
    CSS_PATH = "webhooks.tcss"
    AUTO_FOCUS = "#events"
    BINDINGS = [
        Binding("f", "cycle_filter", "Status filter", tooltip="show only the next status (all → failed → …)"),
        Binding("t", "retry", "Retry failed"),
        Binding("r", "reload", "Reload", show=False),
    ]
    HELP_NOTES = ("The note column says why an event was ignored or what made it fail.",)

    def __init__(self, engine: ConsoleEngine, *, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now=now)
        self.status_filter: str | None = None
        self.events: list[WebhookEventRecord] = []
        self.statuses: list[str] = list(STATUS_FILTERS)
        self._columns: dict[str, ColumnKey] = {}
        self._note_width = 40
        self._reported: set[int] = set()
        self._rereading = False

    def compose(self) -> ComposeResult:
        yield self.screen_bar()
        yield Static(id="rates")
        yield ConsoleTable(id="events")
        with VerticalScroll(id="payload-pane"):
            yield Static(id="payload")
        yield Footer()

    def on_mount(self) -> None:
        self._columns = dict(zip(COLUMNS, self.query_one(DataTable).add_columns(*COLUMNS), strict=True))
        self.query_one("#payload-pane").border_title = "payload"

    def load(self) -> WebhookData:
        status = self.status_filter
        return WebhookData(
            status, self.engine.list_webhook_events(status=status), self.engine.webhook_stats()
        )

    def show(self, data: WebhookData | EventsReread) -> None:
        if isinstance(data, EventsReread):
            self._reread(data)
            return
        if data.status != self.status_filter:
            return  # read before the filter changed
        self.events = data.events
        self._fill_table()
        self._render_rates(data.stats)
        self._show_selected()

    def _fill_table(self) -> None:
        """Rows for ``events``, the note cut to what the other columns leave. The columns are made anew:
        a DataTable column never narrows, and a note from an earlier, wider screen would push past it."""
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        self._columns = dict(zip(COLUMNS, table.add_columns(*COLUMNS), strict=True))
        rows = [self._cells(event) for event in self.events]
        widths = [
            max([len(label), *(cells[i].cell_len for cells in rows)]) for i, label in enumerate(COLUMNS)
        ]
        fixed = sum(w + 2 * table.cell_padding for w in widths[:-1]) + 2 * table.cell_padding + 2
        self._note_width = max(10, self.size.width - fixed)
        for event, cells in zip(self.events, rows, strict=True):
            table.add_row(*cells[:-1], self._note(event), key=str(event.id))
        if self.events:
            table.move_cursor(row=min(max(row, 0), len(self.events) - 1))

    def _note(self, event: WebhookEventRecord) -> Text:
        """Why an event failed or was ignored, cut to the note column's width."""
        style = STATUS_STYLE.get(event.status, "")
        return literal(clip(event.last_error, self._note_width) if event.last_error else None, style=style)

    def _cells(self, event: WebhookEventRecord) -> tuple[Text, ...]:
        style = STATUS_STYLE.get(event.status, "")
        kind = event.event_type.removeprefix("jira:") if event.event_type else None
        return (
            Text(str(event.id)),
            Text(moment(event.received_at, self.now())),
            literal(event.connection),
            literal(event.status, style=style),
            Text(str(event.attempts)),
            literal(kind),
            literal(event.issue_key),
            self._note(event),
        )

    def on_resize(self) -> None:
        if self.events:
            self._fill_table()

    def _render_rates(self, stats: WebhookStats) -> None:
        self.statuses += sorted(set(stats.counts) - set(self.statuses))
        text = Text(f"filter: {self.status_filter or 'all'}", style="bold")
        text.append(f"  in {stats.received_per_minute:g}/min")
        text.append(f"  done {stats.processed_per_minute:g}/min")
        text.append(f"  queue {stats.queue_depth}")
        for status, count in sorted(stats.counts.items()):
            if count or status == "failed":  # the statuses nothing is in would crowd the line at 80
                text.append("  ")
                text.append_text(
                    literal(f"{status} {count}", style=STATUS_STYLE.get(status, "") if count else "")
                )
        self.query_one("#rates", Static).update(text)

    def selected(self) -> WebhookEventRecord | None:
        """The event under the cursor."""
        table = self.query_one(DataTable)
        if not self.events or table.cursor_row < 0:
            return None
        return self.events[min(table.cursor_row, len(self.events) - 1)]

    def _show_selected(self) -> None:
        event = self.selected()
        pane = self.query_one("#payload-pane", VerticalScroll)
        if event is None:
            what = (
                f"no {self.status_filter} events" if self.status_filter else "no webhook events received yet"
            )
            self.query_one("#payload", Static).update(Text(what, style="dim"))
            pane.border_subtitle = ""
            return
        text = Text()
        if event.last_error:
            label = {"ignored": "ignored because: ", "stale": "stale: "}.get(event.status, "error: ")
            text.append(label, style="bold red" if label == "error: " else "bold")
            text.append_text(literal(event.last_error))
            text.append("\n")
        text.append_text(payload_block(event.payload))
        self.query_one("#payload", Static).update(text)
        pane.border_subtitle = f"#{event.id}"

    @on(DataTable.RowHighlighted, "#events")
    def _row_highlighted(self) -> None:
        self._show_selected()

    def action_cycle_filter(self) -> None:
        """Show only the next status (all → failed → received → … → all)."""
        cycle: list[str | None] = [None, *self.statuses]
        index = cycle.index(self.status_filter) if self.status_filter in cycle else 0
        self.status_filter = cycle[(index + 1) % len(cycle)]
        self.reload()

    async def action_retry(self) -> None:
        """Process the selected failed event again."""
        await self.first_read()
        event = self.selected()
        if event is None or event.status != "failed":
            self.notify("Select a failed event to retry", severity="warning")
            return
        self._retry(event.id)

    @work(name="Retrying the event", group="retry", exit_on_error=False)
    async def _retry(self, event_id: int) -> None:
        if await self.engine.retry_webhook_event(event_id):
            self.notify(f"Retried webhook event #{event_id}")
        else:
            self.notify(f"Webhook event #{event_id} is being processed; not retried", severity="warning")
        self.reload()

    # -- engine events ------------------------------------------------------------------------------

    @on(messages.WebhookReceived)
    def _received(self, message: messages.WebhookReceived) -> None:
        if not message.event.duplicate:  # a duplicate delivery changed nothing stored
            self._report(message.event.event_id)

    @on(messages.WebhookProcessed)
    def _processed(self, message: messages.WebhookProcessed) -> None:
        self._report(message.event.event_id)

    def _report(self, event_id: int | None) -> None:
        if not self.is_current:
            return  # the screen reloads when it is shown again
        if event_id is None:  # an engine that does not say which event: read the page again
            self.reload()
            return
        self._reported.add(event_id)
        if not self._rereading:
            self._reread_reported()

    def _reread_reported(self) -> None:
        ids, self._reported = sorted(self._reported), set()
        if len(ids) > MAX_IN_PLACE:
            self.reload()
            return
        status = self.status_filter

        def read() -> EventsReread:
            found = [self.engine.get_webhook_event(event_id) for event_id in ids]
            return EventsReread(status, [e for e in found if e is not None], self.engine.webhook_stats())

        self._rereading = True
        self.run_worker(
            lambda: self.fetch(read),
            name="re-read webhook events",
            thread=True,
            group="reread",
            exit_on_error=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A failed re-read is reported (ConsoleScreen's handler runs too); the next event must start one.
        if event.worker.group == "reread" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._rereading = False

    def _reread(self, data: EventsReread) -> None:
        """Apply re-read events: update shown rows, drop the ones that left the filter, and reload when one
        the table lacks now belongs in it."""
        self._rereading = False
        shown = {event.id: index for index, event in enumerate(self.events)}
        missing = False
        table = self.query_one(DataTable)
        for event in data.events if data.status == self.status_filter else []:
            matches = self.status_filter in (None, event.status)
            if event.id not in shown:
                missing = missing or matches
            elif matches:
                self.events[shown[event.id]] = event
                for column, cell in zip(COLUMNS, self._cells(event), strict=True):
                    table.update_cell(str(event.id), self._columns[column], cell)
            else:
                table.remove_row(str(event.id))
        self.events = [e for e in self.events if str(e.id) in table.rows]
        self._render_rates(data.stats)
        self._show_selected()
        if missing or data.status != self.status_filter:
            self.reload()
        elif self._reported:
            self._reread_reported()
