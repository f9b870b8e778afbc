"""Which webhook issues belong to a connection: a delivery carries any issue its webhook's filter let through
(often every issue of the site), while the connection syncs only its JQL. An issue the store already has is
in scope (reconciliation settles one that left it); one it does not know is imported only when Jira says it
matches the connection's JQL (one search for all the unknown issues of a batch; one deleted since its
delivery, which Jira's validation refuses the search for, is left out of it and not imported). With a JQL
that selects every issue, an unknown issue is imported only when Jira still has it (one bulk read): Jira does
not order its deliveries, so the creation of an issue can arrive after its deletion, which found nothing here
to delete."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from jira_console.store import identity
from jira_console.store import models as m
from jira_console.sync.context import SyncContext, SyncIO
from jira_console.sync.jql import scope_filter

SEARCH_CHUNK = 50


def _unknown(io: SyncIO, ctx: SyncContext, issues: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Key -> Jira id of the issues no row of the connection has (by id, else by key)."""
    ids = {str(i["id"]) for i in issues if i.get("id") is not None}
    keys = {str(i["key"]) for i in issues if i.get("key")}
    with io.db.session() as s:
        rows = s.execute(
            select(m.Issue.jira_id, m.Issue.key).where(
                m.Issue.id.in_(identity.ids_by_key_or_jira_id(s, ctx.name, keys, ids))
            )
        ).all()
    known_ids = {str(r[0]) for r in rows if r[0] is not None}
    known_keys = {str(r[1]) for r in rows}
    out: dict[str, str | None] = {}
    for issue in issues:
        key = str(issue.get("key") or "")
        jira_id = str(issue["id"]) if issue.get("id") is not None else None
        if key and not (jira_id in known_ids if jira_id else key in known_keys):
            out[key] = jira_id
    return out


OUTSIDE = "outside"
GONE = "gone"


async def out_of_scope(io: SyncIO, ctx: SyncContext, issues: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Keys of ``issues`` that are new to the store and not to be imported: ``GONE`` when Jira no longer has
    the issue (deleted since the delivery), ``OUTSIDE`` when Jira does not find it with the connection's
    JQL."""
    if not issues:
        return {}
    filt = scope_filter(ctx.conn.jql)
    unknown = await asyncio.to_thread(_unknown, io, ctx, issues)
    if not unknown:
        return {}
    if not filt:
        return dict.fromkeys(await _gone(io, unknown), GONE)
    matched: set[str] = set()
    items = sorted(unknown.items())

    def jql_for(values: list[str]) -> str:
        ids = [v for v in values if v.isdigit()]
        keys = [v for v in values if not v.isdigit()]
        terms = ([f"id in ({', '.join(ids)})"] if ids else []) + (
            [f"key in ({', '.join(_quoted(k) for k in keys)})"] if keys else []
        )
        return f"({filt}) AND ({' OR '.join(terms)})"

    for start in range(0, len(items), SEARCH_CHUNK):
        chunk = items[start : start + SEARCH_CHUNK]
        # By id where the body has one (a key may have moved on since), else by key. An issue deleted since
        # its delivery is left out of the search (Jira refuses a query naming it): not in scope. Strict: the
        # connection's filter is validated as the sync's own searches validate it.
        values = [i if i and i.isdigit() else k for k, i in chunk]
        for issue in await io.client.search_known(values, jql_for, fields=["updated"], strict=True):
            matched.add(str(issue.get("id")))
            matched.add(str(issue.get("key")))
    return {k: OUTSIDE for k, i in unknown.items() if k not in matched and (i is None or i not in matched)}


async def _gone(io: SyncIO, unknown: Mapping[str, str | None]) -> set[str]:
    """Keys of ``unknown`` (key -> Jira id) whose issue Jira no longer has. One Jira could not read this time
    (``issueErrors``) is not taken for gone."""
    fetched = await io.client.bulk_fetch_report(sorted(unknown), ["updated"])
    there = {str(i.get("id")) for i in fetched.issues} | {str(i.get("key")) for i in fetched.issues}
    unread = set(fetched.errors)
    return {k for k, i in unknown.items() if k not in there and i not in there and i not in unread}


def _quoted(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
