"""Creating in Jira the issues a host program asked for in ``new_issues`` (see
:mod:`jira_console.store.creations` for the states a request goes through).

Each request becomes one ``POST /issue`` carrying the plain field values (summary, description, priority,
labels, mapped fields, ...) and an entity property with the request's token. What a create cannot set
(the status: Jira starts an issue in its workflow's first status; the sprint: moved through the Agile API)
is set on the new issue's local row as a local edit, which the push that follows in the same run writes
like any other, with its compare, refusals and audit.

A request never creates two issues: the token is stored before the create is sent, and a request whose
create went unanswered (a timeout, a crash) is looked for by that token, among the project's issues created
since, before anything is sent again. Jira's search index may lag behind a create it answered, so a request
whose token is not found is sent again only once ``INDEX_GRACE`` has passed since its last attempt.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from jira_console.jira.errors import (
    CircuitOpenError,
    JiraAuthError,
    JiraBadRequest,
    JiraError,
    JiraNotFound,
    JiraRateLimited,
)
from jira_console.logs import get_logger
from jira_console.store import creations, repo
from jira_console.store import issues as si
from jira_console.store import sprints as sprint_rows
from jira_console.store.models import utcnow
from jira_console.sync.context import SyncContext, SyncIO
from jira_console.sync.fields import MappedField, local_edit_problem
from jira_console.sync.page import apply_page
from jira_console.sync.report import SyncReport

log = get_logger(__name__)

PROPERTY_KEY = "jira-console"
"""The entity property a created issue carries: ``{"request": token}``."""
INDEX_GRACE = timedelta(minutes=2)
"""How long after an unanswered create its issue may still be missing from Jira's search."""
REQUESTS_PER_RUN = 50
REQUIRED = ("summary",)
AFTER_CREATE = ("status", "sprint_id")
"""Fields a create does not set: written to the new issue by the push that follows."""
CORE_CREATE_FIELDS = frozenset({"summary", "project", "issuetype"})
"""Jira fields without which there is no issue: a create refused for one of them is not tried without it."""


async def create_requested(io: SyncIO, ctx: SyncContext, report: SyncReport) -> None:
    """Take the connection's open creation requests, oldest first; count what became of them."""
    requests = await asyncio.to_thread(_open_requests, io, ctx)
    for request in requests:
        try:
            outcome = await _handle(io, ctx, request)
        except JiraError as exc:  # a read (the look-up, the new issue) that may pass: next run
            await asyncio.to_thread(_note, io, request.id, f"waiting for the next run: {exc}")
            report.errors.append(f"creating request #{request.id}: {exc}")
            report.status = "partial"
            return
        if outcome == "created":
            report.created_in_jira += 1
        elif outcome == "failed":
            report.creations_refused += 1


def _open_requests(io: SyncIO, ctx: SyncContext) -> list[creations.CreationRecord]:
    with io.db.session() as s:
        return creations.open_requests(s, ctx.name, REQUESTS_PER_RUN)


async def _handle(io: SyncIO, ctx: SyncContext, request: creations.CreationRecord) -> str:
    """``created``, ``failed`` or ``waiting`` (left open for a later run)."""
    if request.state == "creating" and request.token:
        found = await _find(io, ctx, request)
        if found is not None:
            try:
                later = _split(ctx, request)[2]
            except Exception:  # noqa: BLE001 - the fields were writable when it was sent; set what the create set
                later = {}
            await _adopt(io, ctx, request, found, later)
            return "created"
        if request.attempted_at is not None and utcnow() - request.attempted_at < INDEX_GRACE:
            return "waiting"
    problem = await asyncio.to_thread(_problem, io, ctx, request)
    if problem is not None:
        await asyncio.to_thread(_fail, io, ctx, request.id, problem)
        return "failed"
    return await _create(io, ctx, request)


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
        if name == "sprint_id" and value is not None:
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


async def _create(io: SyncIO, ctx: SyncContext, request: creations.CreationRecord) -> str:
    try:
        body, sources, later = _split(ctx, request)
    except Exception as exc:  # noqa: BLE001 - a value the mapping cannot write is said on its request
        await asyncio.to_thread(_fail, io, ctx, request.id, f"cannot write the fields: {exc}")
        return "failed"
    token = request.token or uuid.uuid4().hex
    attempts = request.attempts
    for _attempt in range(2):
        if not await asyncio.to_thread(_mark_sending, io, request.id, token, attempts):
            return "waiting"  # another process took it meanwhile
        attempts += 1
        try:
            created = await io.client.create_issue(body, properties={PROPERTY_KEY: {"request": token}})
        except JiraBadRequest as exc:
            dropped = {
                f: sources[f] for f in exc.field_errors if f in sources and f not in CORE_CREATE_FIELDS
            }
            if dropped and len(dropped) == len(exc.field_errors):
                # Fields the create screen lacks: created without them, then edited like any local change.
                for field_id, name in dropped.items():
                    body.pop(field_id, None)
                    later[name] = (request.fields or {})[name]
                continue
            await asyncio.to_thread(
                _fail, io, ctx, request.id, f"Jira refused the creation: {_words(exc, sources)}"
            )
            return "failed"
        except (JiraNotFound, JiraAuthError) as exc:
            await asyncio.to_thread(_fail, io, ctx, request.id, f"Jira refused the creation: {exc}")
            return "failed"
        except (CircuitOpenError, JiraRateLimited):
            await asyncio.to_thread(_reopen, io, request.id)  # Jira did not act: nothing to look for
            raise
        # Any other failure leaves it ``creating``: it may have reached Jira, so the next run looks first.
        await _adopt(io, ctx, request, created, later)
        return "created"
    await asyncio.to_thread(_fail, io, ctx, request.id, "Jira refused the creation twice")
    return "failed"


def _words(exc: JiraBadRequest, sources: Mapping[str, str]) -> str:
    """Jira's reasons, each under the local field name it concerns."""
    parts = list(exc.messages) + [f"{sources.get(f, f)}: {msg}" for f, msg in exc.field_errors.items()]
    return "; ".join(parts) or str(exc)


async def _find(io: SyncIO, ctx: SyncContext, request: creations.CreationRecord) -> dict[str, Any] | None:
    """The issue an earlier attempt of ``request`` created, looked for by its token among the project's
    issues created since a minute before that attempt (Jira's clock may be behind ours), or None."""
    since = request.attempted_at or request.requested_at or utcnow()
    since_ms = int((since.timestamp() - 60) * 1000)
    jql = f'project = "{request.project_key}" AND created >= {since_ms} ORDER BY created ASC'
    try:
        async for page in io.client.search_pages(jql, fields=["created"], properties=[PROPERTY_KEY]):
            for issue in page.issues:
                prop = (issue.get("properties") or {}).get(PROPERTY_KEY)
                if isinstance(prop, Mapping) and prop.get("request") == request.token:
                    return {"id": issue.get("id"), "key": issue.get("key")}
    except JiraBadRequest:
        return None  # a project Jira no longer knows (renamed, deleted): the create says what it is now
    return None


async def _adopt(
    io: SyncIO,
    ctx: SyncContext,
    request: creations.CreationRecord,
    created: Mapping[str, Any],
    later: dict[str, Any],
) -> None:
    """Record the created issue on its request, read it into the local store and queue what the create
    could not set as local edits of it."""
    key, jira_id = str(created["key"]), str(created.get("id") or "") or None
    if not await asyncio.to_thread(_mark_created, io, ctx, request, key, jira_id):
        return  # another process found it and recorded it first
    log.info("issue created in Jira", connection=ctx.name, request=request.id, issue=key)
    fresh = await io.client.get_issue(key, fields=list(ctx.jira_fields))
    await asyncio.to_thread(apply_page, io, ctx, [fresh], checkpoint=False)
    if later:
        await asyncio.to_thread(_queue_later, io, ctx, str(fresh.get("key") or key), later)


def _mark_sending(io: SyncIO, request_id: int, token: str, attempts: int) -> bool:
    with io.db.session(write=True) as s:
        return creations.mark_sending(s, request_id, token, attempts)


def _mark_created(
    io: SyncIO, ctx: SyncContext, request: creations.CreationRecord, key: str, jira_id: str | None
) -> bool:
    with io.db.session(write=True) as s:
        if not creations.mark_created(s, request.id, key, jira_id):
            return False
        reason = f"{creations.CREATED_IN_JIRA} from new_issues #{request.id}"
        repo.append_audit(
            s, ctx.name, "jira", None, None, dict(request.fields or {}), issue_key=key, reason=reason,
            actor=request.requested_by or ctx.actor,
        )  # fmt: skip
    return True


def _queue_later(io: SyncIO, ctx: SyncContext, key: str, later: Mapping[str, Any]) -> None:
    with io.db.session(write=True) as s:
        row = si.issues_by_key(s, ctx.name, [key]).get(key)
        if row is None:
            return
        values = dict(later)
        if values.get("sprint_id") is not None:
            values["sprint_id"] = sprint_rows.named_sprint_id(s, ctx.name, values["sprint_id"])
        si.set_local_values(s, int(row.id), values)


def _fail(io: SyncIO, ctx: SyncContext, request_id: int, error: str) -> None:
    log.warning("issue not created", connection=ctx.name, request=request_id, error=error)
    with io.db.session(write=True) as s:
        creations.mark_failed(s, request_id, error)


def _note(io: SyncIO, request_id: int, note: str) -> None:
    with io.db.session(write=True) as s:
        creations.note_waiting(s, request_id, note)


def _reopen(io: SyncIO, request_id: int) -> None:
    with io.db.session(write=True) as s:
        creations.reopen(s, request_id)
