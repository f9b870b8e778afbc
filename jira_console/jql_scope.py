"""A connection's JQL as a scope the sync can bound: checked when the configuration loads (balanced
parentheses and quotes, ``ORDER BY`` only as the final top-level clause), and its filter part without the
``ORDER BY``. The sync wraps that filter whole (:mod:`jira_console.sync.jql`)."""

from __future__ import annotations

import re

_ORDER_BY = re.compile(r"order\s+by\b", re.IGNORECASE)
MAX_JQL_LENGTH = 10_000


class JqlError(ValueError):
    """The configured JQL cannot be bounded safely; worded for the operator."""


def _order_by_at(jql: str) -> list[int]:
    """Where each top-level ``ORDER BY`` starts (outside quotes and parentheses). Raises
    :class:`JqlError` for unbalanced parentheses or quotes, or an ``ORDER BY`` inside parentheses."""
    depth = 0
    quote: str | None = None
    found: list[int] = []
    i = 0
    while i < len(jql):
        ch = jql[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise JqlError(f"a ')' at position {i + 1} closes no '('")
        elif (i == 0 or not (jql[i - 1].isalnum() or jql[i - 1] == "_")) and _ORDER_BY.match(jql, i):
            if depth:
                raise JqlError("ORDER BY inside parentheses; it may only end the query")
            found.append(i)
        i += 1
    if quote is not None:
        raise JqlError(f"an unclosed {quote} quote")
    if depth:
        raise JqlError(f"{depth} unclosed '('")
    return found


def jql_problem(jql: str) -> str | None:
    """Why ``jql`` cannot be a connection's scope (None when it can)."""
    if len(jql) > MAX_JQL_LENGTH:
        return f"longer than {MAX_JQL_LENGTH} characters"
    try:
        found = _order_by_at(jql)
    except JqlError as exc:
        return str(exc)
    return "more than one ORDER BY" if len(found) > 1 else None


def scope_filter(jql: str) -> str:
    """The connection's JQL without its ORDER BY clause (the sync orders by itself)."""
    try:
        found = _order_by_at(jql)
    except JqlError:
        # Refused at config load; a scope built elsewhere (tests) keeps the whole text, which the wrapping
        # below still bounds as one group, or Jira refuses.
        found = []
    return (jql[: found[0]] if found else jql).strip()
