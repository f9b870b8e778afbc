"""Applying an undo (planned by :mod:`jira_console.sync.undo`): the steps decided again on locked rows,
local ones written at once, Jira ones staged as local changes and pushed by the push's own steps.

A Jira-side step that Jira does not take for good (refused, or a value that cannot be written) changes
nothing: its row gets back what the undo staged over, in the transaction that records the push. Whether
Jira already holds the value before is read from Jira at the apply, not taken from the local copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jira_console.store import issues as si
from jira_console.store import models as m
from jira_console.store import repo
from jira_console.store.cause import Cause, caused_by
from jira_console.store.issues import local_value, set_local_value
from jira_console.store.models import utcnow
from jira_console.sync import push as push_step
from jira_console.sync import queued_strategy
from jira_console.sync.apply import decode_issue
from jira_console.sync.context import SyncContext, SyncIO
from jira_console.sync.merge import canonical, same
from jira_console.sync.undo import (
    ALREADY,
    JIRA_CHANGED,
    UndoStep,
    plan_undo,
    refuse_pull_only,
    undo_map,
)
from jira_console.sync.writer import PushOutcome, write_plans

UNDO_BATCH = 100
UNCHANGED = "nothing was changed"


@dataclass(frozen=True)
class Staged:
    """What the row of a Jira-side step held before the undo staged its value as a local change: put back
    when Jira does not take the write, so a failed step changes nothing."""

    value: Any
    changed_at: datetime | None
    staged_at: datetime
    error: dict[str, Any] | None
    """The field's error row (message, mapping, step, value, at) before the undo, if it had one."""


Stage = tuple[list[UndoStep], dict[tuple[str, str], Staged]]


def _stage(
    session: Session, ctx: SyncContext, entry_ids: Sequence[int], actor: str, run_id: int | None
) -> Stage:
    """Decide the steps again on locked rows, write the local ones (audited) and turn the Jira ones into
    local changes against the base Jira agreed to, for the push that follows (with what each row held
    before, see ``Staged``)."""
    si.as_engine_write(session)  # the rows are flagged here, explicitly, not by the change capture
    entries = list(session.scalars(select(m.AuditLog).where(m.AuditLog.id.in_(list(entry_ids)))))
    steps = plan_undo(session, [e for e in entries if e.connection == ctx.name], lock=True)
    pushable = {c.name for c in ctx.codecs if c.direction != "pull"}
    synced = {c.name for c in ctx.codecs}
    rows = si.issues_by_key(session, ctx.name, {s.issue_key for s in steps if s.issue_key})
    now = utcnow()
    out: list[UndoStep] = []
    staged: dict[tuple[str, str], Staged] = {}
    with caused_by(Cause("undo", run_id=run_id, undo_of=undo_map(steps))):
        for step in steps:
            row = rows.get(step.issue_key or "")
            jira_conflict = step.action == "conflict" and step.note == JIRA_CHANGED
            if row is None or step.field is None or not (step.action == "write" or jira_conflict):
                out.append(step)
                continue
            if step.field not in synced:
                out.append(replace(step, action="refused", note=f"{step.field} is not a synced field"))
                continue
            refused = refuse_pull_only(step, synced - pushable)
            if refused is not None:
                out.append(refused)
                continue
            if step.side == "jira":
                staged[(row.key, step.field)] = _before(session, row, step, now)
                # Never a silent overwrite, whatever the connection's strategy, also when Jira does not
                # answer now and a later sync writes the value: a field Jira changed meanwhile waits in
                # the conflict queue.
                queued_strategy.carry(row, step.field, step.value, "manual")
            set_local_value(row, step.field, step.value)
            row.local_dirty = True
            row.local_changed_at = now
            if step.side == "local":
                repo.append_audit(
                    session, ctx.name, "local", step.field, step.current, step.value, issue_key=row.key,
                    reason=_reason(step), actor=actor,
                )  # fmt: skip
                out.append(replace(step, action="undone", note="written locally; the next sync pushes it"))
            else:
                out.append(step)
    return out, staged


def _before(session: Session, row: m.Issue, step: UndoStep, now: datetime) -> Staged:
    """The row's state before a Jira-side step is staged. A refusal of this very value parked earlier is
    dropped: the undo asks Jira again, and Jira's answer, not the parked one, decides."""
    name = step.field or ""
    error = session.scalar(
        select(m.FieldError).where(m.FieldError.issue_id == row.id, m.FieldError.field == name)
    )
    kept = None
    if error is not None:
        kept = {k: getattr(error, k) for k in ("message", "mapping", "step", "value", "at")}
        if error.step == push_step.REFUSED_STEP and same(error.value, step.value):
            repo.clear_field_error(session, row.id, name)
    return Staged(local_value(row, name), row.local_changed_at, now, kept)


def _roll_back(
    session: Session, ctx: SyncContext, failed: Sequence[UndoStep], staged: Mapping[tuple[str, str], Staged]
) -> None:
    """Steps Jira did not take for good: each row gets back what the undo staged over (the value, the
    field's error, the time of its last local edit when none of its steps stays), so the local copy keeps
    agreeing with Jira and a later undo decides on the truth. A value edited meanwhile is left alone."""
    rows = si.issues_by_key(session, ctx.name, {s.issue_key or "" for s in failed}, lock=True)
    restored: dict[str, list[Staged]] = {}
    for step in failed:
        row, name = rows.get(step.issue_key or ""), step.field or ""
        was = staged.get((step.issue_key or "", name))
        if row is None or was is None or not same(local_value(row, name), step.value):
            continue
        set_local_value(row, name, was.value)
        queued_strategy.drop(row, [name])
        repo.clear_field_error(session, row.id, name)
        if was.error is not None:
            repo.record_field_error(session, row.id, name, **was.error)
        restored.setdefault(row.key, []).append(was)
    for key, wases in restored.items():
        row = rows[key]
        every = len(wases) == sum(1 for k, _name in staged if k == key)
        if every and row.local_changed_at == wases[0].staged_at:
            row.local_changed_at = wases[0].changed_at


def _reason(step: UndoStep) -> str:
    return "undo of audit " + ", ".join(f"#{i}" for i in step.entries)


async def apply_undo(
    io: SyncIO, ctx: SyncContext, entry_ids: Sequence[int], *, actor: str, run_id: int | None
) -> list[UndoStep]:
    """Undo the lines ``entry_ids`` of this connection as the run ``run_id`` (its audit lines name it).
    Local steps are written at once; Jira steps are pushed now, through the push's compare-before-write.
    Whether Jira already holds a value is read from Jira, never taken from the local copy."""

    def stage() -> Stage:
        with si.engine_session(io.db) as s:
            return _stage(s, ctx, entry_ids, actor, run_id)

    steps, staged = await asyncio.to_thread(stage)
    # Only what was staged: a field edited locally since stays as it is (and is not pushed by the undo).
    to_push = [s for s in steps if s.side == "jira" and (s.issue_key, s.field) in staged]
    outcomes = await _push(io, ctx, to_push, staged, run_id, actor) if to_push else {}
    # Read after the pushes, so a failed read never leaves a staged change unpushed.
    steps = await _confirm_skips(io, ctx, steps)
    return [outcomes.get((s.issue_key or "", s.field or ""), s) for s in steps]


async def _push(
    io: SyncIO,
    ctx: SyncContext,
    to_push: Sequence[UndoStep],
    staged: Mapping[tuple[str, str], Staged],
    run_id: int | None,
    actor: str,
) -> dict[tuple[str, str], UndoStep]:
    """The staged Jira-side steps pushed, a batch of issues at a time: (issue key, field) -> outcome."""
    # The fields carry the strategy manual (see _stage). The audit names whoever asked for the undo.
    as_asked = replace(ctx, actor=actor)
    outcomes: dict[tuple[str, str], UndoStep] = {}
    keys = sorted({s.issue_key for s in to_push if s.issue_key})
    cause = Cause("undo", run_id=run_id, undo_of=undo_map(to_push))
    with caused_by(cause):
        for start in range(0, len(keys), UNDO_BATCH):
            batch = [s for s in to_push if s.issue_key in set(keys[start : start + UNDO_BATCH])]
            for step in await _push_batch(io, as_asked, batch, staged):
                outcomes[(step.issue_key or "", step.field or "")] = step
    return outcomes


async def _fetch(io: SyncIO, ctx: SyncContext, keys: Sequence[str]) -> dict[str, Any]:
    return {i["key"]: i for i in await io.client.bulk_fetch(keys, list(ctx.jira_fields))}


async def _confirm_skips(io: SyncIO, ctx: SyncContext, steps: list[UndoStep]) -> list[UndoStep]:
    """Jira-side steps planned as already done were decided on Jira's value as last synced: confirmed on a
    fresh read, so a value Jira changed since the last sync is reported instead of taken as undone."""

    def planned(step: UndoStep) -> bool:
        return step.side == "jira" and step.action == "skip" and bool(step.issue_key)

    keys = sorted({s.issue_key or "" for s in steps if planned(s)})
    fresh: dict[str, Any] = {}
    for start in range(0, len(keys), UNDO_BATCH):
        fresh.update(await _fetch(io, ctx, keys[start : start + UNDO_BATCH]))
    return [_confirmed(s, fresh, ctx) if planned(s) else s for s in steps]


def _confirmed(step: UndoStep, fresh: Mapping[str, Any], ctx: SyncContext) -> UndoStep:
    key, name = step.issue_key or "", step.field or ""
    if key not in fresh:
        return replace(step, action="refused", note=f"{key} no longer exists in Jira (deletions are final)")
    values = decode_issue(fresh[key], ctx.codecs, ctx)[0]
    if name not in values:  # a field Jira's answer leaves out: as last synced is all there is to go on
        return step
    now = canonical(values[name])
    if same(now, step.value):
        return replace(step, current=now)
    note = f"Jira holds {now!r} now, not as last synced: left as it is; sync, then undo again"
    return replace(step, action="conflict", current=now, note=note)


async def _push_batch(
    io: SyncIO, ctx: SyncContext, steps: Sequence[UndoStep], staged: Mapping[tuple[str, str], Staged]
) -> list[UndoStep]:
    """The push's own steps for these issues: fresh read, plan (merge), write, record; a step Jira did not
    take for good is rolled back in the same transaction as the record (see ``_roll_back``)."""
    keys = sorted({s.issue_key for s in steps if s.issue_key})
    fresh = await _fetch(io, ctx, keys)

    def plan() -> tuple[list[push_step.IssuePlan], list[tuple[int, str, str]]]:
        with si.engine_session(io.db) as s:
            return push_step.plan_push(s, ctx, keys, fresh)

    plans, conflicts = await asyncio.to_thread(plan)
    writing = [p for p in plans if p.writes]
    outcome = await write_plans(io.client, writing) if writing else PushOutcome()
    written = outcome.written_keys()
    refetched = await _fetch(io, ctx, written) if written else {}
    opened = {(key, name): cid for cid, key, name in conflicts}
    done = [_outcome(s, fresh, opened, outcome, plans, ctx) for s in steps]
    # A failure that may pass keeps the change queued: the write may have landed, the next sync finds out.
    failed = [
        s
        for s in done
        if s.action == "failed" and s.field not in outcome.transient.get(s.issue_key or "", {})
    ]

    def record() -> None:
        with si.engine_session(io.db) as s:
            if writing:
                push_step.record_push_outcome(s, ctx, writing, outcome, refetched)
            if failed:
                _roll_back(s, ctx, failed, staged)

    if writing or failed:
        await asyncio.to_thread(record)
    return done


def _outcome(
    step: UndoStep,
    fresh: Mapping[str, Any],
    opened: Mapping[tuple[str, str], int],
    outcome: PushOutcome,
    plans: Sequence[push_step.IssuePlan],
    ctx: SyncContext,
) -> UndoStep:
    key, name = step.issue_key or "", step.field or ""
    if key not in fresh:
        return replace(step, action="refused", note=f"{key} no longer exists in Jira (deletions are final)")
    if (key, name) in opened:
        note = f"changed in Jira since: conflict #{opened[(key, name)]} in the queue"
        return replace(step, action="conflict", note=note)
    if name in outcome.succeeded.get(key, set()):
        return replace(step, action="undone", note="written to Jira")
    refused = outcome.refused.get(key, {}).get(name)
    if refused:
        return replace(step, action="failed", note=f"Jira refused the write: {refused}; {UNCHANGED}")
    transient = outcome.transient.get(key, {}).get(name)
    if transient:
        return replace(step, action="failed", note=f"not written yet (the next sync retries): {transient}")
    error = next((p.errors.get(name) for p in plans if p.key == key and name in p.errors), None)
    if error:
        return replace(step, action="failed", note=f"{error}; {UNCHANGED}")
    # Nothing was written: done only if Jira, read just now, holds the value before.
    values = decode_issue(fresh[key], ctx.codecs, ctx)[0]
    now = canonical(values.get(name))
    if name in values and same(now, step.value):
        return replace(step, action="skip", current=now, note=ALREADY)
    held = f"holds {now!r}" if name in values else f"does not show {name} on {key}"
    return replace(step, action="failed", current=now, note=f"not written to Jira, which {held}; {UNCHANGED}")
