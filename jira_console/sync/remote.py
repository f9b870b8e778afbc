"""Applying what arrives outside the poll (webhook events): issue versions through the same merge as the
pull, deletions, and sprint refreshes. Each answer is ``applied``, ``stale`` or ``ignored``; an
:class:`Answer` other than ``applied`` says why (the event keeps it, for the operator)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jira_console.jira.errors import JiraNotFound
from jira_console.logs import get_logger
from jira_console.store import identity
from jira_console.store import issues as si
from jira_console.sync.apply import ApplyMode, updated_of
from jira_console.sync.boards import store_sprint
from jira_console.sync.context import SyncContext, SyncIO
from jira_console.sync.fields import RICH_TEXT_JIRA_FIELDS
from jira_console.sync.page import apply_page
from jira_console.sync.report import SyncReport
from jira_console.sync.scope import out_of_scope

if TYPE_CHECKING:  # the webhooks package (its HTTP server) is not loaded for a sync
    from jira_console.webhooks.processor import IssueItem

_ANSWER = {"created": "applied", "applied": "applied", "stale": "stale"}
"""The processor's answer to each way a version was applied; every other one is ``ignored``."""
_WHY = {
    "duplicate": "the stored version is the same (a delivery seen before, or Jira's present read already)",
    "deleted": "the issue is deleted here; a webhook body never brings it back (a read of Jira does)",
    "quarantined": "the issue could not be applied and is set aside, tried again at each sync (see status)",
    "unordered": "two versions share one updated time; Jira could not say which is current",
    "stale": "older than the stored version (Jira does not order its deliveries)",
    "outside": "outside the connection's JQL",
    "gone": "Jira no longer has the issue (deleted after this delivery was sent)",
    "unknown": "the sync did not apply it",
}  # fmt: skip


class Answer(str):
    """An answer to the processor (``applied``, ``stale`` or ``ignored``; compares as that text) with
    ``note``: why it was not applied."""

    note: str | None

    def __new__(cls, status: str, note: str | None = None) -> Answer:
        answer = super().__new__(cls, status)
        answer.note = note
        return answer


_WEBHOOK = ApplyMode(webhook=True)
log = get_logger(__name__)


def _changelog_fields(changelog: Mapping[str, Any] | None) -> set[str] | None:
    """Jira field ids a webhook's changelog names (None when the payload carries no changelog)."""
    if not isinstance(changelog, Mapping):
        return None
    out: set[str] = set()
    for item in changelog.get("items") or []:
        if isinstance(item, Mapping):
            out.add(str(item.get("fieldId") or item.get("field") or "").lower())
    return out


class IssueReadLater(Exception):
    """Jira could not return an issue this time (``issueErrors``): the event is tried again later."""


async def apply_remote_issues(io: SyncIO, ctx: SyncContext, items: Sequence[IssueItem]) -> list[str]:
    """Apply many (issue, changelog) pairs in one transaction; an answer per item: ``applied``, ``stale``
    (older than what is stored, or than another item of the batch) or ``ignored`` (a duplicate, an issue
    outside the connection's JQL, a body for a deleted issue: a webhook body never brings one back).

    Webhook bodies use the v2 representation even on Cloud, so on Cloud rich-text fields are not taken
    from them: issues whose change touched one (or that come without a changelog) are fetched through
    REST v3 instead, together (bulk fetch); the others are applied without their rich text, which stays
    marked as not current (``stale_fields``) until a read of the issue fills it."""
    cloud = ctx.flavor == "cloud"
    outside = await out_of_scope(io, ctx, [issue for issue, _ in items if issue.get("key")])
    plain: list[Mapping[str, Any]] = []
    refetch: set[str] = set()
    limit = io.clock.limit_ms()
    for issue, changelog in items:
        if not issue.get("key") or str(issue["key"]) in outside:
            continue
        touched = _changelog_fields(changelog)
        if (updated_of(issue) or 0) > limit:
            # Dated ahead of Jira's own clock (forged, or from before the clock stepped back): the body's
            # time cannot order it against what is stored, so the issue is read afresh instead.
            log.warning("webhook body dated ahead of Jira's clock; reading the issue afresh",
                        connection=ctx.name, issue=str(issue["key"]))  # fmt: skip
            refetch.add(str(issue["key"]))
        elif cloud and (touched is None or touched & RICH_TEXT_JIRA_FIELDS):
            refetch.add(str(issue["key"]))
        else:
            plain.append(issue)
    statuses: dict[str, str] = {}
    report = SyncReport(ctx.name)
    if plain:
        # On Cloud the v2 body's rich text is neither applied nor kept over the stored v3 representation.
        mode = ApplyMode(
            skip_fields=frozenset(c.name for c in ctx.codecs if c.jira_field in RICH_TEXT_JIRA_FIELDS),
            keep_raw_fields=tuple(sorted(RICH_TEXT_JIRA_FIELDS)),
            webhook=True,
        )
        result = await asyncio.to_thread(
            apply_page, io, ctx, plain, mode if cloud else _WEBHOOK, checkpoint=False
        )
        report.add_applied(result, io.emit)
        statuses.update(result.statuses)
        # A body dated like another version with other content (two changes in one millisecond) cannot
        # be ordered by its time: Jira is asked which one is current.
        refetch.update(k for k, v in result.statuses.items() if v == "unordered")
    if refetch:
        ids = {str(i["key"]): str(i["id"]) for i, _ in items if i.get("key") and i.get("id") is not None}
        statuses.update(await _refetch(io, ctx, report, sorted(refetch), ids))
    return _answers(items, statuses, outside)


async def _refetch(
    io: SyncIO, ctx: SyncContext, report: SyncReport, keys: list[str], ids: Mapping[str, str]
) -> dict[str, str]:
    """Read issues afresh (Cloud, v3) and apply them. An issue Jira could not read this time
    (``issueErrors``) raises :class:`IssueReadLater` once the others are applied, so its event is tried
    again; one Jira left out is taken as deleted only when reading it alone says it is gone."""
    fetched = await io.client.bulk_fetch_report(keys, list(ctx.jira_fields))
    statuses: dict[str, str] = {}
    if fetched.issues:
        result = await asyncio.to_thread(apply_page, io, ctx, fetched.issues, checkpoint=False)
        report.add_applied(result, io.emit)
        statuses.update(result.statuses)
    returned = {str(i.get("key")) for i in fetched.issues} | {str(i.get("id")) for i in fetched.issues}
    failed = set(fetched.errors)
    for key in keys:
        if key in returned or ids.get(key) in returned or ids.get(key) in failed:
            continue
        try:
            again = await io.client.get_issue(key, fields=list(ctx.jira_fields))
        except JiraNotFound:
            statuses[key] = await apply_remote_deletion(io, ctx, key, event_ts_ms=None, issue_id=ids.get(key))
            continue
        result = await asyncio.to_thread(apply_page, io, ctx, [again], checkpoint=False)
        report.add_applied(result, io.emit)
        statuses[key] = result.statuses.get(str(again.get("key")), "applied")
    if failed:
        raise IssueReadLater(f"Jira could not return {len(failed)} issue(s) this time (issueErrors)")
    return statuses


def _answers(
    items: Sequence[IssueItem], statuses: Mapping[str, str], outside: Mapping[str, str]
) -> list[str]:
    newest: dict[str, int] = {}
    for issue, _ in items:
        t = updated_of(issue)
        if t is not None and t > newest.get(str(issue.get("key")), -1):
            newest[str(issue.get("key"))] = t
    out: list[str] = []
    for issue, _ in items:
        key = str(issue.get("key") or "")
        t = updated_of(issue)
        status = statuses.get(key) or outside.get(key) or "unknown"
        if t is not None and t < newest.get(key, t):
            status = "stale"  # a newer version of the same issue came in the same batch
        answer = _ANSWER.get(status, "ignored")
        note = getattr(status, "note", None) or _WHY.get(status)  # a deletion's answer brings its own
        out.append(answer if answer == "applied" else Answer(answer, note))
    return out


async def apply_remote_deletion(
    io: SyncIO, ctx: SyncContext, issue_key: str, *, event_ts_ms: int | None, issue_id: str | None = None
) -> str:
    """An issue deleted in Jira: marked deleted (the tombstone keeps when). The issue is found by its Jira
    id, else its key or a key it had. When the stored version is newer than the event, Jira is asked: the
    deletion stands only if the issue is gone."""

    def find_and_mark(confirmed: bool) -> str:
        with si.engine_session(io.db) as s:
            row = _row_of(s, ctx, issue_key, issue_id)
            if row is None or row.deleted:
                return Answer("ignored", "no such issue here" if row is None else "already deleted here")
            if (
                not confirmed
                and event_ts_ms is not None
                and row.jira_updated_ms is not None
                and event_ts_ms < row.jira_updated_ms
            ):
                return "check"
            si.mark_deleted(s, row, reason="deleted in Jira (webhook)", actor=ctx.actor)
            return "applied"

    answer = await asyncio.to_thread(find_and_mark, False)
    if answer != "check":
        return answer
    try:
        await io.client.get_issue(issue_id or issue_key, fields=["updated"])
    except JiraNotFound:
        return await asyncio.to_thread(find_and_mark, True)
    return "stale"


def _row_of(session: Any, ctx: SyncContext, issue_key: str, issue_id: str | None) -> Any:
    if issue_id:
        row = identity.issues_by_jira_id(session, ctx.name, [issue_id]).get(str(issue_id))
        if row is not None:
            return row
    row = si.issues_by_key(session, ctx.name, [issue_key]).get(issue_key)
    if row is None:
        alias = identity.resolve_alias(session, ctx.name, issue_key)
        if alias is not None:
            row = si.issues_by_key(session, ctx.name, [alias.current_key]).get(alias.current_key)
    return row


async def refresh_sprint(
    io: SyncIO, ctx: SyncContext, sprint_id: int | None, payload: Mapping[str, Any]
) -> str:
    """A sprint event: the sprint is read from the Agile API (the payload's shape is undocumented)."""
    data = payload.get("sprint") if isinstance(payload.get("sprint"), Mapping) else None
    sid = sprint_id or (data or {}).get("id")
    if sid is None:
        return Answer("ignored", "the event names no sprint")
    try:
        sprint = await io.client.get_sprint(int(sid))
    except JiraNotFound:
        return Answer("ignored", f"Jira has no sprint {sid} (any more)")

    def store() -> str:
        with io.db.session(write=True) as s:
            store_sprint(s, ctx.name, sprint, sprint.board_id)
        return "applied"

    return await asyncio.to_thread(store)
