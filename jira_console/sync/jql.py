"""The JQL the sync sends: a connection's scope bounded by ``updated`` in epoch milliseconds (exact, and free
of the user's time zone and of minute precision), in the sync's own order.

The scope is always wrapped whole, ``(scope) AND updated >= …``, and it is checked when the configuration
loads (:func:`jql_problem`): balanced parentheses and quotes, and ``ORDER BY`` only as the final clause at
the top level. Otherwise ``a) OR (b`` would turn the wrapper into ``(a) OR (b) AND updated >= …``, where
the time bound binds to only part of the query.
"""

from __future__ import annotations

from jira_console.jql_scope import JqlError, jql_problem, scope_filter

__all__ = [
    "EPOCH_FLOOR_MS", "JqlError", "bounded_jql", "every_key_jql", "jql_problem", "newest_first_jql",
    "scope_filter",
]  # fmt: skip

# Jira reads a small number as a malformed date, and Cloud refuses unbounded searches: a full sync starts at
# 2000-01-01 (older than any Jira issue; Jira was first released in 2002).
EPOCH_FLOOR_MS = 946_684_800_000


def _where(jql: str, since_ms: int | None, until_ms: int | None) -> str:
    filt = scope_filter(jql)
    bound = f"updated >= {max(EPOCH_FLOOR_MS, since_ms or 0)}"
    if until_ms is not None:
        bound += f" AND updated <= {until_ms}"
    return f"({filt}) AND {bound}" if filt else bound


def bounded_jql(jql: str, since_ms: int | None, until_ms: int | None = None) -> str:
    """Issues of the scope updated at or after ``since_ms`` (and at or before ``until_ms``), oldest first."""
    return f"{_where(jql, since_ms, until_ms)} ORDER BY updated ASC, key ASC"


def newest_first_jql(jql: str, since_ms: int | None) -> str:
    """Issues of the scope updated at or after ``since_ms``, newest first (the first one tells the newest)."""
    return f"{_where(jql, since_ms, None)} ORDER BY updated DESC, key DESC"


def every_key_jql(jql: str) -> str:
    """Every issue of the scope, by key (the reconciliation's listing)."""
    return f"{scope_filter(jql) or f'updated >= {EPOCH_FLOOR_MS}'} ORDER BY key ASC"
