"""The :class:`Simulator`: state, faults, webhooks and the ASGI app, served by uvicorn on loopback."""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import json
import random
import socket
import struct
import threading
import time
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from jira_console.simulator import (
    boards_config,
    control,
    routes_agile,
    routes_platform,
    routes_properties,
    routes_search,
    routes_workflow,
)
from jira_console.simulator import properties as entity_props
from jira_console.simulator.edits import EditError
from jira_console.simulator.faults import Faults, Violations
from jira_console.simulator.http import JiraHTTPError
from jira_console.simulator.logins import Logins
from jira_console.simulator.model import API_TOKEN, CLOUD_ID, FIELD_IDS, PAT_TOKEN, SimConfig
from jira_console.simulator.notify import Notifications
from jira_console.simulator.state import Site
from jira_console.simulator.webhooks import WebhookHub, WebhookTarget

UNAUTHORIZED = {
    "errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
    "errors": {},
}
ANONYMOUS_PATHS = ("/rest/api/2/serverInfo", "/rest/api/3/serverInfo")


async def _send_json(send: Any, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    hdrs = [(b"content-type", b"application/json;charset=UTF-8"), (b"content-length", str(len(raw)).encode())]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": raw})


def _reset_connection(send: Any) -> None:
    """Abort the TCP connection with an RST. uvicorn's ``send`` is a bound method of the request cycle,
    which holds the asyncio transport; SO_LINGER 0 turns the close into a reset."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionResetError("simulated connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _Gate:
    """Outermost ASGI layer: OAuth prefix, auth, early retries, faults, rate-limit headers, logging."""

    def __init__(self, sim: Simulator, app: Any) -> None:
        self.sim = sim
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sim = self.sim
        path: str = scope["path"]
        method: str = scope["method"]
        host = dict(scope.get("headers") or []).get(b"host", b"127.0.0.1").decode()
        base = f"{scope.get('scheme', 'http')}://{host}"
        oauth = False
        prefix = f"/ex/jira/{CLOUD_ID}"
        if sim.config.flavor == "cloud" and path.startswith(prefix + "/"):
            oauth = True
            path = path[len(prefix) :]
            base += prefix
        scope = dict(scope, path=path, raw_path=path.encode(), sim_base=base)
        status_box = {"status": 0, "logged": False}
        internal = path.startswith("/_sim/")

        async def logged_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
                # Record before the client can see the answer, so a test that asserts right after a
                # response never races the log.
                if not internal:
                    status_box["logged"] = True
                    sim._log(method, path, message["status"])
            await send(message)

        try:
            if path.startswith("/_sim/"):
                await self.app(scope, receive, logged_send)
                return
            await self._guarded(scope, receive, logged_send, send, method=method, path=path, oauth=oauth)
        finally:
            if not internal and not status_box["logged"]:
                sim._log(method, path, status_box["status"])

    async def _guarded(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        raw_send: Any,
        *,
        method: str,
        path: str,
        oauth: bool,
    ) -> None:
        sim = self.sim
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode()
        client = auth or "anonymous"
        authorized = sim._authorized(auth, oauth, path)
        denial = sim.logins.check(auth, authorized, scope["sim_base"])
        if denial is not None:
            await _send_json(send, denial.status, denial.body, denial.headers)
            return
        if not authorized:
            failed = {
                "WWW-Authenticate": 'Basic realm="protected-area"',
                "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
            }
            await _send_json(send, 401, UNAUTHORIZED, failed)
            return
        left = sim._violations.check_early(client)
        if left is not None:
            wait = max(1, int(left + 0.999))
            peer = scope.get("client")
            if not sim._violations.in_flight(client, peer):
                sim._violations.add(
                    "early_retry", method, path, f"retried {left:.2f}s before Retry-After elapsed"
                )
                sim._violations.told_to_wait(client, wait, peer)
            await _send_json(
                send,
                429,
                {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                self._limit_headers(client, wait),
            )
            return
        decision = sim.faults.decide(client)
        if decision.kind == "outage":
            await _send_json(send, 503, {"errorMessages": ["Service Unavailable"], "errors": {}})
            return
        if decision.kind == "reset":
            _reset_connection(raw_send)
            return
        if decision.kind == "timeout":
            await asyncio.sleep(sim.faults.settings.timeout_seconds)
            await _send_json(send, 504, {"errorMessages": ["Gateway Timeout"], "errors": {}})
            return
        if decision.kind in ("rate_limit", "error"):
            extra: dict[str, str] = {}
            if decision.retry_after is not None:
                extra = self._limit_headers(client, decision.retry_after)
                if decision.retry_after > 0:
                    sim._violations.told_to_wait(client, decision.retry_after, scope.get("client"))
            message = "Rate limit exceeded." if decision.status == 429 else "Internal server error"
            await _send_json(send, decision.status, {"errorMessages": [message], "errors": {}}, extra)
            return
        limit_headers = self._normal_headers(client)

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *limit_headers])
            await send(message)

        await self.app(scope, receive, with_headers)

    def _limit_headers(self, client: str, retry_after: int) -> dict[str, str]:
        reset = datetime.fromtimestamp(time.time() + retry_after, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        out = {"Retry-After": str(retry_after), "X-RateLimit-Reset": reset, "X-RateLimit-Remaining": "0"}
        limit, _ = self.sim.faults.headroom(client)
        out["X-RateLimit-Limit"] = str(limit)
        if self.sim.config.flavor == "cloud":
            out["RateLimit-Reason"] = "jira-burst-based"
            out["X-RateLimit-NearLimit"] = "true"
        return out

    def _normal_headers(self, client: str) -> list[tuple[bytes, bytes]]:
        limit, remaining = self.sim.faults.headroom(client)
        out = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}
        if self.sim.config.flavor == "cloud":
            out["X-RateLimit-NearLimit"] = "true" if remaining < limit * 0.2 else "false"
        else:
            rps = self.sim.faults.settings.requests_per_second
            out["X-RateLimit-Interval-Seconds"] = "1"
            out["X-RateLimit-FillRate"] = str(int(rps) if rps else limit)
        return [(k.lower().encode(), v.encode()) for k, v in out.items()]


async def _accessible_resources(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    from starlette.responses import JSONResponse

    return JSONResponse(
        [
            {
                "id": CLOUD_ID,
                "url": sim.url or str(request.base_url).rstrip("/"),
                "name": "sim",
                "scopes": ["read:jira-work", "write:jira-work", "read:jira-user"],
                "avatarUrl": "",
            }
        ]
    )


async def _jira_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JiraHTTPError)
    return exc.response()


async def _not_found(request: Request, exc: Exception) -> Response:
    from starlette.exceptions import HTTPException

    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return JiraHTTPError(status, [f"null for uri: {request.url.path}"]).response()


class Simulator:
    """A simulated Jira site (Cloud or Server) for tests, demos and benchmarks. See the package docs."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.site = Site(self.config)
        self.faults = Faults(self.config.seed)
        self._violations = Violations()
        self.notifications = Notifications()
        """Which edits notified watchers; ``notifications.admin = False`` refuses ``notifyUsers=false``."""
        self.logins = Logins(enabled=self.config.flavor == "server")
        """Failed Basic logins; Server/DC holds a user at a CAPTCHA after three (see ``logins``)."""
        self._requests: list[dict[str, Any]] = []
        self._req_lock = threading.Lock()
        self.url: str | None = None
        self.hooks = WebhookHub(
            self.site,
            lambda: self.url or "http://127.0.0.1",
            self.config.webhook_retry_delays,
            self.config.webhook_timeout,
            self.config.seed,
        )
        from starlette.routing import Route

        routes = [
            *control.ROUTES,
            *routes_platform.ROUTES,
            *routes_properties.ROUTES,
            *routes_search.ROUTES,
            *routes_agile.ROUTES,
            *routes_workflow.ROUTES,
            *boards_config.ROUTES,
            Route("/oauth/token/accessible-resources", _accessible_resources),
        ]
        inner = Starlette(
            routes=routes, exception_handlers={JiraHTTPError: _jira_error, 404: _not_found, 405: _not_found}
        )
        inner.state.sim = self
        self.app = _Gate(self, inner)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._activity: threading.Thread | None = None
        self._activity_stop = threading.Event()

    # -------------------------------------------------------------- lifecycle
    def serve(self) -> Simulator:
        """Start uvicorn on the configured host and a free (or the given) port in a daemon thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        port = sock.getsockname()[1]
        cfg = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", http="h11", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(cfg)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sim-uvicorn", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        self.url = f"http://{self.config.host}:{port}"
        self.hooks.start()
        return self

    def stop(self) -> None:
        """Stop background activity, webhook delivery and the HTTP server."""
        self.stop_activity()
        self.hooks.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> Simulator:
        return self if self._server is not None else self.serve()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ credentials
    @property
    def credentials(self) -> dict[str, Any]:
        user = "ops@example.com" if self.config.flavor == "cloud" else "ops"
        return {"basic": (user, API_TOKEN), "bearer": PAT_TOKEN}

    def _authorized(self, header: str, oauth: bool, path: str) -> bool:
        if path in ANONYMOUS_PATHS and not header:
            return True
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            if value != PAT_TOKEN:
                return False
            # Cloud takes OAuth bearer tokens only through the api.atlassian.com /ex/jira/{cloudId} gateway.
            return self.config.flavor == "server" or oauth or path.startswith("/oauth/")
        if scheme.lower() == "basic" and not oauth:
            try:
                user, _, secret = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return bool((user, secret) == self.credentials["basic"])
        return False

    # -------------------------------------------------------------- recording
    def _log(self, method: str, path: str, status: int) -> None:
        with self._req_lock:
            self._requests.append({"method": method, "path": path, "status": status, "at": time.time()})

    def violate(self, kind: str, request: Request, detail: str) -> None:
        self._violations.add(kind, request.method, request.url.path, detail)

    @property
    def violations(self) -> list[dict[str, Any]]:
        """Rule-breaking requests: early_retry, removed_endpoint, unknown_parameter, bad_body."""
        return self._violations.items()

    def clear_violations(self) -> None:
        self._violations.clear()

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._req_lock:
            return list(self._requests)

    def request_count(self, path_prefix: str | None = None, method: str | None = None) -> int:
        with self._req_lock:
            return sum(
                1
                for r in self._requests
                if (path_prefix is None or r["path"].startswith(path_prefix))
                and (method is None or r["method"] == method.upper())
            )

    # ---------------------------------------------------------- control: data
    def issue(self, key: str) -> dict[str, Any]:
        """The canonical state of one issue (a copy), for assertions. KeyError when absent."""
        with self.site.lock:
            found = self.site.find(key)
            if found is None:
                raise KeyError(key)
            data = dataclasses.asdict(found)
        data["changelog"] = [dict(h) for h in data["changelog"]]
        return data

    def edit_issue(self, key: str, fields: dict[str, Any], by: str = "other") -> None:
        """Another user edits ``key`` (plain values or REST shapes; ``status`` allowed): bumps ``updated``
        and fires webhooks."""
        version = "3" if self.config.flavor == "cloud" else "2"
        self.site.edit(key, fields, None, version=version, by=by, lenient=True)

    def create_issue(
        self,
        project: str,
        fields: dict[str, Any],
        by: str = "other",
        properties: dict[str, Any] | None = None,
    ) -> str:
        """Another user creates an issue with entity ``properties`` (key -> JSON value); returns its key."""
        version = "3" if self.config.flavor == "cloud" else "2"
        props = entity_props.check_all(properties or {})
        return self.site.create(project, fields, version=version, by=by, lenient=True, props=props).key

    def issue_properties(self, key: str) -> dict[str, Any]:
        """The entity properties of an issue (a copy: property key -> JSON value). KeyError when absent."""
        with self.site.lock:
            return copy.deepcopy(entity_props.of(self.site, entity_props.find(self.site, key)))

    def set_issue_property(self, key: str, prop_key: str, value: Any) -> bool:
        """An app sets a property (True: created); as in Jira, ``updated`` stays and no webhook fires."""
        with self.site.lock:
            return entity_props.put(self.site, entity_props.find(self.site, key), prop_key, value)

    def delete_issue_property(self, key: str, prop_key: str) -> bool:
        """An app deletes a property; False when the issue did not have it. KeyError when no such issue."""
        with self.site.lock:
            return entity_props.remove(self.site, entity_props.find(self.site, key), prop_key)

    def delete_issue(self, key: str, by: str = "other") -> None:
        self.site.delete(key, by)

    def update_sprint(self, sprint_id: int, by: str = "other", **changes: Any) -> None:
        """Rename, set the goal, start or close a sprint (fires sprint_* webhooks)."""
        self.site.update_sprint(sprint_id, changes, by)

    # ------------------------------------------------------- control: webhooks
    def add_webhook_target(
        self,
        url: str,
        secret: str | None = None,
        duplicate_rate: float = 0.0,
        reorder: bool = False,
        events: list[str] | None = None,
        jql: str | None = None,
    ) -> WebhookTarget:
        return self.hooks.add(
            url,
            secret=secret,
            duplicate_rate=duplicate_rate,
            reorder=reorder,
            events=list(events or []),
            jql=jql,
            kind="python",
        )

    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every delivery attempt: target_id, url, event, identifier, attempt, status, headers, body."""
        return self.hooks.snapshot()

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        return self.hooks.drain(timeout)

    # ------------------------------------------------------- control: activity
    def start_activity(self, edits_per_second: float) -> None:
        """Other users keep editing random issues until :meth:`stop_activity`."""
        self.stop_activity()
        self._activity_stop.clear()
        rng = random.Random(self.config.seed ^ 0xAC7)
        interval = 1.0 / max(edits_per_second, 0.001)
        story = FIELD_IDS[self.config.flavor]["story_points"]

        def run() -> None:
            while not self._activity_stop.wait(interval):
                with self.site.lock:
                    keys = list(self.site.issues)
                if not keys:
                    continue
                key = rng.choice(keys)
                choice = rng.random()
                fields: dict[str, Any]
                if choice < 0.5:
                    fields = {"summary": f"Edited by a colleague #{rng.randrange(10**6)}"}
                elif choice < 0.8:
                    fields = {story: float(rng.choice((1, 2, 3, 5, 8, 13)))}
                else:
                    fields = {"labels": rng.sample(["customer", "perf", "security", "backend"], 2)}
                try:
                    self.edit_issue(key, fields, by=rng.choice(["alice", "bob", "carol", "other"]))
                except (KeyError, EditError):  # an issue deleted meanwhile is fine
                    pass

        self._activity = threading.Thread(target=run, name="sim-activity", daemon=True)
        self._activity.start()

    def stop_activity(self) -> None:
        if self._activity is not None:
            self._activity_stop.set()
            self._activity.join(timeout=5)
            self._activity = None
