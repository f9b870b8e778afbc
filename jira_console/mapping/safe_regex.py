"""Regular expressions in mappings, bounded: a pattern cannot pin a CPU on one Jira value.

Mapping patterns (``regex_extract``, ``regex_replace``, a rule's ``pattern``) come from operators and run on
every synced value, so they run on the ``regex`` module, whose matching takes a ``timeout``:

- at import (a mapping is validated before it is stored), a pattern is refused when it nests a
  variable-width repeat directly inside another repeat with nothing fixed between them (``(a+)+``,
  ``(\\w+\\s*)*``: the classic catastrophic-backtracking shapes), or when it overruns its budget on a few
  short probe texts;
- at run time every match has :data:`MATCH_BUDGET_SECONDS`; a value that takes longer fails that field
  of that issue with a clear error (the sync goes on), instead of spinning.
"""

from __future__ import annotations

import functools
import re._constants as sre_constants  # the stdlib parser's opcodes, for the shape check
import re._parser as sre_parse
from typing import Any

import regex

MATCH_BUDGET_SECONDS = 0.1
"""Longest one match or substitution may take on one value."""
_PROBE_BUDGET_SECONDS = 0.05
_PROBES = ("a" * 28 + "!", "1" * 28 + "x", "ab " * 10 + "!", "x," * 14 + "!", " " * 28 + "!")
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT)


class PatternError(ValueError):
    """A pattern that is invalid or too costly to run; worded for the operator."""


class MatchTimeout(Exception):
    """A match ran past :data:`MATCH_BUDGET_SECONDS`."""


def _variable(av: Any) -> bool:
    low, high, _ = av
    return bool(high != low and (high == sre_constants.MAXREPEAT or high > 1))


def _items(sub: Any) -> list[tuple[Any, Any]]:
    """A subpattern's items with plain groups unwrapped (``(x)`` is ``x`` for the shape check)."""
    out: list[tuple[Any, Any]] = []
    for op, av in sub:
        if op is sre_constants.SUBPATTERN:
            out.extend(_items(av[3]))
        else:
            out.append((op, av))
    return out


def _loose(op: Any, av: Any) -> bool:
    """An item that may match nothing or a variable amount (a repeat, or a choice with such a branch)."""
    if op in _REPEATS:
        return bool(av[0] == 0 or _variable(av))
    return op is sre_constants.BRANCH and any(_ambiguous_body(alt) for alt in av[1])


def _ambiguous_body(sub: Any) -> bool:
    """A repeated body that can split one text in many ways: only loose items, nothing fixed between."""
    items = _items(sub)
    return (
        bool(items)
        and all(_loose(op, av) for op, av in items)
        and any((op in _REPEATS and _variable(av)) or op is sre_constants.BRANCH for op, av in items)
    )


def _nested_repeat(sub: Any) -> bool:
    for op, av in sub:
        if op in _REPEATS:
            high = av[1]
            if (high == sre_constants.MAXREPEAT or high > 1) and _ambiguous_body(av[2]):
                return True
            if _nested_repeat(av[2]):
                return True
        elif op is sre_constants.SUBPATTERN and _nested_repeat(av[3]):
            return True
        elif op is sre_constants.BRANCH and any(_nested_repeat(alt) for alt in av[1]):
            return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT) and _nested_repeat(av[1]):
            return True
    return False


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """``pattern`` compiled, or :class:`PatternError` when it is invalid or pathological."""
    try:
        compiled = regex.compile(pattern, flags=regex.VERSION0)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise PatternError(f"bad regular expression {pattern!r}: {exc}") from None
    try:
        shape = sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - regex-only syntax: the probes and the run-time budget still apply
        shape = None
    if shape is not None and _nested_repeat(shape):
        raise PatternError(
            f"regular expression {pattern!r} nests a repeat inside a repeat with nothing fixed between "
            "them (like (a+)+): it can take exponential time on some values; rewrite it, e.g. (a+) for (a+)+"
        )
    for probe in _PROBES:
        try:
            compiled.search(probe, timeout=_PROBE_BUDGET_SECONDS)
        except TimeoutError:
            raise PatternError(
                f"regular expression {pattern!r} took over {_PROBE_BUDGET_SECONDS} s on a "
                f"{len(probe)}-character text: it backtracks catastrophically; rewrite it"
            ) from None
    return compiled


def _bounded(call: Any, pattern: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, timeout=MATCH_BUDGET_SECONDS, **kwargs)
    except TimeoutError:
        raise MatchTimeout(
            f"pattern {pattern!r} ran past its {MATCH_BUDGET_SECONDS} s budget on this value"
        ) from None


def search(pattern: str, text: str) -> regex.Match[str] | None:
    """The first match of ``pattern`` in ``text`` within the budget."""
    return _bounded(compile_pattern(pattern).search, pattern, text)  # type: ignore[no-any-return]


def fullmatch(pattern: str, text: str) -> regex.Match[str] | None:
    """``pattern`` matched against the whole of ``text`` within the budget."""
    return _bounded(compile_pattern(pattern).fullmatch, pattern, text)  # type: ignore[no-any-return]


def sub(pattern: str, replacement: str, text: str, count: int = 0) -> str:
    """``re.sub`` semantics within the budget."""
    return _bounded(compile_pattern(pattern).sub, pattern, replacement, text, count=count)  # type: ignore[no-any-return]


def check_replacement(pattern: str, replacement: str) -> None:
    """Raise :class:`PatternError` when ``replacement`` refers to a group ``pattern`` lacks."""
    twin = regex.match(f"(?:{pattern})|", "", flags=regex.VERSION0)
    try:
        assert twin is not None  # the empty alternative always matches
        twin.expand(replacement)
    except (regex.error, IndexError, ValueError) as exc:
        raise PatternError(f"bad replacement {replacement!r}: {exc}") from None
