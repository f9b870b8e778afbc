"""``/api/v1/audit``: the audit log (newest first, filtered), and undo from it: ``POST /undo`` plans the
reverse of chosen lines (``dry_run``, the default, writes nothing) or applies it through the same
compare-before-write as any local change, as the console and ``jira-console audit undo`` do."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from jira_console.api.deps import MAX_ID, EngineDep, blocking, known_connection, strictly, utc_moment
from jira_console.api.errors import ApiError
from jira_console.api.models import ConnectionName, FieldName, IssueKey, Paging
from jira_console.api.responses import errors
from jira_console.facade.undo import AuditQuery, UndoResult, UndoSelection
from jira_console.store.converters import AuditEntry
from jira_console.sync.report import SyncBusy
from jira_console.sync.undo import EntriesNotFound, RunNotFound, UndoError

router = APIRouter(tags=["audit"])
ACTOR = "api"

EntryId = Annotated[int, Field(ge=1, le=MAX_ID)]


class AuditListQuery(Paging):
    issue_key: IssueKey | None = None
    run_id: int | None = Field(None, ge=1, le=MAX_ID, description="Lines written by this run.")
    side: Literal["jira", "local"] | None = Field(None, description="The side the lines wrote to.")
    field: FieldName | None = None
    connection: ConnectionName | None = None


class UndoRequest(BaseModel):
    """Exactly one of ``entries``, ``run_id`` or ``issue_key`` with ``since``."""

    model_config = ConfigDict(extra="forbid")

    entries: list[EntryId] | None = Field(None, max_length=10_000, description="Audit entry ids.")
    run_id: int | None = Field(None, ge=1, le=MAX_ID, description="Every line of this run.")
    issue_key: IssueKey | None = Field(None, description="This issue's lines since ``since``.")
    since: AwareDatetime | None = None
    connection: ConnectionName | None = Field(None, description="Only lines of this connection.")
    dry_run: bool = Field(True, description="Plan only (the default); false writes the reverse changes.")


class UndoStepOut(BaseModel):
    connection: str
    issue_key: str | None
    field: str | None
    side: Literal["jira", "local"] = Field(description="Where the undo writes.")
    entries: list[int] = Field(description="The audit lines reversed, oldest first.")
    expected: Any = Field(description="What that side held after the change.")
    value: Any = Field(description="What the undo writes.")
    current: Any = Field(description="What that side holds now (Jira: as last synced, in a dry run).")
    action: Literal["write", "skip", "conflict", "refused", "undone", "failed"]
    note: str


class UndoOut(BaseModel):
    selection: str
    applied: bool
    run_ids: list[int] = Field(description="The undo's own runs: undo them to restore the change.")
    counts: dict[str, int]
    steps: list[UndoStepOut]


UNDO: TypeAdapter[UndoRequest] = TypeAdapter(UndoRequest)


def undo_out(result: UndoResult) -> UndoOut:
    return UndoOut(
        selection=result.selection,
        applied=result.applied,
        run_ids=list(result.run_ids),
        counts=result.counts(),
        steps=[UndoStepOut.model_validate(s.to_json()) for s in result.steps],
    )


@router.get("", response_model=list[AuditEntry], responses=errors(404, 422))
async def list_audit(engine: EngineDep, query: Annotated[AuditListQuery, Query()]) -> list[AuditEntry]:
    """Audit lines, newest first: what changed on which side, and what caused it (a run, a delivery, an
    operator; ``undo_of`` for an undo). A plain array without a total (API v1 keeps the shape it was
    published with; the conflict and webhook event lists answer a page): to read further, ask again with
    `offset` moved on by `limit` until fewer than `limit` lines come back."""
    wanted = AuditQuery(
        query.issue_key, query.run_id, query.side, query.field,
        known_connection(engine, query.connection), limit=query.limit, offset=query.offset,
    )  # fmt: skip
    return await blocking(engine.audit_log, wanted)


@router.post(
    "/undo",
    response_model=UndoOut,
    responses=errors(
        400,
        404,
        409,
        422,
        502,
        why={
            400: "The body is not valid JSON, the selection is not exactly one of `entries`, `run_id` or "
            "`issue_key` with `since`, or it names no audit line (a run that wrote nothing).",
            404: "An entry id or run id that names nothing (or no such connection).",
            409: "Another process's sync of the connection holds its lease; retry (`Retry-After`).",
        },
    ),  # fmt: skip
)
async def undo(engine: EngineDep, request: Request, body: UndoRequest) -> UndoOut:
    """Reverse audited changes. A dry run (the default) says what would be written where; otherwise each
    change is written back where it was made, through the compare-before-write of any local change: a
    value changed since is left as a conflict (in the queue for Jira-side changes), never overwritten."""
    choice = await strictly(request, UNDO)
    selection = UndoSelection(
        tuple(choice.entries or ()), choice.run_id, choice.issue_key, utc_moment(choice.since),
        known_connection(engine, choice.connection),
    )  # fmt: skip
    try:
        selection.check()
    except UndoError:  # said in this API's names (the selection's own message names the CLI's flags)
        raise ApiError(400, "give exactly one of: entries, run_id, or issue_key with since") from None
    try:
        result = await engine.undo(selection, apply=not choice.dry_run, actor=ACTOR)
    except UndoError as exc:
        raise ApiError(404 if isinstance(exc, EntriesNotFound | RunNotFound) else 400, str(exc)) from None
    except SyncBusy as exc:  # another process's sync of the connection holds the lease
        raise ApiError(409, str(exc), headers={"Retry-After": "5"}) from None
    return undo_out(result)
