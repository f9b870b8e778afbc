"""Compiled mappings: the protocol the sync engine calls. Compile once, apply to every issue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from jira_console.mapping.candidates import missing_field_message
from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import MappingError, StepError
from jira_console.mapping.model import FieldSelector, MappingDefinition, parse_definition
from jira_console.mapping.steps import StepBase


@dataclass(frozen=True)
class JiraWrite:
    """One change to send to Jira.

    ``field``: ``{"fields": {field_id: value}}``; ``update``: ``{"update": {field_id: value}}`` with ``value``
    a list of operations; ``transition``: ``value`` is the target status name; ``sprint``: ``value`` is a
    sprint id, or None for the backlog.
    """

    kind: Literal["field", "update", "transition", "sprint"]
    field_id: str
    value: Any
    note: str = ""
    """Something the write kept from Jira instead of the local value (rich text, ``rich_text_policy``), for
    the sync to record as a field error; empty when the local value is written as it is."""


def field_dicts(field_list: Iterable[Any] | None) -> list[dict[str, Any]] | None:
    """``/field`` entries as plain dicts; objects with ``id``/``name``/``schema_*`` attributes (the client's
    ``JiraField``) are converted, so both raw JSON and the typed client work."""
    if field_list is None:
        return None
    result = []
    for entry in field_list:
        if isinstance(entry, dict):
            result.append(entry)
            continue
        schema = {
            k: getattr(entry, f"schema_{k}", None)
            for k in ("type", "items", "custom", "system")
            if getattr(entry, f"schema_{k}", None) is not None
        }
        result.append(
            {
                "id": entry.id,
                "name": getattr(entry, "name", None),
                "custom": getattr(entry, "custom", None),
                "schema": schema,
            }  # fmt: skip
        )
    return result


def resolve_field(
    selector: str | FieldSelector, field_list: list[dict[str, Any]] | None
) -> dict[str, Any] | None:
    """The ``/field`` entry a selector names; None when a plain id is not in the list (or there is no list).

    Raises ValueError when a selector matches nothing or several fields (the message lists them).
    """
    if isinstance(selector, str):
        if not field_list:
            return None
        return next((f for f in field_list if f.get("id") == selector), None)
    if field_list is None:
        raise ValueError(f"field selector {selector.describe()} needs the Jira field list to resolve")
    found = [f for f in field_list if selector.matches(f)]
    if not found:
        raise ValueError(missing_field_message(selector, field_list))
    if len(found) > 1:
        listed = ", ".join(f"{f.get('id')} ({f.get('name')})" for f in found)
        raise ValueError(f"{selector.describe()} matches several fields: {listed}; pick one by id")
    return found[0]


class CompiledMapping:
    """A validated mapping bound to a concrete Jira field id, ready to apply. Immutable and reusable."""

    def __init__(self, defn: MappingDefinition, jira_field: str, field_meta: dict[str, Any] | None) -> None:
        self.definition = defn
        self.name = defn.name
        self.internal_field = defn.internal_field
        self.jira_field = jira_field
        self.direction = defn.direction
        self.strategy = defn.strategy
        self.field_meta = field_meta
        self._forward: tuple[tuple[str, StepBase], ...] = tuple(
            (f"steps[{i}] {s.op}", s) for i, s in enumerate(defn.steps)
        )
        if defn.reverse_steps is not None:
            back = [(f"reverse_steps[{i}] {s.op}", s, False) for i, s in enumerate(defn.reverse_steps)]
        elif all(s.is_invertible() for s in defn.steps):
            back = [
                (f"steps[{i}] {s.op} (inverse)", s, True) for i, s in reversed(list(enumerate(defn.steps)))
            ]
        else:
            back = []  # pull-only mappings with a lossy pipeline: pushing is refused below
        self._backward: tuple[tuple[str, StepBase, bool], ...] = tuple(back)
        self._can_push = defn.direction != "pull" and (
            defn.reverse_steps is not None or len(back) == len(defn.steps)
        )
        self._sprint = any(s.op == "sprint" for s in defn.steps)

    def __repr__(self) -> str:
        return f"CompiledMapping({self.name!r}: {self.jira_field} -> {self.internal_field}, {self.direction})"

    @property
    def pulls(self) -> bool:
        return self.direction in ("pull", "both")

    @property
    def pushes(self) -> bool:
        return self.direction in ("push", "both")

    def raw_value(self, fields: dict[str, Any]) -> Any:
        """The raw Jira value this mapping reads from an issue's ``fields``."""
        return fields.get(self.jira_field)

    def from_jira(self, fields: dict[str, Any], ctx: MappingContext) -> Any:
        """Raw Jira ``fields`` -> internal value. Raises :class:`MappingError` naming the failing step."""
        value = fields.get(self.jira_field)
        for label, step in self._forward:
            try:
                value = step.forward(value, ctx)
            except StepError as exc:
                raise MappingError(self.name, label, value, exc.message, unresolved=exc.unresolved) from None
        return value

    def to_jira(self, value: Any, ctx: MappingContext) -> JiraWrite:
        """Internal value -> the write to send. Raises :class:`MappingError`."""
        if not self._can_push:
            raise MappingError(
                self.name, None, value, f"direction is {self.direction!r}; this mapping never writes"
            )
        if ctx.previous_fields is not None:
            # A shallow copy shares ``unresolved``, so users reported during this write reach the caller.
            ctx = replace(ctx, previous=ctx.previous_fields.get(self.jira_field))
        ctx = replace(ctx, notes=[])  # what a rich_text step kept from Jira, for this write only
        for label, step, invert in self._backward:
            try:
                value = step.inverse(value, ctx) if invert else step.forward(value, ctx)
            except StepError as exc:
                raise MappingError(self.name, label, value, exc.message, unresolved=exc.unresolved) from None
        if self.jira_field == "status":
            name = value.get("name") if isinstance(value, dict) else value
            if not isinstance(name, str) or not name:
                raise MappingError(self.name, None, value, "a status change needs a target status name")
            return JiraWrite("transition", self.jira_field, name)
        if self._sprint:
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise MappingError(
                    self.name, None, value, "a sprint write needs a sprint id (or None for backlog)"
                )
            return JiraWrite("sprint", self.jira_field, value)
        note = "; ".join(ctx.notes)
        if self.definition.write == "update":
            return JiraWrite("update", self.jira_field, [{"set": value}], note)
        return JiraWrite("field", self.jira_field, value, note)

    def validate_value(self, value: Any) -> list[str]:
        """Rule violations of an internal value (empty when it passes)."""
        return self.definition.rules.check(value)


def compile_mapping(
    defn: MappingDefinition | dict[str, Any], field_list: list[dict[str, Any]] | None = None
) -> CompiledMapping:
    """Validate (if given as data) and bind a mapping to its Jira field id.

    A plain id compiles without a field list; name/schema selectors need ``field_list`` (``GET /field``).
    Raises :class:`MappingError` (step None) when the selector cannot be resolved.
    """
    defn = parse_definition(defn)
    try:
        meta = resolve_field(defn.jira_field, field_dicts(field_list))
    except ValueError as exc:
        raise MappingError(defn.name, None, defn.field_label(), str(exc)) from None
    field_id = defn.jira_field if isinstance(defn.jira_field, str) else str(meta["id"])  # type: ignore[index]
    return CompiledMapping(defn, field_id, meta)


class MappingSet:
    """The compiled mappings of one connection.

    ``pull`` converts a whole issue and continues past failures: a failing mapping with a ``default`` yields
    the default, one without leaves its internal field out (the local value stays), and every failure is
    returned. Rule violations of pulled values are returned as errors with step ``"validate"`` but the
    value is kept, because Jira holds it already.
    """

    def __init__(self, mappings: Iterable[CompiledMapping], connection: str | None = None) -> None:
        self.mappings = tuple(mappings)
        self.connection = connection
        seen: dict[str, str] = {}
        for m in self.mappings:
            if m.internal_field in seen and m.pulls:
                raise ValueError(
                    f"mappings {seen[m.internal_field]!r} and {m.name!r} both pull into {m.internal_field!r}"
                )
            if m.pulls:
                seen[m.internal_field] = m.name

    @classmethod
    def compile(
        cls,
        definitions: Iterable[MappingDefinition | dict[str, Any]],
        field_list: list[dict[str, Any]] | None = None,
        connection: str | None = None,
    ) -> MappingSet:
        """Compile definitions meant for ``connection`` (those naming another connection are skipped)."""
        compiled = []
        for defn in definitions:
            parsed = parse_definition(defn)
            if connection is not None and parsed.connection not in (None, connection):
                continue
            compiled.append(compile_mapping(parsed, field_list))
        return cls(compiled, connection)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.mappings)

    def __len__(self) -> int:
        return len(self.mappings)

    def get(self, name: str) -> CompiledMapping | None:
        return next((m for m in self.mappings if m.name == name), None)

    def pull(self, fields: dict[str, Any], ctx: MappingContext) -> tuple[dict[str, Any], list[MappingError]]:
        """Raw Jira ``fields`` -> ``{internal_field: value}`` plus every failure met on the way."""
        result: dict[str, Any] = {}
        errors: list[MappingError] = []
        for mapping in self.mappings:
            if not mapping.pulls:
                continue
            try:
                value = mapping.from_jira(fields, ctx)
            except MappingError as exc:
                errors.append(exc)
                if mapping.definition.has_default:
                    result[mapping.internal_field] = mapping.definition.default
                continue
            result[mapping.internal_field] = value
            for problem in mapping.validate_value(value):
                errors.append(MappingError(mapping.name, "validate", value, problem))
        return result, errors

    def push(
        self, internal: dict[str, Any], ctx: MappingContext, only: Iterable[str] | None = None
    ) -> tuple[list[JiraWrite], list[MappingError]]:
        """Internal fields -> writes, for pushing mappings whose internal field is present (and in ``only``).
        Values breaking a rule are not written; the violation is returned instead."""
        wanted = set(only) if only is not None else None
        writes: list[JiraWrite] = []
        errors: list[MappingError] = []
        for mapping in self.mappings:
            if not mapping.pushes or mapping.internal_field not in internal:
                continue
            if wanted is not None and mapping.internal_field not in wanted:
                continue
            value = internal[mapping.internal_field]
            problems = mapping.validate_value(value)
            if problems:
                errors.extend(MappingError(mapping.name, "validate", value, p) for p in problems)
                continue
            try:
                writes.append(mapping.to_jira(value, ctx))
            except MappingError as exc:
                errors.append(exc)
        return writes, errors
