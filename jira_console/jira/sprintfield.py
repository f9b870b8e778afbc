"""The sprint field in both of its shapes.

Cloud returns objects ``[{id, name, state, boardId, goal, startDate, endDate, completeDate}]``; Server/DC
returns legacy strings ``com.atlassian.greenhopper.service.sprint.Sprint@1bf75fd[id=1,rapidViewId=1,
state=CLOSED,name=Sprint 1,goal=,startDate=…,endDate=<null>,completeDate=<null>,sequence=1]``. Both become
:class:`SprintRef`. Writing the field takes a bare sprint id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Keys Jira puts in the legacy string. Splitting only on a comma followed by one of them keeps commas,
# brackets and '=' inside sprint names and goals intact.
_LEGACY_KEYS = (
    "id",
    "rapidViewId",
    "state",
    "name",
    "goal",
    "startDate",
    "endDate",
    "completeDate",
    "activatedDate",
    "sequence",
    "autoStartStop",
    "synced",
    "incompleteIssuesDestinationId",
)
_SPLIT = re.compile(r",(?=(?:" + "|".join(_LEGACY_KEYS) + r")=)")
_NULL = "<null>"


@dataclass(frozen=True)
class SprintRef:
    """A sprint as an issue's sprint field describes it."""

    id: int
    name: str
    state: str
    """``future``, ``active`` or ``closed`` (lower case, whatever the source wrote)."""
    board_id: int | None = None
    goal: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    complete_date: str | None = None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return None if text == _NULL or text == "" else text


def parse_legacy(text: str) -> SprintRef | None:
    """One Server/DC legacy sprint string; None when it is not one."""
    start = text.find("[")
    end = text.rfind("]")
    if start < 0 or end <= start:
        return None
    body = text[start + 1 : end]
    values: dict[str, str] = {}
    for part in _SPLIT.split(body):
        key, sep, value = part.partition("=")
        if sep:
            values[key.strip()] = value
    sprint_id = _int(values.get("id"))
    if sprint_id is None:
        return None
    return SprintRef(
        id=sprint_id,
        name=values.get("name", ""),
        state=(values.get("state") or "").lower(),
        board_id=_int(values.get("rapidViewId")),
        goal=_text(values.get("goal")),
        start_date=_text(values.get("startDate")),
        end_date=_text(values.get("endDate")),
        complete_date=_text(values.get("completeDate")),
    )


def parse_object(data: Mapping[str, Any]) -> SprintRef | None:
    """One Cloud sprint object (also the Agile API's sprint); None without a usable id."""
    sprint_id = _int(data.get("id"))
    if sprint_id is None:
        return None
    return SprintRef(
        id=sprint_id,
        name=str(data.get("name") or ""),
        state=str(data.get("state") or "").lower(),
        board_id=_int(data.get("boardId", data.get("originBoardId", data.get("rapidViewId")))),
        goal=_text(data.get("goal")),
        start_date=_text(data.get("startDate")),
        end_date=_text(data.get("endDate")),
        complete_date=_text(data.get("completeDate")),
    )


def parse_sprint_value(value: Any) -> list[SprintRef]:
    """Every sprint in a sprint field value, whatever its shape (None, a list, one object or string)."""
    if value is None:
        return []
    items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    refs: list[SprintRef] = []
    for item in items:
        ref: SprintRef | None = None
        if isinstance(item, Mapping):
            ref = parse_object(item)
        elif isinstance(item, str):
            ref = parse_legacy(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            ref = SprintRef(id=item, name="", state="")
        if ref is not None:
            refs.append(ref)
    return refs


def current_sprint(refs: Iterable[SprintRef]) -> SprintRef | None:
    """The sprint an issue is "in": the active one; else the future one with the lowest id (the next to
    start); else, if it only ever was in closed sprints, the latest closed one (highest id)."""
    refs = list(refs)
    active = [r for r in refs if r.state == "active"]
    if active:
        return max(active, key=lambda r: r.id)
    future = [r for r in refs if r.state == "future"]
    if future:
        return min(future, key=lambda r: r.id)
    if refs:
        return max(refs, key=lambda r: r.id)
    return None


def sprint_write_value(sprint_id: int | None) -> int | None:
    """What to put in ``fields`` to set the sprint: a bare number (not a list), or None to clear it."""
    if sprint_id is None:
        return None
    if isinstance(sprint_id, bool) or not isinstance(sprint_id, int):
        raise TypeError(f"a sprint id must be an int, got {sprint_id!r}")
    return sprint_id
