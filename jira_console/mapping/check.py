"""Validation of mappings against a Jira site: the field list (``GET /field``) and an ``editmeta``."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jira_console.mapping.compiled import CompiledMapping, field_dicts, resolve_field
from jira_console.mapping.model import MappingDefinition, parse_definition
from jira_console.mapping.steps import MapEach, StepBase
from jira_console.mapping.steps_basic import ValueMap

_READERS = {"option", "options", "user", "sprint", "rich_text", "date", "datetime", "map_each"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a mapping on a given Jira site. ``severity`` is ``error`` or ``warning``."""

    mapping: str
    step: str | None
    value: Any
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f", step {self.step}" if self.step else ""
        return f"{self.severity}: mapping {self.mapping!r}{where}: {self.message} (value: {self.value!r})"


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
) -> list[Problem]:
    """Every problem of one mapping against a site's field list and (for push/both) an issue's editmeta.

    Checks: the field exists (selectors resolved); the reading step fits the field's schema; a pushing
    mapping's field is on the edit screen with a usable operation; a ``value_map``'s Jira side lies within
    the allowed values (a warning when editmeta lists none).
    """
    defn = defn.definition if isinstance(defn, CompiledMapping) else parse_definition(defn)
    field_list = field_dicts(field_list) or []
    problems: list[Problem] = []
    try:
        meta = resolve_field(defn.jira_field, field_list)
    except ValueError as exc:
        return [Problem(defn.name, None, defn.field_label(), str(exc))]
    if meta is None:
        return [Problem(defn.name, None, defn.field_label(), "no such field in the Jira field list")]
    field_id = str(meta["id"])
    schema = meta.get("schema") or {}
    reader = _first_reader(defn.steps)
    if reader is not None:
        index, step = reader
        if not schema:
            problems.append(
                Problem(
                    defn.name,
                    f"steps[{index}] {step.op}",
                    field_id,
                    "the field has no schema to check",
                    "warning",
                )
            )
        else:
            problem = step.jira_schema_problem(schema)
            if problem:
                problems.append(Problem(defn.name, f"steps[{index}] {step.op}", field_id, problem))
    if defn.direction == "pull" or editmeta is None:
        return problems
    # Raw JSON has ``{"fields": {...}}``; the client returns the inner dict already.
    edit_fields = editmeta["fields"] if isinstance(editmeta.get("fields"), dict) else editmeta
    entry = edit_fields.get(field_id)
    if field_id == "status":
        return problems  # status changes through transitions, which editmeta does not describe
    if entry is None:
        problems.append(
            Problem(
                defn.name,
                None,
                field_id,
                f"field {field_id} is not on the edit screen, so it cannot be pushed",
            )
        )
        return problems
    operations = entry.get("operations")
    wanted = "set"
    if operations is not None and wanted not in operations:
        problems.append(
            Problem(
                defn.name,
                None,
                field_id,
                f"field {field_id} does not accept {wanted!r} (operations: {operations})",
            )
        )
    found = _value_map_after_option(defn.steps)
    if found is not None:
        index, vmap = found
        allowed = entry.get("allowedValues")
        if not allowed:
            problems.append(
                Problem(
                    defn.name,
                    f"steps[{index}] value_map",
                    field_id,
                    "the allowed values of the field are unknown; the table cannot be checked",
                    "warning",
                )
            )
        else:
            labels = _allowed_labels(allowed)
            for jira_value in vmap.table:
                if jira_value not in labels:
                    problems.append(
                        Problem(
                            defn.name,
                            f"steps[{index}] value_map",
                            jira_value,
                            f"{jira_value!r} is not an allowed value of {field_id} "
                            f"(allowed: {', '.join(sorted(labels)[:12])})",
                        )
                    )
    return problems


def check_mappings(
    definitions: Iterable[MappingDefinition | CompiledMapping | dict[str, Any]],
    field_list: list[dict[str, Any]],
    editmeta: dict[str, Any] | None = None,
) -> list[Problem]:
    """:func:`check_mapping` over a set."""
    return [p for d in definitions for p in check_mapping(d, field_list, editmeta)]


async def _call(method: Any, *args: Any) -> Any:
    result = method(*args)
    return await result if inspect.isawaitable(result) else result


async def check_with_client(
    definitions: Iterable[MappingDefinition | CompiledMapping | dict[str, Any]],
    client: Any,
    issue_key: str | None = None,
) -> list[Problem]:
    """Fetch ``client.fields()`` (and ``client.editmeta(issue_key)`` when a key is given) and check.

    Any object with those methods works, sync or async; without an issue key the edit screen is not checked.
    """
    field_list = await _call(client.fields)
    editmeta = await _call(client.editmeta, issue_key) if issue_key else None
    return check_mappings(list(definitions), field_dicts(field_list) or [], editmeta)
