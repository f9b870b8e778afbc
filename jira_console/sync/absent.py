"""Absent is not empty: Jira leaves out of an issue's representation the fields it has no value for (an
issue without a parent has no ``parent``) and custom fields outside their context for the issue type (story
points on a Bug). A local change to such a field cannot be compared with Jira's value, so the fresh compare
of the push skips it; this module makes sure it is never dropped silently. The issue's ``editmeta`` decides:
a field Jira offers for editing is written like any other change; one it does not is kept, with a field
error saying why (and, like any refused value, not tried again until it changes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jira_console.jira import JiraClient
from jira_console.jira.errors import JiraError
from jira_console.store.issues import local_value
from jira_console.sync.fields import FieldCodec
from jira_console.sync.merge import same


@dataclass(frozen=True)
class AbsentChange:
    """A local change to a field Jira's representation left out (shaped like a merge decision)."""

    field: str
    value: Any
    jira_field: str


def absent_changes(
    row: Any, raw: Mapping[str, Any], codecs: Sequence[FieldCodec], base: Mapping[str, Any]
) -> list[AbsentChange]:
    """Fields changed locally (local differs from the base) whose Jira field is missing from ``raw``."""
    present = raw.get("fields") or {}
    out = []
    for codec in codecs:
        if codec.jira_field == "*" or codec.jira_field in present:
            continue
        value = local_value(row, codec.name)
        if not same(value, base.get(codec.name)):
            out.append(AbsentChange(codec.name, value, codec.jira_field))
    return out


def not_offered(field: str, jira_field: str, issuetype: str | None) -> str:
    what = f" for issue type {issuetype}" if issuetype else ""
    return (
        f"Jira does not offer {field} ({jira_field}) for editing on this issue{what}: it is absent from the "
        "issue and from its editmeta (not on the edit screen, or outside the field's context); local change "
        "kept, not sent"
    )


async def resolve_absent(
    client: JiraClient,
    plans: Sequence[Any],
    plan_writes: Callable[[Any, Sequence[AbsentChange]], None],
) -> None:
    """Ask Jira's editmeta about each plan's absent changes: editable ones are planned as writes (through
    ``plan_writes``), the others land in ``plan.absent_refused`` with the reason. A failed editmeta leaves
    the change queued for the next run (``plan.absent_transient``)."""
    for plan in plans:
        if not plan.absent:
            continue
        try:
            meta = await client.editmeta(plan.key)
        except JiraError as exc:
            plan.absent_transient = f"editmeta could not be read: {exc}"
            continue
        editable = [c for c in plan.absent if c.jira_field in meta]
        if editable:
            plan_writes(plan, editable)
        for c in plan.absent:
            if c.jira_field not in meta:
                plan.absent_refused[c.field] = not_offered(c.field, c.jira_field, plan.issuetype)
