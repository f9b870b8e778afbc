"""The sprint custom field (``com.pyxis.greenhopper.jira:gh-sprint``) in both of its shapes.

Jira Cloud (and the Agile API) returns sprint objects::

    [{"id": 37, "name": "Sprint 1", "state": "closed", "boardId": 5, "goal": "", "startDate": "...", ...}]

Jira Server/DC returns the ``toString()`` of a Java object::

    com.atlassian.greenhopper.service.sprint.Sprint@1bf75fd[id=1,rapidViewId=1,state=CLOSED,name=Sprint 1,
    goal=,startDate=2015-04-01T10:07:33.563+03:00,endDate=<null>,completeDate=<null>,sequence=1]

The legacy string is not escaped: names and goals may contain commas, brackets and ``=``. It is split at
``,key=`` boundaries, where only known keys count as boundaries after free-text values, and every typed
value (ids, states, dates, booleans) must look like its type; when a guess fails, the next boundary is
tried. A name containing ``,goal=`` *followed by* the real goal stays ambiguous (the text gives no way to
tell); the nearest boundary wins.

Writing: Jira takes the sprint field as a bare sprint id number (see :func:`sprint_write_value`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import orjson

__all__ = [
    "SprintRef",
    "current_sprint",
    "parse_legacy",
    "parse_legacy_sprint",
    "parse_object",
    "parse_sprint_value",
    "sprint_write_value",
]


@dataclass(frozen=True, slots=True)
class SprintRef:
    """One sprint an issue belongs (or belonged) to.

    ``state`` is lowercase: ``future``, ``active`` or ``closed`` (any other value Jira sends is kept,
    lowercased; ``""`` when absent). ``goal`` is None when missing or empty. Dates are timezone-aware
    when Jira gave an offset, None when missing or unparseable.
    """

    id: int
    name: str
    state: str
    board_id: int | None = None
    goal: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    complete_date: datetime | None = None


def parse_sprint_value(value: Any) -> list[SprintRef]:
    """Every sprint in a sprint-field value, in the order given, without duplicate ids.

    Accepts None, a dict, a legacy string, a bare id, or a list of any of those. Entries without a
    usable id are skipped (nothing can refer to them); nothing raises.
    """
    if value is None:
        return []
    try:
        # Most issues of a page share a few sprints: parse each distinct value once (refs are frozen).
        return list(_parse_cached(orjson.dumps(value)))
    except TypeError:  # not JSON-serialisable: parse it as it is
        return list(_parse_entries(value))


@functools.lru_cache(maxsize=2048)
def _parse_cached(encoded: bytes) -> tuple[SprintRef, ...]:
    return _parse_entries(orjson.loads(encoded))


def _parse_entries(value: Any) -> tuple[SprintRef, ...]:
    entries = value if isinstance(value, (list, tuple)) else [value]
    refs: list[SprintRef] = []
    seen: set[int] = set()
    for entry in entries:
        ref = _parse_entry(entry)
        if ref is not None and ref.id not in seen:
            seen.add(ref.id)
            refs.append(ref)
    return tuple(refs)


def current_sprint(refs: list[SprintRef] | Any) -> SprintRef | None:
    """The sprint an issue is "in".

    The rule: an active sprint if there is one (several active sprints, as with parallel sprints: the
    most recently started, then the highest id); otherwise the next future sprint (the lowest id, i.e.
    the one planned first); otherwise, when the issue only sat in closed sprints, the latest closed one
    (by completion date, then end date, then id). None for no sprints.
    """
    if not isinstance(refs, list) or not all(isinstance(r, SprintRef) for r in refs):
        refs = parse_sprint_value(refs)
    active = [r for r in refs if r.state == "active"]
    if active:
        return max(active, key=lambda r: (_ts(r.start_date), r.id))
    future = [r for r in refs if r.state == "future"]
    if future:
        return min(future, key=lambda r: r.id)
    closed = [r for r in refs if r.state == "closed"]
    if closed:
        return max(closed, key=lambda r: (_ts(r.complete_date), _ts(r.end_date), r.id))
    return max(refs, key=lambda r: r.id) if refs else None


def sprint_write_value(sprint_id: Any) -> int | None:
    """The sprint field's write value: a bare sprint id number (None takes the issue out of sprints)."""
    if sprint_id is None:
        return None
    number = _int(sprint_id)
    if number is None or number <= 0:
        raise ValueError(f"not a sprint id: {sprint_id!r}")
    return number


def parse_legacy(text: str) -> SprintRef | None:
    """One Server/DC legacy sprint string; None when it is not one (or has no usable id)."""
    fields = parse_legacy_sprint(text) if isinstance(text, str) else None
    return _from_mapping(fields) if fields is not None else None


def parse_object(data: Any) -> SprintRef | None:
    """One Cloud/Agile sprint object; None without a usable id."""
    return _from_mapping(data) if isinstance(data, dict) else None


# --------------------------------------------------------------------------------------------------


def _ts(value: datetime | None) -> float:
    if value is None:
        return float("-inf")
    try:
        return value.timestamp()
    except (OverflowError, ValueError, OSError):
        return float("-inf")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
        return int(value)
    return None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value == "<null>":
        return None
    text = value.strip()
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)  # +0300 -> +03:00 for older Pythons' sake
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None or value == "<null>":
        return None
    return str(value)


def _parse_entry(entry: Any) -> SprintRef | None:
    if isinstance(entry, SprintRef):
        return entry
    if isinstance(entry, dict):
        return _from_mapping(entry)
    if isinstance(entry, str):
        text = entry.strip()
        if text.startswith("{"):
            import json

            try:
                loaded = json.loads(text)
            except ValueError:
                loaded = None
            if isinstance(loaded, dict):
                return _from_mapping(loaded)
        number = _int(text)
        if number is not None:
            return SprintRef(id=number, name="", state="") if number > 0 else None
        fields = parse_legacy_sprint(text)
        return _from_mapping(fields) if fields is not None else None
    number = _int(entry)
    return SprintRef(id=number, name="", state="") if number is not None and number > 0 else None


def _from_mapping(data: dict[str, Any]) -> SprintRef | None:
    sprint_id = _int(data.get("id"))
    if sprint_id is None or sprint_id <= 0:
        return None
    board = data.get("boardId", data.get("originBoardId", data.get("rapidViewId")))
    goal = _text(data.get("goal"))
    return SprintRef(
        id=sprint_id,
        name=_text(data.get("name")) or "",
        state=(_text(data.get("state")) or "").strip().lower(),
        board_id=_int(board),
        goal=goal or None,
        start_date=_date(data.get("startDate")),
        end_date=_date(data.get("endDate")),
        complete_date=_date(data.get("completeDate")),
    )


# ---- the legacy string ------------------------------------------------------------------------------

_FREE_TEXT = {"name", "goal"}
_INT_KEYS = {"id", "rapidViewId", "sequence", "incompleteIssuesDestinationId", "originBoardId"}
_DATE_KEYS = {"startDate", "endDate", "completeDate", "activatedDate"}
_BOOL_KEYS = {"synced", "autoStartStop"}
_KNOWN = _FREE_TEXT | _INT_KEYS | _DATE_KEYS | _BOOL_KEYS | {"state"}
_DATE_RE = re.compile(r"\d{4}-\d\d-\d\d(?:[T ][0-9:.]+)?(?:Z|[+-]\d\d:?\d\d)?")
_BOUNDARY_RE = re.compile(r",([A-Za-z][A-Za-z0-9_]*)=")
_LEGACY_RE = re.compile(r"^[\w.$]*Sprint@[0-9a-fA-F]+\[(.*)\]$", re.DOTALL)
# Compiled once, as the ones above: _valid runs for every candidate cut of every sprint value.
_BARE_RE = re.compile(r"^\[?id=")
_FIRST_KEY_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)=")
_INT_RE = re.compile(r"-?\d+")
_STATE_RE = re.compile(r"[A-Za-z_]+")


def parse_legacy_sprint(text: str) -> dict[str, str | None] | None:
    """The fields of one legacy ``...Sprint@hash[k=v,...]`` string (``<null>`` becomes None)."""
    m = _LEGACY_RE.match(text.strip())
    body = m.group(1) if m else None
    if body is None:
        # tolerate a string without the class prefix, as long as it is key=value pairs
        if not _BARE_RE.match(text.strip()):
            return None
        body = text.strip().removeprefix("[").removesuffix("]")
    first = _FIRST_KEY_RE.match(body)
    if first is None:
        return None
    boundaries = [(b.start(), b.end(), b.group(1)) for b in _BOUNDARY_RE.finditer(body)]
    result = _split(body, tuple(boundaries), first.group(1), first.end())
    if result is None:
        return None
    return {k: (None if v == "<null>" else v) for k, v in result}


def _split(body: str, boundaries: tuple[tuple[int, int, str], ...], key: str, start: int) -> Any:
    @cache
    def parse(key: str, start: int, seen: frozenset[str]) -> tuple[tuple[str, str], ...] | None:
        candidates = [b for b in boundaries if b[0] >= start]
        options = [*candidates, (len(body), len(body), "")]
        for cut, value_start, next_key in options:
            value = body[start:cut]
            if next_key:
                if next_key in seen or next_key == key:
                    continue
                if key in _FREE_TEXT and next_key not in _KNOWN:
                    continue  # a free-text value only ends where a real field starts
            if not _valid(key, value):
                continue
            if not next_key:
                return ((key, value),)
            rest = parse(next_key, value_start, seen | {key})
            if rest is not None:
                return ((key, value), *rest)
        return None

    return parse(key, start, frozenset())


def _valid(key: str, value: str) -> bool:
    if value == "<null>":
        return True
    if key in _INT_KEYS:
        return _INT_RE.fullmatch(value) is not None
    if key in _DATE_KEYS:
        return value == "" or _DATE_RE.fullmatch(value) is not None
    if key in _BOOL_KEYS:
        return value in ("true", "false")
    if key == "state":
        return _STATE_RE.fullmatch(value) is not None
    if key in _FREE_TEXT:
        return True
    return "," not in value  # unknown fields: assume a simple value
