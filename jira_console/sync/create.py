"""Creating in Jira the issues a host program asked for in ``new_issues`` (see
:mod:`jira_console.store.creations` for the states a request goes through).

Requests go to Jira fifty at a time in one ``POST /issue/bulk``, each element carrying the plain field
values (summary, description, priority, labels, mapped fields, ...) and an entity property with the
request's token; the created issues are read back in one bulk fetch and matched to their requests by that
token. A batch Jira refuses whole, and an element it refuses only for fields the create screen lacks, go
again one ``POST /issue`` at a time. What a create cannot set
(the status: Jira starts an issue in its workflow's first status; the sprint: moved through the Agile API)
is set on the new issue's local row as a local edit, which the push that follows in the same run writes
like any other, with its compare, refusals and audit.

A request never creates two issues: the token is stored before the create is sent, and a request whose
create went unanswered (a timeout, a crash) is looked for by that token, among the project's issues created
since, before anything is sent again. Jira's search index may lag behind a create it answered, so a request
whose token is not found is sent again only once ``INDEX_GRACE`` has passed since its last attempt, and the
project's keys after the newest one known do not carry it either (see :mod:`jira_console.sync.create_lookup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from jira_console.jira.errors import (
    CircuitOpenError,
    JiraAuthError,
    JiraBadRequest,
    JiraError,
    JiraNotFound,
    JiraRateLimited,
)
from jira_console.jira.models import ElementError
from jira_console.logs import get_logger
from jira_console.store import creations, repo
from jira_console.store import issues as si
from jira_console.store import sprints as sprint_rows
from jira_console.sync.context import SyncContext, SyncIO
from jira_console.sync.create_lookup import PROPERTY_KEY, find, probe, token_of, within_grace
from jira_console.sync.fields import MappedField, local_edit_problem
from jira_console.sync.page import apply_page
from jira_console.sync.report import SyncReport

log = get_logger(__name__)

BATCH = 50
"""Requests sent in one bulk create (Jira's limit)."""
REQUIRED = ("summary",)
AFTER_CREATE = ("status", "sprint_id")
"""Fields a create does not set: written to the new issue by the push that follows."""
CORE_CREATE_FIELDS = frozenset({"summary", "project", "issuetype"})
"""Jira fields without which there is no issue: a create refused for one of them is not tried without it."""


Adopted = tuple[creations.CreationRecord, Mapping[str, Any], dict[str, Any]]
"""A request, its created issue as read back, and what the push sets after the create."""


@dataclass
class Prepared:
    """A request ready to send: the create's fields, the local field each Jira field came from, what the
    push sets after the create, the token, and the attempt count its claim moved to."""

    request: creations.CreationRecord
    body: dict[str, Any]
    sources: dict[str, str]
    later: dict[str, Any]
    token: str
    attempts: int = 0

    def element(self) -> dict[str, Any]:
        return {"fields": self.body, "properties": [{"key": PROPERTY_KEY, "value": {"request": self.token}}]}


class Found(NamedTuple):
    """A request whose issue Jira created (its key as the create or the look-up said), the token that
    issue carries, and what the push sets after the create."""

    request: creations.CreationRecord
    key: str
    token: str
    later: dict[str, Any]


@dataclass
class Outcome:
    """What one batch came to: requests whose issue is found (to adopt), and the refused count."""

    found: list[Found] = field(default_factory=list)
    failed: int = 0


async def create_requested(io: SyncIO, ctx: SyncContext, report: SyncReport) -> None:
    """Take the connection's open creation requests, oldest first, a batch at a time; count what became
    of them. A failure that may pass (Jira unavailable) stops here: the rest waits for the next run."""
    after = 0
    while batch := await asyncio.to_thread(_open_requests, io, ctx, after):
        after = batch[-1].id
        outcome = Outcome()
        try:
            await _send_batch(io, ctx, batch, outcome)
            report.created_in_jira += await _adopt(io, ctx, outcome.found)
        except JiraError as exc:
            await asyncio.to_thread(_note, io, [r.id for r in batch], f"waiting for the next run: {exc}")
            report.errors.append(f"creating issues: {exc}")
            report.status = "partial"
            return
        finally:
            report.creations_refused += outcome.failed
        io.emit(report.progressed())


def _open_requests(io: SyncIO, ctx: SyncContext, after: int) -> list[creations.CreationRecord]:
    with io.db.session() as s:
        return creations.open_requests(s, ctx.name, BATCH, after=after)


async def _send_batch(
    io: SyncIO, ctx: SyncContext, batch: list[creations.CreationRecord], outcome: Outcome
) -> None:
    """Look for the issues of requests whose create went unanswered, then send the rest."""
    ready: list[Prepared] = []
    unanswered = [r for r in batch if r.state == "creating" and r.token]
    found, newest = await find(io, unanswered)
    overdue = [r for r in unanswered if r.token not in found and not within_grace(r)]
    if overdue:  # the index may lag longer than the grace: read the keys after the newest one known
        found.update(await probe(io, ctx, overdue, newest))
    for request in batch:
        if request.state == "creating" and request.token:
            if request.token in found:
                later = _later_of(ctx, request)
                outcome.found.append(Found(request, found[request.token], request.token, later))
                continue
            if within_grace(request):
                continue  # Jira's index may not show it yet: sending again could make a second issue
        prepared = await asyncio.to_thread(_prepare, io, ctx, request)
        if isinstance(prepared, str):
            await asyncio.to_thread(_fail, io, ctx, request.id, prepared)
            outcome.failed += 1
        else:
            ready.append(prepared)
    taken = await asyncio.to_thread(_take, io, ready)
    if len(taken) == 1:
        await _create_one(io, ctx, taken[0], outcome)
    elif taken:
        await _create_bulk(io, ctx, taken, outcome)


def _later_of(ctx: SyncContext, request: creations.CreationRecord) -> dict[str, Any]:
    try:
        return _split(ctx, request)[2]
    except Exception:  # noqa: BLE001 - writable when it was sent; then nothing is left to set
        return {}


def _prepare(io: SyncIO, ctx: SyncContext, request: creations.CreationRecord) -> Prepared | str:
    """The request ready to send, or why it cannot be sent as it is."""
    problem = _problem(io, ctx, request)
    if problem is not None:
        return problem
    try:
        body, sources, later = _split(ctx, request)
    except Exception as exc:  # noqa: BLE001 - a value the mapping cannot write is said on its request
        return f"cannot write the fields: {exc}"
    return Prepared(request, body, sources, later, request.token or uuid.uuid4().hex, request.attempts)


def _take(io: SyncIO, ready: list[Prepared]) -> list[Prepared]:
    """Claim each request for one more create (recorded before anything is sent); those another process
    claimed meanwhile are left to it."""
    taken = []
    with io.db.session(write=True) as s:
        for p in ready:
            if creations.mark_sending(s, p.request.id, p.token, p.attempts):
                p.attempts += 1
                taken.append(p)
    return taken


async def _create_bulk(io: SyncIO, ctx: SyncContext, taken: list[Prepared], outcome: Outcome) -> None:
    try:
        result = await io.client.create_issues([p.element() for p in taken])
    except (JiraBadRequest, JiraNotFound, JiraAuthError):
        # Refused whole (Jira answers 400 when every element fails; a site without bulk create, 404; no
        # permission in a project, 403): one at a time says why for each.
        for p in taken:
            await _create_one(io, ctx, p, outcome)
        return
    except (CircuitOpenError, JiraRateLimited):
        await asyncio.to_thread(_reopen, io, [p.request.id for p in taken])  # Jira did not act
        raise
    succeeded = [p for i, p in enumerate(taken) if i not in result.failed]
    # Matched by order here; the read-back checks each one's token before it is recorded (_adopt).
    for p, created in zip(succeeded, result.issues, strict=False):
        outcome.found.append(Found(p.request, str(created["key"]), p.token, p.later))
    for index, error in sorted(result.failed.items()):
        p = taken[index]
        if _drop_unsettable(p, error.field_errors):
            await _create_one(io, ctx, p, outcome, claimed=False)
        else:
            await asyncio.to_thread(
                _fail, io, ctx, p.request.id, f"Jira refused the creation: {_words(error, p.sources)}"
            )
            outcome.failed += 1


def _drop_unsettable(p: Prepared, field_errors: Mapping[str, str]) -> bool:
    """When Jira refused only fields the create screen lacks (not the summary, project or type), take them
    out of the create and leave them to the push after it; False when that would not help."""
    dropped = {f: p.sources[f] for f in field_errors if f in p.sources and f not in CORE_CREATE_FIELDS}
    if not dropped or len(dropped) != len(field_errors):
        return False
    for field_id, name in dropped.items():
        p.body.pop(field_id, None)
        p.sources.pop(field_id, None)
        p.later[name] = (p.request.fields or {})[name]
    return True


def _problem(io: SyncIO, ctx: SyncContext, request: creations.CreationRecord) -> str | None:
    """Why the request cannot be sent as it is, or None (said on the request; nothing is sent)."""
    if request.fields is None:
        return request.problem
    if not (request.project_key or "").strip() or not (request.issue_type or "").strip():
        return "a creation needs project_key and issue_type"
    missing = [name for name in REQUIRED if request.fields.get(name) in (None, "")]
    if missing:
        return f"a creation needs {', '.join(missing)} in fields"
    names = {c.name for c in ctx.codecs if c.direction != "pull"}
    unknown = sorted(set(request.fields) - names)
    if unknown:
        return f"unknown or pull-only field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
    for name, value in request.fields.items():
        if value is None:
            continue  # not set: the issue starts without it
        if name == "sprint_id":
            try:
                with io.db.session() as s:
                    sprint_rows.named_sprint_id(s, ctx.name, value)
            except ValueError as exc:
                return str(exc)
            continue
        problem = local_edit_problem(name, value)
        if problem is not None:
            return f"{name}: {problem}"
    return None


def _split(
    ctx: SyncContext, request: creations.CreationRecord
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """The create's ``fields`` (Jira field id -> value), the local field each came from, and the values
    a create cannot carry (left to the push that follows: the status, the sprint, ``update`` operations)."""
    by_name = {c.name: c for c in ctx.codecs}
    codec_ctx = replace(ctx.codec_ctx, previous_fields={})
    mapping_ctx = replace(ctx.mapping_ctx, previous_fields={})
    body: dict[str, Any] = {
        "project": {"key": request.project_key},
        "issuetype": {"name": request.issue_type},
    }
    sources: dict[str, str] = {}
    later: dict[str, Any] = {}
    for name, value in (request.fields or {}).items():
        if value is None:
            continue
        if name in AFTER_CREATE:
            later[name] = value
            continue
        codec = by_name[name]
        write = codec.to_jira(value, mapping_ctx if isinstance(codec, MappedField) else codec_ctx)
        if write.kind != "field":
            later[name] = value
            continue
        body[write.field_id] = write.value
        sources[write.field_id] = name
    return body, sources, later


async def _create_one(
    io: SyncIO, ctx: SyncContext, p: Prepared, outcome: Outcome, *, claimed: bool = True
) -> None:
    """One ``POST /issue``, and once more without the fields the create screen lacks if Jira names only
    those. ``claimed``: the request is claimed for this attempt already."""
    for _attempt in range(2):
        if not claimed and not await asyncio.to_thread(_take, io, [p]):
            return  # another process took it meanwhile
        claimed = False
        try:
            created = await io.client.create_issue(p.body, properties={PROPERTY_KEY: {"request": p.token}})
        except JiraBadRequest as exc:
            if _drop_unsettable(p, exc.field_errors):
                continue
            await asyncio.to_thread(
                _fail, io, ctx, p.request.id, f"Jira refused the creation: {_words(exc, p.sources)}"
            )
            outcome.failed += 1
            return
        except (JiraNotFound, JiraAuthError) as exc:
            await asyncio.to_thread(_fail, io, ctx, p.request.id, f"Jira refused the creation: {exc}")
            outcome.failed += 1
            return
        except (CircuitOpenError, JiraRateLimited):
            await asyncio.to_thread(_reopen, io, [p.request.id])  # Jira did not act: nothing to look for
            raise
        # Any other failure leaves it ``creating``: it may have reached Jira, so the next run looks first.
        outcome.found.append(Found(p.request, str(created["key"]), p.token, p.later))
        return
    await asyncio.to_thread(_fail, io, ctx, p.request.id, "Jira refused the creation twice")
    outcome.failed += 1


def _words(exc: JiraBadRequest | ElementError, sources: Mapping[str, str]) -> str:
    """Jira's reasons, each under the local field name it concerns."""
    parts = list(exc.messages) + [f"{sources.get(f, f)}: {msg}" for f, msg in exc.field_errors.items()]
    return "; ".join(parts) or str(exc)


async def _adopt(io: SyncIO, ctx: SyncContext, found: list[Found]) -> int:
    """Read the created issues back (one bulk fetch, with their tokens), record each on its request, apply
    them to the local store and queue what the creates could not set as local edits; returns how many were
    recorded. One whose read-back does not carry its request's token stays ``creating``: the next run looks
    for it by the token."""
    if not found:
        return 0
    fetched = await io.client.bulk_fetch(
        [f.key for f in found], list(ctx.jira_fields), properties=[PROPERTY_KEY]
    )
    by_token = {token_of(issue): issue for issue in fetched if token_of(issue) is not None}
    for f in found:
        if f.token not in by_token:  # Server's bulk read is a search, whose index may not show it yet
            with contextlib.suppress(JiraNotFound):
                issue = await io.client.get_issue(f.key, list(ctx.jira_fields), properties=[PROPERTY_KEY])
                if token_of(issue) == f.token:
                    by_token[f.token] = issue
    matched: list[Adopted] = [(f.request, by_token[f.token], f.later) for f in found if f.token in by_token]
    recorded = await asyncio.to_thread(_mark_created, io, ctx, matched)
    if not recorded:
        return 0
    versions = [{k: v for k, v in issue.items() if k != "properties"} for _, issue, _ in recorded]
    await asyncio.to_thread(apply_page, io, ctx, versions, checkpoint=False)
    await asyncio.to_thread(
        _queue_later, io, ctx, [(str(i["key"]), later) for _, i, later in recorded if later]
    )
    keys = [str(issue["key"]) for _, issue, _ in recorded]
    log.debug("issues created in Jira", connection=ctx.name, count=len(keys), keys=_span(keys))
    return len(recorded)


def _span(keys: list[str]) -> str:
    """A batch's keys for a log line: all of a few, the first and last of many."""
    return ", ".join(keys) if len(keys) <= 3 else f"{keys[0]} … {keys[-1]}"


def _mark_created(
    io: SyncIO,
    ctx: SyncContext,
    matched: list[tuple[creations.CreationRecord, Mapping[str, Any], dict[str, Any]]],
) -> list[tuple[creations.CreationRecord, Mapping[str, Any], dict[str, Any]]]:
    """Record each created issue on its request, with the audit line; those another process recorded
    first are left out."""
    recorded = []
    with io.db.session(write=True) as s:
        for request, issue, later in matched:
            key = str(issue["key"])
            if not creations.mark_created(s, request.id, key, str(issue.get("id") or "") or None):
                continue
            reason = f"{creations.CREATED_IN_JIRA} from new_issues #{request.id}"
            repo.append_audit(
                s, ctx.name, "jira", None, None, dict(request.fields or {}), issue_key=key, reason=reason,
                actor=request.requested_by or ctx.actor,
            )  # fmt: skip
            recorded.append((request, issue, later))
    return recorded


def _queue_later(io: SyncIO, ctx: SyncContext, edits: list[tuple[str, Mapping[str, Any]]]) -> None:
    """What the creates could not set, as local edits of the new issues (the push writes them)."""
    if not edits:
        return
    with io.db.session(write=True) as s:
        rows = si.issues_by_key(s, ctx.name, [key for key, _ in edits])
        for key, later in edits:
            row = rows.get(key)
            if row is None:
                continue
            values = dict(later)
            if values.get("sprint_id") is not None:
                values["sprint_id"] = sprint_rows.named_sprint_id(s, ctx.name, values["sprint_id"])
            si.set_local_values(s, int(row.id), values)


def _fail(io: SyncIO, ctx: SyncContext, request_id: int, error: str) -> None:
    log.warning("issue not created", connection=ctx.name, request=request_id, error=error)
    with io.db.session(write=True) as s:
        creations.mark_failed(s, request_id, error)


def _note(io: SyncIO, request_ids: list[int], note: str) -> None:
    with io.db.session(write=True) as s:
        creations.note_waiting(s, request_ids, note)


def _reopen(io: SyncIO, request_ids: list[int]) -> None:
    with io.db.session(write=True) as s:
        for request_id in request_ids:
            creations.reopen(s, request_id)
