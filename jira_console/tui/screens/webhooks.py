"""Webhooks: received events with a status filter, the selected event's payload and last error, the
receive/process rates, and a retry for failed events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from jira_console.tui import messages
from jira_console.tui.format import literal, payload_block, when
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.widgets.console_table import ConsoleTable

STATUS_FILTERS: tuple[str, ...] = ("failed", "received", "processing", "processed", "duplicate")
"""Statuses the filter offers even before the engine has reported any; others are added as they appear."""
RATE_KEYS = {"received_per_minute", "processed_per_minute", "queue_depth"}


@dataclass(frozen=True)
class WebhookData:
    status: str | None
    events: list[Any]
    stats: dict[str, Any]


def status_counts(stats: dict[str, Any]) -> dict[str, int]:
    """Counts by status, whether the facade nests them under ``counts`` or puts them at the top level."""
    nested = stats.get("counts")
    if isinstance(nested, dict):
        return {str(k): int(v) for k, v in nested.items()}
    return {k: int(v) for k, v in stats.items() if k not in RATE_KEYS and isinstance(v, int)}


class WebhooksScreen(ConsoleScreen):
    """Events table (newest first), payload pane and a rates line."""

    TITLE = "Webhooks"
    CSS_PATH = "webhooks.tcss"
    AUTO_FOCUS = "#events"
    BINDINGS = [
        Binding("f", "cycle_filter", "Status filter"),
        Binding("t", "retry", "Retry failed"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, engine: Any, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self.status_filter: str | None = None
        self.events: list[Any] = []
        self.statuses: list[str] = list(STATUS_FILTERS)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="rates")
        yield ConsoleTable(id="events")
        with VerticalScroll(id="payload-pane"):
            yield Static(id="payload")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("id", "received", "status", "try", "type", "issue")
        self.query_one("#payload-pane").border_title = "payload"

    def load(self) -> WebhookData:
        status = self.status_filter
        return WebhookData(
            status, self.engine.list_webhook_events(status=status), self.engine.webhook_stats()
        )

    def show(self, data: WebhookData) -> None:
        if data.status != self.status_filter:
            return  # read before the filter changed
        table = self.query_one(DataTable)
        row = table.cursor_row
        self.events = data.events
        table.clear()
        for event in data.events:
            style = {"failed": "bold red", "pending": "yellow"}.get(event.status, "")
            table.add_row(
                Text(str(event.id)),
                Text(when(event.received_at)[5:]),  # the year is noise in a live feed
                literal(event.status, style=style),
                Text(str(event.attempts)),
                literal(event.event_type),
                literal(event.issue_key),
                key=str(event.id),
            )
        if self.events:
            table.move_cursor(row=min(max(row, 0), len(self.events) - 1))
        self.statuses += sorted(set(status_counts(data.stats)) - set(self.statuses))
        self._render_rates(data.stats)
        self._show_selected()

    def _render_rates(self, stats: dict[str, Any]) -> None:
        text = Text(f"filter: {self.status_filter or 'all'}", style="bold")
        text.append(f"  in {stats.get('received_per_minute', 0):.1f}/min")
        text.append(f"  done {stats.get('processed_per_minute', 0):.1f}/min")
        text.append(f"  queue {stats.get('queue_depth', 0)}")
        for status, count in sorted(status_counts(stats).items()):
            text.append("  ")
            text.append_text(literal(f"{status} {count}", style="red" if status == "failed" else ""))
        self.query_one("#rates", Static).update(text)

    def selected(self) -> Any | None:
        """The event under the cursor."""
        table = self.query_one(DataTable)
        if not self.events or table.cursor_row < 0:
            return None
        return self.events[min(table.cursor_row, len(self.events) - 1)]

    def _show_selected(self) -> None:
        event = self.selected()
        pane = self.query_one("#payload-pane", VerticalScroll)
        if event is None:
            self.query_one("#payload", Static).update(Text("no events", style="dim"))
            pane.border_subtitle = ""
            return
        text = Text()
        if event.last_error:
            text.append("error: ", style="bold red")
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

    def action_retry(self) -> None:
        """Process the selected failed event again."""
        event = self.selected()
        if event is None or event.status != "failed":
            self.notify("Select a failed event to retry", severity="warning")
            return
        self._retry(event.id)

    @work(group="retry", exit_on_error=False)
    async def _retry(self, event_id: int) -> None:
        await self.engine.retry_webhook_event(event_id)
        self.notify(f"Retried webhook event #{event_id}")
        self.reload()

    @on(messages.WebhookReceived)
    @on(messages.WebhookProcessed)
    def _webhooks_changed(self) -> None:
        if self.is_current:
            self.reload()
