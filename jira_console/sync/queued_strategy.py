"""The conflict strategy a queued local change carries instead of its connection's
(``issues.queued_strategies``: field -> ``{"strategy": ..., "value": ...}``).

An undo writes back to Jira under ``manual`` whatever the connection says (see :mod:`jira_console.sync.undo`).
When Jira does not answer, the undo's value stays queued as a local change and a later sync writes it; every
merge of the issue until then (that sync's pull and push, a webhook) decides the field under the strategy the
change carries. It holds while the field's local value is the one queued: a local edit made since is a change
of its own, under the connection's strategy. A change no longer queued (written, refused for good, or agreed
on both sides: pulled over, or its conflict resolved) lets go of its strategy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from jira_console.store import models as m
from jira_console.sync.merge import STRATEGIES, FieldDecision, same

KEPT = ("push", "conflict")
"""The merge's decisions that leave the change queued."""


def carry(row: m.Issue, name: str, value: Any, strategy: str) -> None:
    """The local change of ``name`` to ``value`` is decided under ``strategy`` while it is queued."""
    row.queued_strategies = {**_carried(row), name: {"strategy": strategy, "value": value}}


def strategies(row: m.Issue, default: Mapping[str, str], local: Mapping[str, Any]) -> Mapping[str, str]:
    """The strategies to merge ``row`` under: ``default`` (the connection's), except for a field whose local
    value is still the one a queued change carries a strategy with."""
    own = {
        name: str(rule["strategy"])
        for name, rule in _carried(row).items()
        if name in local and same(local[name], rule.get("value"))
    }
    return {**default, **own} if own else default


def settle(row: m.Issue, decisions: Iterable[FieldDecision]) -> None:
    """After a merge of ``row``: a carried field both sides agree on now, or edited locally since, lets go
    of its strategy. One still to push keeps it, and so does one in the conflict queue: every merge until
    the conflict is resolved must find it a conflict again, not push it under the connection's strategy."""
    carried = _carried(row)
    if carried:
        drop(
            row,
            [
                d.field
                for d in decisions
                if d.field in carried
                and (d.action not in KEPT or not same(d.local, carried[d.field]["value"]))
            ],
        )


def drop(row: m.Issue, names: Collection[str]) -> None:
    """The fields ``names`` of ``row`` are no longer queued: their strategy goes."""
    left = {name: rule for name, rule in _carried(row).items() if name not in names}
    if left != (row.queued_strategies or {}):
        row.queued_strategies = left or None


def _carried(row: m.Issue) -> dict[str, dict[str, Any]]:
    """The column's rules the engine can follow (a shape it did not write is ignored, and cleared by drop)."""
    stored = row.queued_strategies
    if not isinstance(stored, Mapping):
        return {}
    return {
        str(name): dict(rule)
        for name, rule in stored.items()
        if isinstance(rule, Mapping) and rule.get("strategy") in STRATEGIES
    }
