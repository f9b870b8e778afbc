"""Preview: run a mapping over sample issues and show each value on its way in and back out.

Pure and fast (compiled once, no I/O) so the console can rerun it on every keystroke.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jira_console.mapping.compiled import CompiledMapping, JiraWrite, compile_mapping
from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import MappingError
from jira_console.mapping.model import MappingDefinition


@dataclass(frozen=True)
class PreviewRow:
    """One issue seen through a mapping. ``back_to_jira`` is what a push of ``internal_value`` would write
    (None for pull-only mappings or when the pull failed without a default)."""

    key: str
    jira_value: Any
    internal_value: Any
    back_to_jira: JiraWrite | None
    errors: list[str] = field(default_factory=list)
    validation: list[str] = field(default_factory=list)
    used_default: bool = False
    round_trip: bool | None = None
    """Whether reading ``back_to_jira`` again gives ``internal_value`` (None when nothing is written back)."""


def preview(
    mapping: MappingDefinition | CompiledMapping | dict[str, Any],
    raw_issues: list[dict[str, Any]],
    ctx: MappingContext,
    field_list: list[dict[str, Any]] | None = None,
) -> list[PreviewRow]:
    """Rows for ``raw_issues`` (Jira issue JSON with ``key`` and ``fields``). A definition that does not
    compile raises :class:`MappingError` / :class:`MappingDefinitionError`; per-issue failures go in rows."""
    compiled = mapping if isinstance(mapping, CompiledMapping) else compile_mapping(mapping, field_list)
    has_default = compiled.definition.has_default
    rows = []
    for issue in raw_issues:
        fields = issue.get("fields") or {}
        errors: list[str] = []
        used_default = False
        ok = True
        try:
            internal = compiled.from_jira(fields, ctx)
        except MappingError as exc:
            errors.append(str(exc))
            ok = has_default
            used_default = has_default
            internal = compiled.definition.default if has_default else None
        back = None
        if ok and compiled.pushes:
            try:
                back = compiled.to_jira(internal, ctx)
            except MappingError as exc:
                errors.append(str(exc))
        rows.append(
            PreviewRow(
                key=str(issue.get("key", issue.get("id", "?"))),
                jira_value=compiled.raw_value(fields),
                internal_value=internal,
                back_to_jira=back,
                errors=errors,
                validation=compiled.validate_value(internal) if ok else [],
                used_default=used_default,
                round_trip=_round_trip(compiled, back, internal, ctx),
            )
        )
    return rows


def _round_trip(
    compiled: CompiledMapping, back: JiraWrite | None, internal: Any, ctx: MappingContext
) -> bool | None:
    """Internal -> Jira -> internal gives the same value (Jira's own shape differs, e.g. objects with ``self``
    links, so comparing with the raw Jira value would report differences that do not matter)."""
    if back is None or back.kind not in ("field", "sprint"):
        return None
    try:
        again = compiled.from_jira({compiled.jira_field: back.value}, ctx)
    except MappingError:
        return False
    return bool(again == internal)
