"""The regular-expression steps, on :mod:`~jira_console.mapping.safe_regex` (refused when pathological,
and a time budget on every match)."""

from __future__ import annotations

from typing import Any, Literal

import regex
from pydantic import Field, model_validator

from jira_console.mapping import safe_regex
from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import StepError
from jira_console.mapping.steps_base import StepBase, expect


def _compile_regex(pattern: str) -> Any:
    try:
        return safe_regex.compile_pattern(pattern)
    except safe_regex.PatternError as exc:
        raise ValueError(str(exc)) from None


class RegexExtract(StepBase):
    """The first match of ``pattern`` (its ``group``); no match gives None, or an error when ``required``.
    Patterns run with a time budget (:mod:`~jira_console.mapping.safe_regex`)."""

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
        try:
            match = safe_regex.search(self.pattern, expect(value, str, "text"))
        except safe_regex.MatchTimeout as exc:
            raise StepError(str(exc)) from None
        if match is None:
            if self.required:
                raise StepError(f"pattern {self.pattern!r} does not match")
            return None
        return match.group(self.group)


class RegexReplace(StepBase):
    """``re.sub(pattern, replacement, value)``; ``\\1`` and ``\\g<name>`` refer to groups. Not invertible.
    Patterns run with a time budget (:mod:`~jira_console.mapping.safe_regex`)."""

    op: Literal["regex_replace"] = "regex_replace"
    pattern: str
    replacement: str = ""
    count: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> RegexReplace:
        _compile_regex(self.pattern)
        try:
            # The replacement's group references are checked now, not on the first issue that matches.
            safe_regex.check_replacement(self.pattern, self.replacement)
        except safe_regex.PatternError as exc:
            raise ValueError(str(exc)) from None
        return self

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        try:
            return safe_regex.sub(
                self.pattern, self.replacement, expect(value, str, "text"), count=self.count
            )
        except safe_regex.MatchTimeout as exc:
            raise StepError(str(exc)) from None
        except (regex.error, IndexError) as exc:
            raise StepError(f"replacement failed: {exc}") from None
