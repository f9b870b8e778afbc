"""Generic text and list steps: trimming, case, templates, affixes, split/join (regexes: steps_regex)."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import StepError
from jira_console.mapping.steps_base import StepBase, expect, type_name
from jira_console.mapping.steps_basic import to_str


class _Identity(StepBase):
    invertible: ClassVar[bool] = True

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return value


class Trim(_Identity):
    """Strip surrounding white space (inverse: identity, the trimmed text goes back as it is)."""

    op: Literal["trim"] = "trim"

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return expect(value, str, "text").strip()


class Lower(StepBase):
    """Lower-case text. Not invertible: the original case is lost."""

    op: Literal["lower"] = "lower"

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return expect(value, str, "text").lower()


class Upper(StepBase):
    """Upper-case text. Not invertible: the original case is lost."""

    op: Literal["upper"] = "upper"

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return expect(value, str, "text").upper()


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}|[{}]")


def render_template(template: str, value: Any) -> str:
    """Substitute ``{value}`` (the whole value) and ``{key}`` / ``{a.b}`` (keys of an object value).

    Nothing is evaluated: a placeholder is a name or a dotted path, ``{{``/``}}`` are literal braces, and any
    other brace is an error. Missing keys are errors rather than empty strings, so typos surface.
    """

    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name is None:
            raise StepError(
                f"unbalanced brace in template {template!r} (write {{{{ or }}}} for literal braces)"
            )
        if name == "value":
            return to_str(value) if not isinstance(value, dict | list) else str(value)
        current: Any = value
        for part in name.split("."):
            if isinstance(current, dict) and part in current:
                current = current[part]
            else:
                raise StepError(f"template placeholder {{{name}}} not found in the value")
        return (
            ""
            if current is None
            else to_str(current)
            if not isinstance(current, dict | list)
            else str(current)
        )

    return _PLACEHOLDER.sub(sub, template)


class Template(StepBase):
    """Build text from the value: ``"{value} pts"`` or, for objects, ``"{key}: {fields.summary}"``."""

    op: Literal["template"] = "template"
    template: str

    @field_validator("template")
    @classmethod
    def _check(cls, template: str) -> str:
        try:
            render_template(template, {})
        except StepError as exc:
            if "unbalanced" in exc.message:
                raise ValueError(exc.message) from None
        return template

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return render_template(self.template, value)


class Prefix(StepBase):
    """Prepend ``text`` (inverse: remove it; a value without it is an error)."""

    op: Literal["prefix"] = "prefix"
    text: str
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return self.text + expect(value, str, "text")

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        if not expect(value, str, "text").startswith(self.text):
            raise StepError(f"{value!r} does not start with {self.text!r}")
        return value[len(self.text) :]


class Suffix(StepBase):
    """Append ``text`` (inverse: remove it; a value without it is an error)."""

    op: Literal["suffix"] = "suffix"
    text: str
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return expect(value, str, "text") + self.text

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        if not expect(value, str, "text").endswith(self.text):
            raise StepError(f"{value!r} does not end with {self.text!r}")
        return value[: len(value) - len(self.text)] if self.text else value


def _split(value: Any, sep: str, strip: bool) -> list[str]:
    text = expect(value, str, "text")
    if text == "":
        return []
    parts = text.split(sep)
    return [p.strip() for p in parts] if strip else parts


def _join(value: Any, sep: str) -> str:
    items = expect(value, (list, tuple), "a list")
    for item in items:
        if not isinstance(item, str):
            raise StepError(f"join needs a list of text, found {type_name(item)} {item!r}")
        if sep and sep in item:
            raise StepError(f"item {item!r} contains the separator {sep!r}; it would not split back")
    return sep.join(items)


class Split(StepBase):
    """Split text on ``sep`` into a list (inverse: join). The empty string gives an empty list."""

    op: Literal["split"] = "split"
    sep: str = Field(default=",", min_length=1)
    strip: bool = False
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return _split(value, self.sep, self.strip)

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return _join(value, self.sep)


class Join(StepBase):
    """Join a list of text with ``sep`` (inverse: split)."""

    op: Literal["join"] = "join"
    sep: str = Field(default=",", min_length=1)
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return _join(value, self.sep)

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return _split(value, self.sep, False)


class First(StepBase):
    """The first item of a list (None for an empty list). Not invertible: the other items are lost."""

    op: Literal["first"] = "first"

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        items = expect(value, (list, tuple), "a list")
        return items[0] if items else None
