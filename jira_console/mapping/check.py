"""Validation of mappings against a Jira site: the field list (``GET /field``) and an ``editmeta``."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jira_console.mapping.candidates import missing_field_message
from jira_console.mapping.compiled import CompiledMapping, field_dicts, resolve_field
from jira_console.mapping.model import MappingDefinition, parse_definition
from jira_console.mapping.steps import MapEach, StepBase
from jira_console.mapping.steps_basic import ValueMap

_READERS = {"option", "options", "user", "team", "sprint", "rich_text", "date", "datetime", "map_each"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a mapping on a given Jira site. ``severity`` is ``error`` or ``warning``."""

    mapping: str
    step: str | None
    value: Any
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        # A problem of the file as a whole names no mapping (its text says where), and a definition problem
        # has no value to show.
        where = f", step {self.step}" if self.step else ""
        named = f"mapping {self.mapping!r}{where}: " if self.mapping else ""
        value = f" (value: {self.value!r})" if self.value is not None else ""
        return f"{self.severity}: {named}{self.message}{value}"


def _first_reader(steps: Iterable[StepBase]) -> tuple[int, StepBase] | None:
    """The step that interprets the raw Jira shape: the first Jira-aware step, if it comes before any
    generic step that would have reshaped the value (a leading ``path`` is fine: it only digs)."""
    for index, step in enumerate(steps):
        if step.op in _READERS:
            return index, step
        if step.op not in ("path", "default_if_empty"):
            return None
    return None


def _allowed_labels(allowed: list[Any]) -> set[str]:
    labels: set[str] = set()
    for item in allowed:
        if isinstance(item, dict):
            for key in ("value", "name", "id", "key"):
                if item.get(key) is not None:
                    labels.add(str(item[key]))
        else:
            labels.add(str(item))
    return labels


def _value_map_after_option(steps: tuple[StepBase, ...]) -> tuple[int, ValueMap] | None:
    for index, step in enumerate(steps):
        if isinstance(step, ValueMap):
            return index, step
        if isinstance(step, MapEach):
            inner = _value_map_after_option(step.steps)
            if inner:
                return index, inner[1]
    return None


def check_mapping(
    defn: MappingDefinition | CompiledMapping | dict[str, Any],
    field_list: list[dict[str, Any]],
    editmeta: dict[str, Any] | None = None,
    *,
    screen: bool = True,
) -> list[Problem]:
    """Every problem of one mapping against a site's field list and (for push/both) an issue's editmeta.

    Checks: the field exists (selectors resolved; the closest fields are named when not); the reading step
    fits the field's schema; a ``value_map``'s Jira side lies within the allowed values that ``editmeta``
    lists (a warning when it lists none); with ``screen``, a pushing mapping's field is on that issue's edit
    screen with a usable operation. ``screen=False`` reads a sample issue's editmeta for the allowed values
    only (the sample may be of another issue type than the ones the mapping writes).
    """
    defn = defn.definition if isinstance(defn, CompiledMapping) else parse_definition(defn)
    field_list = field_dicts(field_list) or []
    try:
        meta = resolve_field(defn.jira_field, field_list)
    except ValueError as exc:
        return [Problem(defn.name, None, defn.field_label(), str(exc))]
    if meta is None:
        message = missing_field_message(defn.jira_field, field_list)
        return [Problem(defn.name, None, defn.field_label(), message)]
    field_id = str(meta["id"])
    problems = _schema_problems(defn, field_id, meta.get("schema") or {})
    if editmeta is None or field_id == "status":
        return problems  # status changes through transitions, which editmeta does not describe
    # Raw JSON has ``{"fields": {...}}``; the client returns the inner dict already.
    edit_fields = editmeta["fields"] if isinstance(editmeta.get("fields"), dict) else editmeta
    entry = edit_fields.get(field_id)
    if screen and defn.direction != "pull":
        problems.extend(_screen_problems(defn, field_id, entry))
        if entry is None:
            return problems
    return problems + _value_map_problems(defn, field_id, entry)


def _screen_problems(defn: MappingDefinition, field_id: str, entry: dict[str, Any] | None) -> list[Problem]:
    """Is a pushing mapping's field on the edit screen, taking ``set``?"""
    if entry is None:
        message = f"field {field_id} is not on the edit screen, so it cannot be pushed"
        return [Problem(defn.name, None, field_id, message)]
    operations = entry.get("operations")
    if operations is not None and "set" not in operations:
        message = f"field {field_id} does not accept 'set' (operations: {operations})"
        return [Problem(defn.name, None, field_id, message)]
    return []


def _schema_problems(defn: MappingDefinition, field_id: str, schema: dict[str, Any]) -> list[Problem]:
    """Does the step that reads the raw Jira shape fit the field's schema?"""
    reader = _first_reader(defn.steps)
    if reader is None:
        return []
    index, step = reader
    if not schema:
        return [
            Problem(
                defn.name,
                f"steps[{index}] {step.op}",
                field_id,
                "the field has no schema to check",
                "warning",
            )
        ]
    problem = step.jira_schema_problem(schema)
    return [Problem(defn.name, f"steps[{index}] {step.op}", field_id, problem)] if problem else []


def _value_map_problems(
    defn: MappingDefinition, field_id: str, entry: dict[str, Any] | None
) -> list[Problem]:
    """Is every Jira value of the mapping's ``value_map`` table one the edit screen allows?"""
    found = _value_map_after_option(defn.steps)
    if found is None:
        return []
    index, vmap = found
    allowed = (entry or {}).get("allowedValues")
    if not allowed:
        return [
            Problem(
                defn.name,
                f"steps[{index}] value_map",
                field_id,
                "the allowed values of the field are unknown; the table cannot be checked",
                "warning",
            )
        ]
    labels = _allowed_labels(allowed)
    return [
        Problem(
            defn.name,
            f"steps[{index}] value_map",
            jira_value,
            f"{jira_value!r} is not an allowed value of {field_id} "
            f"(allowed: {', '.join(sorted(labels)[:12])})",
        )
        for jira_value in vmap.table
        if jira_value not in labels
    ]


def check_mappings(
    definitions: Iterable[MappingDefinition | CompiledMapping | dict[str, Any]],
    field_list: list[dict[str, Any]],
    editmeta: dict[str, Any] | None = None,
    *,
    screen: bool = True,
) -> list[Problem]:
    """:func:`check_mapping` over a set."""
    return [p for d in definitions for p in check_mapping(d, field_list, editmeta, screen=screen)]


async def _call(method: Any, *args: Any) -> Any:
    result = method(*args)
    return await result if inspect.isawaitable(result) else result


async def check_with_client(
    definitions: Iterable[MappingDefinition | CompiledMapping | dict[str, Any]],
    client: Any,
    issue_key: str | None = None,
    *,
    sample_key: str | None = None,
) -> list[Problem]:
    """Fetch ``client.fields()`` (and ``client.editmeta(issue_key)`` when a key is given) and check.

    Any object with those methods works, sync or async. Without an issue key the edit screen is not checked;
    with ``sample_key`` that issue's editmeta still gives the allowed values a ``value_map`` is checked
    against.
    """
    field_list = await _call(client.fields)
    key = issue_key or sample_key
    editmeta = await _call(client.editmeta, key) if key else None
    found = field_dicts(field_list) or []
    return check_mappings(list(definitions), found, editmeta, screen=issue_key is not None)
