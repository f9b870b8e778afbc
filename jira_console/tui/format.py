"""Turning engine values into display text. Everything that may come from Jira, a webhook, a mapping or an
error message becomes a ``rich.text.Text`` built from the plain string, so markup in it stays literal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

MISSING = "—"


def literal(value: Any, style: str = "") -> Text:
    """``value`` as literal text (``None`` as a dim dash). Never parsed as markup."""
    if value is None:
        return Text(MISSING, style="dim")
    return Text(str(value), style=style)


def clip(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def json_inline(value: Any, width: int = 24) -> Text:
    """A JSON value on one line, clipped, for table cells."""
    return Text(clip(json.dumps(value, ensure_ascii=False, default=str), width))


def json_block(value: Any) -> Text:
    """A JSON value pretty-printed over several lines."""
    return Text(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def payload_block(payload: str | None) -> Text:
    """A webhook payload pretty-printed when it parses as JSON, else shown exactly as received."""
    if not payload:
        return Text(MISSING, style="dim")
    try:
        return json_block(json.loads(payload))
    except ValueError:
        return Text(payload)


def when(moment: datetime | None) -> str:
    """An absolute UTC time; relative times would make every screen (and snapshot) drift."""
    if moment is None:
        return MISSING
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def when_ms(epoch_ms: int | None) -> str:
    """A sync watermark (epoch milliseconds) as a UTC time."""
    if epoch_ms is None:
        return MISSING
    return when(datetime.fromtimestamp(epoch_ms / 1000, tz=UTC))


def duration(ms: float | None) -> str:
    """Milliseconds as ``850ms`` / ``5.4s`` / ``3m12s``."""
    if ms is None:
        return MISSING
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def age(seconds: float) -> str:
    """A non-negative span of seconds as ``42s`` / ``3m05s`` / ``2h10m``."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def counts(values: Mapping[str, Any] | None) -> str:
    """A counts dict as ``pulled 12 · pushed 3``."""
    if not values:
        return MISSING
    return " · ".join(f"{name} {number}" for name, number in values.items())
