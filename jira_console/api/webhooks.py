"""``/api/v1/webhooks``: Jira's receiver (the webhook listener's own receive path, so the same signature
check, size limit, de-duplication and durable insert before 202), the stored events with their payloads,
retrying one, and the listener's and queue's health and figures."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.types import Receive, Scope

from jira_console.api.deps import EngineDep, blocking, known_connection, utc_moment
from jira_console.api.errors import ApiError
from jira_console.api.models import (
    EventQuery,
    EventSummary,
    Page,
    QueueHealth,
    WebhookAccepted,
    WebhookHealth,
)
from jira_console.api.responses import errors
from jira_console.facade.views import WebhookStats
from jira_console.store.converters import WebhookEventRecord

router = APIRouter(tags=["webhooks"])
receiver_router = APIRouter(tags=["webhooks"])

RECEIVER_PATH = "/jira"
EventId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The stored event's id.")]


class Receiver(Protocol):
    """The webhook listener's handler of a delivery (``webhooks.listener``)."""

    async def receive(self, scope: Scope, receive: Receive) -> Response: ...


@receiver_router.post(
    RECEIVER_PATH,
    status_code=202,
    response_model=WebhookAccepted,
    responses=errors(400, 401, 404, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
            "description": "Jira's delivery, signed with `X-Hub-Signature: sha256=<hex HMAC of the body>`.",
        }
    },
)
async def receive_from_jira(
    request: Request,
    connection: Annotated[
        str | None, Query(description="The connection the webhook was registered for.")
    ] = None,
) -> Response:
    """Jira's webhook receiver: no bearer token, Jira signs the body instead (401 on a bad or missing
    signature when a secret is configured). The event is stored durably before the 202."""
    receiver: Receiver | None = request.app.state.receiver
    if receiver is None:
        raise ApiError(
            404, "this daemon does not receive webhooks (webhooks.enabled is false or --no-listen)"
        )
    return await receiver.receive(request.scope, request.receive)


@router.get("/events", response_model=Page[EventSummary], responses=errors(404, 422))
async def list_events(engine: EngineDep, query: Annotated[EventQuery, Query()]) -> Page[EventSummary]:
    """Stored deliveries, newest first, without their payloads."""
    filters = {"connection": known_connection(engine, query.connection), "since": utc_moment(query.since)}
    items = await blocking(engine.list_webhook_events, query.status, query.limit, query.offset, **filters)
    total = await blocking(engine.count_webhook_events, query.status, **filters)
    return Page[EventSummary](
        items=[EventSummary.model_validate(e) for e in items],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


@router.get("/events/{event_id}", response_model=WebhookEventRecord, responses=errors(404, 422))
async def get_event(engine: EngineDep, event_id: EventId) -> WebhookEventRecord:
    """One event with its payload, the headers kept, its attempts and its last error."""
    event = await blocking(engine.get_webhook_event, event_id)
    if event is None:
        raise ApiError(404, f"no webhook event with id {event_id}")
    return event


@router.post(
    "/events/{event_id}/retry",
    status_code=202,
    response_model=EventSummary,
    responses=errors(400, 404, 409, 422),
)
async def retry_event(engine: EngineDep, event_id: EventId) -> EventSummary:
    """Queue the event for processing again with a fresh attempt budget (409 while a worker holds it)."""
    if await blocking(engine.get_webhook_event, event_id) is None:
        raise ApiError(404, f"no webhook event with id {event_id}")
    if not await engine.retry_webhook_event(event_id):
        raise ApiError(409, f"webhook event {event_id} is being processed right now; retry when it is done")
    event = await blocking(engine.get_webhook_event, event_id)
    if event is None:  # purged by retention in between
        raise ApiError(404, f"no webhook event with id {event_id}")
    return EventSummary.model_validate(event)


@router.get("/health", response_model=WebhookHealth, responses=errors())
async def health(engine: EngineDep, request: Request) -> WebhookHealth:
    """Whether a listener serves this database, the queue's depth and age, and the breakers."""
    listener = await blocking(engine.listener_status)
    stats = await blocking(engine.webhook_stats)
    connections = await blocking(engine.connections)
    receives = request.app.state.receiver is not None
    return WebhookHealth(
        listening=listener.listening,
        address=listener.address,
        receiver=f"{request.app.state.prefix}/webhooks{RECEIVER_PATH}" if receives else None,
        queue=QueueHealth(
            depth=stats.queue_depth,
            oldest_pending_seconds=stats.oldest_pending_seconds,
            failed=stats.counts.get("failed", 0),
        ),
        breakers={c.name: c.breaker_state for c in connections},
    )


@router.get("/stats", response_model=WebhookStats, responses=errors())
async def stats(engine: EngineDep) -> WebhookStats:
    """Events per status, the queue's depth and the last minute's traffic."""
    return await blocking(engine.webhook_stats)
