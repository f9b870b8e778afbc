"""How the CLI words values for people: times to the second in UTC with their age, values as text rather
than Python reprs, counts with their noun. Every human (non ``--json``) line of a command goes through
these helpers, so wording (and any sanitising of text from Jira) lives in one place."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from typing import Any

_KEY = re.compile(r"^(.*?)(\d+)$")


def when(moment: datetime | None, *, now: datetime | None = None) -> str:
    """``2026-12-02 07:01:05 UTC (3 min ago)``: to the second, in UTC, with its age; ``-`` when unknown."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the store's times are UTC
    moment = moment.astimezone(UTC)
    text = f"{moment:%Y-%m-%d %H:%M:%S} UTC"
    age = ((now or datetime.now(UTC)) - moment).total_seconds()
    return f"{text} ({ago(age)})" if age >= 0 else f"{text} (in {ago(-age, suffix='')})"


def ago(seconds: float, *, suffix: str = " ago") -> str:
    """``12 s ago``, ``3 min ago``, ``2 h ago``, ``4 days ago``."""
    if seconds < 60:
        return f"{int(seconds)} s{suffix}"
    if seconds < 3600:
        return f"{int(seconds // 60)} min{suffix}"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h{suffix}"
    return f"{int(seconds // 86400)} days{suffix}"


def when_ms(ms: int | None) -> str:
    """A Jira epoch-milliseconds time, worded like :func:`when`."""
    return "-" if ms is None else when(datetime.fromtimestamp(ms / 1000, UTC))


def text(value: Any) -> str:
    """A value as a person reads it: text as itself, nothing as ``-``, lists comma-separated, anything
    else (numbers, objects) as compact JSON; never a Python repr."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(text(v) for v in value) if value else "-"
    if isinstance(value, datetime):
        return when(value)
    return json.dumps(plain(value), ensure_ascii=False, default=str)


def plain(value: Any) -> Any:
    """Dataclasses and pydantic models as dicts (recursively), so they print as data, not reprs."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 issue``, ``3 issues``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def natural_key(key: str) -> tuple[str, int, str]:
    """Sort key putting ENG-2 before ENG-10 (project, then number)."""
    match = _KEY.match(key)
    return (match.group(1), int(match.group(2)), key) if match else (key, -1, key)


def rows(table: Sequence[Sequence[str]], gap: str = "  ") -> list[str]:
    """Columns padded to their widest cell (the last column is not padded)."""
    if not table:
        return []
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    return [gap.join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]) for r in table]


def jira_write(write: Any) -> str:
    """What a push would send to Jira (a mapping's ``JiraWrite``), in words: ``set customfield_10016 to
    5``, ``update labels with [...]``, ``move to status Done``, ``move to sprint 12`` / ``the backlog``."""
    kind, field_id, value = write.kind, write.field_id, write.value
    if kind == "transition":
        return f"move to status {text(value)}"
    if kind == "sprint":
        return "move to the backlog" if value is None else f"move to sprint {text(value)}"
    if kind == "update":
        return f"update {field_id} with {json.dumps(plain(value), ensure_ascii=False, default=str)}"
    return f"set {field_id} to {json.dumps(plain(value), ensure_ascii=False, default=str)}"
