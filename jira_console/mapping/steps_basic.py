"""Generic steps: type conversions, numbers, value tables, object paths and defaults for empty values."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

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


def to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise StepError(f"cannot convert {type_name(value)} to str (pick a key first with a path step)")


CONVERTERS = {"int": _to_int, "float": _to_float, "str": to_str, "bool": _to_bool, "decimal": _to_decimal}


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
