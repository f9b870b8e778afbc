"""Mapping regexes cannot pin a CPU: pathological patterns are refused at import, and every match has a
time budget that a slow one fails within."""

from __future__ import annotations

import pytest

from jira_console.mapping import safe_regex
from jira_console.mapping.errors import StepError
from jira_console.mapping.steps_regex import RegexExtract, RegexReplace


@pytest.mark.parametrize(
    "pattern", [r"(a+)+$", r"(\w+\s*)*x", r"^(a*)*$", r"((ab)*)+c", r"(?:x+|y)+z", r"(a|aa)+$"]
)
def test_catastrophic_patterns_are_refused_at_import(pattern: str) -> None:
    with pytest.raises(ValueError, match="rewrite it"):
        RegexExtract(pattern=pattern)
    with pytest.raises(ValueError, match="rewrite it"):
        RegexReplace(pattern=pattern, replacement="")


@pytest.mark.parametrize(
    "pattern", [r"(\d+,)*\d+", r"^[A-Z]+-\d+$", r"(?P<num>\d+)\s*pts?", r"\s+", r"(a{2})+", r"(foo|bar)+"]
)
def test_ordinary_patterns_compile(pattern: str) -> None:
    RegexExtract(pattern=pattern)


def test_a_slow_match_fails_its_value_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # A pattern the import checks let through (the probes' budget is raised for this test) still cannot
    # run long on a value built to make it backtrack: the step fails that value instead.
    monkeypatch.setattr(safe_regex, "_PROBES", ())
    monkeypatch.setattr(safe_regex, "_nested_repeat", lambda _shape: False)
    safe_regex.compile_pattern.cache_clear()
    try:
        step = RegexExtract(pattern=r"(a|aa)+$")
        with pytest.raises(StepError, match="budget"):
            step._forward("a" * 60 + "!", None)  # type: ignore[arg-type]
        replace = RegexReplace(pattern=r"(a|aa)+$", replacement="x")
        with pytest.raises(StepError, match="budget"):
            replace._forward("a" * 60 + "!", None)  # type: ignore[arg-type]
    finally:
        safe_regex.compile_pattern.cache_clear()


def test_steps_keep_their_meaning_on_the_regex_engine() -> None:
    assert RegexExtract(pattern=r"(?P<n>\d+) pts", group="n")._forward("est 13 pts", None) == "13"  # type: ignore[arg-type]
    assert RegexReplace(pattern=r"(\w+)@(\w+)", replacement=r"\2 at \g<1>")._forward("me@host", None) == (  # type: ignore[arg-type]
        "host at me"
    )
    with pytest.raises(ValueError, match="bad replacement"):
        RegexReplace(pattern=r"(a)", replacement=r"\2")
