"""One Jira connection's health at a glance: a verdict that does not hide trouble (its syncs failing, its
credentials refused, Jira down), the breaker with a live countdown to half-open, the syncs' last success
and failing streak with the last error in one line, latency, budget, calls, and four sparklines of the
last minutes. When attached, which daemon reported it and how long ago."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from jira_console.facade import ConnectionStatus
from jira_console.tui.format import age, ago, duration, literal, moment
from jira_console.tui.widgets.activity import ActivityStrip

BREAKER_STYLE = {"closed": "bold green", "half-open": "bold yellow", "open": "bold red"}
VERDICT = {
    "ok": ("● ok", "bold green"),
    "running": ("● syncing", "bold green"),
    "never run": ("○ never synced", "yellow"),
    "failing": ("▲ FAILING", "bold yellow"),
    "degraded": ("▲ DEGRADED", "bold red"),
    "auth": ("✖ AUTH", "bold red"),
    "down": ("✖ DOWN", "bold red"),
}
STALE_REPORT_SECONDS = 30
"""A daemon's report older than this is flagged (its heartbeat normally comes every few seconds)."""


class ConnectionCard(Vertical):
    """Renders a ``ConnectionStatus``. ``opens_at`` is fixed when the status is read, so the countdown
    keeps moving between reads by re-rendering with the current time (``tick``)."""

    DEFAULT_CSS = """
    ConnectionCard {
        border: round $primary;
        border-title-style: bold;
        padding: 0 1;
        height: auto;
    }
    ConnectionCard.-trouble { border: round $warning; }
    ConnectionCard.-down { border: round $error; }
    ConnectionCard > .summary { height: auto; }
    """

    def __init__(self, status: ConnectionStatus, now: datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = status
        self.opens_at: datetime | None = None
        self._now = now
        self._ready = False

    def compose(self) -> ComposeResult:
        yield Static(classes="summary")
        yield ActivityStrip()

    def on_mount(self) -> None:
        self._ready = True
        self.set_status(self.status, self._now)

    @property
    def breaker(self) -> str:
        return self.status.breaker_state

    def set_status(self, status: ConnectionStatus, now: datetime) -> None:
        """Take a fresh status read at ``now``."""
        self.status = status
        seconds = status.opens_in_seconds
        self.opens_at = now + timedelta(seconds=seconds) if seconds is not None else None
        self.border_title = status.name
        self.border_subtitle = status.url
        self._classes_for(status)
        if self._ready:
            self.query_one(ActivityStrip).set_activity(status.activity)
        self.tick(now)

    def _classes_for(self, status: ConnectionStatus) -> None:
        verdict = status.verdict
        self.set_class(verdict in ("down", "auth", "degraded") or status.breaker_state != "closed", "-down")
        self.set_class(verdict == "failing", "-trouble")

    def set_breaker(self, state: str, now: datetime) -> None:
        """Show a breaker transition reported by an event, before the next full read arrives."""
        self.status = replace(self.status, breaker_state=state)
        if state != "open":
            self.opens_at = None
        self._classes_for(self.status)
        self.tick(now)

    def tick(self, now: datetime) -> None:
        """Re-render with the countdown measured from ``now``."""
        if self._ready:
            self.query_one(".summary", Static).update(self.render_status(now))

    def render_status(self, now: datetime) -> Text:
        s = self.status
        label, style = VERDICT[s.verdict]
        text = Text()
        text.append(label, style=style)
        text.append(f"  {s.flavor or 'flavor ?'} {s.version or ''}".rstrip())
        text.append(f"  auth {s.auth} ")
        auth_style = "green" if s.auth_state == "ok" else "bold red" if s.verdict == "auth" else "dim"
        text.append("not checked yet" if s.auth_state == "unknown" else s.auth_state, style=auth_style)
        text.append("  breaker ")
        text.append(s.breaker_state.upper(), style=BREAKER_STYLE.get(s.breaker_state, "bold"))
        if s.breaker_state == "open":
            if self.opens_at is not None:
                remaining = (self.opens_at - now).total_seconds()
                if remaining > 0:
                    text.append(f" half-open in {age(remaining + 0.999)}", style="yellow")
                else:  # the breaker half-opens on the next call, not by itself
                    text.append(" half-open: next call", style="yellow")
            else:
                text.append(" half-open time unknown", style="dim")
        text.append("\n")
        text.append_text(self._sync_line(now))
        budget = "—" if s.rate_limit_remaining is None else str(s.rate_limit_remaining)
        calls = " ".join(f"{code}:{n}" for code, n in sorted(s.calls_by_status.items())) or "none"
        text.append(f"\nlatency {duration(s.last_latency_ms)}  rate budget {budget}  calls {calls}")
        text.append(f"  last webhook {moment(s.last_webhook_at, now)}")
        if s.reported_by is not None:
            text.append_text(self._reporter_line(now))
        if s.auth_note:
            text.append("\n! ", style="bold red")
            text.append_text(literal(s.auth_note))
        for error in s.recent_errors[-2:]:
            text.append("\n! ", style="red")
            text.append_text(literal(error))
        return text

    def _sync_line(self, now: datetime) -> Text:
        sync = self.status.sync
        text = Text("sync ")
        if sync.failures:
            failing = sync.failing_for(now)
            text.append(
                f"failed {sync.failures}× in a row", style="bold red" if sync.degraded else "bold yellow"
            )
            if failing is not None:
                text.append(f" for {age(failing.total_seconds())}")
        elif sync.last_status == "running":
            text.append("running", style="yellow")
        else:
            text.append(
                sync.last_status or "never run", style="green" if sync.last_status == "ok" else "yellow"
            )
        text.append("  last success ")
        if sync.last_success_at is None:
            text.append("never", style="yellow" if sync.failures else "dim")
        else:
            text.append(ago(sync.last_success_at, now))
        if sync.last_error:
            text.append("\n  error ", style="bold red")
            text.append_text(literal(sync.last_error))
        return text

    def _reporter_line(self, now: datetime) -> Text:
        s = self.status
        seen = (now - s.reported_at).total_seconds() if s.reported_at else None
        stale = seen is None or seen > STALE_REPORT_SECONDS
        names = s.combined_from or (s.reported_by or "",)
        text = Text("\nvia daemon " if len(names) == 1 else "\nvia daemons ", style="dim")
        text.append_text(literal(", ".join(names), style="dim"))
        reported = f" reported {age(seen)} ago" if seen is not None else " never reported"
        text.append(
            reported + (" — figures are stale" if stale else ""), style="bold red" if stale else "dim"
        )
        return text
