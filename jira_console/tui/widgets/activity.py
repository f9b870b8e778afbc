"""A connection's last minutes as four sparklines on one line: Jira requests per minute, mean latency,
429s and 5xx (failed calls), and webhook deliveries per minute, each labelled with its last-minute figure."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline

from jira_console.facade import Activity
from jira_console.tui.format import duration

SERIES = ("requests", "latency", "errors", "webhooks")


def last_minute(activity: Activity, series: Sequence[float]) -> float:
    """The sum of the buckets of the last minute (the current bucket included)."""
    buckets = max(1, 60 // activity.bucket_seconds)
    return float(sum(series[-buckets:]))


def describe(activity: Activity) -> dict[str, tuple[str, list[float]]]:
    """Each series' label (with its last-minute figure) and its values, oldest first."""
    errors = [t + f for t, f in zip(activity.throttled, activity.failed, strict=True)]
    requests = last_minute(activity, activity.requests)
    recent = [(n, ms) for n, ms in zip(activity.requests, activity.latency_ms, strict=True) if n][
        -max(1, 60 // activity.bucket_seconds) :
    ]
    mean_latency = sum(n * ms for n, ms in recent) / sum(n for n, _ in recent) if recent else None
    return {
        "requests": (f"req {requests:.0f}/m", activity.per_minute(activity.requests)),
        "latency": (
            f"lat {duration(mean_latency) if mean_latency is not None else '—'}",
            list(activity.latency_ms),
        ),
        "errors": (f"429/5xx {last_minute(activity, errors):.0f}", [float(e) for e in errors]),
        "webhooks": (
            f"hooks {last_minute(activity, activity.webhooks):.0f}/m",
            activity.per_minute(activity.webhooks),
        ),
    }


class ActivityStrip(Horizontal):
    """Four labelled sparklines; ``set_activity`` replaces what they show."""

    DEFAULT_CSS = """
    ActivityStrip { height: 1; }
    ActivityStrip > Label { width: auto; min-width: 9; padding-right: 1; color: $text-muted; }
    ActivityStrip > Sparkline { width: 1fr; margin-right: 1; }
    ActivityStrip > #spark-errors > .sparkline--max-color { color: $error; }
    ActivityStrip > #spark-errors > .sparkline--min-color { color: $success 40%; }
    """

    def compose(self) -> ComposeResult:
        for name in SERIES:
            yield Label(id=f"label-{name}")
            yield Sparkline([], id=f"spark-{name}")

    def set_activity(self, activity: Activity) -> None:
        for name, (label, values) in describe(activity).items():
            self.query_one(f"#label-{name}", Label).update(Text(label))
            # All zeros would draw a full-height bar: the Sparkline scales to its own maximum.
            self.query_one(f"#spark-{name}", Sparkline).data = values if any(values) else [0.0] * len(values)
