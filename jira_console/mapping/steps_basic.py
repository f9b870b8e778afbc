"""Generic steps: type conversions, numbers, tables, strings, lists and object paths."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import StepError
from jira_console.mapping.steps_base import StepBase, expect, type_name

BackType = Literal["int", "float", "str", "bool", "decimal"]
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", ""}


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            raise StepError(f"{value!r} is not a finite number")
        if value != int(value):
            raise StepError(f"{value!r} is not a whole number (add a round step first)")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return _to_int(Decimal(text))
        except InvalidOperation:
            raise StepError(f"{value!r} is not an integer") from None
    raise StepError(f"cannot convert {type_name(value)} to int")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            raise StepError(f"{value!r} is not a number") from None
        if not math.isfinite(result):
            raise StepError(f"{value!r} is not a finite number")
        return result
    raise StepError(f"cannot convert {type_name(value)} to float")


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, float) and not math.isfinite(value):
        raise StepError(f"{value!r} is not a finite number")
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        # str() first so 0.1 becomes Decimal("0.1"), not its binary expansion.
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise StepError(f"{value!r} is not a decimal number") from None
    raise StepError(f"cannot convert {type_name(value)} to decimal")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise StepError(f"{value!r} is not a boolean (expected true/false, yes/no, 1/0)")


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise StepError(f"cannot convert {type_name(value)} to str (pick a key first with a path step)")


CONVERTERS = {"int": _to_int, "float": _to_float, "str": _to_str, "bool": _to_bool, "decimal": _to_decimal}


class _Convert(StepBase):
    """Convert to a type. The inverse converts to ``back`` when given, else hands the value on unchanged
    (an internal int or float is already a valid value for a Jira number field)."""

    back: BackType | None = None
    invertible: ClassVar[bool] = True
    target: ClassVar[str] = "str"

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return CONVERTERS[self.target](value)

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        back = self.back or ("float" if self.target == "decimal" else None)
        return CONVERTERS[back](value) if back else value


class ToInt(_Convert):
    op: Literal["to_int"] = "to_int"
    target: ClassVar[str] = "int"


class ToFloat(_Convert):
    op: Literal["to_float"] = "to_float"
    target: ClassVar[str] = "float"


class ToStr(_Convert):
    op: Literal["to_str"] = "to_str"
    target: ClassVar[str] = "str"


class ToBool(_Convert):
    op: Literal["to_bool"] = "to_bool"
    target: ClassVar[str] = "bool"


class ToDecimal(_Convert):
    """Convert to :class:`decimal.Decimal` (inverse: float unless ``back`` says otherwise, since JSON has no
    decimal type)."""

    op: Literal["to_decimal"] = "to_decimal"
    target: ClassVar[str] = "decimal"


class Round(StepBase):
    """Round a number. Lossy, but its inverse is the identity: a rounded local value goes back as it is."""

    op: Literal["round"] = "round"
    digits: int = Field(default=0, ge=0, le=15)
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        expect(value, (int, float, Decimal), "a number")
        result = round(value, self.digits)
        return int(result) if self.digits == 0 and isinstance(value, float) else result

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return expect(value, (int, float, Decimal), "a number")


class Scale(StepBase):
    """Multiply by ``factor`` (inverse: divide), e.g. hours <-> seconds."""

    op: Literal["scale"] = "scale"
    factor: float
    invertible: ClassVar[bool] = True

    @field_validator("factor")
    @classmethod
    def _non_zero(cls, value: float) -> float:
        if value == 0 or not math.isfinite(value):
            raise ValueError("factor must be a finite, non-zero number")
        return value

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        expect(value, (int, float, Decimal), "a number")
        return value * (Decimal(str(self.factor)) if isinstance(value, Decimal) else self.factor)

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        expect(value, (int, float, Decimal), "a number")
        return value / (Decimal(str(self.factor)) if isinstance(value, Decimal) else self.factor)


def _lookup_key(value: Any) -> Any:
    # Tables come from TOML, whose keys are strings; a Jira number 3 should find the row "3".
    return value if isinstance(value, str) else str(value) if isinstance(value, int | float) else value


class ValueMap(StepBase):
    """Translate through a table of Jira value -> internal value.

    Unknown Jira values take ``default`` when one is set, otherwise they are an error. The inverse is the
    table read backwards and exists only when the table is one-to-one.
    """

    op: Literal["value_map"] = "value_map"
    table: dict[str, Any]
    default: Any = None

    @field_validator("table")
    @classmethod
    def _not_empty(cls, table: dict[str, Any]) -> dict[str, Any]:
        if not table:
            raise ValueError("table must have at least one entry")
        return table

    def is_invertible(self) -> bool:
        seen: list[Any] = []
        for internal in self.table.values():
            if internal in seen or isinstance(internal, dict | list):
                return False
            seen.append(internal)
        return True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        key = _lookup_key(value)
        if isinstance(key, str) and key in self.table:
            return self.table[key]
        if "default" in self.model_fields_set:
            return self.default
        known = ", ".join(repr(k) for k in list(self.table)[:10])
        raise StepError(f"{value!r} is not in the value_map table (known: {known})")

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        for jira_value, internal in self.table.items():
            if internal == value and type(internal) is type(value):
                return jira_value
        for jira_value, internal in self.table.items():
            if internal == value:
                return jira_value
        raise StepError(f"{value!r} is not an internal value of the value_map table")


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


def _compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None


class RegexExtract(StepBase):
    """The first match of ``pattern`` (its ``group``); no match gives None, or an error when ``required``."""

    op: Literal["regex_extract"] = "regex_extract"
    pattern: str
    group: int | str = 0
    required: bool = False

    @model_validator(mode="after")
    def _check(self) -> RegexExtract:
        compiled = _compile_regex(self.pattern)
        if isinstance(self.group, int) and self.group > compiled.groups:
            raise ValueError(f"group {self.group} does not exist; the pattern has {compiled.groups}")
        if isinstance(self.group, str) and self.group not in compiled.groupindex:
            raise ValueError(f"group {self.group!r} is not a named group of the pattern")
        return self

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        match = re.search(self.pattern, expect(value, str, "text"))
        if match is None:
            if self.required:
                raise StepError(f"pattern {self.pattern!r} does not match")
            return None
        return match.group(self.group)


class RegexReplace(StepBase):
    """``re.sub(pattern, replacement, value)``; ``\\1`` and ``\\g<name>`` refer to groups. Not invertible."""

    op: Literal["regex_replace"] = "regex_replace"
    pattern: str
    replacement: str = ""
    count: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> RegexReplace:
        _compile_regex(self.pattern)
        try:
            # An always-matching twin of the pattern (same groups) lets ``expand`` check group references now
            # rather than on the first issue that happens to match.
            re.match(f"(?:{self.pattern})|", "").expand(self.replacement)  # type: ignore[union-attr]
        except (re.error, IndexError) as exc:
            raise ValueError(f"bad replacement {self.replacement!r}: {exc}") from None
        return self

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        try:
            return re.sub(self.pattern, self.replacement, expect(value, str, "text"), count=self.count)
        except (re.error, IndexError) as exc:
            raise StepError(f"replacement failed: {exc}") from None


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
            return _to_str(value) if not isinstance(value, dict | list) else str(value)
        current: Any = value
        for part in name.split("."):
            if isinstance(current, dict) and part in current:
                current = current[part]
            else:
                raise StepError(f"template placeholder {{{name}}} not found in the value")
        return (
            ""
            if current is None
            else _to_str(current)
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


class Path(StepBase):
    """Pick a key from an object: ``path = "key"`` on ``parent``, ``"name"`` on ``priority``.

    The inverse nests the value back (``"ENG-1"`` -> ``{"key": "ENG-1"}``), the shape Jira accepts for
    ``parent``, ``priority``, ``components`` items and the like. A missing key reads as None.
    """

    op: Literal["path"] = "path"
    path: str = Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        current = value
        for part in self.path.split("."):
            if current is None:
                return None
            if isinstance(current, dict):
                current = current.get(part)
            elif isinstance(current, list) and part.isdigit():
                index = int(part)
                current = current[index] if index < len(current) else None
            else:
                raise StepError(f"cannot read {part!r} from {type_name(current)} (path {self.path!r})")
        return current

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        result = value
        for part in reversed(self.path.split(".")):
            result = {part: result}
        return result


def is_empty(value: Any) -> bool:
    """None, blank text, and empty lists/objects count as empty."""
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {}, ())


class DefaultIfEmpty(StepBase):
    """Replace an empty value (None, blank text, empty list) with ``value`` (inverse: identity)."""

    op: Literal["default_if_empty"] = "default_if_empty"
    value: Any
    invertible: ClassVar[bool] = True
    passes_none: ClassVar[bool] = False

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return self.value if is_empty(value) else value

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return value
