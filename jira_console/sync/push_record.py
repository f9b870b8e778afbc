"""Recording what a push wrote: pushed fields become the new base and get their audit line, refusals and
failures become field errors, and the issue's Jira version read back is stored so our own write never comes
back as a remote change.

A batch is recorded in one savepoint. When that fails for anything but the database itself, each issue is
recorded again on its own: one issue whose record fails (a row the engine cannot read, a bug) must not take
the records of the others with it, since their writes reached Jira and the audit log is the promise that
every such write can be found and undone. An issue whose record fails even so still gets the audit lines of
what reached Jira, and a field error per written field saying what happened; it stays dirty, and the next
sync's compare with Jira settles its base.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from jira_console.logs import get_logger
from jira_console.store import issues as si
from jira_console.store import repo
from jira_console.store.issues import local_value, set_local_value
from jira_console.sync import base_from, queued_strategy
from jira_console.sync.apply import decode_issue, merge_into_row, record_field_errors, updated_of
from jira_console.sync.context import SyncContext
from jira_console.sync.crash_window import INTENT_AT
from jira_console.sync.failures import describe, is_connection_failure
from jira_console.sync.merge import same
from jira_console.sync.writer import PushOutcome

if TYPE_CHECKING:
    from jira_console.sync.push import IssuePlan

log = get_logger(__name__)

TRANSIENT = "transient: "
"""How a field error left by a failure that may pass reads (the change stays queued)."""
REFUSED_STEP = "refused by Jira"
"""The ``field_errors.step`` of a value Jira refused; ``field_errors.value`` holds that value, which is not
sent again until the field changes again."""
PUSHED = "pushed local change"
"""The reason of the audit line of a field written to Jira by a push."""


def record_push_outcome(
    session: Session,
    ctx: SyncContext,
    plans: Sequence[IssuePlan],
    outcome: PushOutcome,
    refetched: Mapping[str, Mapping[str, Any]],
    opened: list[tuple[int, str, str]] | None = None,
) -> int:
    """After the writes: pushed fields become the new base (as Jira now reads them back), failures are kept
    as field errors with the local value untouched, and the issue's Jira version is recorded so the pull and
    webhooks recognise our own write instead of echoing it. Returns how many fields were pushed; conflicts
    the rest of that version opens go to ``opened`` ((id, issue key, field) each). See the module docstring
    for a batch whose record fails."""
    found: list[tuple[int, str, str]] = []
    try:
        with session.begin_nested():
            pushed = _record(session, ctx, plans, outcome, refetched, found)
    except Exception as exc:
        if is_connection_failure(exc):
            raise
        log.warning(
            "recording a push failed; recording its issues one by one",
            connection=ctx.name, error=str(describe(exc)),
        )  # fmt: skip
    else:
        (opened if opened is not None else []).extend(found)
        return pushed
    pushed = 0
    for plan in plans:
        found = []
        try:
            with session.begin_nested():
                pushed += _record(session, ctx, [plan], outcome, refetched, found)
        except Exception as exc:
            if is_connection_failure(exc):
                raise
            pushed += _record_written_only(session, ctx, plan, outcome, exc)
        else:
            (opened if opened is not None else []).extend(found)
    return pushed


def _record_written_only(
    session: Session, ctx: SyncContext, plan: IssuePlan, outcome: PushOutcome, exc: Exception
) -> int:
    """What must survive a failed record of one issue: an audit line per field Jira took (the issue's row is
    not needed for it) and a field error saying the write is not recorded yet."""
    failure = describe(exc)
    ok = sorted(outcome.succeeded.get(plan.key, set()))
    log.error(
        "written to Jira, but the outcome could not be recorded; audited, the next sync settles the rest",
        connection=ctx.name, issue=plan.key, fields=ok, error=str(failure),
    )  # fmt: skip
    said = f"written to Jira, but the sync could not record it ({failure}); the next sync compares again"
    for name in ok:
        repo.append_audit(
            session, ctx.name, "jira", name, plan.before.get(name), plan.values[name],
            issue_key=plan.key, reason=PUSHED, actor=ctx.actor,
        )  # fmt: skip
        repo.record_field_error(session, plan.issue_id, name, said[:4000])
    return len(ok)


def _record(
    session: Session,
    ctx: SyncContext,
    plans: Sequence[IssuePlan],
    outcome: PushOutcome,
    refetched: Mapping[str, Mapping[str, Any]],
    opened: list[tuple[int, str, str]],
) -> int:
    pushed = 0
    rows = si.issues_by_key(session, ctx.name, [p.key for p in plans], lock=True)
    for plan in plans:
        row = rows.get(plan.key)
        if row is None:
            continue
        ok = outcome.succeeded.get(plan.key, set())
        refused = outcome.refused.get(plan.key, {})
        transient = outcome.transient.get(plan.key, {})
        raw = refetched.get(plan.key)
        jira_values = decode_issue(raw, ctx.codecs, ctx)[0] if raw is not None else {}
        edited_meanwhile = row.local_changed_at != plan.changed_at
        base = dict(row.base or {})
        for name in ok:
            old_base = plan.before.get(name, base.get(name))
            value = jira_values.get(name, plan.values[name])
            # Jira may normalise what we sent (Markdown through ADF, trimmed strings): keep its reading on
            # both sides so the next compare sees no change -- unless the field was edited again meanwhile.
            current = local_value(row, name)
            if same(current, plan.values[name]) and not same(value, current):
                set_local_value(row, name, value)
            base[name] = value
            repo.append_audit(
                session, ctx.name, "jira", name, old_base, plan.values[name],
                issue_key=plan.key, reason=PUSHED, actor=ctx.actor,
            )  # fmt: skip
            pushed += 1
        row.base = base
        updated_ms = updated_of(raw) if raw is not None else None
        if updated_ms is not None and (row.jira_updated_ms is None or updated_ms >= row.jira_updated_ms):
            # The version read back becomes the stored one, so no pull applies it again: what else it holds
            # (a pull-only mapping of a pushed field, Jira's own reaction to the write) is merged now.
            others = {n: v for n, v in jira_values.items() if n not in plan.values}
            if others:
                merged = merge_into_row(session, ctx, row, others, ctx.codecs, updated_ms=updated_ms)
                row.base = merged.base
                opened.extend(merged.conflicts)
            row.jira_updated_ms = updated_ms
            row.raw = dict(raw or {})
        if raw is not None:
            base_from.note(row, raw.get("fields") or {}, jira_values, ctx.codecs)
        record_field_errors(session, row, {n: f"{TRANSIENT}{m}" for n, m in transient.items()}, list(ok))
        for name, reason in refused.items():
            value = plan.values.get(name)
            said = reason + _refusal_hint(ctx, name, value)
            repo.record_field_error(session, row.id, name, said[:4000], step=REFUSED_STEP, value=value)
        for name in set(ok) & plan.notes.keys():  # written, but part of Jira's content was kept: say what
            repo.record_field_error(session, row.id, name, plan.notes[name][:4000], step="rich_text_policy")
        # Done with what was written or refused for good; a transient failure keeps its intent for the retry.
        settled = set(ok) | set(refused)
        queued_strategy.drop(row, settled)
        remaining = {n: v for n, v in (row.pushing or {}).items() if n not in settled}
        row.pushing = remaining if set(remaining) - {INTENT_AT} else None
        # Transient failures keep the issue dirty for the next run; refused ones are parked as field errors
        # (the value stays local and visible) until someone edits it again or a full sync re-checks it.
        row.local_dirty = edited_meanwhile or bool(transient)
    return pushed


def _refusal_hint(ctx: SyncContext, name: str, value: Any) -> str:
    """What Jira's refusal does not say, for the mistake a host program makes most: an e-mail address as
    the assignee of a Cloud site, which names people by accountId only."""
    if name == "assignee" and ctx.flavor == "cloud" and isinstance(value, str) and "@" in value:
        return " (on Cloud, assignee takes an accountId, not an e-mail address)"
    return ""
