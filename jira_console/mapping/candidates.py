"""The fields a person probably meant when a mapping names one the site does not have: the closest by name
(a typo, another language's name) and those of the same type, so the message says what to write instead."""

from __future__ import annotations

import difflib
from typing import Any

from jira_console.mapping.model import FieldSelector


def _type_of(field: dict[str, Any]) -> str:
    schema = field.get("schema") or {}
    custom = str(schema.get("custom") or "")
    kind = str(schema.get("type") or "?")
    return f"{kind}, {custom.rpartition(':')[2]}" if custom else kind


def describe_field(field: dict[str, Any]) -> str:
    """``customfield_10016 "Story point estimate" (number, jsw-story-points)``."""
    return f'{field.get("id")} "{field.get("name")}" ({_type_of(field)})'


def closest_fields(
    wanted: str | FieldSelector, field_list: list[dict[str, Any]], limit: int = 4
) -> list[dict[str, Any]]:
    """The fields of ``field_list`` closest to what ``wanted`` names: by name (or id) similarity first, then
    fields whose schema type matches the selector's. Empty when nothing is close."""
    by_name: dict[str, dict[str, Any]] = {}
    for field in field_list:
        for label in (field.get("name"), field.get("id")):
            if label:
                by_name.setdefault(str(label).casefold(), field)
    probes: list[str] = []
    if isinstance(wanted, str):
        probes.append(wanted)
    else:
        probes.extend(p for p in (wanted.name, wanted.id) if p)
    found: list[dict[str, Any]] = []
    for probe in probes:
        for label in difflib.get_close_matches(probe.casefold(), list(by_name), n=limit, cutoff=0.6):
            if by_name[label] not in found:
                found.append(by_name[label])
    if isinstance(wanted, FieldSelector) and (wanted.schema_custom or wanted.schema_system):
        for field in field_list:
            schema = field.get("schema") or {}
            same = (wanted.schema_custom and schema.get("custom") == wanted.schema_custom) or (
                wanted.schema_system and schema.get("system") == wanted.schema_system
            )
            if same and field not in found:
                found.append(field)
    return found[:limit]


def missing_field_message(wanted: str | FieldSelector, field_list: list[dict[str, Any]]) -> str:
    """``no Jira field matches {name = 'Story Pointz'}; closest: ...`` (or ``...; nothing close``)."""
    label = wanted if isinstance(wanted, str) else wanted.describe()
    close = closest_fields(wanted, field_list)
    what = (
        "no such field in the Jira field list"
        if isinstance(wanted, str)
        else f"no Jira field matches {label}"
    )
    if not close:
        return f"{what}; nothing close on this site ({len(field_list)} fields)"
    return f"{what}; closest: " + ", ".join(describe_field(f) for f in close)
