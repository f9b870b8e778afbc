"""``/api/v1/integration/jira``: per connection health (auth, breaker, sync state) with the daemons'
liveness, the sync state, triggering a sync (a command any daemon on the database claims once), and the
conflict queue with its resolutions (settled locally, then pushed to Jira)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import TypeAdapter

from jira_console.api.deps import MAX_ID, EngineDep, blocking, known_connection, strictly
from jira_console.api.models import (
    CommandState,
    ConflictQuery,
    ConnectionHealth,
    DaemonHealth,
    IntegrationHealth,
    Page,
    ResolveRequest,
    SyncOverview,
    SyncTrigger,
    SyncTriggered,
    TakeValue,
    extend,
)
from jira_console.api.responses import errors
from jira_console.facade import Engine
from jira_console.facade.attached import daemon_alive
from jira_console.store.converters import CommandRecord, ConflictRecord, DaemonRecord

router = APIRouter(tags=["integration"])
ACTOR = "api"
TRIGGER = TypeAdapter(SyncTrigger)
RESOLVE: TypeAdapter[ResolveRequest] = TypeAdapter(ResolveRequest)

ConflictId = Annotated[int, Path(ge=1, le=MAX_ID, description="The conflict's id.")]
CommandId = Annotated[int, Path(ge=1, le=MAX_ID, description="The command's id.")]


def command_state(command: CommandRecord) -> CommandState:
    if command.finished_at is not None:
        state: Literal["queued", "running", "done", "failed"] = "failed" if command.error else "done"
    else:
        state = "running" if command.claimed_by else "queued"
    return extend(CommandState, command, state=state)


def _daemon_health(engine: Engine, daemon: DaemonRecord) -> DaemonHealth:
    return extend(DaemonHealth, daemon, alive=daemon_alive(daemon, engine.settings.daemon.heartbeat_seconds))


@router.get("/health", response_model=IntegrationHealth, responses=errors())
async def health(engine: EngineDep) -> IntegrationHealth:
    """Per connection: credentials, breaker, latency, rate-limit budget, errors and every sync scope's
    state; and every daemon on this database with whether it is alive."""
    connections = await blocking(engine.connections)
    states = await blocking(engine.sync_states)
    daemons = await blocking(engine.daemons)
    return IntegrationHealth(
        connections=[
            extend(ConnectionHealth, c, scopes=[s for s in states if s.connection == c.name])
            for c in connections
        ],
        daemons=[_daemon_health(engine, d) for d in daemons],
    )


@router.get("/sync", response_model=SyncOverview, responses=errors())
async def sync_state(engine: EngineDep) -> SyncOverview:
    """Every connection's sync scopes (watermark, last run, next run, running), the pending commands, the
    fields that fail to map, the issues edited locally and not pushed yet, the outbox rows pending or
    refused and the issue creations waiting or refused."""
    states = await blocking(engine.sync_states)
    pending = await blocking(engine.pending_commands)
    failing = await blocking(engine.field_error_counts)
    edited = await blocking(engine.local_edit_counts)
    waiting = await blocking(engine.outbox_counts)
    to_create = await blocking(engine.creation_counts)
    return SyncOverview(
        states=states,
        pending=[command_state(c) for c in pending],
        field_errors=failing,
        local_edits=edited,
        outbox=waiting,
        creations=to_create,
    )


@router.post("/sync", status_code=202, response_model=SyncTriggered, responses=errors(400, 404, 422))
async def trigger_sync(engine: EngineDep, request: Request, body: SyncTrigger | None = None) -> SyncTriggered:
    """Queue a sync that the first free daemon on this database claims (once). While a queued or running
    sync already covers the request, that command is answered instead of queuing another."""
    trigger = await strictly(request, TRIGGER) if body is not None else SyncTrigger.model_validate({})
    connection = known_connection(engine, trigger.connection)
    command, existing = await blocking(engine.trigger_sync, connection, trigger.full)
    return SyncTriggered(command=command_state(command), already_queued=existing)


@router.get("/commands/{command_id}", response_model=CommandState, responses=errors(404, 422))
async def get_command(engine: EngineDep, command_id: CommandId) -> CommandState:
    """A queued command: queued, running (claimed by a daemon), done (with its result) or failed."""
    return command_state(await blocking(engine.get_command, command_id))


@router.get("/conflicts", response_model=Page[ConflictRecord], responses=errors(404, 422))
async def list_conflicts(engine: EngineDep, query: Annotated[ConflictQuery, Query()]) -> Page[ConflictRecord]:
    """Conflicts (open ones by default), oldest first."""
    filters = {
        "status": None if query.status == "all" else query.status,
        "connection": known_connection(engine, query.connection),
        "field": query.field,
        "issue_key": query.issue_key,
    }
    items = await blocking(engine.list_conflicts, limit=query.limit, offset=query.offset, **filters)
    total = await blocking(engine.count_conflicts, **filters)
    return Page[ConflictRecord](
        items=items,
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


@router.post(
    "/conflicts/{conflict_id}/resolve",
    response_model=ConflictRecord,
    responses=errors(
        400,
        404,
        409,
        422,
        why={
            409: "The conflict is no longer open (resolved already, or by someone else meanwhile).",
            422: "Invalid values: the body, or a `value` the field cannot take (e.g. an empty summary).",
        },
    ),  # fmt: skip
)
async def resolve_conflict(
    engine: EngineDep, request: Request, conflict_id: ConflictId, body: ResolveRequest
) -> ConflictRecord:
    """Settle an open conflict with Jira's value, the local one or a value of your own; the issue is then
    pushed to Jira (compare before write). 409 when the conflict is no longer open, 422 when the value is
    one the field cannot take (nothing is changed)."""
    choice = await strictly(request, RESOLVE)
    value = choice.value if isinstance(choice, TakeValue) else None
    record = await engine.resolve_conflict(conflict_id, choice.take, value, actor=ACTOR)
    return record
