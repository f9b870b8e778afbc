"""A page of Jira versions applied so that one bad issue never stops a connection.

The page is applied in one transaction (the sprints it names, its issues and, for a pull, the watermark).
When that fails for anything but the database itself, the page is applied again issue by issue, each in a
savepoint: an issue that still fails is quarantined (its key, the kind of failure and a cause without any
field value), the others are applied and the watermark moves on. Later syncs try quarantined issues again
(:func:`retry_quarantined`); an issue applied after all leaves the quarantine.

Every ``updated`` ahead of Jira's clock is clamped to it first, and flagged in the audit log and the log
(see :mod:`jira_console.sync.clock`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from jira_console.logs import get_logger
from jira_console.store import identity, repo, unreadable
from jira_console.store import issues as si
from jira_console.store import state as st
from jira_console.sync.apply import ApplyMode, ApplyResult, apply_issue_versions, newest_versions, updated_of
from jira_console.sync.boards import store_sprint_refs
from jira_console.sync.clock import Clamped, clamp_versions
from jira_console.sync.context import ISSUES_SCOPE, SyncContext, SyncIO
from jira_console.sync.failures import Failure, describe, is_connection_failure

log = get_logger(__name__)

SETTLED = frozenset({"applied", "created", "duplicate"})
"""Statuses of versions that are in the store as read (no retry needed)."""


def apply_page(
    io: SyncIO,
    ctx: SyncContext,
    raws: Sequence[Mapping[str, Any]],
    mode: ApplyMode = ApplyMode(),
    *,
    checkpoint: bool = True,
) -> ApplyResult:
    """Apply a page of versions (see the module docstring); ``checkpoint`` moves the pull's watermark in
    the same transaction, so a sync killed at any point resumes from its last page."""
    versions, clamped = clamp_versions(raws, io.clock)
    known_sprints = dict(io.sprints_written)
    try:
        with si.engine_session(io.db) as s:
            store_sprint_refs(s, ctx, io.sprints_written, versions)
            result = apply_issue_versions(s, ctx, versions, mode)
            _finish(s, io, ctx, result, clamped, checkpoint=checkpoint)
        return result
    except Exception as exc:
        if is_connection_failure(exc) or not versions:
            raise
        # What the failed transaction wrote is gone: forget the sprints it claimed to have stored.
        io.sprints_written.clear()
        io.sprints_written.update(known_sprints)
        log.warning(
            "page failed; applying its issues one by one", connection=ctx.name, error=str(describe(exc))
        )
    return _one_by_one(io, ctx, versions, mode, clamped, checkpoint=checkpoint)


def _one_by_one(
    io: SyncIO,
    ctx: SyncContext,
    versions: Sequence[Mapping[str, Any]],
    mode: ApplyMode,
    clamped: Sequence[Clamped],
    *,
    checkpoint: bool,
) -> ApplyResult:
    total = ApplyResult()
    newest = newest_versions(versions)
    mode = replace(mode, unseen=frozenset())  # a row may have appeared meanwhile: look each one up
    with si.engine_session(io.db) as s:
        store_sprint_refs(s, ctx, io.sprints_written, versions)
        # A row the engine cannot read would fail the look-up of them all: its issue is set aside first.
        newest = _without_unreadable(s, ctx, newest, total)
        # Every row the page names locked at once, in id order: the savepoints below keep each lock they
        # take until the end, and taking them one by one in page order could deadlock with another process.
        jira_ids = [str(raw["id"]) for raw in newest.values() if raw.get("id") is not None]
        identity.issues_by_key_and_jira_id(s, ctx.name, newest, jira_ids, lock=True)
        for key, raw in newest.items():
            try:
                with s.begin_nested():
                    part = apply_issue_versions(s, ctx, [raw], mode)
                    s.flush()
            except Exception as exc:
                if is_connection_failure(exc):
                    raise
                part = _quarantined(s, ctx, key, raw, describe(exc))
            _add(total, part)
        _finish(s, io, ctx, total, clamped, checkpoint=checkpoint)
    return total


def _without_unreadable(
    session: Session, ctx: SyncContext, newest: dict[str, Mapping[str, Any]], total: ApplyResult
) -> dict[str, Mapping[str, Any]]:
    """The page's versions but those whose row holds a JSON value the engine cannot read (a plain-SQL write
    the guards did not stop): each of those is quarantined, its cause naming the columns."""
    ids = {key: str(raw["id"]) for key, raw in newest.items() if raw.get("id") is not None}
    found = unreadable.find(session, ctx.name, newest, ids.values())
    if not found:
        return newest
    by_key = {key: columns for (key, _), columns in found.items()}
    by_id = {jira_id: columns for (_, jira_id), columns in found.items() if jira_id is not None}
    kept: dict[str, Mapping[str, Any]] = {}
    for key, raw in newest.items():
        columns = by_key.get(key) or by_id.get(ids.get(key, ""))
        if columns is None:
            kept[key] = raw
            continue
        failure = Failure(unreadable.KIND, unreadable.cause(columns))
        _add(total, _quarantined(session, ctx, key, raw, failure))
    return kept


def _quarantined(
    session: Session, ctx: SyncContext, key: str, raw: Mapping[str, Any], failure: Failure
) -> ApplyResult:
    jira_id = str(raw["id"]) if raw.get("id") is not None else None
    identity.quarantine(session, ctx.name, key, jira_id=jira_id, kind=failure.kind, cause=failure.cause)
    log.warning("issue quarantined", connection=ctx.name, issue=key, kind=failure.kind, cause=failure.cause)
    part = ApplyResult(quarantined=1)
    part.saw(key, updated_of(raw))
    part.statuses[key] = "quarantined"
    return part


def _add(total: ApplyResult, part: ApplyResult) -> None:
    for name in ("seen", "created", "updated", "skipped", "pulled_fields", "stale", "quarantined"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.conflicts.extend(part.conflicts)
    total.moved.extend(part.moved)
    total.statuses.update(part.statuses)
    if part.max_updated_ms is not None:
        if total.max_updated_ms is None or part.max_updated_ms > total.max_updated_ms:
            total.max_updated_ms, total.keys_at_max = part.max_updated_ms, list(part.keys_at_max)
        elif part.max_updated_ms == total.max_updated_ms:
            total.keys_at_max.extend(part.keys_at_max)


def _finish(
    session: Session,
    io: SyncIO,
    ctx: SyncContext,
    result: ApplyResult,
    clamped: Sequence[Clamped],
    *,
    checkpoint: bool,
) -> None:
    """What every applied page ends with: issues applied after all leave the quarantine, clamped times are
    flagged, and (pull) the watermark moves, never past Jira's current time."""
    identity.release(session, ctx.name, [k for k, v in result.statuses.items() if v in SETTLED])
    for item in clamped:
        if not io.clock.first_sighting(item.key, item.said_ms):
            continue
        log.warning(
            "Jira's updated is ahead of its clock; clamped", connection=ctx.name, issue=item.key,
            said_ms=item.said_ms, kept_ms=item.kept_ms,
        )  # fmt: skip
        repo.append_audit(
            session, ctx.name, "local", "updated", item.said_ms, item.kept_ms, issue_key=item.key,
            reason="Jira's updated was ahead of its clock: clamped to Jira's time", actor=ctx.actor,
        )  # fmt: skip
    if checkpoint:
        _advance(session, io, ctx, result.max_updated_ms, result.keys_at_max)


def _advance(session: Session, io: SyncIO, ctx: SyncContext, newest: int | None, keys: Sequence[str]) -> None:
    """Move the watermark to ``newest`` (with the keys seen at it), never past Jira's current time."""
    if newest is not None:
        kept = min(newest, io.clock.limit_ms())
        st.advance_watermark(session, ctx.name, ISSUES_SCOPE, kept, keys if kept == newest else [])


def checkpoint(io: SyncIO, ctx: SyncContext, newest: int | None, keys: Sequence[str]) -> None:
    """Move the pull's watermark on its own (after pages applied without ``checkpoint``)."""
    with si.engine_session(io.db) as s:
        _advance(s, io, ctx, newest, keys)


async def retry_quarantined(io: SyncIO, ctx: SyncContext) -> ApplyResult | None:
    """Read the connection's quarantined issues again and apply them (None when there are none). An issue
    Jira no longer returns stays quarantined until a full sync's reconciliation settles it."""

    def keys() -> dict[str, Any]:
        with io.db.session() as s:
            return identity.quarantined_keys(s, ctx.name)

    waiting = await asyncio.to_thread(keys)
    if not waiting:
        return None
    fetched = await io.client.bulk_fetch_report(sorted(waiting), list(ctx.jira_fields))
    if not fetched.issues:
        return ApplyResult()
    return await asyncio.to_thread(apply_page, io, ctx, fetched.issues, checkpoint=False)
