"""Pushing local changes to Jira: the outbox, choosing dirty issues, planning writes after a fresh compare
with Jira's current version, having them written, and recording the outcome (new base, field errors, the
issue's Jira version so our own write never comes back as a remote change)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jira_console.jira.errors import JiraError
from jira_console.jira.models import JiraField
from jira_console.logs import get_logger
from jira_console.mapping.compiled import JiraWrite as Write
from jira_console.store import identity, outbox, repo, unreadable
from jira_console.store import issues as si
from jira_console.store import sprints as sprint_rows
from jira_console.store.db import UnreadableJson
from jira_console.store.issues import local_value, local_value_problem, set_local_value, unsendable_number
from jira_console.store.models import FieldError, utcnow
from jira_console.sync import base_from
from jira_console.sync.absent import AbsentChange, absent_changes, resolve_absent
from jira_console.sync.apply import decode_issue, merge_into_row, record_field_errors, updated_of
from jira_console.sync.context import SyncContext, SyncIO
from jira_console.sync.crash_window import INTENT_AT, Contest, find_contests, intent_fields
from jira_console.sync.create import create_requested
from jira_console.sync.fields import MappedField, local_edit_problem
from jira_console.sync.follow import adopt_outbox_keys, fetch_following
from jira_console.sync.merge import canonical, same
from jira_console.sync.push_record import REFUSED_STEP as REFUSED_STEP
from jira_console.sync.push_record import TRANSIENT as TRANSIENT
from jira_console.sync.push_record import record_push_outcome as record_push_outcome
from jira_console.sync.report import SyncReport
from jira_console.sync.writer import PushOutcome, write_plans

log = get_logger(__name__)
PUSH_BATCH = 100
UNKNOWN_STEP = "unknown field"
"""The ``field_errors.step`` of a key of ``issues.fields`` a host program wrote that no mapping pushes."""


@dataclass
class IssuePlan:
    """What to write to Jira for one issue, decided after comparing with Jira's current version."""

    key: str
    issue_id: int
    writes: dict[str, Write] = field(default_factory=dict)
    """field name -> Write (from the codec)."""
    values: dict[str, Any] = field(default_factory=dict)
    """field name -> local value being pushed."""
    errors: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    """field name -> what the write kept from Jira instead of the local value (rich text), recorded as a
    field error once written."""
    changed_at: datetime | None = None
    """``local_changed_at`` when the plan was made: a later value means someone edited during the push."""
    absent: list[AbsentChange] = field(default_factory=list)
    """Local changes to fields Jira's representation left out (decided by editmeta, see ``sync.absent``)."""
    absent_refused: dict[str, str] = field(default_factory=dict)
    absent_transient: str | None = None
    previous_fields: dict[str, Any] = field(default_factory=dict)
    issuetype: str | None = None
    before: dict[str, Any] = field(default_factory=dict)
    """field name -> what Jira held when the plan was made (the audit's ``old``: the base may move before
    the outcome is recorded, when the webhook echoing this very write is applied first)."""
    unknown: list[str] = field(default_factory=list)
    """Keys of ``issues.fields`` the host wrote that no mapping pushes (each has its field error)."""


# --- orchestration --------------------------------------------------------------------------------------


async def push(io: SyncIO, ctx: SyncContext, report: SyncReport) -> SyncReport:
    """Write local changes to Jira after a fresh compare, a batch of dirty issues at a time. A failure that
    may pass stops the push and leaves the changes queued; a change Jira refuses is parked as a field error
    on that issue. Issues requested in ``new_issues`` are created first, so that what a create cannot set
    (a status, a sprint) goes out with this push. An issue whose row holds a value the engine cannot read
    is set aside (quarantined, see :mod:`jira_console.store.unreadable`) and its batch pushed without it."""
    await create_requested(io, ctx, report)
    report.moved += await adopt_outbox_keys(io, ctx)
    await asyncio.to_thread(_drain_outbox, io, ctx)
    after_id = 0
    set_aside: set[str] = set()
    while True:
        batch = await asyncio.to_thread(_dirty_batch, io, ctx, after_id, set_aside)
        if not batch:
            break
        try:
            stop = await _push_batch(io, ctx, report, [k for _, k in batch])
        except UnreadableJson:
            found = await asyncio.to_thread(_set_aside, io, ctx, [k for _, k in batch])
            if not found:
                raise
            set_aside.update(found)
            continue  # the same batch again, without them
        after_id = batch[-1][0]
        if stop:
            break
    return report


async def _push_batch(io: SyncIO, ctx: SyncContext, report: SyncReport, batch: list[str]) -> bool:
    """Compare, write and record one batch of dirty issues; True when a failure that may pass stops the
    push there."""
    # Jira answers a moved issue under its new key (the row follows); one it could not read waits.
    followed = await fetch_following(io, ctx, batch)
    report.add_unread(followed.later_ids, "push")
    keys, fresh = followed.keys, followed.fresh
    leftovers = await asyncio.to_thread(_leftovers, io, ctx, keys, fresh)
    contests = await find_contests(io.client, ctx.codecs, leftovers, _display_names(ctx))
    plans, conflicts = await asyncio.to_thread(_plan, io, ctx, keys, fresh, contests)
    report.add_conflicts(conflicts, io.emit)
    if any(p.absent for p in plans):
        await resolve_absent(io.client, plans, lambda plan, changes: _plan_absent(ctx, plan, changes))
        await asyncio.to_thread(_record_absent, io, ctx, plans)
    report.refused_fields += sum(len(p.errors) + len(p.absent_refused) + len(p.unknown) for p in plans)
    plans = [p for p in plans if p.writes]
    if not plans:
        return False
    outcome = await write_plans(io.client, plans)
    report.refused_fields += sum(len(fields) for fields in outcome.refused.values())
    refetched = await _read_back(io, ctx, outcome.written_keys())
    opened: list[tuple[int, str, str]] = []
    report.pushed_fields += await asyncio.to_thread(_record, io, ctx, plans, outcome, refetched, opened)
    report.add_conflicts(opened, io.emit)
    io.emit(report.progressed())  # a long push moves the console's ↑ count
    error = outcome.first_transient()
    if error is None:
        return False
    report.errors.append(error)
    report.status = "partial"
    return True


def _set_aside(io: SyncIO, ctx: SyncContext, keys: Sequence[str]) -> set[str]:
    """Quarantine the issues among ``keys`` whose rows hold a JSON value the engine cannot read (their cause
    names the columns); returns their keys. Their local changes wait until the row is repaired: every sync
    reads a quarantined issue again, and once it applies it is pushed like any other."""
    with io.db.session(write=True) as s:
        found = unreadable.find(s, ctx.name, keys)
        for (key, jira_id), columns in found.items():
            identity.quarantine(
                s, ctx.name, key, jira_id=jira_id, kind=unreadable.KIND, cause=unreadable.cause(columns)
            )
            log.warning("issue set aside: a value the engine cannot read", connection=ctx.name, issue=key)
    return {key for key, _ in found}


async def _read_back(io: SyncIO, ctx: SyncContext, keys: list[str]) -> dict[str, Any]:
    """Jira's versions of the issues just written (their new ``updated`` and normalised values). Without
    them the writes are still recorded (as sent): a failed read-back must not lose their audit lines."""
    if not keys:
        return {}
    try:
        return {i["key"]: i for i in await io.client.bulk_fetch(keys, list(ctx.jira_fields))}
    except JiraError as exc:
        log.warning("refetch after push failed", connection=ctx.name, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - see the docstring; its message may quote a value
        log.error("refetch after push failed on this side", connection=ctx.name, error=type(exc).__name__)
    return {}


def _drain_outbox(io: SyncIO, ctx: SyncContext) -> None:
    # An ordinary session: outbox rows are local edits, which the change capture must see as such.
    with io.db.session(write=True) as s:
        drain_outbox(s, ctx)


def _dirty_batch(io: SyncIO, ctx: SyncContext, after_id: int, skip: set[str]) -> list[tuple[int, str]]:
    with io.db.session() as s:
        return si.dirty_batch(s, ctx.name, after_id, PUSH_BATCH, skip=skip)


def _plan(
    io: SyncIO, ctx: SyncContext, keys: Sequence[str], fresh: Mapping[str, Any], contests: Any
) -> tuple[list[IssuePlan], list[tuple[int, str, str]]]:
    with si.engine_session(io.db) as s:
        return plan_push(s, ctx, keys, fresh, contests)


def _leftovers(
    io: SyncIO, ctx: SyncContext, keys: Sequence[str], fresh: Mapping[str, Any]
) -> dict[str, tuple[int, list[str]]]:
    """Issues whose recorded intent (a write that may have landed before a crash) Jira no longer holds:
    key -> (intent time, those fields). Their changelog decides (see ``sync.crash_window``)."""
    out: dict[str, tuple[int, list[str]]] = {}
    with io.db.session() as s:
        rows = si.issues_by_key(s, ctx.name, keys)
        for key, row in rows.items():
            at = (row.pushing or {}).get(INTENT_AT)
            raw = fresh.get(key)
            if not isinstance(at, int) or raw is None:
                continue
            values = decode_issue(raw, ctx.codecs, ctx)[0]
            moved = [
                n for n, v in intent_fields(row.pushing).items() if n in values and not same(values[n], v)
            ]
            if moved:
                out[key] = (at, moved)
    return out


def _plan_absent(ctx: SyncContext, plan: IssuePlan, changes: Sequence[AbsentChange]) -> None:
    _plan_writes(ctx, plan, changes, plan.previous_fields)


def _record_absent(io: SyncIO, ctx: SyncContext, plans: Sequence[IssuePlan]) -> None:
    with si.engine_session(io.db) as s:
        record_absent(s, ctx, plans)


def record_absent(session: Session, ctx: SyncContext, plans: Sequence[IssuePlan]) -> None:
    """After editmeta: the writes it allowed join the intent; fields it does not offer are parked with a
    field error holding the value (not sent again until it changes); nothing is dropped silently."""
    rows = si.issues_by_key(session, ctx.name, [p.key for p in plans if p.absent], lock=True)
    for plan in plans:
        row = rows.get(plan.key)
        if row is None or not plan.absent:
            continue
        for name, reason in plan.absent_refused.items():
            repo.record_field_error(
                session, row.id, name, reason, step=REFUSED_STEP, value=plan_value(plan, name)
            )
        for name, message in plan.errors.items():
            repo.record_field_error(session, row.id, name, message[:4000])
        row.pushing = _intent(plan.values)
        # Dirty only while something is still to be written or to be decided (editmeta unreadable).
        row.local_dirty = bool(plan.writes) or plan.absent_transient is not None


def _intent(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """What ``issues.pushing`` records before sending: the values, and when (for the crash window)."""
    return {**values, INTENT_AT: int(time.time() * 1000)} if values else None


def plan_value(plan: IssuePlan, name: str) -> Any:
    return next((c.value for c in plan.absent if c.field == name), None)


def _record(
    io: SyncIO,
    ctx: SyncContext,
    plans: Sequence[IssuePlan],
    outcome: PushOutcome,
    refetched: Any,
    opened: list[tuple[int, str, str]],
) -> int:
    with si.engine_session(io.db) as s:
        return record_push_outcome(s, ctx, plans, outcome, refetched, opened)


# --- the database side ----------------------------------------------------------------------------------


_DELETED = "deleted in Jira, no longer visible to the connection's account, or outside its JQL"
_WHY = "`jira-console issues show KEY` says why"


def drain_outbox(session: Session, ctx: SyncContext, limit: int = 1000) -> int:
    """Apply rows a host program put in ``local_changes`` to the issues they name (as local edits)."""
    names = {c.name for c in ctx.codecs if c.direction != "pull"}
    changes = outbox.claim_local_changes(session, ctx.name, limit)
    rows = si.issues_by_key(session, ctx.name, {c.issue_key for c in changes})
    for change in changes:
        issue = rows.get(change.issue_key) or identity.issue_under_old_key(
            session, ctx.name, change.issue_key
        )
        error = None
        # NaN, which canonical() makes None, must be refused rather than clear the field.
        value = change.value if unsendable_number(change.value) is not None else canonical(change.value)
        if change.field not in names:
            error = unknown_field(change.field, names)
        elif change.problem is not None:
            error = change.problem
        elif issue is None:
            error = f"no issue {change.issue_key!r} in connection {ctx.name!r}"
        elif issue.deleted:  # applied, it would wait for ever with the row saying nothing
            error = (
                f"issue {change.issue_key!r} is marked deleted ({_DELETED}): nothing is sent to it; {_WHY}"
            )
        else:
            try:
                if change.field == "sprint_id":  # by its name too, as ``local set`` takes it
                    value = sprint_rows.named_sprint_id(session, ctx.name, value)
                # Refused here, on its own: the column would refuse the whole run's transaction, and Jira
                # a value it never takes (an empty summary) only at the push.
                error = local_edit_problem(change.field, value)
            except ValueError as exc:
                error = str(exc)
        if issue is not None and error is None:
            # A plain local edit: the trigger marks it dirty like any host write; set it explicitly too, so
            # the outbox works where triggers were dropped.
            set_local_value(issue, change.field, value)
            issue.local_dirty = True
            issue.local_changed_at = change.created_at or utcnow()
        outbox.mark_local_change(session, change.id, error=error)
    return len(changes)


def _plan_writes(
    ctx: SyncContext, plan: IssuePlan, pushes: Sequence[Any], previous_fields: dict[str, Any]
) -> None:
    by_name = {c.name: c for c in ctx.codecs}
    write_ctx = replace(ctx.codec_ctx, previous_fields=previous_fields)
    mapping_ctx = replace(ctx.mapping_ctx, previous_fields=previous_fields)
    for d in pushes:
        codec = by_name[d.field]
        # A value no write can carry (NaN story points stored by plain SQL before the guards refused it) is
        # that field's error; sent, it would fail the request and the whole run with it.
        problem = local_value_problem(d.field, d.value)
        if problem is not None:
            plan.errors[d.field] = f"not pushed: {problem}"
            continue
        try:
            plan.writes[d.field] = codec.to_jira(
                d.value, mapping_ctx if isinstance(codec, MappedField) else write_ctx
            )
            plan.values[d.field] = d.value
            if getattr(plan.writes[d.field], "note", ""):
                plan.notes[d.field] = plan.writes[d.field].note
        except Exception as exc:  # noqa: BLE001 - a value that cannot be written is reported, kept
            plan.errors[d.field] = f"cannot write {d.field}: {exc}"


def plan_push(
    session: Session,
    ctx: SyncContext,
    keys: Sequence[str],
    fresh: Mapping[str, Mapping[str, Any]],
    contests: Mapping[str, Sequence[Contest]] | None = None,
) -> tuple[list[IssuePlan], list[tuple[int, str, str]]]:
    """Compare each dirty issue with Jira's current version (compare before write): fields only changed
    locally are planned as writes, fields Jira changed meanwhile are merged like a pull, fields changed on
    both sides follow the strategy (``manual`` opens a conflict instead of overwriting)."""
    plans: list[IssuePlan] = []
    conflicts: list[tuple[int, str, str]] = []
    pushable = [c for c in ctx.codecs if c.direction != "pull"]
    rows = si.issues_by_key(session, ctx.name, keys)
    said_unknown = _unknown_said(session, [row.id for row in rows.values()])
    for row in rows.values():
        raw = fresh.get(row.key)
        if raw is None:
            # Gone from Jira (deleted or no longer visible): keep the local values, say why nothing was sent.
            si.mark_deleted(session, row, reason=si.GONE, actor=ctx.actor)
            record_field_errors(session, row, {"*": f"{si.GONE}; local change kept"}, ())
            row.local_dirty = False
            continue
        values, errors = decode_issue(raw, pushable, ctx)
        disputed = {c.field: c for c in (contests or {}).get(row.key, [])}
        if disputed:
            conflicts.extend(_open_contests(session, row, disputed, values))
            values = {k: v for k, v in values.items() if k not in disputed}
        fields = raw.get("fields") or {}
        base_from.reexpress(row, fields, values, pushable, errors)
        merged = merge_into_row(
            session,
            ctx,
            row,
            values,
            [c for c in pushable if c.name not in disputed],
            updated_ms=updated_of(raw),
        )
        conflicts.extend(merged.conflicts)
        plan = IssuePlan(row.key, int(row.id), changed_at=row.local_changed_at)
        previous_fields = dict((row.raw or {}).get("fields") or {})
        previous_fields.update(raw.get("fields") or {})
        absent = absent_changes(row, raw, pushable, merged.base)
        parked = _still_refused(session, row, [*merged.pushes, *absent])
        _plan_writes(ctx, plan, [d for d in merged.pushes if d.field not in parked], previous_fields)
        plan.absent = [c for c in absent if c.field not in parked]
        plan.previous_fields = previous_fields
        plan.issuetype = ((raw.get("fields") or {}).get("issuetype") or {}).get("name")
        plan.before = {name: values.get(name, merged.base.get(name)) for name in plan.writes}
        # An earlier failure of a field that needs no write any more (it converged another way) is history.
        waiting = {*plan.writes, *errors, *parked, *(c.field for c in plan.absent)}
        settled = [c.name for c in pushable if c.name not in waiting]
        record_field_errors(session, row, {**errors, **plan.errors}, settled)
        plan.unknown = _unknown_fields(session, row, merged.base, pushable, said_unknown.get(row.id, set()))
        row.base = merged.base
        base_from.note(row, fields, values, pushable)
        # The intent is on record before anything is sent (see recognise_own_writes). It holds exactly what
        # is being written now: an older intent for a field no longer pushed is dropped, so a stale one can
        # never make a later Jira edit look like ours.
        row.pushing = _intent(plan.values)
        if not plan.writes and not plan.absent:
            row.local_dirty = False
        plans.append(plan)
    return plans, conflicts


def unknown_field(name: str, known: Iterable[str]) -> str:
    """The refusal of a change to a field no mapping pushes (an outbox row's, a key of ``issues.fields``)."""
    return f"unknown or pull-only field {name!r}; known: {', '.join(sorted(known)) or 'none'}"


def _unknown_said(session: Session, issue_ids: Sequence[int]) -> dict[int, set[str]]:
    """Issue id -> the keys of ``issues.fields`` already said to be unknown (one look-up for a batch)."""
    if not issue_ids:
        return {}
    stmt = select(FieldError.issue_id, FieldError.field).where(
        FieldError.issue_id.in_(list(issue_ids)), FieldError.step == UNKNOWN_STEP
    )
    said: dict[int, set[str]] = {}
    for issue_id, name in session.execute(stmt):
        said.setdefault(issue_id, set()).add(name)
    return said


def _unknown_fields(
    session: Session, row: Any, base: Mapping[str, Any], pushable: Sequence[Any], said: set[str]
) -> list[str]:
    """Keys of ``issues.fields`` a host program wrote (other than what was last agreed) that no mapping
    pushes: each gets the field error an outbox row naming it gets, instead of being ignored without a word.
    One said before for a key that is gone or agreed now is dropped."""
    fields = row.fields if isinstance(row.fields, dict) else {}
    known = [c.name for c in pushable if c.name not in si.CORE_FIELDS]
    unknown = [
        name
        for name, value in fields.items()
        if name not in known and (name not in base or not same(value, base[name]))
    ]
    for name in unknown:
        said_now = unknown_field(name, known) + " (a key of issues.fields)"
        repo.record_field_error(session, row.id, name, said_now, step=UNKNOWN_STEP, value=fields[name])
    for name in said - set(unknown):
        repo.clear_field_error(session, row.id, name)
    return unknown


def _open_contests(
    session: Session, row: Any, disputed: Mapping[str, Contest], values: Mapping[str, Any]
) -> list[tuple[int, str, str]]:
    """Our write landed before a crash and someone changed the field after us: a conflict between their
    edit and the local value, with our write as the base (it was what both sides last held)."""
    out = []
    intent = intent_fields(row.pushing)
    base = dict(row.base or {})
    for name, contest in disputed.items():
        base[name] = intent.get(name)
        at = datetime.fromtimestamp(contest.at_ms / 1000, UTC) if contest.at_ms else None
        conflict = repo.open_conflict(
            session, row.id, name, base=intent.get(name), local=local_value(row, name),
            jira=values.get(name), jira_edited_at=at,
        )  # fmt: skip
        out.append((conflict.id, row.key, name))
        log.warning("changed in Jira after our unrecorded write", key=row.key, field=name, by=contest.by)
    row.base = base
    remaining = {k: v for k, v in (row.pushing or {}).items() if k not in disputed}
    row.pushing = remaining if set(remaining) - {INTENT_AT} else None
    return out


def _still_refused(session: Session, row: Any, pushes: Sequence[Any]) -> set[str]:
    """Fields whose local value is the very value Jira refused last time: sending it again would only be
    refused again (and on every full sync), so it stays parked with its field error until it changes."""
    wanted = {d.field: d.value for d in pushes}
    if not wanted:
        return set()
    stmt = select(FieldError.field, FieldError.value).where(
        FieldError.issue_id == row.id, FieldError.step == REFUSED_STEP, FieldError.field.in_(list(wanted))
    )
    return {name for name, value in session.execute(stmt) if same(value, wanted[name])}


def _display_names(ctx: SyncContext) -> dict[str, str]:
    """Jira field id -> display name, from the site's field list (Server changelogs name custom fields so)."""
    return {f.id: f.name for f in ctx.field_list if isinstance(f, JiraField) and f.name}
