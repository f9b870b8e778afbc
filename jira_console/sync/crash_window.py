"""The crash window: the process may die after Jira took a write and before the outcome was recorded. The
intent recorded before sending (``issues.pushing``, with its time under :data:`INTENT_AT`) tells the next
run what was being written: where Jira holds the intended value, the write is ours (see
:func:`recognise_own_writes`). When Jira no longer holds it, the issue's changelog since the intent tells the
two stories apart: our write never landed (send it again), or it landed and someone changed
the field after us, back to the old value included (a conflict: their edit is newer than ours, and nobody
has seen it yet)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jira_console.jira import JiraClient
from jira_console.jira.errors import JiraError
from jira_console.logs import get_logger
from jira_console.store.models import Issue
from jira_console.sync.fields import FieldCodec, parse_jira_time
from jira_console.sync.merge import same

log = get_logger(__name__)

INTENT_AT = "@intent_at"
"""Key of ``issues.pushing`` holding when the intent was recorded (epoch ms); the other keys are fields."""
CLOCK_SLACK_MS = 5 * 60 * 1000
"""Jira's clock and ours differ: changelog entries this much older than the intent still count."""


def intent_fields(pushing: Mapping[str, Any] | None) -> dict[str, Any]:
    """The field -> value part of an intent."""
    return {k: v for k, v in (pushing or {}).items() if k != INTENT_AT}


def recognise_own_writes(row: Issue, values: Mapping[str, Any], walking: Iterable[str]) -> dict[str, Any]:
    """The base to merge with, given what Jira holds now and the writes the engine had started
    (``issues.pushing``, recorded before sending). A field where Jira holds the value we were writing got our
    write (even if the process died before recording it): that value becomes the base and the intent is done.
    A field changed through a walk of transitions (status) that Jira shows at another value than the base
    stopped part-way on our own walk: that intermediate value becomes the base, so the walk goes on instead of
    the field being taken for a concurrent edit."""
    base = dict(row.base or {})
    pushing = dict(row.pushing or {})
    if not pushing:
        return base
    walking = set(walking)
    for name, intended in list(pushing.items()):
        if name not in values or name == INTENT_AT:
            continue
        jira = values[name]
        if same(jira, intended):
            base[name] = jira
            del pushing[name]
        elif name in walking and not same(jira, base.get(name)):
            base[name] = jira
    row.pushing = pushing if set(pushing) - {INTENT_AT} else None
    return base


@dataclass(frozen=True)
class Contest:
    """A field our lost write had set and someone changed after us."""

    field: str
    by: str
    at_ms: int | None


def _author_ids(author: Mapping[str, Any] | None) -> set[str]:
    author = author or {}
    return {str(author[k]) for k in ("accountId", "name", "key") if author.get(k)}


async def changelog(client: JiraClient, key: str) -> list[dict[str, Any]]:
    """Every changelog entry of an issue, oldest first (Cloud pages ``/changelog``; Server expands it)."""
    if await client.ensure_flavor() == "cloud":
        entries: list[dict[str, Any]] = []
        start = 0
        while True:
            resp = await client.request(
                "GET", f"{client.api}/issue/{key}/changelog", params={"startAt": start, "maxResults": 100}
            )
            data = resp.json()
            page = list(data.get("values") or [])
            entries.extend(page)
            if data.get("isLast", True) or not page:
                return entries
            start += len(page)
    issue = await client.get_issue(key, fields=["status"], expand=["changelog"])
    return list((issue.get("changelog") or {}).get("histories") or [])


def contested(
    entries: Sequence[Mapping[str, Any]],
    intent_ms: int,
    fields: Mapping[str, str],
    me: set[str],
    display_names: Mapping[str, str] | None = None,
) -> list[Contest]:
    """Fields (name -> Jira field id) changed by our write after ``intent_ms`` and then by someone else.

    Server/DC changelog items of custom fields often carry no ``fieldId``, only the field's display name
    (``"field": "Story Points"``): those are matched through ``display_names`` (Jira field id -> name)."""
    ours: set[str] = set()
    found: dict[str, Contest] = {}
    by_id = {jira.casefold(): name for name, jira in fields.items()}
    by_display = {
        display_names[jira].casefold(): name
        for name, jira in fields.items()
        if display_names and display_names.get(jira)
    }
    for entry in entries:
        at = parse_jira_time(entry.get("created"))
        if at is not None and at < intent_ms - CLOCK_SLACK_MS:
            continue
        authors = _author_ids(entry.get("author"))
        for item in entry.get("items") or []:
            if item.get("fieldId"):
                name = by_id.get(str(item["fieldId"]).casefold())
            else:
                label = str(item.get("field") or "").casefold()
                name = by_id.get(label) or by_display.get(label)
            if name is None:
                continue
            if authors & me:
                ours.add(name)
            elif name in ours:
                who = (entry.get("author") or {}).get("displayName") or "someone"
                found[name] = Contest(name, str(who), at)
    return list(found.values())


async def find_contests(
    client: JiraClient,
    codecs: Sequence[FieldCodec],
    leftovers: Mapping[str, tuple[int, list[str]]],
    display_names: Mapping[str, str] | None = None,
) -> dict[str, list[Contest]]:
    """For each issue key with an intent Jira no longer holds (intent time, fields), the fields someone
    changed after our write landed. A changelog that cannot be read decides nothing (the intent stays)."""
    if not leftovers:
        return {}
    jira_of = {c.name: c.jira_field for c in codecs}
    me = _author_ids(await client.myself())
    out: dict[str, list[Contest]] = {}
    for key, (intent_ms, names) in leftovers.items():
        try:
            entries = await changelog(client, key)
        except JiraError as exc:
            log.warning("changelog unreadable", key=key, error=str(exc))
            continue
        wanted = {n: jira_of[n] for n in names if n in jira_of}
        found = contested(entries, intent_ms, wanted, me, display_names)
        if found:
            out[key] = found
    return out
