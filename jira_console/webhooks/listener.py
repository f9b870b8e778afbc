"""The webhook listener: a Starlette app that stores Jira deliveries durably and answers fast.

``POST {webhooks.path}[?connection=NAME]``, in this order:

1. Size: a ``Content-Length`` over ``max_body_bytes`` is answered 413 unread; otherwise the body is read
   as a stream and reading stops (413) as soon as it passes the limit.
2. Signature: when secrets are configured or ``require_signature`` is on, ``X-Hub-Signature`` is checked
   on the raw bytes before anything parses them: 401 on a mismatch.
3. Classification (:mod:`jira_console.webhooks.events`). Malformed or unprocessable bodies are stored too,
   as ``failed``/``ignored`` with the reason, and answered 202 like the rest: Jira would otherwise resend a
   poison message for half an hour, and the row keeps the evidence.
4. De-duplication on ``X-Atlassian-Webhook-Identifier`` (same across Jira's retries), falling back to the
   body's SHA-256. Identifiers are only unique per Jira site, so the key is prefixed with the connection.
5. The row is committed (grouped with concurrent deliveries, see :mod:`~jira_console.webhooks.ingest`);
   only then the answer: 202 ``{"status": "stored" | "duplicate"}``. A database failure answers 503 so
   Jira retries.

The connection is ``?connection=NAME`` when given (an unknown name is stored as ``failed`` with that
reason, whatever the body holds, even one that would be ignored: fix the config, then ``retry_event``),
else the configured connection whose URL host matches the payload's ``issue.self``/``user.self`` host, else
null.

``GET /healthz``: database reachability, breaker state and sync health per connection, queue depth.
``"status"`` is ``ok``, ``degraded`` (naming under ``"degraded"`` each connection whose syncs have failed for
longer than two intervals) or ``unavailable``; the answer is 200 unless events cannot be stored (503), so a
load balancer keeps sending webhooks to a daemon whose Jira is failing.
``GET /metrics``: Prometheus text (with each connection's last successful sync time and failing streak).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from jira_console.config import Settings
from jira_console.health import SyncHealth, one_line
from jira_console.logs import get_logger
from jira_console.store import Database
from jira_console.store.models import utcnow
from jira_console.store.outage import DatabaseOutage
from jira_console.store.queue import QueueStats, event_stats
from jira_console.webhooks.answers import DUPLICATE, STORED, json_answer
from jira_console.webhooks.events import Classified, classify, payload_links
from jira_console.webhooks.exposure import secret_unset
from jira_console.webhooks.ingest import BatcherClosed, IngestBatcher
from jira_console.webhooks.metrics import WebhookMetrics, event_type_label
from jira_console.webhooks.server import ListenerServer as ListenerServer  # re-exported
from jira_console.webhooks.server import serve_listener as serve_listener  # re-exported
from jira_console.webhooks.signature import SIGNATURE_HEADER, verify_signature

log = get_logger(__name__)

IDENTIFIER_HEADER = "x-atlassian-webhook-identifier"
_KEPT_HEADERS = tuple((name, name.encode("latin-1")) for name in (
    "x-atlassian-webhook-identifier", "x-atlassian-webhook-retry", "x-atlassian-webhook-flow", "user-agent",
    "content-type",
))  # fmt: skip
_SIGNATURE = SIGNATURE_HEADER.lower().encode("latin-1")
_IDENTIFIER = IDENTIFIER_HEADER.encode("latin-1")
_MAX_IDENTIFIER = 255
_MAX_REMEMBERED_QUERIES = 64


@dataclass(frozen=True, slots=True)
class Delivery:
    """What ``on_event`` is told after a delivery was committed (duplicates included)."""

    event_id: int | None
    """The stored row's id (None for a duplicate: the earlier delivery's row stands)."""
    identifier: str
    connection: str | None
    event_type: str | None
    issue_key: str | None
    status: str
    duplicate: bool


class _TooLarge(Exception):
    pass


class ListenerHandlers:
    """Request handlers bound to one database and configuration."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        on_event: Callable[[Delivery], None] | None,
        health: Callable[[], Mapping[str, str]] | None,
        metrics: WebhookMetrics,
        sync_health: Callable[[], Mapping[str, SyncHealth]] | None = None,
    ) -> None:
        self.db = db
        self.config = settings.webhooks
        self.secrets = self.config.secrets()
        self.check_signature = bool(self.secrets) or self.config.require_signature
        self.known = {conn.name for conn in settings.jira}
        self._named_by_query: dict[bytes, str] = {}
        """Query strings seen naming a configured connection, and that name: Jira sends the same URL with
        every delivery, and parsing it was a tenth of the handler's own time. Only known names, at most
        :data:`_MAX_REMEMBERED_QUERIES` of them: a sender varying the query cannot grow it."""
        # Longest base URL first, so that two sites on one host (context paths) are told apart.
        self.by_prefix = sorted(
            ((conn.url.lower() + "/", conn.name) for conn in settings.jira), key=lambda p: -len(p[0])
        )
        self.by_host: dict[str, str] = {}
        for conn in settings.jira:
            self.by_host.setdefault(urlsplit(conn.url).netloc.lower(), conn.name)
        self.on_event = on_event
        self.health_source = health
        self.sync_health = sync_health
        self.metrics = metrics
        self.batcher = IngestBatcher(db, on_commit=lambda n: metrics.commit_batch.observe(n))
        self.outage: DatabaseOutage | None = None
        """Where the daemon says a database that does not answer (once per outage, not per delivery)."""
        self.write_error: str | None = None
        """The last database write's failure (a delivery's commit, the daemon's heartbeat), None once a
        write goes through again: a full disk still answers reads, so ``/healthz`` must hear of it here."""
        if self.check_signature and not self.secrets:
            log.error(
                f"webhooks.require_signature is on but {secret_unset(self.config)}: every delivery will be "
                "refused (401); give it the secret Jira signs deliveries with, or set [webhooks] enabled = "
                "false to run without the listener (the scheduled syncs go on)"
            )

    async def _read_body(self, headers: Mapping[bytes, bytes], receive: Receive) -> bytes:
        """The request body from the ASGI messages, stopping as soon as it passes the size limit."""
        limit = self.config.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _connection(self, scope: Scope, payload: dict[str, Any] | None) -> tuple[str | None, str | None]:
        """(connection, error): the named or inferred connection, and why it is unusable if it is."""
        # The standard library's parser on the raw query (as Starlette decodes it): Starlette's QueryParams,
        # a multi-dict built for every request, was a sixth of this handler's time.
        query = scope.get("query_string", b"")
        remembered = self._named_by_query.get(query) if query else None
        if remembered is not None:
            return remembered, None
        named = (
            dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)).get("connection")
            if query
            else None
        )
        if named:
            if named in self.known:
                if len(self._named_by_query) < _MAX_REMEMBERED_QUERIES:
                    self._named_by_query[query] = named
                return named, None
            return named[:64], f"unknown connection {named[:64]!r} in ?connection= (not in the configuration)"
        if payload is not None:
            links = payload_links(payload)
            for link in links:
                lowered = link.lower()
                for prefix, name in self.by_prefix:
                    if lowered.startswith(prefix):
                        return name, None
            for link in links:
                host = urlsplit(link).netloc.lower()
                if host in self.by_host:
                    return self.by_host[host], None
        return None, None

    def _row(
        self,
        headers: Mapping[bytes, bytes],
        body: bytes,
        classified: Classified,
        *,
        connection: str | None,
        status: str,
        reason: str | None,
    ) -> dict[str, Any]:
        """The ``webhook_events`` row of one delivery (its identifier: Jira's, else the body's hash)."""
        content_hash = hashlib.sha256(body).hexdigest()
        delivered = headers.get(_IDENTIFIER)
        given = delivered.decode("latin-1") if delivered else "sha256:" + content_hash
        identifier = f"{connection or '-'}:{given}"
        if len(identifier) > _MAX_IDENTIFIER:
            identifier = identifier[:64] + ":sha256:" + hashlib.sha256(identifier.encode()).hexdigest()
        now = utcnow()
        return {
            "connection": connection,
            "identifier": identifier,
            "content_hash": content_hash,
            "event_type": classified.event_type,
            "issue_key": classified.issue_key,
            "event_ts_ms": classified.event_ts_ms,
            "received_at": now,
            "headers": {
                k: v.decode("latin-1") for k, raw in _KEPT_HEADERS if (v := headers.get(raw)) is not None
            },
            "payload": body.decode("utf-8", errors="replace"),
            "status": status,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": reason,
            "processed_at": None if status == "received" else now,
        }

    async def receive(self, scope: Scope, receive: Receive) -> Response:
        """One delivery, from its ASGI scope and messages to the answer (see the module docstring)."""
        # Header names arrive lower-cased (ASGI); the first of repeated ones counts, as in Starlette.
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        try:
            body = await self._read_body(headers, receive)
        except _TooLarge:
            self.metrics.rejected.labels("too_large").inc()
            return json_answer(
                413,
                {"error": f"body larger than {self.config.max_body_bytes} bytes"},
                {"Connection": "close"},
            )
        except ClientDisconnect:
            return Response(status_code=400)
        signature = headers.get(_SIGNATURE)
        if (
            self.check_signature
            and verify_signature(body, signature.decode("latin-1") if signature else None, self.secrets)
            is None
        ):
            self.metrics.rejected.labels("signature").inc()
            return json_answer(401, {"error": "missing or invalid X-Hub-Signature"})
        classified = classify(body)
        connection, conn_error = self._connection(scope, classified.payload)
        status, reason = classified.status, classified.reason
        if conn_error:
            # Whatever the body holds, a delivery for a connection the configuration does not name is kept
            # as failed (never ignored, so never purged), saying so first: once the configuration names it,
            # a retry processes it as it is.
            status, reason = "failed", f"{conn_error}; {reason}" if reason else conn_error
        row = self._row(headers, body, classified, connection=connection, status=status, reason=reason)
        try:
            stored = await self.batcher.submit(row)
        except BatcherClosed:
            self.metrics.rejected.labels("unavailable").inc()
            return json_answer(503, {"error": "shutting down"}, {"Retry-After": "5"})
        except Exception as exc:  # noqa: BLE001 - any storage failure: Jira must retry
            self.note_write(exc)
            self.metrics.rejected.labels("unavailable").inc()
            if self.outage is None or not self.outage.failed(exc, "storing webhook deliveries"):
                log.error(
                    "storing a webhook delivery failed", error=str(exc), event_type=classified.event_type
                )
            return json_answer(503, {"error": "could not store the event"}, {"Retry-After": "5"})
        self.note_write(None)
        if self.outage is not None and self.outage.since is not None:
            self.outage.answered("storing webhook deliveries")
        duplicate = stored.duplicate
        outcome = "duplicate" if duplicate else ("stored" if status == "received" else status)
        self.metrics.count_received(event_type_label(classified.event_type), outcome)
        if self.on_event is not None:
            delivery = Delivery(
                stored.id, row["identifier"], connection, classified.event_type, classified.issue_key, status,
                duplicate,
            )  # fmt: skip
            try:
                self.on_event(delivery)
            except Exception as exc:  # noqa: BLE001 - a listener hook must not undo an acknowledged commit
                log.warning("webhook on_event hook failed", error=str(exc))
        if duplicate:
            return DUPLICATE
        if not reason:
            return STORED
        return json_answer(202, {"status": "stored", "note": reason})

    def note_write(self, error: BaseException | None) -> None:
        """Record a write's outcome (None: it went through)."""
        if error is None:
            self.write_error = None
        else:
            self.write_error = one_line(f"{type(error).__name__}: {error}") or type(error).__name__

    def _stats(self) -> QueueStats:
        with self.db.session() as session:
            return event_stats(session)

    async def healthz(self, request: Request) -> Response:
        body: dict[str, Any] = {"database": "ok"}
        ok = True
        try:
            stats = await asyncio.wait_for(asyncio.to_thread(self._stats), timeout=5)
            body["queue"] = {
                "depth": stats.depth,
                "oldest_pending_seconds": stats.oldest_pending_seconds,
                "failed": stats.by_status["failed"],
            }
            self.metrics.snapshot = stats
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            ok = False
            body["database"] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
        if ok and self.write_error is not None:
            ok = False  # reads still work (a full disk): deliveries are answered 503 meanwhile
            body["database"] = f"cannot write: {self.write_error}"
        if self.health_source is not None:
            try:
                body["breakers"] = dict(self.health_source())
            except Exception as exc:  # noqa: BLE001
                body["breakers"] = {"error": str(exc)[:200]}
        degraded = await self._sync_report(body) if ok else []
        if degraded:
            body["degraded"] = degraded
        body["status"] = "unavailable" if not ok else "degraded" if degraded else "ok"
        return json_answer(200 if ok else 503, body)

    async def _read_sync_health(self) -> Mapping[str, SyncHealth]:
        if self.sync_health is None:
            return {}
        syncs = await asyncio.wait_for(asyncio.to_thread(self.sync_health), timeout=5)
        self.metrics.syncs = syncs
        return syncs

    async def _sync_report(self, body: dict[str, Any]) -> list[str]:
        """Each connection's sync health into ``body``; the names of the degraded ones."""
        try:
            syncs = await self._read_sync_health()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            body["syncs"] = {"error": str(exc)[:200]}
            return []
        now = utcnow()
        body["syncs"] = {name: h.report(now) for name, h in syncs.items()}
        return [name for name, h in syncs.items() if h.degraded]

    async def metrics_endpoint(self, request: Request) -> Response:
        try:
            self.metrics.snapshot = await asyncio.wait_for(asyncio.to_thread(self._stats), timeout=5)
        except Exception as exc:  # noqa: BLE001 - serve the other metrics with the last known figures
            log.warning("queue figures unavailable for /metrics", error=str(exc))
        try:
            await self._read_sync_health()
        except Exception as exc:  # noqa: BLE001 - as above
            log.warning("sync health unavailable for /metrics", error=str(exc))
        data = await asyncio.to_thread(generate_latest, self.metrics.registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)


class _WebhookEndpoint:
    """The delivery route as a plain ASGI app (Starlette routes an object that is not a function as one):
    it reads what it needs from the scope and the messages itself, without the ``Request`` object and the
    exception-handling layer Starlette wraps a function endpoint in (about a tenth of a delivery's CPU).
    An unexpected error still reaches Starlette's error middleware (a 500, logged)."""

    def __init__(self, listener: ListenerHandlers) -> None:
        self.listener = listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.listener.receive(scope, receive)
        await response(scope, receive, send)


def create_listener_app(
    db: Database,
    settings: Settings,
    *,
    on_event: Callable[[Delivery], None] | None = None,
    health: Callable[[], Mapping[str, str]] | None = None,
    metrics: CollectorRegistry | None = None,
    api_calls: Callable[[], Mapping[tuple[str, str], float]] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    sync_health: Callable[[], Mapping[str, SyncHealth]] | None = None,
) -> Starlette:
    """The listener app. ``health`` returns breaker state per connection (also exported as metrics);
    ``api_calls`` returns Jira API call counts by (connection, HTTP status); ``sync_health`` each
    connection's sync health (blocking: called in a thread), for ``/healthz`` and ``/metrics``;
    ``metrics`` is the registry to count into (a private one when None). ``app.state.listener`` exposes
    the handlers for tests."""
    registry = metrics if metrics is not None else CollectorRegistry()
    webhook_metrics = WebhookMetrics.for_registry(registry)
    if health is not None:
        webhook_metrics.breakers = health
    if api_calls is not None:
        webhook_metrics.api_calls = api_calls
    listener = ListenerHandlers(db, settings, on_event, health, webhook_metrics, sync_health)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await listener.batcher.close()

    routes: list[BaseRoute] = [
        Route(settings.webhooks.path, _WebhookEndpoint(listener), methods=["POST"]),
        Route("/healthz", listener.healthz, methods=["GET"]),
        Route("/metrics", listener.metrics_endpoint, methods=["GET"]),
        *extra_routes,
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.listener = listener
    app.state.metrics = webhook_metrics
    return app
