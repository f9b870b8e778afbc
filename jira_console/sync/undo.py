"""Undo from the audit log: the reverse of chosen audit lines, planned against what each side holds now and
applied through the same compare-before-write path as any local change.

An undo groups the chosen lines per issue and field: it writes the value the oldest line found (its ``old``)
where the newest line wrote (its ``side``), provided that side still holds what the newest line left there
(its ``new``). A value changed since is never overwritten:

* a local value edited since is left alone and reported as a conflict;
* a Jira-side undo becomes a local change of the issue (the old value, against the base Jira last agreed
  to) and is pushed at once by the push's own steps (fresh read, three-way merge, writer, outcome), with
  the ``manual`` strategy for the undone fields: a field Jira changed meanwhile opens a conflict in the
  queue instead of being overwritten, and a status is walked through transitions like any status write.
  The strategy stays with the queued change (:mod:`jira_console.sync.queued_strategy`), so a write Jira did
  not answer, retried by a later sync, is not overwritten under the connection's strategy either.
  A write Jira does not take changes nothing, the local copy included (see ``sync.undo_apply``).

Every write is audited by the code that makes it, with the cause ``undo`` (the undo's own run) and the line
it reverses (``undo_of``), so an undo can itself be undone. Changes that wrote no field (an import, a
deletion in Jira) and issues deleted in Jira are refused: Jira deletions are final.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from jira_console.store import creations, host_repair, identity
from jira_console.store import issues as si
from jira_console.store import models as m
from jira_console.store.issues import local_value
from jira_console.sync.merge import FIRST_READ, MAPPINGS_CHANGED, canonical, same

PULL_ONLY = "{} is pull-only: it follows Jira (undo the change in Jira it comes from instead)"
MAPPED = "a mapping change wrote it"
"""The note of a local-side step whose every line a mapping change wrote (a back-fill, a new field's first
read), not a change in Jira."""
PULL_ONLY_MAPPED = (
    "{} is pull-only, and a mapping change wrote this value (Jira did not change): fix the mapping and import"
    " it again instead (the next sync reads every issue again with it)"
)

Action = Literal["write", "skip", "conflict", "refused", "undone", "failed"]
"""Planned: ``write``, ``skip`` (already as before), ``conflict`` (changed since), ``refused``. Applied:
``undone``, ``skip``, ``conflict``, ``refused`` or ``failed`` (Jira refused the write: nothing changed;
or Jira did not answer: the change stays queued for the next sync)."""

ALREADY = "Jira already holds the value before"
JIRA_CHANGED = "changed in Jira since (as last synced)"
"""A planned Jira-side step whose field Jira changed: still pushed on apply, where the fresh compare opens
the conflict in the queue."""


class UndoError(ValueError):
    """A selection that names nothing to undo (none given, an empty run)."""

    exit_code = 2


class EntriesNotFound(UndoError):
    """Audit entry ids that name no line."""

    exit_code = 3


class RunNotFound(UndoError):
    """A run id that names no run (a run that wrote something is never forgotten; one that wrote nothing
    is, a week after it finished)."""

    exit_code = 3


@dataclass(frozen=True)
class UndoSelection:
    """Which audit lines to undo: given ids, every line of a run, or an issue's lines since a moment."""

    entry_ids: tuple[int, ...] = ()
    run_id: int | None = None
    issue_key: str | None = None
    since: datetime | None = None
    connection: str | None = None

    def check(self) -> None:
        chosen = sum((bool(self.entry_ids), self.run_id is not None, self.issue_key is not None))
        if chosen != 1:
            raise UndoError("give audit entry ids, or --run RUN_ID, or --key KEY --since TIME (one of them)")
        if self.issue_key is not None and self.since is None:
            raise UndoError("--key needs --since TIME (how far back to undo the issue's changes)")

    def describe(self) -> str:
        if self.entry_ids:
            return "audit entries " + ", ".join(f"#{i}" for i in self.entry_ids)
        if self.run_id is not None:
            return f"run {self.run_id}"
        return f"{self.issue_key} since {self.since.isoformat() if self.since else '?'}"


@dataclass(frozen=True)
class UndoStep:
    """The reverse of the audit lines of one issue field: what is written where, and what became of it."""

    connection: str
    issue_key: str | None
    field: str | None
    side: str
    """Where the undo writes: ``jira`` or ``local`` (where the undone change was written)."""
    entries: tuple[int, ...]
    """The audit lines reversed, oldest first."""
    expected: Any
    """What the side held after the change (the newest line's ``new``)."""
    value: Any
    """What the undo writes (the oldest line's ``old``)."""
    current: Any
    """What the side holds now (for Jira: as last synced, until the write reads it afresh)."""
    action: Action
    note: str = ""

    @property
    def where(self) -> str:
        return "Jira" if self.side == "jira" else "local database"

    def to_json(self) -> dict[str, Any]:
        return {
            "connection": self.connection, "issue_key": self.issue_key, "field": self.field,
            "side": self.side, "entries": list(self.entries), "expected": self.expected,
            "value": self.value, "current": self.current, "action": self.action, "note": self.note,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UndoStep:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "entries": tuple(known.get("entries") or ())})


@dataclass(frozen=True)
class UndoResult:
    """A planned (dry run) or applied undo."""

    selection: str
    steps: tuple[UndoStep, ...]
    applied: bool
    run_ids: tuple[int, ...] = ()
    """The undo's own runs (one per connection written), whose lines undo the undo."""

    def count(self, action: str) -> int:
        return sum(1 for s in self.steps if s.action == action)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.action] = out.get(step.action, 0) + 1
        return out


# --- choosing and planning ------------------------------------------------------------------------------


def select_entries(session: Session, selection: UndoSelection) -> list[m.AuditLog]:
    """The audit lines a selection names, oldest first; UndoError when it names none (EntriesNotFound for
    unknown ids, RunNotFound for a run id no run has)."""
    selection.check()
    stmt = select(m.AuditLog)
    if selection.connection is not None:
        stmt = stmt.where(m.AuditLog.connection == selection.connection)
    if selection.entry_ids:
        stmt = stmt.where(m.AuditLog.id.in_(selection.entry_ids))
    elif selection.run_id is not None:
        stmt = stmt.where(m.AuditLog.run_id == selection.run_id)
    else:
        stmt = stmt.where(m.AuditLog.issue_key == selection.issue_key)
        stmt = stmt.where(m.AuditLog.at >= selection.since)
    rows = list(session.scalars(stmt.order_by(m.AuditLog.id)))
    if selection.entry_ids:
        missing = sorted(set(selection.entry_ids) - {int(r.id) for r in rows})
        if missing:
            raise EntriesNotFound("no audit entry " + ", ".join(f"#{i}" for i in missing))
    several = sorted({str(r.connection) for r in rows}) if selection.issue_key is not None else []
    if len(several) > 1:  # the same key at two sites is two issues: never undo the one not meant
        raise UndoError(
            f"{selection.issue_key} names an issue of each of several connections ({', '.join(several)}): "
            'say which one (--connection; "connection" in the API)'
        )
    if not rows:
        if selection.run_id is not None and session.get(m.SyncRun, selection.run_id) is None:
            raise RunNotFound(f"no run {selection.run_id} (a sync's report and each audit line give run ids)")
        raise UndoError(f"{selection.describe()}: no audit entries to undo")
    return rows


def _grouped(entries: Iterable[m.AuditLog]) -> dict[tuple[str, str | None, str | None], list[m.AuditLog]]:
    groups: dict[tuple[str, str | None, str | None], list[m.AuditLog]] = {}
    for entry in sorted(entries, key=lambda e: int(e.id)):
        # Lines that wrote no field (imports, deletions) stay one step each: each is refused on its own.
        field_key = entry.field if entry.field is not None else f"#{entry.id}"
        groups.setdefault((entry.connection, entry.issue_key, field_key), []).append(entry)
    return groups


BOOKKEEPING = {
    "key": "a move in Jira (a new key) is not undone here: move the issue back in Jira",
    "updated": "a clamped Jira time is bookkeeping, not a value to put back",
}
"""Audit lines that name something other than a synced field, and why they are not undone."""


def _refusal(first: m.AuditLog, row: m.Issue | None) -> str | None:
    if first.reason == host_repair.REASON:
        return "a value the engine cannot read, set aside by migration 0011: putting it back would stop syncs"
    if first.field is None:
        if "delet" in (first.reason or ""):
            return "a deletion in Jira is final: it cannot be undone"
        if (first.reason or "").startswith(creations.CREATED_IN_JIRA):
            return "a creation in Jira is not undone here: delete the issue in Jira if it should go"
        if (first.reason or "").startswith(
            "moved in Jira"
        ):  # a move's line names no field (the key is Jira's)
            return BOOKKEEPING["key"]
        return f"{first.reason or 'this change'} wrote no field value: nothing to undo"
    if first.field in BOOKKEEPING:
        return BOOKKEEPING[first.field]
    if first.issue_key is None or row is None:
        return f"no issue {first.issue_key!r} in connection {first.connection!r}"
    if row.deleted:
        return f"{row.key} was deleted in Jira; Jira deletions are final, so its changes cannot be undone"
    return None


def _decide(group: Sequence[m.AuditLog], row: m.Issue | None) -> UndoStep:
    """The step of one issue field: refused, already as before, changed since (conflict), or a write."""
    first, last = group[0], group[-1]
    step = UndoStep(
        connection=first.connection, issue_key=row.key if row is not None else first.issue_key,
        field=first.field, side=last.side,
        entries=tuple(int(e.id) for e in group), expected=canonical(last.new), value=canonical(first.old),
        current=None, action="write",
    )  # fmt: skip
    refusal = _refusal(first, row)
    if refusal is not None or row is None or step.field is None:
        return replace(step, action="refused", note=refusal or "")
    local = canonical(local_value(row, step.field))
    jira = canonical((row.base or {}).get(step.field))
    if step.side == "local":
        step = replace(step, current=local)
        if same(local, step.value):
            return replace(step, action="skip", note="the local value is already the one before")
        if not same(local, step.expected):
            return replace(step, action="conflict", note="changed locally since: left as it is")
        mapped = all(e.reason in (MAPPINGS_CHANGED, FIRST_READ) for e in group)
        return replace(step, note=MAPPED) if mapped else step
    step = replace(step, current=jira)
    if not same(local, step.expected) and not same(local, step.value):
        return replace(step, action="conflict", note="changed locally since: left as it is")
    if same(jira, step.value) and same(local, step.value):
        return replace(step, action="skip", note=ALREADY)
    if not same(jira, step.expected) and not same(jira, step.value):
        # Written anyway on apply: the push reads Jira afresh and opens the conflict in the queue.
        return replace(step, action="conflict", note=JIRA_CHANGED)
    return step


def plan_undo(session: Session, entries: Sequence[m.AuditLog], *, lock: bool = False) -> list[UndoStep]:
    """One step per issue field the lines changed, decided against what the rows hold now."""
    groups = _grouped(entries)
    by_conn: dict[str, set[str]] = {}
    for conn, key, _f in groups:
        if key is not None:
            by_conn.setdefault(conn, set()).add(key)
    rows: dict[tuple[str, str], m.Issue] = {}
    for conn, keys in by_conn.items():
        found = si.issues_by_key(session, conn, keys, lock=lock)
        # An issue moved since (a new key in Jira, same issue): the old key names it through its alias.
        moved = {}
        for old_key in keys - set(found):
            alias = identity.resolve_alias(session, conn, old_key)
            if alias is not None:
                moved[old_key] = alias.current_key
        now = si.issues_by_key(session, conn, set(moved.values()), lock=lock) if moved else {}
        found.update({old: now[new] for old, new in moved.items() if new in now})
        rows.update({(conn, key): row for key, row in found.items()})
    return [_decide(group, rows.get((conn, key or ""))) for (conn, key, _f), group in groups.items()]


def undo_map(steps: Iterable[UndoStep]) -> dict[tuple[str, str, str], int]:
    """(issue key, field, side) -> the newest line each step reverses (the audit's ``undo_of``)."""
    return {
        (s.issue_key or "", s.field or "", s.side): s.entries[-1]
        for s in steps
        if s.issue_key and s.field and s.entries
    }


def refuse_pull_only(step: UndoStep, pull_only: Collection[str]) -> UndoStep | None:
    """``step`` refused when it would write a pull-only field, else None. Such a field follows Jira: a local
    value of its own would never reach Jira, and no later sync would bring it back in line (Jira did not
    change), so its source is what to undo: the change in Jira, or the mapping change that wrote it."""
    writes = step.action == "write" or (step.action == "conflict" and step.note == JIRA_CHANGED)
    if not writes or step.field is None or step.field not in pull_only:
        return None
    if step.side == "jira":
        note = f"{step.field} is not written to Jira"
    else:
        note = (PULL_ONLY_MAPPED if step.note == MAPPED else PULL_ONLY).format(step.field)
    return replace(step, action="refused", note=note)
