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
reason: fix the config, then ``retry_event``), else the configured connection whose URL host matches the
payload's ``issue.self``/``user.self`` host, else null.

``GET /healthz``: database reachability, breaker state per connection, queue depth; 200 when the database
answers (an open breaker does not stop the listener from storing events), 503 otherwise.
``GET /metrics``: Prometheus text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from jira_console.config import Settings
from jira_console.logs import get_logger
from jira_console.store import Database
from jira_console.webhooks.events import classify, payload_links
from jira_console.webhooks.ingest import BatcherClosed, IngestBatcher
from jira_console.webhooks.metrics import WebhookMetrics, event_type_label
from jira_console.webhooks.queue import event_stats, utcnow
from jira_console.webhooks.signature import SIGNATURE_HEADER, verify_signature

log = get_logger(__name__)

IDENTIFIER_HEADER = "x-atlassian-webhook-identifier"
_KEPT_HEADERS = (
    "x-atlassian-webhook-identifier",
    "x-atlassian-webhook-retry",
    "x-atlassian-webhook-flow",
    "user-agent",
    "content-type",
)
_MAX_IDENTIFIER = 255


@dataclass(frozen=True, slots=True)
class Delivery:
    """What ``on_event`` is told after a delivery was committed (duplicates included)."""

    identifier: str
    connection: str | None
    event_type: str | None
    issue_key: str | None
    status: str
    duplicate: bool


class _TooLarge(Exception):
    pass


def _json(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class _Listener:
    """Request handlers bound to one database and configuration."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        on_event: Callable[[Delivery], None] | None,
        health: Callable[[], Mapping[str, str]] | None,
        metrics: WebhookMetrics,
    ) -> None:
        self.db = db
        self.config = settings.webhooks
        self.secrets = self.config.secrets()
        self.check_signature = bool(self.secrets) or self.config.require_signature
        self.known = {conn.name for conn in settings.jira}
        # Longest base URL first, so that two sites on one host (context paths) are told apart.
        self.by_prefix = sorted(
            ((conn.url.lower() + "/", conn.name) for conn in settings.jira), key=lambda p: -len(p[0])
        )
        self.by_host: dict[str, str] = {}
        for conn in settings.jira:
            self.by_host.setdefault(urlsplit(conn.url).netloc.lower(), conn.name)
        self.on_event = on_event
        self.health_source = health
        self.metrics = metrics
        self.batcher = IngestBatcher(db, on_commit=lambda n: metrics.commit_batch.observe(n))
        if self.check_signature and not self.secrets:
            log.error(
                "webhook signatures are required but no secret is set; every delivery will be refused",
                secret_env=self.config.secret_env,
            )

    async def _read_body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _connection(self, request: Request, payload: dict[str, Any] | None) -> tuple[str | None, str | None]:
        """(connection, error): the named or inferred connection, and why it is unusable if it is."""
        named = request.query_params.get("connection")
        if named:
            if named in self.known:
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

    async def receive(self, request: Request) -> Response:
        try:
            body = await self._read_body(request)
        except _TooLarge:
            self.metrics.rejected.labels("too_large").inc()
            return _json(
                413,
                {"error": f"body larger than {self.config.max_body_bytes} bytes"},
                {"Connection": "close"},
            )
        except ClientDisconnect:
            return Response(status_code=400)
        if (
            self.check_signature
            and verify_signature(body, request.headers.get(SIGNATURE_HEADER), self.secrets) is None
        ):
            self.metrics.rejected.labels("signature").inc()
            return _json(401, {"error": "missing or invalid X-Hub-Signature"})
        classified = classify(body)
        connection, conn_error = self._connection(request, classified.payload)
        status, reason = classified.status, classified.reason
        if conn_error and status == "received":
            status, reason = "failed", conn_error
        delivered = request.headers.get(IDENTIFIER_HEADER)
        identifier = f"{connection or '-'}:" + (delivered or "sha256:" + hashlib.sha256(body).hexdigest())
        if len(identifier) > _MAX_IDENTIFIER:
            identifier = identifier[:64] + ":sha256:" + hashlib.sha256(identifier.encode()).hexdigest()
        now = utcnow()
        row = {
            "connection": connection,
            "identifier": identifier,
            "content_hash": hashlib.sha256(body).hexdigest(),
            "event_type": classified.event_type,
            "issue_key": classified.issue_key,
            "event_ts_ms": classified.event_ts_ms,
            "received_at": now,
            "headers": {k: request.headers[k] for k in _KEPT_HEADERS if k in request.headers},
            "payload": body.decode("utf-8", errors="replace"),
            "status": status,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": reason,
            "processed_at": None if status == "received" else now,
        }
        try:
            duplicate = await self.batcher.submit(row)
        except BatcherClosed:
            self.metrics.rejected.labels("unavailable").inc()
            return _json(503, {"error": "shutting down"}, {"Retry-After": "5"})
        except Exception as exc:  # noqa: BLE001 - any storage failure: Jira must retry
            self.metrics.rejected.labels("unavailable").inc()
            log.error("storing a webhook delivery failed", error=str(exc), event_type=classified.event_type)
            return _json(503, {"error": "could not store the event"}, {"Retry-After": "5"})
        outcome = "duplicate" if duplicate else ("stored" if status == "received" else status)
        self.metrics.received.labels(event_type_label(classified.event_type), outcome).inc()
        if self.on_event is not None:
            try:
                self.on_event(
                    Delivery(
                        identifier, connection, classified.event_type, classified.issue_key, status, duplicate
                    )
                )
            except Exception as exc:  # noqa: BLE001 - a listener hook must not undo an acknowledged commit
                log.warning("webhook on_event hook failed", error=str(exc))
        answer: dict[str, Any] = {"status": "duplicate" if duplicate else "stored"}
        if reason and not duplicate:
            answer["note"] = reason
        return _json(202, answer)

    def _stats(self) -> dict[str, Any]:
        with self.db.session() as session:
            return event_stats(session)

    async def healthz(self, request: Request) -> Response:
        body: dict[str, Any] = {"database": "ok"}
        ok = True
        try:
            stats = await asyncio.wait_for(asyncio.to_thread(self._stats), timeout=5)
            body["queue"] = {
                "depth": stats["depth"],
                "oldest_pending_seconds": stats["oldest_pending_seconds"],
                "failed": stats["by_status"].get("failed", 0),
            }
            self.metrics.snapshot = stats
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            ok = False
            body["database"] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
        if self.health_source is not None:
            try:
                body["breakers"] = dict(self.health_source())
            except Exception as exc:  # noqa: BLE001
                body["breakers"] = {"error": str(exc)[:200]}
        body["status"] = "ok" if ok else "unavailable"
        return _json(200 if ok else 503, body)

    async def metrics_endpoint(self, request: Request) -> Response:
        try:
            self.metrics.snapshot = await asyncio.wait_for(asyncio.to_thread(self._stats), timeout=5)
        except Exception as exc:  # noqa: BLE001 - serve the other metrics with the last known figures
            log.warning("queue figures unavailable for /metrics", error=str(exc))
        data = await asyncio.to_thread(generate_latest, self.metrics.registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)


def create_listener_app(
    db: Database,
    settings: Settings,
    *,
    on_event: Callable[[Delivery], None] | None = None,
    health: Callable[[], Mapping[str, str]] | None = None,
    metrics: CollectorRegistry | None = None,
    api_calls: Callable[[], Mapping[tuple[str, str], float]] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The listener app. ``health`` returns breaker state per connection (also exported as metrics);
    ``api_calls`` returns Jira API call counts by (connection, HTTP status); ``metrics`` is the registry
    to count into (a private one when None). ``app.state.listener`` exposes the handlers for tests."""
    registry = metrics if metrics is not None else CollectorRegistry()
    webhook_metrics = WebhookMetrics.for_registry(registry)
    if health is not None:
        webhook_metrics.breakers = health
    if api_calls is not None:
        webhook_metrics.api_calls = api_calls
    listener = _Listener(db, settings, on_event, health, webhook_metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await listener.batcher.close()

    routes: list[BaseRoute] = [
        Route(settings.webhooks.path, listener.receive, methods=["POST"]),
        Route("/healthz", listener.healthz, methods=["GET"]),
        Route("/metrics", listener.metrics_endpoint, methods=["GET"]),
        *extra_routes,
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.listener = listener
    app.state.metrics = webhook_metrics
    return app


class _InLoopServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the host program owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@dataclass
class ListenerServer:
    """A running in-loop uvicorn server."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop accepting, finish in-flight requests (and their commits), wait for the task."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace_seconds)
        except TimeoutError:
            self.server.force_exit = True
            await self.task


async def serve_listener(
    app: Starlette,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    log_level: str = "warning",
    backlog: int = 2048,
) -> ListenerServer:
    """Start uvicorn as a task of the running event loop (never a second loop) and wait until it listens.

    ``port=0`` picks a free port (see ``.port``). Stop with ``await server.stop()``.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        log_level=log_level,
        access_log=False,
        backlog=backlog,
        server_header=False,
        date_header=False,
    )
    server = _InLoopServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(), name="webhook-listener")
    while not server.started:
        if task.done():
            error = task.exception() if not task.cancelled() else None
            raise RuntimeError(f"webhook listener failed to start on {host}:{port}: {error!r}")
        await asyncio.sleep(0.01)
    bound = port
    for srv in server.servers:
        for sock in srv.sockets:
            bound = sock.getsockname()[1]
            break
    return ListenerServer(server=server, task=task, host=host, port=bound)
