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


def value_inline(value: Any, width: int) -> Text:
    """A value for a table cell: text as it is (no JSON quotes), anything else as one line of JSON."""
    if isinstance(value, str):
        return Text(clip(value, width))
    return json_inline(value, width)


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


def moment(at: datetime | None, now: datetime) -> str:
    """A UTC time as short as it can be read unambiguously beside ``now``: ``09:29:48`` on the same day,
    ``03-14 09:29`` in the same year, else the full :func:`when`."""
    if at is None:
        return MISSING
    at, now = at.astimezone(UTC), now.astimezone(UTC)
    if at.date() == now.date():
        return at.strftime("%H:%M:%S")
    if at.year == now.year:
        return at.strftime("%m-%d %H:%M")
    return when(at)


def ago(at: datetime | None, now: datetime) -> str:
    """``09:26:00 (4m00s ago)``: a moment and how long before ``now`` it was."""
    if at is None:
        return MISSING
    return f"{moment(at, now)} ({age((now - at).total_seconds())} ago)"


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


COUNT_NAMES = {
    "pulled_fields": "fields pulled",
    "pushed_fields": "fields pushed",
    "refused_fields": "fields refused",
    "created_in_jira": "created in Jira",
    "creations_refused": "creations refused",
    "left_scope": "outside the JQL now",
}
SAID_APART = frozenset({"unread"})
"""Counts :func:`counts` leaves to a sentence of their own (:func:`unread_words`): at the end of a long
line, in its terms, they read as one more figure (or as "this time 3")."""


def counts(values: Mapping[str, Any] | None) -> str:
    """A counts dict as ``pages 2 · seen 157 · fields pulled 3``: the zeros left out (a line of
    ``created 0 · deleted 0 · …`` hides what did happen), ``nothing`` when everything is zero."""
    if not values:
        return MISSING
    shown = [
        f"{COUNT_NAMES.get(name, name)} {number}"
        for name, number in values.items()
        if number and name not in SAID_APART
    ]
    return " · ".join(shown) or "nothing"


def unread_words(values: Mapping[str, Any] | None) -> str | None:
    """What a run's ``unread`` count means, or None when it is zero (issues Jira's bulk read answered with
    ``issueErrors``: nothing was inferred about them)."""
    unread = (values or {}).get("unread")
    if not unread:
        return None
    issues = "issue" if unread == 1 else "issues"
    return f"{unread} {issues} unread: Jira could not return them this time; read again next sync"
