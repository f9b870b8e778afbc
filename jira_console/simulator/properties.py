"""Issue entity properties: arbitrary JSON documents apps store against an issue (not issue fields).

Jira keeps them per issue id, so they follow an issue through moves and key renames and go with it when it
is deleted. Setting or deleting one leaves ``updated`` alone and fires no issue event. The site holds them
in ``site.properties`` (issue id -> property key -> value); the functions here validate and select them.

Limits (Atlassian's REST reference): keys are 1-255 characters, a value is at most 32,768 bytes of JSON,
and searches and bulk fetches return at most 5 requested keys.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from jira_console.simulator.edits import EditError

if TYPE_CHECKING:
    from jira_console.simulator.model import Issue
    from jira_console.simulator.state import Site

MAX_KEY_LENGTH = 255
MAX_VALUE_BYTES = 32_768
MAX_REQUESTED_KEYS = 5
"""How many property keys a search or a bulk fetch may ask for."""


def value_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (what the 32,768-byte limit is measured on)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check_key(key: Any) -> None:
    """Raise :class:`EditError` unless ``key`` is a property key Jira takes."""
    if not isinstance(key, str) or not key:
        raise EditError(messages=["The property key cannot be empty."])
    if len(key) > MAX_KEY_LENGTH:
        raise EditError(messages=[f"The property key cannot be longer than {MAX_KEY_LENGTH} characters."])


def check_value(value: Any) -> None:
    """Raise :class:`EditError` when ``value`` is over Jira's size limit."""
    if value_size(value) > MAX_VALUE_BYTES:
        raise EditError(messages=[f"The property value cannot be longer than {MAX_VALUE_BYTES} characters."])


def parse_entity_list(raw: Any) -> dict[str, Any] | None:
    """An ``IssueUpdateDetails.properties`` list (``[{"key": ..., "value": ...}]``) as key -> value.

    None when the body had no ``properties``; :class:`EditError` on a bad shape, key or value."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise EditError(messages=["properties must be an array of entity properties."])
    out: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, dict) or "key" not in item or "value" not in item:
            raise EditError(messages=["Each entity property must be an object with a 'key' and a 'value'."])
        extra = sorted(set(item) - {"key", "value"})
        if extra:
            raise EditError(
                messages=[f'Unrecognized field "{extra[0]}" (Class EntityProperty), not marked as ignorable']
            )
        check_key(item["key"])
        check_value(item["value"])
        out[item["key"]] = copy.deepcopy(item["value"])
    return out


def requested(raw: Any, *, limit: int | None = MAX_REQUESTED_KEYS) -> list[str] | None:
    """The ``properties`` a read asked for (comma-separated string(s) or a JSON list); None when none.

    :class:`EditError` when the list is not strings or names more than ``limit`` keys."""
    if raw is None:
        return None
    parts = [raw] if isinstance(raw, str) else raw
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise EditError(messages=["properties must be a list of strings."])
    wanted = [k.strip() for p in parts for k in p.split(",") if k.strip()]
    if limit is not None and len(wanted) > limit:
        raise EditError(
            messages=[f"You can request at most {limit} issue properties; {len(wanted)} were requested."]
        )
    return wanted or None


def select(stored: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    """The requested properties the issue has: named keys, ``*all``, ``-key`` to leave one out."""
    excluded = {w[1:] for w in wanted if w.startswith("-")}
    if "*all" in wanted:
        keys = sorted(stored)
    else:
        keys = [w for w in dict.fromkeys(wanted) if w != "*all" and not w.startswith("-")]
    return {k: stored[k] for k in keys if k in stored and k not in excluded}


def check_all(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (key -> value) when every key and value is one Jira takes; :class:`EditError` if not."""
    for key, value in values.items():
        check_key(key)
        check_value(value)
    return values


def find(site: Site, key: str) -> Issue:
    """The issue ``key`` (or id) names; KeyError when there is none."""
    issue = site.find(key)
    if issue is None:
        raise KeyError(key)
    return issue


def of(site: Site, issue: Issue) -> dict[str, Any]:
    """The live property map of ``issue`` (empty when it has none); callers hold ``site.lock``."""
    return site.properties.get(issue.id, {})


def set_all(site: Site, issue: Issue, values: dict[str, Any]) -> None:
    """Store already validated ``values`` on ``issue`` (no ``updated`` bump, no event)."""
    if values:
        with site.lock:
            site.properties.setdefault(issue.id, {}).update(copy.deepcopy(values))


def put(site: Site, issue: Issue, key: str, value: Any) -> bool:
    """Validate and set one property; True when it was created, False when it replaced a value."""
    check_key(key)
    check_value(value)
    with site.lock:
        stored = site.properties.setdefault(issue.id, {})
        created = key not in stored
        stored[key] = copy.deepcopy(value)
        return created


def remove(site: Site, issue: Issue, key: str) -> bool:
    """Delete one property; False when the issue did not have it."""
    with site.lock:
        stored = site.properties.get(issue.id)
        if stored is None or key not in stored:
            return False
        del stored[key]
        if not stored:
            del site.properties[issue.id]
        return True
