"""Webhooks: received events (with their connection, coloured by status, and why an event was ignored or
failed) under a filter of the statuses the store really has, the selected event's state (attempts, last
error, when it was processed, the headers kept) and payload, the receive/process rates, and a retry for
failed events whose outcome is reported when it lands.

The highlight stays on its event while new ones arrive above it (newest first): rows are keyed by the
event's id and :meth:`ConsoleTable.keeping_cursor` puts it back after every refresh.

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
from jira_console.store.queue import EVENT_STATUSES, PENDING_STATUSES
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
    retried: list[WebhookEventRecord]
    """The events retried from this screen whose outcome is still to be reported, read by id."""


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
        self._retried: dict[int, WebhookEventRecord] = {}
        """Events retried here, as they were before the retry, until their outcome is reported."""
        self._stats: WebhookStats | None = None

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
        status, retried = self.status_filter, list(self._retried)
        events = self.engine.list_webhook_events(status=status)
        # Read by id: a retried event may have left the filter (failed → received → applied).
        watched = [self.engine.get_webhook_event(event_id) for event_id in retried]
        return WebhookData(status, events, self.engine.webhook_stats(), [e for e in watched if e])

    def show(self, data: WebhookData | EventsReread) -> None:
        if isinstance(data, EventsReread):
            self._reread(data)
            return
        self._report_outcomes([*data.retried, *data.events])
        if data.status != self.status_filter:
            return  # read before the filter changed
        self.events = data.events
        self._fill_table()
        self._render_rates(data.stats)
        self._show_selected()

    def _fill_table(self) -> None:
        """Rows for ``events``, the note cut to what the other columns leave. The columns are made anew:
        a DataTable column never narrows, and a note from an earlier, wider screen would push past it."""
        table = self.query_one(ConsoleTable)
        with table.keeping_cursor():
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
        if self._stats is not None:
            self._render_rates(self._stats)

    def _render_rates(self, stats: WebhookStats) -> None:
        """The filter, rates and queue, then the count of each status; on two lines when one would be cut
        (at 80 columns a busy queue's counts did not fit, and the last one lost its number)."""
        self._stats = stats
        self.statuses += sorted(set(stats.counts) - set(self.statuses))
        text = Text(f"filter: {self.status_filter or 'all'}", style="bold")
        text.append(f"  in {stats.received_per_minute:g}/min")
        text.append(f"  done {stats.processed_per_minute:g}/min")
        text.append(f"  queue {stats.queue_depth}")
        shown = [(s, n) for s, n in sorted(stats.counts.items()) if n or s == "failed"]  # zeros crowd it
        counts = Text("  ").join(
            literal(f"{status} {count}", style=STATUS_STYLE.get(status, "") if count else "")
            for status, count in shown
        )
        room = self.size.width - 2  # the line's padding
        text.append("\n" if 0 < room < text.cell_len + 2 + counts.cell_len else "  ")
        text.append_text(counts)
        self.query_one("#rates", Static).update(text)

    def selected(self) -> WebhookEventRecord | None:
        """The event under the highlight."""
        key = self.query_one(ConsoleTable).cursor_key
        return next((event for event in self.events if str(event.id) == key), None)

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
        text = self._state(event)
        if event.last_error:
            label = {"ignored": "ignored because: ", "stale": "stale: "}.get(event.status, "error: ")
            text.append(label, style="bold red" if label == "error: " else "bold")
            text.append_text(literal(event.last_error))
            text.append("\n")
        text.append_text(payload_block(event.payload))
        if event.headers:  # under the payload: the pane is short, and the body is what is read first
            text.append("\nheaders kept:", style="bold")
            for name, value in sorted(event.headers.items()):
                text.append_text(literal(f"\n  {name}: {value}"))
        self.query_one("#payload", Static).update(text)
        pane.border_subtitle = f"#{event.id}"

    def _state(self, event: WebhookEventRecord) -> Text:
        """``failed · 2 attempt(s) · received 09:29:18 · processed 09:29:19``: what ``webhooks show`` says
        about the event besides its payload."""
        now = self.now()
        text = literal(event.status, style=f"{STATUS_STYLE.get(event.status, '')} bold")
        text.append(f" · {event.attempts} attempt(s) · received {moment(event.received_at, now)}")
        text.append(f" · processed {moment(event.processed_at, now)}")
        if event.next_attempt_at is not None and event.status in PENDING_STATUSES:
            text.append(f" · next try {moment(event.next_attempt_at, now)}")
        if event.id in self._retried:
            text.append(" · retried here, outcome pending", style="yellow")
        text.append("\n")
        return text

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
        self._retry(event)

    @work(name="Retrying the event", group="retry", exit_on_error=False)
    async def _retry(self, event: WebhookEventRecord) -> None:
        if await self.engine.retry_webhook_event(event.id):
            self._retried[event.id] = event
            self.notify(
                f"Webhook event #{event.id} queued again; its outcome is reported here when it is processed"
            )
        else:
            self.notify(f"Webhook event #{event.id} is being processed; not retried", severity="warning")
        self.reload()

    def _report_outcomes(self, events: list[WebhookEventRecord]) -> None:
        """Say how each retried event came out, once it has (a read from before the retry shows the event
        as it was, and is passed over)."""
        for event in events:
            before = self._retried.get(event.id)
            if before is None or event.status in PENDING_STATUSES:
                continue
            if (event.status, event.attempts, event.processed_at) == (
                before.status,
                before.attempts,
                before.processed_at,
            ):
                continue
            del self._retried[event.id]
            why = f": {event.last_error}" if event.last_error else ""
            if event.status != "failed":
                self.notify(f"Retried webhook event #{event.id}: {event.status}{why}", markup=False)
                continue
            hint = (
                "; it failed at once, so retrying it again fails the same way until its cause is fixed"
                if event.attempts <= 1
                else ""
            )
            self.notify(
                f"Retried webhook event #{event.id} failed again{why}{hint}",
                severity="error",
                timeout=15,
                markup=False,
            )

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
        self.read_in_worker(read, "re-read webhook events", "reread", exclusive=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A failed re-read is reported (ConsoleScreen's handler runs too); the next event must start one.
        if event.worker.group == "reread" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._rereading = False

    def _reread(self, data: EventsReread) -> None:
        """Apply re-read events: update shown rows, drop the ones that left the filter, and reload when one
        the table lacks now belongs in it."""
        self._rereading = False
        self._report_outcomes(data.events)
        shown = {event.id: index for index, event in enumerate(self.events)}
        missing = False
        table = self.query_one(ConsoleTable)
        for event in data.events if data.status == self.status_filter else []:
            matches = self.status_filter in (None, event.status)
            if event.id not in shown:
                missing = missing or matches
            elif matches:
                self.events[shown[event.id]] = event
                for column, cell in zip(COLUMNS, self._cells(event), strict=True):
                    table.update_cell(str(event.id), self._columns[column], cell)
            else:
                table.remove_row(str(event.id))  # the highlight stays on its event
        self.events = [e for e in self.events if str(e.id) in table.rows]
        self._render_rates(data.stats)
        self._show_selected()
        if missing or data.status != self.status_filter:
            self.reload()
        elif self._reported:
            self._reread_reported()
