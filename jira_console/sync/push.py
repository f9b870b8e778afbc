"""The database side of pushing local changes: the outbox, choosing dirty issues, planning writes after a
fresh compare with Jira, and recording the outcome. Blocking code, run by the engine in a thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jira_console.store import models as m
from jira_console.sync.apply import (
    audit,
    decode_issue,
    local_value,
    merge_into_row,
    record_field_errors,
    set_local_value,
)
from jira_console.sync.fields import CORE_FIELDS, CodecContext, FieldCodec, MappedField, parse_jira_time
from jira_console.sync.merge import canonical, same


@dataclass
class IssuePlan:
    """What to write to Jira for one issue, decided after comparing with Jira's current version."""

    key: str
    issue_id: int
    writes: dict[str, Any] = field(default_factory=dict)
    """field name -> Write (from the codec)."""
    values: dict[str, Any] = field(default_factory=dict)
    """field name -> local value being pushed."""
    errors: dict[str, str] = field(default_factory=dict)
    changed_at: datetime | None = None
    """``local_changed_at`` when the plan was made: a later value means someone edited during the push."""


def drain_outbox(session: Session, connection: str, codecs: Sequence[FieldCodec], limit: int = 1000) -> int:
    """Apply rows a host program put in ``local_changes`` to the issues they name (as local edits)."""
    names = {c.name for c in codecs if c.direction != "pull"}
    rows = list(
        session.scalars(
            select(m.LocalChange)
            .where(m.LocalChange.connection == connection, m.LocalChange.processed_at.is_(None))
            .order_by(m.LocalChange.id)
            .limit(limit)
        )
    )
    now = datetime.now(UTC)
    for change in rows:
        change.processed_at = now
        if change.field not in names:
            change.error = f"unknown or pull-only field {change.field!r}; known: {', '.join(sorted(names))}"
            continue
        issue = session.scalars(
            select(m.Issue).where(m.Issue.connection == connection, m.Issue.key == change.issue_key)
        ).first()
        if issue is None:
            change.error = f"no issue {change.issue_key!r} in connection {connection!r}"
            continue
        # A plain local edit (no sync_stamp bump): the trigger marks it dirty like any host write; set it
        # explicitly too, so the outbox works where triggers were dropped.
        set_local_value(issue, change.field, canonical(change.value))
        issue.local_dirty = True
        issue.local_changed_at = change.created_at or now
    return len(rows)


def dirty_batch(session: Session, connection: str, after_id: int, limit: int) -> list[tuple[int, str]]:
    return [
        (int(i), str(k))
        for i, k in session.execute(
            select(m.Issue.id, m.Issue.key)
            .where(m.Issue.connection == connection, m.Issue.local_dirty.is_(True), m.Issue.id > after_id)
            .order_by(m.Issue.id)
            .limit(limit)
        )
    ]


def mark_dirty_where_diverged(session: Session, connection: str, codecs: Sequence[FieldCodec]) -> int:
    """Reconciliation: flag issues whose local values differ from the base but are not flagged (a host
    program that bypassed the trigger, or a change parked after a failed write)."""
    open_conflicts = {
        (i, f)
        for i, f in session.execute(
            select(m.Conflict.issue_id, m.Conflict.field).where(
                m.Conflict.connection == connection, m.Conflict.status == "open"
            )
        )
    }
    names = [c.name for c in codecs if c.direction != "pull"]
    core = [n for n in names if n in CORE_FIELDS]
    columns = [getattr(m.Issue, n) for n in core]
    diverged: list[int] = []
    # Plain tuples, not ORM objects: this reads every row of the connection.
    query = select(m.Issue.id, m.Issue.base, m.Issue.fields, *columns).where(
        m.Issue.connection == connection, m.Issue.local_dirty.is_(False)
    )
    for issue_id, base, fields, *values in session.execute(query).yield_per(1000):
        base = base or {}
        local = dict(zip(core, values, strict=True))
        for name in names:
            value = local[name] if name in local else (fields or {}).get(name)
            if name in base and not same(value, base.get(name)) and (issue_id, name) not in open_conflicts:
                diverged.append(issue_id)
                break
    for start in range(0, len(diverged), 500):
        chunk = diverged[start : start + 500]
        session.execute(
            update(m.Issue)
            .where(m.Issue.id.in_(chunk))
            .values(local_dirty=True, sync_stamp=m.Issue.sync_stamp + 1)
            .execution_options(synchronize_session=False)
        )
    return len(diverged)


def plan_push(
    session: Session,
    connection: str,
    keys: Sequence[str],
    fresh: Mapping[str, Mapping[str, Any]],
    codecs: Sequence[FieldCodec],
    ctx: CodecContext,
    *,
    strategies: Mapping[str, str],
    default_strategy: str,
    actor: str,
    mapping_ctx: Any = None,
) -> tuple[list[IssuePlan], list[tuple[int, str, str]]]:
    """Compare each dirty issue with Jira's current version (compare before write): fields only changed
    locally are planned as writes, fields Jira changed meanwhile are merged like a pull, fields changed on
    both sides follow the strategy (``manual`` opens a conflict instead of overwriting)."""
    plans: list[IssuePlan] = []
    conflicts: list[tuple[int, str, str]] = []
    by_name = {c.name: c for c in codecs}
    rows = list(
        session.scalars(select(m.Issue).where(m.Issue.connection == connection, m.Issue.key.in_(keys)))
    )
    for row in rows:
        raw = fresh.get(row.key)
        if raw is None:
            # Gone from Jira (deleted or no longer visible): keep the local values, say why nothing was sent.
            if not row.deleted:
                row.deleted = True
                audit(session, connection, row.key, "local", None, None, None, "deleted in Jira", actor)
            record_field_errors(session, row, {"*": "issue no longer exists in Jira; local change kept"}, ())
            row.local_dirty = False
            row.sync_stamp = (row.sync_stamp or 0) + 1
            continue
        pushable = [c for c in codecs if c.direction != "pull"]
        values, errors = decode_issue(raw, pushable, ctx, mapping_ctx)
        merged = merge_into_row(
            session,
            connection,
            row,
            values,
            pushable,
            updated_ms=parse_jira_time((raw.get("fields") or {}).get("updated")),
            strategies=strategies,
            default_strategy=default_strategy,
            actor=actor,
        )
        base = merged.base
        conflicts.extend(merged.conflicts)
        plan = IssuePlan(row.key, int(row.id), changed_at=row.local_changed_at)
        previous_fields = dict((row.raw or {}).get("fields") or {})
        previous_fields.update(raw.get("fields") or {})
        write_ctx = CodecContext(ctx.flavor, previous_fields)
        for d in merged.pushes:
            codec = by_name[d.field]
            try:
                use_ctx = (
                    _with_previous(mapping_ctx, previous_fields)
                    if isinstance(codec, MappedField)
                    else write_ctx
                )
                plan.writes[d.field] = codec.to_jira(d.value, use_ctx)
                plan.values[d.field] = d.value
            except Exception as exc:  # noqa: BLE001 - a value that cannot be written is reported, kept
                plan.errors[d.field] = f"cannot write {d.field}: {exc}"
        # An earlier failure of a field that needs no write any more (it converged another way) is history.
        settled = [c.name for c in pushable if c.name not in plan.writes and c.name not in errors]
        record_field_errors(session, row, {**errors, **plan.errors}, settled)
        row.base = base
        row.sync_stamp = (row.sync_stamp or 0) + 1
        # The intent is on record before anything is sent (see recognise_own_writes). It holds exactly what
        # is being written now: an older intent for a field no longer pushed is dropped, so a stale one can
        # never make a later Jira edit look like ours.
        row.pushing = dict(plan.values) or None
        if not plan.writes:
            row.local_dirty = False
        plans.append(plan)
    return plans, conflicts


def _with_previous(mapping_ctx: Any, previous_fields: dict[str, Any]) -> Any:
    if mapping_ctx is None:
        return None
    try:
        mapping_ctx.previous_fields = previous_fields
    except AttributeError:
        pass
    return mapping_ctx


def record_push_outcome(
    session: Session,
    connection: str,
    plans: Sequence[IssuePlan],
    succeeded: Mapping[str, set[str]],
    failed: Mapping[str, dict[str, str]],
    refetched: Mapping[str, Mapping[str, Any]],
    codecs: Sequence[FieldCodec],
    ctx: CodecContext,
    *,
    actor: str,
    mapping_ctx: Any = None,
) -> int:
    """After the writes: pushed fields become the new base (as Jira now reads them back), failures are kept
    as field errors with the local value untouched, and the issue's Jira version is recorded so the pull and
    webhooks recognise our own write instead of echoing it."""
    pushed = 0
    rows = {
        r.key: r
        for r in session.scalars(
            select(m.Issue)
            .where(m.Issue.connection == connection, m.Issue.key.in_([p.key for p in plans]))
            .with_for_update()
        )
    }
    for plan in plans:
        row = rows.get(plan.key)
        if row is None:
            continue
        ok = succeeded.get(plan.key, set())
        bad = failed.get(plan.key, {})
        raw = refetched.get(plan.key)
        jira_values: dict[str, Any] = {}
        if raw is not None:
            jira_values, _ = decode_issue(raw, codecs, ctx, mapping_ctx)
        base = dict(row.base or {})
        edited_meanwhile = row.local_changed_at != plan.changed_at
        for name in ok:
            old_base = base.get(name)
            value = jira_values.get(name, plan.values[name])
            # Jira may normalise what we sent (Markdown through ADF, trimmed strings): keep its reading on
            # both sides so the next compare sees no change -- unless the field was edited again meanwhile.
            current = local_value(row, name)
            if same(current, plan.values[name]) and not same(value, current):
                set_local_value(row, name, value)
            base[name] = value
            audit(
                session,
                connection,
                plan.key,
                "jira",
                name,
                old_base,
                plan.values[name],
                "pushed local change",
                actor,
            )
            pushed += 1
        row.base = base
        if raw is not None:
            updated_ms = parse_jira_time((raw.get("fields") or {}).get("updated"))
            if updated_ms is not None and (row.jira_updated_ms is None or updated_ms >= row.jira_updated_ms):
                row.jira_updated_ms = updated_ms
                merged = dict(raw)
                row.raw = merged
        record_field_errors(session, row, bad, list(ok))
        # Done with what was written or refused for good; a transient failure keeps its intent for the retry.
        settled = set(ok) | {n for n, msg in bad.items() if not msg.startswith("transient:")}
        remaining = {n: v for n, v in (row.pushing or {}).items() if n not in settled}
        row.pushing = remaining or None
        # Transient failures keep the issue dirty for the next run; permanent ones are parked as field errors
        # (the value stays local and visible) until someone edits it again or a full sync re-checks it.
        row.local_dirty = edited_meanwhile or any(msg.startswith("transient:") for msg in bad.values())
        row.sync_stamp = (row.sync_stamp or 0) + 1
    return pushed
