"""Finding the issues of creates Jira answered but whose answer was lost (a timeout, a crash): by the
request's token, which each created issue carries as an entity property (see :mod:`jira_console.sync.create`).

A search finds them, except that Jira's index may lag behind a create: ``INDEX_GRACE`` after an attempt, the
keys after the newest one known are read one by one as well, which no index delays, before a request is sent
again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from jira_console.jira.errors import JiraBadRequest, JiraNotFound
from jira_console.store import creations
from jira_console.store import issues as si
from jira_console.store.models import utcnow
from jira_console.sync.context import SyncContext, SyncIO

PROPERTY_KEY = "jira-console"
"""The entity property a created issue carries: ``{"request": token}``."""
INDEX_GRACE = timedelta(minutes=2)
"""How long after an unanswered create its issue may still be missing from Jira's search."""
PROBE_LIMIT, PROBE_GAP = 50, 3
"""At most how many keys :func:`probe` reads a project, and after how many missing keys in a row it stops."""


def within_grace(request: creations.CreationRecord) -> bool:
    """Whether the request's last create may still be missing from Jira's search."""
    return request.attempted_at is not None and utcnow() - request.attempted_at < INDEX_GRACE


async def find(
    io: SyncIO, unanswered: list[creations.CreationRecord]
) -> tuple[dict[str, str], dict[str, str]]:
    """Token -> key of the issues earlier attempts of ``unanswered`` requests created: one search per
    project, among its issues created since a minute before the earliest attempt (Jira's clock may be
    behind ours), reading each issue's token property. Also project -> the highest-numbered key the
    search showed (where :func:`probe` starts)."""
    found: dict[str, str] = {}
    newest: dict[str, str] = {}
    for project, requests in _by_project(unanswered).items():
        wanted = {str(r.token) for r in requests}
        since = min((r.attempted_at or r.requested_at or utcnow()).timestamp() for r in requests)
        jql = f'project = "{project}" AND created >= {int((since - 60) * 1000)} ORDER BY created ASC'
        try:
            async for page in io.client.search_pages(jql, fields=["created"], properties=[PROPERTY_KEY]):
                for issue in page.issues:
                    newest[project] = max(newest.get(project, ""), str(issue.get("key")), key=_number)
                    token = token_of(issue)
                    if token in wanted:
                        found[str(token)] = str(issue.get("key"))
                if wanted <= found.keys():
                    break
        except JiraBadRequest:
            continue  # a project Jira no longer knows (renamed, deleted): the create says what it is now
    return found, newest


async def probe(
    io: SyncIO, ctx: SyncContext, overdue: list[creations.CreationRecord], newest: Mapping[str, str]
) -> dict[str, str]:
    """Token -> key of issues of ``overdue`` requests that search does not show yet: Jira numbers a
    project's issues in the order it creates them, so the keys after the newest one known (from the search,
    else from the store) are read one by one, which no index delays, until ``PROBE_GAP`` keys in a row do
    not exist (or ``PROBE_LIMIT`` were read)."""
    found: dict[str, str] = {}
    for project, requests in _by_project(overdue).items():
        start = newest.get(project) or await asyncio.to_thread(_newest_stored, io, ctx, project)
        if not start:
            continue
        prefix, number = start.rpartition("-")[0], _number(start)
        wanted, missing = {str(r.token) for r in requests}, 0
        for offset in range(1, PROBE_LIMIT + 1):
            try:
                issue = await io.client.get_issue(
                    f"{prefix}-{number + offset}", fields=["created"], properties=[PROPERTY_KEY]
                )
            except JiraNotFound:
                missing += 1
                if missing == PROBE_GAP:
                    break
                continue
            missing = 0
            if (token := token_of(issue)) in wanted:
                found[str(token)] = str(issue.get("key"))
                if wanted <= found.keys():
                    break
    return found


def _newest_stored(io: SyncIO, ctx: SyncContext, project: str) -> str | None:
    with io.db.session() as s:
        keys = si.project_issue_keys(s, ctx.name, project)
    return max(keys, key=_number) if keys else None


def _by_project(requests: list[creations.CreationRecord]) -> dict[str, list[creations.CreationRecord]]:
    by_project: dict[str, list[creations.CreationRecord]] = {}
    for request in requests:
        by_project.setdefault(request.project_key, []).append(request)
    return by_project


def _number(key: str) -> int:
    tail = key.rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


def token_of(issue: Mapping[str, Any]) -> Any:
    prop = (issue.get("properties") or {}).get(PROPERTY_KEY)
    return prop.get("request") if isinstance(prop, Mapping) else None
