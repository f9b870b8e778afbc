"""``/api/v1/integration/jira/issue-requests``: ask for an issue to be created in Jira (a ``new_issues``
request, as a host program inserts one), and follow what became of it. The daemon holding the connection's
sync lease creates it at its next sync, or at once when the request asks for a sync now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from jira_console.api.deps import MAX_ID, EngineDep, blocking, connection_name, known_connection, strictly
from jira_console.api.errors import ApiError
from jira_console.api.models import CommandState, ConnectionName, Paging
from jira_console.api.responses import errors
from jira_console.facade.creations import CreationRecord

router = APIRouter(tags=["issue creation"])
ACTOR = "api"
RequestId = Annotated[int, Path(ge=1, le=MAX_ID, description="The request's id.")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class CreationFields(BaseModel):
    """The new issue's synced fields; ``summary`` is required, any other synced field may be given."""

    model_config = ConfigDict(extra="allow")

    summary: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(
        description="The issue's summary (Jira takes at most 255 characters)."
    )


class CreationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection: ConnectionName | None = Field(
        None, description="The connection to create in (required when several connections are configured)."
    )
    project: Name = Field(description="The project key, e.g. `ENG`.")
    issue_type: Name = Field(description="The issue type's name, e.g. `Task`.")
    fields: CreationFields = Field(
        description="Synced field -> value, as `issues` holds it (`summary` required; `status`, `sprint_id` "
        "by id or name, `story_points`, `labels`, mapped fields by their internal name)."
    )
    sync_now: bool = Field(False, description="Queue a sync of the connection now, which creates it.")


class CreationOut(BaseModel):
    id: int
    connection: str
    project_key: str
    issue_type: str
    fields: dict[str, Any] | None
    state: Literal["pending", "creating", "created", "failed"]
    requested_at: datetime | None = None
    requested_by: str | None = None
    attempts: int = 0
    attempted_at: datetime | None = None
    issue_key: str | None = Field(None, description="The created issue's key (state `created`).")
    jira_id: str | None = None
    error: str | None = Field(None, description="Why it failed, or what it waits for.")
    done_at: datetime | None = None
    sync: CommandState | None = Field(None, description="The sync queued by `sync_now`.")


class CreationQuery(Paging):
    connection: ConnectionName | None = None
    state: Literal["pending", "creating", "created", "failed"] | None = None


SHAPE = TypeAdapter(CreationIn)


def _out(record: CreationRecord, sync: CommandState | None = None) -> CreationOut:
    values = {k: getattr(record, k) for k in CreationOut.model_fields if k != "sync" and hasattr(record, k)}
    return CreationOut(**values, sync=sync)


@router.post(
    "",
    status_code=202,
    response_model=CreationOut,
    responses=errors(
        400,
        404,
        422,
        why={
            400: "The body is not valid JSON.",
            422: "Invalid values, refused before anything is queued: no summary, a field that does not sync, "
            "a value its column cannot hold, a sprint name that names no sprint, or no `connection` while "
            "several are configured.",
        },
    ),  # fmt: skip
)
async def request_issue(engine: EngineDep, request: Request, body: CreationIn) -> CreationOut:
    """Queue the creation of an issue in Jira. 422 when the request cannot be sent as it is (no summary,
    an unknown field, a value its column cannot hold), before anything is queued; `connection` is needed
    when several connections are configured."""
    from jira_console.api.integration import command_state

    wanted = await strictly(request, SHAPE)
    connection = connection_name(engine, wanted.connection)
    try:
        record = await blocking(
            engine.request_issue, wanted.project, wanted.issue_type, wanted.fields.model_dump(),
            connection=connection, requested_by=ACTOR,
        )  # fmt: skip
    except ValueError as exc:  # a value of the request the engine refuses: an invalid value, as any other
        raise ApiError(422, str(exc)) from None
    sync = None
    if wanted.sync_now:
        command, _ = await blocking(engine.trigger_sync, connection, False)
        sync = command_state(command)
    return _out(record, sync)


@router.get("", response_model=list[CreationOut], responses=errors(404, 422))
async def list_requests(engine: EngineDep, query: Annotated[CreationQuery, Query()]) -> list[CreationOut]:
    """Creation requests, newest first. A plain array without a total (API v1 keeps the shape it was
    published with; the conflict and webhook event lists answer a page): to read further, ask again with
    `offset` moved on by `limit` until fewer than `limit` requests come back."""
    connection = known_connection(engine, query.connection)
    rows = await blocking(engine.list_creations, connection, query.state, query.limit + query.offset)
    return [_out(r) for r in rows[query.offset :]]


@router.get("/{request_id}", response_model=CreationOut, responses=errors(404, 422))
async def get_request(engine: EngineDep, request_id: RequestId) -> CreationOut:
    """One request: pending, creating (sent; confirmed by the next sync), created (with the issue's key)
    or failed (with Jira's reason)."""
    record = await blocking(engine.get_creation, request_id)
    if record is None:
        raise ApiError(404, f"no creation request {request_id}")
    return _out(record)
