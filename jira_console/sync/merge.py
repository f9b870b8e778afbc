"""Per-field three-way merge: base (last agreed value), local (our database) and Jira.

Pure functions, no I/O: the sync engine feeds them canonical values (already converted by the field codecs,
so ``3`` and ``3.0`` or two orderings of a label set compare equal) and applies the decisions.

The rules, per field:

* local == jira: nothing to write; if the base lags, it catches up (``rebase``).
* only Jira moved away from the base: take Jira (``pull``).
* only the local side moved: send it to Jira (``push``).
* both moved to different values: the field's strategy decides — ``jira_wins`` pulls, ``local_wins`` pushes,
  ``newest_wins`` compares the local change time with Jira's ``updated``, ``manual`` parks the field in the
  conflict queue (``conflict``) and leaves the base alone, so the rest of the issue keeps syncing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

Action = Literal["none", "rebase", "pull", "push", "conflict"]
Strategy = Literal["manual", "jira_wins", "local_wins", "newest_wins"]
STRATEGIES: tuple[str, ...] = ("manual", "jira_wins", "local_wins", "newest_wins")
_MISSING: Any = object()


class FieldDecision(NamedTuple):
    """What to do with one field of one issue. (A named tuple: a merge makes one per field per issue, and a
    frozen dataclass took three times as long to build, a twentieth of applying a webhook batch.)"""

    field: str
    action: Action
    value: Any
    """The value both sides end up with (for ``conflict``: unchanged, nothing is written)."""
    base: Any
    local: Any
    jira: Any
    reason: str


def canonical(value: Any) -> Any:
    """A form in which equal field values compare equal: whole floats become ints, NaN becomes None,
    strings lose trailing whitespace only where Jira itself drops it (never: strings are kept as is)."""
    kind = type(value)  # the exact JSON types first: a page holds ~25 values per issue (no ABC checks)
    if kind is str or kind is int:
        return value
    if kind is dict:
        return {str(k): canonical(v) for k, v in value.items()}
    if kind is list:
        return [canonical(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return int(value)
        return value
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    return value


def same(a: Any, b: Any) -> bool:
    return bool(canonical(a) == canonical(b))


def decide_field(
    field: str,
    base: Any,
    local: Any,
    jira: Any,
    *,
    strategy: str = "manual",
    local_changed_ms: int | None = None,
    jira_updated_ms: int | None = None,
) -> FieldDecision:
    """Merge one field. ``base`` may be ``None`` for a field never synced before (first sight)."""
    if same(local, jira):
        action: Action = "none" if same(base, jira) else "rebase"
        return FieldDecision(field, action, jira, base, local, jira, "both sides agree")
    local_moved = not same(local, base)
    jira_moved = not same(jira, base)
    if jira_moved and not local_moved:
        return FieldDecision(field, "pull", jira, base, local, jira, "changed in Jira")
    if local_moved and not jira_moved:
        return FieldDecision(field, "push", local, base, local, jira, "changed locally")
    # Both moved, to different values.
    if strategy == "jira_wins":
        return FieldDecision(field, "pull", jira, base, local, jira, "both changed; strategy jira_wins")
    if strategy == "local_wins":
        return FieldDecision(field, "push", local, base, local, jira, "both changed; strategy local_wins")
    if strategy == "newest_wins":
        # Ties go to Jira: it is the shared system of record, and a tie cannot be ordered anyway.
        if (
            local_changed_ms is not None
            and jira_updated_ms is not None
            and local_changed_ms > jira_updated_ms
        ):
            return FieldDecision(field, "push", local, base, local, jira, "both changed; local is newer")
        return FieldDecision(field, "pull", jira, base, local, jira, "both changed; Jira is newer")
    return FieldDecision(field, "conflict", None, base, local, jira, "both changed differently")


FIRST_READ = "first read of this field"
"""The reason of a value pulled into a field nothing was agreed on yet (no base)."""
MAPPINGS_CHANGED = "the mappings changed (same Jira version, read again)"
"""The reason of a value pulled from the version the row already held: a mapping now decodes it otherwise."""


def merge_issue(
    fields: Iterable[str],
    base: Mapping[str, Any],
    local: Mapping[str, Any],
    jira: Mapping[str, Any],
    *,
    strategies: Mapping[str, str] | None = None,
    default_strategy: str = "manual",
    local_changed_ms: int | None = None,
    jira_updated_ms: int | None = None,
    first_sight: bool = False,
) -> list[FieldDecision]:
    """Decide every field of one issue.

    ``first_sight`` is true when the issue has no local row yet: Jira's values are taken as they are and
    become the base. Fields missing from ``jira`` (not returned, or a pull-only mapping that failed) are
    skipped.
    """
    strategies = strategies or {}
    decisions: list[FieldDecision] = []
    for name in fields:
        jira_value = jira.get(name, _MISSING)
        if jira_value is _MISSING:
            continue
        if first_sight:
            decisions.append(FieldDecision(name, "pull", jira_value, None, None, jira_value, "new from Jira"))
            continue
        decision = decide_field(
            name,
            base.get(name),
            local.get(name),
            jira_value,
            strategy=strategies.get(name, default_strategy),
            local_changed_ms=local_changed_ms,
            jira_updated_ms=jira_updated_ms,
        )
        if decision.reason == "changed in Jira" and name not in base:
            # Nothing agreed yet on this field: a mapping added since (its back-fill), or a field Jira did
            # not return before. Not a change in Jira, which is what an audit reader would otherwise think.
            decision = decision._replace(reason=FIRST_READ)
        decisions.append(decision)
    return decisions


def apply_decisions(
    base: Mapping[str, Any], local: Mapping[str, Any], decisions: Iterable[FieldDecision]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The (new base, new local, values to push) after applying ``decisions``. Conflicted fields keep their
    base and local values; they are settled by a resolution."""
    new_base = dict(base)
    new_local = dict(local)
    to_push: dict[str, Any] = {}
    for d in decisions:
        if d.action == "conflict":
            continue
        if d.action == "push":
            to_push[d.field] = d.value
        new_base[d.field] = d.value
        new_local[d.field] = d.value
    return new_base, new_local, to_push
