"""All step kinds as one discriminated union on ``op``, plus ``map_each`` (which holds steps itself)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter

from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import StepError
from jira_console.mapping.steps_base import StepBase, expect
from jira_console.mapping.steps_basic import (
    DefaultIfEmpty,
    Path,
    Round,
    Scale,
    ToBool,
    ToDecimal,
    ToFloat,
    ToInt,
    ToStr,
    ValueMap,
)
from jira_console.mapping.steps_jira import (
    DateStep,
    DateTimeStep,
    OptionsStep,
    OptionStep,
    RichText,
    SprintStep,
    UserStep,
)
from jira_console.mapping.steps_regex import RegexExtract, RegexReplace
from jira_console.mapping.steps_team import TeamStep
from jira_console.mapping.steps_text import (
    First,
    Join,
    Lower,
    Prefix,
    Split,
    Suffix,
    Template,
    Trim,
    Upper,
)


class MapEach(StepBase):
    """Apply inner ``steps`` to every item of a list (inverse: the inner inverses, per item)."""

    op: Literal["map_each"] = "map_each"
    steps: tuple[Step, ...] = Field(min_length=1)

    def is_invertible(self) -> bool:
        return all(step.is_invertible() for step in self.steps)

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return [
            self._each(item, ctx, index, inverse=False)
            for index, item in enumerate(expect(value, list, "a list"))
        ]

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return [
            self._each(item, ctx, index, inverse=True)
            for index, item in enumerate(expect(value, list, "a list"))
        ]

    def _each(self, item: Any, ctx: MappingContext, index: int, *, inverse: bool) -> Any:
        steps = reversed(self.steps) if inverse else self.steps
        for position, step in zip(
            range(len(self.steps) - 1, -1, -1) if inverse else range(len(self.steps)), steps, strict=True
        ):
            try:
                item = step.inverse(item, ctx) if inverse else step.forward(item, ctx)
            except StepError as exc:
                raise StepError(
                    f"item {index}, inner step {position} ({step.op}): {exc.message}",
                    unresolved=exc.unresolved,
                ) from None
        return item

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        if schema.get("type") != "array":
            return f"map_each needs a list field, the field is {schema.get('type')}"
        item_schema = {"type": schema.get("items")}
        for step in self.steps:
            problem = step.jira_schema_problem(item_schema)
            # Only steps whose schema check is about item *types* matter; custom-type checks need the field.
            if problem and step.op in ("option", "user", "date", "datetime"):
                return f"inside map_each: {problem}"
        return None


Step = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads best spelled out
        ToInt,
        ToFloat,
        ToStr,
        ToBool,
        ToDecimal,
        Round,
        Scale,
        ValueMap,
        OptionStep,
        OptionsStep,
        UserStep,
        TeamStep,
        SprintStep,
        DateStep,
        DateTimeStep,
        Trim,
        Lower,
        Upper,
        RegexExtract,
        RegexReplace,
        Template,
        Prefix,
        Suffix,
        Split,
        Join,
        First,
        MapEach,
        RichText,
        Path,
        DefaultIfEmpty,
    ],
    Field(discriminator="op"),
]
"""Any step, chosen by its ``op``."""

MapEach.model_rebuild()

_STEP_ADAPTER: TypeAdapter[Any] = TypeAdapter(Step)

STEP_OPS: tuple[str, ...] = tuple(
    cls.model_fields["op"].default
    for cls in Step.__origin__.__args__  # type: ignore[attr-defined]
)
"""Every known ``op`` spelling."""


def parse_step(data: dict[str, Any] | StepBase) -> StepBase:
    """Build a step from its TOML/JSON form, e.g. ``{"op": "round", "digits": 1}``."""
    if isinstance(data, StepBase):
        return data
    step: StepBase = _STEP_ADAPTER.validate_python(data)
    return step


__all__ = ["STEP_OPS", "MapEach", "Step", "StepBase", "parse_step"]
