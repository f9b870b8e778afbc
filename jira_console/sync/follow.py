"""Reading issues by the keys the store knows them by, following Jira when it answers under another key: Jira
resolves a key an issue had before it moved, so a fresh read of ``ENG-7`` may come back as ``OPS-3`` (same
id). The row takes the new key before anything else looks at it; issues Jira could not read this time
(``issueErrors``) are left for the next sync rather than taken for deleted ones. The other way round too: a
key the store does not know (an outbox row naming an issue by the key a project rename gave it, which Jira
announces with no event) is asked of Jira, and the row of the same Jira id takes it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jira_console.store import identity, outbox
from jira_console.store import issues as si
from jira_console.sync.apply import meta_values
from jira_console.sync.context import SyncContext, SyncIO


@dataclass
class Followed:
    """Fresh versions by the rows' (possibly new) keys, and the keys to leave for later."""

    keys: list[str]
    """The keys asked for, each replaced by its new key where the issue moved; without the later ones."""
    fresh: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    later: list[str] = field(default_factory=list)
    """Keys whose issue Jira could not return this time (issueErrors)."""
    later_ids: list[str] = field(default_factory=list)
    """Their Jira ids."""


async def fetch_following(io: SyncIO, ctx: SyncContext, keys: Sequence[str]) -> Followed:
    """Bulk-read ``keys`` (see the module docstring)."""
    fetched = await io.client.bulk_fetch_report(list(keys), list(ctx.jira_fields))
    return await asyncio.to_thread(_follow, io, ctx, list(keys), fetched.issues, set(fetched.errors))


def _follow(
    io: SyncIO, ctx: SyncContext, keys: list[str], issues: list[dict[str, Any]], errors: set[str]
) -> Followed:
    by_id = {str(i["id"]): i for i in issues if i.get("id") is not None}
    out = Followed([])
    with si.engine_session(io.db) as s:
        rows = si.issues_by_key(s, ctx.name, keys, lock=True)
        for key in keys:
            row = rows.get(key)
            raw = by_id.get(str(row.jira_id)) if row is not None and row.jira_id else None
            if raw is None:
                raw = next((i for i in issues if i.get("key") == key), None)
            if raw is None and row is not None and row.jira_id and str(row.jira_id) in errors:
                out.later.append(key)
                out.later_ids.append(str(row.jira_id))
                continue
            current = str(raw["key"]) if raw is not None else key
            if row is not None and current != key:
                project = meta_values(current, raw or {}).get("project_key")
                identity.rekey(s, row, current, project, actor=ctx.actor)
            out.keys.append(current)
            if raw is not None:
                out.fresh[current] = raw
    return out


async def adopt_outbox_keys(io: SyncIO, ctx: SyncContext) -> int:
    """Give the rows of issues renamed in Jira the keys waiting outbox rows name them by (see the module
    docstring); returns how many rows took a new key."""
    with io.db.session() as s:
        keys = outbox.unknown_keys(s, ctx.name)
    if not keys:
        return 0
    fetched = await io.client.bulk_fetch_report(keys, ["project", "updated"])
    return await asyncio.to_thread(_adopt, io, ctx, fetched.issues)


def _adopt(io: SyncIO, ctx: SyncContext, issues: list[dict[str, Any]]) -> int:
    adopted = 0
    with si.engine_session(io.db) as s:
        rows = identity.issues_by_jira_id(s, ctx.name, [str(i.get("id")) for i in issues], lock=True)
        for raw in issues:
            row = rows.get(str(raw.get("id")))
            key = str(raw.get("key") or "")
            if row is None or not key or row.key == key:
                continue
            identity.rekey(s, row, key, meta_values(key, raw).get("project_key"), actor=ctx.actor)
            adopted += 1
    return adopted
