"""One Jira connection's health at a glance: a verdict that does not hide trouble (its syncs failing, its
credentials refused, Jira down), the breaker with a live countdown to half-open, the syncs' last success
and failing streak with the last error in one line, latency, budget, calls, and four sparklines of the
last minutes. When attached, which daemon reported it and how long ago."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
_FROZEN_COUNTDOWN = re.compile(r";? *it half-opens in \d+(?:\.\d+)?s")
"""The countdown a circuit breaker's error carries (``it half-opens in 9.7s``): true only when written."""
STALE_REPORT_SECONDS = 30
"""A daemon's report older than this is flagged (its heartbeat normally comes every few seconds)."""


def without_countdown(error: str) -> str:
    """An error as stored, less the breaker's countdown at the time it was written: shown later, beside
    the breaker's live state, that figure would contradict it."""
    return _FROZEN_COUNTDOWN.sub("", error)


def flow(parts: Sequence[Text], width: int | None, gap: str = "  ") -> Text:
    """``parts`` on one line, ``gap`` apart; with ``width``, a part that would cross it starts the next line
    (so a label is never split from its value at the edge: only a part wider than a line still wraps)."""
    text = Text()
    column = 0
    for part in parts:
        if column and width is not None and column + len(gap) + part.cell_len > width:
            text.append("\n")
            column = 0
        elif column:
            text.append(gap)
            column += len(gap)
        text.append_text(part)
        column += part.cell_len
    return text


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
            summary = self.query_one(".summary", Static)
            summary.update(self.render_status(now, summary.content_size.width or None))

    def on_resize(self) -> None:
        self.tick(self._now)

    def render_status(self, now: datetime, width: int | None = None) -> Text:
        """The card's text at ``now``; with ``width``, each line breaks between its parts (a label stays
        with its value) instead of wherever the edge falls."""
        self._now = now
        s = self.status
        label, style = VERDICT[s.verdict]
        auth_style = "green" if s.auth_state == "ok" else "bold red" if s.verdict == "auth" else "dim"
        auth = Text(f"auth {s.auth} ")
        auth.append("not checked yet" if s.auth_state == "unknown" else s.auth_state, style=auth_style)
        breaker = Text("breaker ")
        breaker.append(s.breaker_state.upper(), style=BREAKER_STYLE.get(s.breaker_state, "bold"))
        breaker.append_text(self._countdown(now))
        site = f"{s.flavor or 'flavor ?'} {s.version or ''}".rstrip()
        text = flow([Text(label, style=style), Text(site), auth, breaker], width)
        text.append("\n")
        text.append_text(self._sync_line(now, width))
        budget = "—" if s.rate_limit_remaining is None else str(s.rate_limit_remaining)
        calls = " ".join(f"{code}:{n}" for code, n in sorted(s.calls_by_status.items())) or "none"
        traffic = [f"latency {duration(s.last_latency_ms)}", f"rate budget {budget}", f"calls {calls}"]
        traffic.append(f"last webhook {moment(s.last_webhook_at, now)}")
        text.append("\n")
        text.append_text(flow([Text(part) for part in traffic], width))
        if s.reported_by is not None:
            text.append_text(self._reporter_line(now))
        if s.auth_note:
            text.append("\n! ", style="bold red")
            text.append_text(literal(s.auth_note))
        for error in s.recent_errors[-2:]:
            text.append("\n! ", style="red")
            text.append_text(literal(error))
        return text

    def _countdown(self, now: datetime) -> Text:
        """When an open breaker lets a call through again: the one countdown on the card (the sync's error,
        written when it failed, has its own frozen figure taken out: see :func:`without_countdown`)."""
        if self.status.breaker_state != "open":
            return Text()
        if self.opens_at is None:
            return Text(" half-open time unknown", style="dim")
        remaining = (self.opens_at - now).total_seconds()
        if remaining > 0:
            return Text(f" half-open in {age(remaining + 0.999)}", style="yellow")
        return Text(" half-open: next call", style="yellow")  # it half-opens on the next call, not by itself

    def _sync_line(self, now: datetime, width: int | None = None) -> Text:
        sync = self.status.sync
        state = Text("sync ")
        if sync.failures:
            failing = sync.failing_for(now)
            state.append(
                f"failed {sync.failures}× in a row", style="bold red" if sync.degraded else "bold yellow"
            )
            if failing is not None:
                state.append(f" for {age(failing.total_seconds())}")
        elif sync.last_status == "running":
            state.append("running", style="yellow")
        else:
            state.append(
                sync.last_status or "never run", style="green" if sync.last_status == "ok" else "yellow"
            )
        success = Text("last success ")
        if sync.last_success_at is None:
            success.append("never", style="yellow" if sync.failures else "dim")
        else:
            success.append(ago(sync.last_success_at, now))
        text = flow([state, success], width)
        if sync.last_error:
            text.append("\n  error ", style="bold red")
            if sync.last_finished_at is not None:
                text.append(f"at {moment(sync.last_finished_at, now)}: ", style="bold red")
            text.append_text(literal(without_countdown(sync.last_error)))
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
