"""One Jira connection's health at a glance: identity, latency, rate-limit budget, breaker (with a live
countdown to half-open), call counts and recent errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.widgets import Static

from jira_console.tui.format import age, duration, literal, when

BREAKER_STYLE = {"closed": "bold green", "half-open": "bold yellow", "open": "bold red"}


class ConnectionCard(Static):
    """Renders a ``ConnectionStatus``. ``opens_at`` is fixed when the status is read, so the countdown
    keeps moving between reads by re-rendering with the current time (``tick``)."""

    DEFAULT_CSS = """
    ConnectionCard {
        border: round $primary;
        padding: 0 1;
        height: auto;
    }
    ConnectionCard.-down { border: round $error; }
    """

    def __init__(self, status: Any, now: datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = status
        self.opens_at: datetime | None = None
        self.set_status(status, now)

    @property
    def breaker(self) -> str:
        return self.status.breaker_state

    def set_status(self, status: Any, now: datetime) -> None:
        """Take a fresh status read at ``now``."""
        self.status = status
        seconds = status.opens_in_seconds
        self.opens_at = now + timedelta(seconds=seconds) if seconds is not None else None
        self.set_class(not status.ok or status.breaker_state != "closed", "-down")
        self.tick(now)

    def set_breaker(self, state: str, now: datetime) -> None:
        """Show a breaker transition reported by an event, before the next full read arrives."""
        self.status = replace(self.status, breaker_state=state)
        if state != "open":
            self.opens_at = None
        self.set_class(not self.status.ok or state != "closed", "-down")
        self.tick(now)

    def tick(self, now: datetime) -> None:
        """Re-render with the countdown measured from ``now``."""
        self.update(self.render_status(now))

    def render_status(self, now: datetime) -> Text:
        s = self.status
        text = Text()
        text.append(s.name, style="bold")
        text.append(f"  {s.flavor or 'flavor ?'} {s.version or ''}  auth {s.auth}  ")
        text.append("ok" if s.ok else "DOWN", style="green" if s.ok else "bold red")
        text.append("\n")
        text.append_text(literal(s.url, style="dim"))
        text.append("\nbreaker ")
        text.append(s.breaker_state.upper(), style=BREAKER_STYLE.get(s.breaker_state, "bold"))
        if s.breaker_state == "open":
            if self.opens_at is not None:
                remaining = max((self.opens_at - now).total_seconds(), 0.0)
                text.append(f"  half-open in {age(remaining + 0.999)}", style="yellow")
            else:
                text.append("  half-open time unknown", style="dim")
        text.append(f"  latency {duration(s.last_latency_ms)}")
        budget = "—" if s.rate_limit_remaining is None else str(s.rate_limit_remaining)
        text.append(f"  rate budget {budget}")
        calls = " ".join(f"{code}:{n}" for code, n in sorted(s.calls_by_status.items())) or "none"
        text.append(f"\ncalls {calls}  last webhook {when(s.last_webhook_at)}")
        for error in s.recent_errors[-3:]:
            text.append("\n! ", style="red")
            text.append_text(literal(error))
        return text
