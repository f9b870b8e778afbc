"""The base class of every mapping step: a frozen, validated pydantic model with ``forward``/``inverse``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_serializer

from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import StepError


def _op_required(schema: dict[str, Any]) -> None:
    """Each step's ``op`` has its own name as default, yet the union of steps is told apart by it: the JSON
    schema says it is required, as the union is."""
    required = schema.setdefault("required", [])
    if "op" not in required:
        required.insert(0, "op")


class StepBase(BaseModel):
    """A pure transformation of one value. ``forward`` goes Jira -> internal, ``inverse`` internal -> Jira.

    Subclasses implement ``_forward`` (and ``_inverse`` when ``invertible``). ``None`` passes through both
    ways unless ``passes_none`` is False, because an empty Jira field is ``null`` and must stay empty.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_op_required)

    op: str
    invertible: ClassVar[bool] = False
    passes_none: ClassVar[bool] = True

    def is_invertible(self) -> bool:
        """Whether ``inverse`` is defined for this step (containers ask their children)."""
        return self.invertible

    def forward(self, value: Any, ctx: MappingContext) -> Any:
        """Jira-side value -> internal value; raises :class:`StepError`."""
        if value is None and self.passes_none:
            return None
        return self._forward(value, ctx)

    def inverse(self, value: Any, ctx: MappingContext) -> Any:
        """Internal value -> Jira-side value; raises :class:`StepError` (also when not invertible)."""
        if not self.is_invertible():
            raise StepError(f"step {self.op!r} is not invertible; give the mapping explicit reverse_steps")
        if value is None and self.passes_none:
            return None
        return self._inverse(value, ctx)

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        raise NotImplementedError

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        raise NotImplementedError

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        """Why this step cannot read a Jira field with ``schema`` (from ``/field``), or None if it fits."""
        return None

    @model_serializer(mode="wrap")
    def _always_with_op(self, handler: Any) -> dict[str, Any]:
        # ``exclude_defaults`` would drop the discriminator; the TOML form and the store need it first.
        data = handler(self)
        return {"op": self.op, **{k: v for k, v in data.items() if k != "op"}}


def type_name(value: Any) -> str:
    """A short type name for error messages."""
    return type(value).__name__


def expect(value: Any, kinds: type | tuple[type, ...], what: str) -> Any:
    """Raise a readable :class:`StepError` unless ``value`` is one of ``kinds``."""
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _as_tuple(kinds)):
        raise StepError(f"expected {what}, got {type_name(value)}")
    return value


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)
