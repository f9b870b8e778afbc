"""Reconciliation (part of a full sync): every key in scope against the store. Local issues the JQL no longer
lists are marked deleted, with the reason Jira gives when asked for them: gone (deleted in Jira), or still
there but outside the connection's JQL. An issue listed under a new key with the same Jira id moved: it is
fetched and its row takes the new key; one Jira could not read this time stays as it is. Anything a cursor
missed or a webhook left partial is fetched and applied, and rows whose local values diverge from the base
without being flagged (a host program that bypassed the trigger, a change parked after a failed write) are
flagged for the push again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from sqlalchemy.orm import Session

from jira_console.store import identity, repo
from jira_console.store import issues as si
from jira_console.sync.context import SyncContext, SyncIO
from jira_console.sync.fields import parse_jira_time
from jira_console.sync.jql import every_key_jql
from jira_console.sync.merge import same
from jira_console.sync.page import apply_page
from jira_console.sync.report import SyncReport

FETCH_BATCH = 100


async def reconcile(
    io: SyncIO,
    ctx: SyncContext,
    report: SyncReport,
    listed: Mapping[str, int | None] | None = None,
    *,
    ids: Mapping[str, str] | None = None,
) -> None:
    """Reconcile against every key in scope with its ``updated`` (listed here, with only the ``updated``
    field, unless a full pull just listed them) and its Jira id (a local row under another key whose id is
    listed has moved, it is not deleted)."""
    seen: dict[str, int | None] = dict(listed or {})
    seen_ids: dict[str, str] = dict(ids or {})
    if listed is None:
        pages = io.client.search_pages(
            every_key_jql(ctx.conn.jql), fields=["updated"], page_size=max(ctx.conn.page_size, 100)
        )
        async for page in pages:
            for issue in page.issues:
                seen[issue["key"]] = parse_jira_time((issue.get("fields") or {}).get("updated"))
                if issue.get("id") is not None:
                    seen_ids[issue["key"]] = str(issue["id"])
    missing, newer = await asyncio.to_thread(_compare_keys, io, ctx, seen, set(seen_ids.values()))
    gone, outside, unread = await _ask_jira(io, missing)
    report.add_unread(unread, "reconciliation")
    await asyncio.to_thread(_mark_missing, io, ctx, gone, outside)
    report.deleted += len(gone)
    report.left_scope += len(outside)
    for start in range(0, len(newer), FETCH_BATCH):
        fetched = await io.client.bulk_fetch_report(newer[start : start + FETCH_BATCH], list(ctx.jira_fields))
        # An issue Jira could not return this time (issueErrors) stays as it is: the next full sync asks.
        report.add_unread(fetched.errors, "reconciliation")
        result = await asyncio.to_thread(apply_page, io, ctx, fetched.issues, checkpoint=False)
        report.add_applied(result, io.emit)


async def _ask_jira(io: SyncIO, missing: Mapping[str, str | None]) -> tuple[list[str], list[str], list[str]]:
    """Of the local issues the JQL no longer lists (key -> Jira id), (those Jira no longer has, those it still
    has outside the JQL, the ids of those it could not read this time: ``issueErrors``)."""
    gone: list[str] = []
    outside: list[str] = []
    unread_ids: list[str] = []
    keys = sorted(missing)
    for start in range(0, len(keys), FETCH_BATCH):
        chunk = keys[start : start + FETCH_BATCH]
        fetched = await io.client.bulk_fetch_report(chunk, ["updated"])
        there = {str(i.get("key")) for i in fetched.issues} | {str(i.get("id")) for i in fetched.issues}
        unread = set(fetched.errors)
        for key in chunk:
            if key in there or missing[key] in there:
                outside.append(key)
            elif missing[key] not in unread:
                gone.append(key)
            else:
                unread_ids.append(str(missing[key]))
    return gone, outside, unread_ids


def _mark_missing(io: SyncIO, ctx: SyncContext, gone: list[str], outside: list[str]) -> None:
    with si.engine_session(io.db) as s:
        for keys, reason in (
            (gone, f"{si.GONE} (reconciliation)"),
            (outside, "outside the connection's JQL, still in Jira (reconciliation)"),
        ):
            for row in si.issues_by_key(s, ctx.name, keys).values():
                si.mark_deleted(s, row, reason=reason, actor=ctx.actor)


def _compare_keys(
    io: SyncIO, ctx: SyncContext, seen: Mapping[str, int | None], seen_ids: set[str]
) -> tuple[dict[str, str | None], list[str]]:
    """(local issues the JQL no longer lists, key -> Jira id; keys to fetch: new, newer than stored, marked
    deleted, or stored without some fields). Quarantined issues no longer in scope leave the quarantine."""
    with si.engine_session(io.db) as s:
        local = si.issue_versions(s, ctx.name)
        local_ids = si.jira_ids(s, ctx.name)
        missing = {
            k: local_ids.get(k)
            for k, (_u, deleted) in local.items()
            if k not in seen and not deleted and local_ids.get(k) not in seen_ids
        }
        partial = si.partial_keys(s, ctx.name)
        newer = [
            k
            for k, u in seen.items()
            if k not in local or (u is not None and (local[k][0] or 0) < u) or local[k][1] or k in partial
        ]
        gone = set(identity.quarantined_keys(s, ctx.name)) - set(seen)
        identity.release(s, ctx.name, gone)
        mark_dirty_where_diverged(s, ctx)
    return missing, newer


def mark_dirty_where_diverged(session: Session, ctx: SyncContext) -> int:
    """Flag issues whose local values differ from the base but are not flagged; returns how many. A field
    with an open conflict is waiting for a person, not for the push."""
    open_conflicts = repo.open_conflict_fields(session, ctx.name)
    names = [c.name for c in ctx.codecs if c.direction != "pull"]
    diverged: list[int] = []
    for issue_id, base, local in si.clean_values(session, ctx.name, names):
        for name in names:
            if name in base and not same(local[name], base[name]) and (issue_id, name) not in open_conflicts:
                diverged.append(issue_id)
                break
    si.mark_dirty(session, diverged)
    return len(diverged)
