"""The mapping definition: what a person writes (in TOML or the console) and the store keeps."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from jira_console.mapping import safe_regex
from jira_console.mapping.errors import MappingDefinitionError
from jira_console.mapping.steps import Step, StepBase

Direction = Literal["pull", "push", "both"]
Strategy = Literal["jira_wins", "local_wins", "newest_wins", "manual"]


class FieldSelector(BaseModel):
    """Finds a Jira field in the ``/field`` list by something sturdier than its id.

    ``schema_custom`` (e.g. ``com.pyxis.greenhopper.jira:gh-sprint``) is the robust choice: names are
    localised and renamed. Several keys together must all match.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        # What _something checks, said in the JSON schema too (the operations API's document).
        json_schema_extra={
            "anyOf": [
                {"required": [key], "properties": {key: {"type": "string", "minLength": 1}}}
                for key in ("id", "name", "schema_custom", "schema_system")
            ]
        },
    )

    id: str | None = None
    name: str | None = None
    schema_custom: str | None = None
    schema_system: str | None = None

    @model_validator(mode="after")
    def _something(self) -> FieldSelector:
        if not any((self.id, self.name, self.schema_custom, self.schema_system)):
            raise ValueError("a field selector needs one of id, name, schema_custom, schema_system")
        return self

    def matches(self, field: dict[str, Any]) -> bool:
        """Whether a ``/field`` entry fits every key given."""
        schema = field.get("schema") or {}
        checks = (
            (self.id, field.get("id")),
            (self.schema_custom, schema.get("custom")),
            (self.schema_system, schema.get("system")),
        )
        if any(want is not None and want != have for want, have in checks):
            return False
        return self.name is None or str(field.get("name", "")).casefold() == self.name.casefold()

    def describe(self) -> str:
        parts = [f"{k} = {v!r}" for k, v in self.model_dump(exclude_none=True).items()]
        return "{" + ", ".join(parts) + "}"


class ValidationRules(BaseModel):
    """Checks on the internal value (after the forward steps, before a push)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["string", "integer", "number", "boolean", "list", "object"] | None = None
    required: bool = False
    min: float | None = None
    """Lowest number, or shortest text/list."""
    max: float | None = None
    """Highest number, or longest text/list."""
    allowed: tuple[Any, ...] | None = None
    pattern: str | None = None
    """A regular expression the whole text must match."""

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                safe_regex.compile_pattern(value)
            except safe_regex.PatternError as exc:
                raise ValueError(str(exc)) from None
        return value

    def check(self, value: Any) -> list[str]:
        """Every rule ``value`` breaks, as readable sentences (empty when it passes)."""
        if value is None or value == "" or value == []:
            return ["a value is required"] if self.required else []
        problems: list[str] = []
        type_checks = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float | Decimal) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "list": lambda v: isinstance(v, list | tuple),
            "object": lambda v: isinstance(v, dict),
        }
        if self.type and not type_checks[self.type](value):
            problems.append(f"expected {self.type}, got {type(value).__name__}")
            return problems
        is_number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
        measure = value if is_number else len(value) if isinstance(value, str | list | tuple) else None
        unit = "" if is_number else " (length)"
        if measure is not None and self.min is not None and measure < self.min:
            problems.append(f"{measure}{unit} is below the minimum {self.min:g}")
        if measure is not None and self.max is not None and measure > self.max:
            problems.append(f"{measure}{unit} is above the maximum {self.max:g}")
        if self.allowed is not None:
            items = value if isinstance(value, list | tuple) else [value]
            bad = [item for item in items if item not in self.allowed]
            if bad:
                problems.append(f"{', '.join(map(repr, bad))} not among the allowed values")
        if self.pattern is not None and isinstance(value, str):
            try:
                if safe_regex.fullmatch(self.pattern, value) is None:
                    problems.append(f"{value!r} does not match the pattern {self.pattern!r}")
            except safe_regex.MatchTimeout as exc:
                problems.append(str(exc))
        return problems


class MappingDefinition(BaseModel):
    """One Jira field <-> one internal field, with the pipeline in between.

    ``steps`` run Jira -> internal. For ``push``/``both`` the way back is ``reverse_steps`` (each run forward,
    internal -> Jira) or, when absent, the inverses of ``steps`` in reverse order; a pipeline with a step that
    has no inverse then needs explicit ``reverse_steps``. ``default`` replaces the value when a step fails on
    pull (the failure is still reported). ``rules`` is spelled ``validate`` in TOML and JSON.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    jira_field: Annotated[str, StringConstraints(pattern=r"\S")] | FieldSelector
    internal_field: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
    direction: Direction = "both"
    steps: tuple[Step, ...] = ()
    reverse_steps: tuple[Step, ...] | None = None
    rules: ValidationRules = Field(default_factory=ValidationRules, alias="validate")
    default: Any = None
    strategy: Strategy | None = None
    connection: str | None = None
    write: Literal["fields", "update"] = "fields"
    """How a push is sent: ``{"fields": {id: value}}`` or ``{"update": {id: [{"set": value}]}}``."""
    description: str | None = None

    @field_validator("jira_field")
    @classmethod
    def _field_id(cls, value: str | FieldSelector) -> str | FieldSelector:
        if isinstance(value, str) and not value.strip():
            raise ValueError("jira_field must not be empty")
        return value

    @model_validator(mode="after")
    def _reverse_needed(self) -> MappingDefinition:
        if self.direction != "pull" and self.reverse_steps is None:
            stuck = [f"steps[{i}] ({s.op})" for i, s in enumerate(self.steps) if not s.is_invertible()]
            if stuck:
                raise ValueError(
                    f"{', '.join(stuck)} cannot be inverted, so direction {self.direction!r} needs explicit "
                    "reverse_steps (or direction = 'pull')"
                )
        return self

    @property
    def has_default(self) -> bool:
        """Whether ``default`` was given (a default of None is different from no default)."""
        return "default" in self.model_fields_set

    def field_label(self) -> str:
        """The Jira field as written: an id or a selector."""
        return self.jira_field if isinstance(self.jira_field, str) else self.jira_field.describe()

    def to_data(self) -> dict[str, Any]:
        """The plain (JSON/TOML-ready) form, defaults left out, ``validate`` spelled as in files."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if self.has_default:
            data["default"] = self.default
        if isinstance(self.jira_field, FieldSelector):
            data["jira_field"] = self.jira_field.model_dump(exclude_none=True)
        return data


def _loc_label(loc: tuple[Any, ...], data: Any) -> str:
    """``('steps', 1, 'round', 'digits')`` -> ``steps[1] (round): digits``."""
    parts: list[str] = []
    index = 0
    while index < len(loc):
        item = loc[index]
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item}]"
            nxt = loc[index + 1] if index + 1 < len(loc) else None
            if isinstance(nxt, str) and nxt.replace("_", "").isalpha() and _is_op(nxt):
                parts[-1] += f" ({nxt})"
                index += 1
        else:
            parts.append(str(item))
        index += 1
    return ".".join(parts)


def _is_op(name: str) -> bool:
    from jira_console.mapping.steps import STEP_OPS

    return name in STEP_OPS


def _unknown_op(op: str) -> str:
    """An unknown step named in words, with the nearest known ones."""
    import difflib

    from jira_console.mapping.steps import STEP_OPS

    near = difflib.get_close_matches(op, sorted(STEP_OPS), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
    return f"unknown step op {op!r}; {hint}the steps are {', '.join(sorted(STEP_OPS))} (docs/mappings.md)"


def parse_definition(data: dict[str, Any] | MappingDefinition) -> MappingDefinition:
    """Validate a mapping from its plain form; problems come back as one readable
    :class:`MappingDefinitionError` naming the mapping and the step."""
    if isinstance(data, MappingDefinition):
        return data
    name = str(data.get("name") or "<unnamed>") if isinstance(data, dict) else "<unnamed>"
    try:
        return MappingDefinition.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            where = _loc_label(tuple(err["loc"]), data) or "definition"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "union_tag_invalid":
                message = _unknown_op(str((err.get("ctx") or {}).get("tag")))
            problems.append(f"{where}: {message}")
        raise MappingDefinitionError(name, problems) from None


__all__ = ["FieldSelector", "MappingDefinition", "StepBase", "ValidationRules", "parse_definition"]
