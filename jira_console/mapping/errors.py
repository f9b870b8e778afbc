"""Errors raised while compiling or applying a mapping; each names the mapping, the step and the value."""

from __future__ import annotations

from typing import Any


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class StepError(Exception):
    """Raised by a single step; the compiled mapping adds the mapping name and the step position."""

    def __init__(self, message: str, *, unresolved: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unresolved = unresolved


class MappingError(Exception):
    """A mapping could not convert a value (or its definition is unusable).

    ``step`` is e.g. ``"steps[1] round"``, ``"reverse_steps[0] join"``, ``"validate"`` or None for errors
    about the mapping as a whole. ``unresolved`` marks a user (or sprint) the identity table does not know:
    those are listed for a person to fix, never guessed.
    """

    def __init__(
        self, mapping: str, step: str | None, value: Any, message: str, *, unresolved: bool = False
    ) -> None:
        self.mapping = mapping
        self.step = step
        self.value = value
        self.message = message
        self.unresolved = unresolved
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"mapping {self.mapping!r}, step {self.step or '-'}: {self.message} (value: {_short(self.value)})"
        )


class MappingDefinitionError(ValueError):
    """A mapping definition failed validation; ``problems`` holds one readable line per problem.
    ``mapping`` is None when the problem is the text as a whole (TOML that does not parse, a second
    ``[[mapping]]`` with the same name): the message then names no mapping."""

    def __init__(self, mapping: str | None, problems: list[str]) -> None:
        self.mapping = mapping
        self.problems = problems
        what = (
            f"mapping {mapping!r} is invalid"
            if mapping is not None
            else "the mapping definitions are invalid"
        )
        super().__init__(f"{what}:\n  " + "\n  ".join(problems))
