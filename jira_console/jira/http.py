"""The resilient HTTP core of the Jira client: auth, flavor detection and one request pipeline.

Each request goes: deadline -> tenacity retry loop -> (not-before gate + token bucket) -> circuit breaker
-> httpx. Responses feed the gate (``Retry-After``), the limiter (rate-limit headers) and the health log.
Headers are never copied into exceptions or logs, and the client's repr shows no secret.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_before_delay

from jira_console import redact
from jira_console.config import JiraConnection
from jira_console.events import RateLimited
from jira_console.jira.errors import (
    JiraAuthError,
    JiraError,
    JiraNotFound,
    JiraRateLimited,
    JiraUnavailable,
    error_for_status,
    lasting_transport_failure,
    transport_failure,
)
from jira_console.jira.models import CallRecord, ConnectionHealth, Flavor, ServerInfo
from jira_console.jira.resilience import (
    AdaptiveRateLimiter,
    Breaker,
    HealthLog,
    NotBeforeGate,
    RetryWait,
    path_template,
    rate_limit_remaining,
    retry_after_seconds,
    should_retry,
)
from jira_console.jira.shared import CredentialsBlocked, SharedGuard, auth_denial
from jira_console.logs import get_logger
from jira_console.secret_files import file_in_use, modified_at

log = get_logger(__name__)

GATEWAY = "https://api.atlassian.com/ex/jira"
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Transport failures where the request provably never reached Jira: safe to retry even for a create.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _BearerAuth(httpx.Auth):
    """Bearer token auth whose repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "<BearerAuth ****>"


def host_flavor(url: str) -> Flavor | None:
    """Flavor implied by the host alone (``*.atlassian.net`` or the OAuth gateway), else None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith(".atlassian.net") or host.endswith(".jira.com") or "/ex/jira/" in parts.path:
        return "cloud"
    if host == "api.atlassian.com":
        return "cloud"
    return None


def base_url_for(conn: JiraConnection) -> str:
    """Where requests go: the site URL, or the OAuth 2.0 gateway for Cloud bearer tokens with a cloud id."""
    if "/ex/jira/" in conn.url:
        return conn.url
    if conn.auth == "bearer" and conn.cloud_id:
        return f"{GATEWAY}/{conn.cloud_id}"
    return conn.url


def _token_file_written_at(conn: JiraConnection) -> float | None:
    """The token file's modification time when the connection's token comes from it (the variable
    ``token_env`` names gives none), else None."""
    return (
        modified_at(conn.token_file)
        if conn.token_file and file_in_use(conn.token_env, conn.token_file)
        else None
    )


class JiraHttp:
    """Connection-level plumbing shared by every API method (see :class:`jira_console.jira.JiraClient`)."""

    def __init__(
        self,
        conn: JiraConnection,
        *,
        token: SecretStr | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_event: Callable[[Any], Any] | None = None,
    ) -> None:
        self.conn = conn
        self.name = conn.name
        self.base_url = base_url_for(conn)
        self.token_written_at = _token_file_written_at(conn) if token is None else None
        """When the token file this client's token came from was last written (stat before reading it, so
        never later than the token in use); None for a token from anywhere else."""
        secret = token if token is not None else conn.resolve_token()
        self._has_token = secret is not None and bool(secret.get_secret_value())
        auth: httpx.Auth | None = None
        if secret is not None and self._has_token:
            value = secret.get_secret_value()
            redact.register(value)
            if conn.auth == "basic":
                auth = httpx.BasicAuth(conn.user or "", value)
            else:
                auth = _BearerAuth(value)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(conn.timeout_seconds),
            verify=conn.verify_tls,
            headers={"Accept": "application/json", "User-Agent": "jira-console/0.1"},
            follow_redirects=False,
        )
        self.on_event = on_event
        self.gate = NotBeforeGate()
        self.limiter = AdaptiveRateLimiter(conn.rate_limit_per_second)
        self.breaker = Breaker(
            conn.name, conn.breaker_failure_threshold, conn.breaker_recovery_seconds, on_event
        )
        self._health = HealthLog()
        self.api_calls = 0
        """Number of HTTP requests actually sent on this connection."""
        self._flavor: Flavor | None = None if conn.flavor == "auto" else conn.flavor
        self._server_info: ServerInfo | None = None
        self._detect_lock = asyncio.Lock()
        self._sleep: Callable[[float], Any] = asyncio.sleep
        self.shared: SharedGuard | None = None
        """Facts shared with the other processes using this site (Retry-After, denied credentials)."""
        self.auth_block: str | None = None
        """Why Jira denied the Basic credentials: while set, they are not sent again."""
        self._basic = conn.auth == "basic"
        self.retry_lasting = True
        """Whether a failure no retry within seconds cures (a host name that does not resolve, TLS against a
        plain-HTTP port) is retried like any other: the sync does (a resolver or a proxy may come back),
        ``config check`` does not (it says the cause at once)."""
        self.notify_refused: str | None = None
        """Why Jira refused ``notifyUsers=false`` (``notify_watchers = false`` without admin rights)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, url={self.base_url!r}, flavor={self._flavor!r})"

    async def __aenter__(self) -> JiraHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the keep-alive connection pool."""
        await self._http.aclose()

    # ----------------------------------------------------------------------------------------- flavor

    @property
    def flavor(self) -> Flavor:
        """``cloud`` or ``server``: pinned, detected, or (before detection) guessed from the host."""
        return self._flavor or host_flavor(self.base_url) or "server"

    @property
    def api(self) -> str:
        """REST platform prefix: ``/rest/api/3`` on Cloud, ``/rest/api/2`` on Server/DC."""
        return "/rest/api/3" if self.flavor == "cloud" else "/rest/api/2"

    async def server_info(self) -> ServerInfo:
        """Ask ``/rest/api/2/serverInfo`` (served by both flavors); sets :attr:`flavor` when on auto."""
        resp = await self.request("GET", "/rest/api/2/serverInfo")
        info = ServerInfo.from_json(resp.json(), host_hint=host_flavor(self.base_url))
        self._server_info = info
        if self.conn.flavor == "auto":
            self._flavor = info.flavor
        return info

    async def ensure_flavor(self) -> Flavor:
        """Detect the flavor once (lazily, on the first API call) unless it is pinned."""
        if self._flavor is not None:
            return self._flavor
        async with self._detect_lock:
            if self._flavor is None:
                try:
                    await self.server_info()
                except (JiraNotFound, JiraAuthError) as exc:
                    # Some sites hide serverInfo from anonymous or restricted users; the host still tells.
                    guess = host_flavor(self.base_url)
                    if guess is None:
                        raise
                    log.info("jira.flavor_from_host", connection=self.name, status=exc.status, flavor=guess)
                    self._flavor = guess
        assert self._flavor is not None
        return self._flavor

    # ----------------------------------------------------------------------------------------- health

    @property
    def health(self) -> ConnectionHealth:
        """A snapshot of this connection's health (breaker, latency, rate-limit budget, recent errors)."""
        health = self._health.snapshot(self.name, self.breaker, self.limiter, self.gate)
        if not self._has_token:
            return replace(health, auth="no token")
        return replace(health, auth="blocked") if self.auth_blocked else health

    @property
    def auth_blocked(self) -> bool:
        """Whether this connection holds back its Basic credentials (see :attr:`auth_block`)."""
        return self._basic and self.auth_block is not None

    # ----------------------------------------------------------------------------------------- requests

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one logical request with retries, rate limiting, the breaker and the operation deadline.

        ``idempotent`` defaults to True for GET/HEAD/PUT/DELETE and False for POST; pass True for POSTs
        that only read (search, bulkfetch). A non-idempotent request is retried only when Jira provably
        did not process it (connection refused, 429, 503 with Retry-After).
        """
        method = method.upper()
        if not self._has_token:
            hint = self.conn.token_hint()
            raise JiraAuthError(0, method, path, [f"no token for connection {self.name!r}: {hint}"])
        if self.auth_blocked and self.shared is None:
            raise CredentialsBlocked(self.name, method, path, str(self.auth_block))
        safe = idempotent if idempotent is not None else method in _IDEMPOTENT_METHODS
        budget = self.conn.operation_deadline_seconds
        deadline = time.monotonic() + budget
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.conn.max_attempts) | stop_before_delay(budget),
            wait=RetryWait(self.conn.backoff_base_seconds, self.conn.backoff_max_seconds, self.gate),
            retry=retry_if_exception(
                lambda exc: (
                    should_retry(exc, safe) and (self.retry_lasting or not getattr(exc, "lasting", False))
                )
            ),
            sleep=lambda seconds: self._sleep(seconds),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async with asyncio.timeout(budget):
                async for attempt in retrying:
                    with attempt:
                        return await self._attempt(method, path, params, json, deadline)
        except TimeoutError:
            raise JiraUnavailable(
                0, method, path, [f"operation deadline of {budget:g}s exceeded (retries included)"]
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _log_retry(self, state: Any) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info(
            "jira.retry",
            connection=self.name,
            attempt=state.attempt_number,
            sleep=round(state.upcoming_sleep, 3),
            error=str(exc),
        )

    async def _admission(self, method: str, path: str, deadline: float) -> None:
        """Wait for a token and the not-before gate; refuse when Jira's wait outlasts the deadline. The gate
        takes in what other processes recorded after the token is taken, right before sending: a token can
        take seconds to come (a slowed bucket, many callers), and a 429 another process received meanwhile
        must hold this request too (the push campaign's early requests: the store read before that wait)."""
        while True:
            await self.limiter.acquire()
            await self._consult_shared(method, path)
            if self.gate.not_before > deadline:
                err = JiraRateLimited(
                    429,
                    method,
                    path,
                    [f"Jira asked to wait {self.gate.remaining():.1f}s, beyond the operation deadline"],
                    retry_after=self.gate.remaining(),
                )
                err.local = True  # type: ignore[attr-defined]
                raise err
            if self.gate.remaining() <= 0:
                return
            # After the wait, a token and the store again: another process may have been told to wait longer.
            await self.gate.wait()

    async def _consult_shared(self, method: str, path: str) -> None:
        if self.shared is None:
            return
        facts = await self.shared.load()
        # The store is the authority: a block any process recorded holds here too, and one lifted (by
        # `config check`, or a changed configuration) is lifted here too. A token read from a file written
        # after the block is a new token (the operator's fix, then a reload): it may be tried.
        block = facts.auth_block
        written, blocked_at = self.token_written_at, facts.auth_blocked_at
        if block is not None and written is not None and blocked_at is not None and written > blocked_at:
            await self.shared.credentials_replaced()
            block = None
        self.auth_block = block
        if self.auth_blocked:
            raise CredentialsBlocked(self.name, method, path, str(facts.auth_block))
        if facts.not_before is not None:
            left = facts.not_before - time.time()
            if left > 0:
                self.gate.push(left)

    async def _after_response(self, resp: httpx.Response, until: float | None) -> str | None:
        """Share what this response taught: a Retry-After deadline, or credentials Jira denied (whose
        reason is returned)."""
        if until is not None and self.shared is not None:
            await self.shared.rate_limited(until)
        if not self._basic or resp.status_code not in (401, 403):
            return None
        reason = auth_denial(resp.status_code, resp.headers, resp.text[:4000])
        if reason is None:
            return None
        self.auth_block = reason
        log.warning("jira.credentials_blocked", connection=self.name, reason=reason)
        if self.shared is not None:
            await self.shared.auth_denied(reason)
        return reason

    async def _attempt(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any, deadline: float
    ) -> httpx.Response:
        template = path_template(path)
        await self._admission(method, path, deadline)
        async with self.breaker.guard(method, path):
            started = time.monotonic()
            self.api_calls += 1
            try:
                resp = await self._http.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:
                latency = (time.monotonic() - started) * 1000
                kind = type(exc).__name__
                self._health.record(
                    CallRecord(method, template, 0, latency, None, datetime.now(UTC), error=kind)
                )
                err = JiraUnavailable(0, method, path, [transport_failure(kind, redact.scrub(str(exc)))])
                err.reached_server = False if isinstance(exc, _UNSENT) else None  # type: ignore[attr-defined]
                err.lasting = lasting_transport_failure(str(exc))  # type: ignore[attr-defined]
                raise err from None
            latency = (time.monotonic() - started) * 1000
            until = self._observe(method, template, resp, latency)
            denied = await self._after_response(resp, until)
            if denied is not None:
                blocked = CredentialsBlocked(self.name, method, path, denied, resp.status_code)
                raise blocked from self._error(method, path, resp)
            if resp.status_code >= 400:
                raise self._error(method, path, resp)
            return resp

    def _observe(self, method: str, template: str, resp: httpx.Response, latency: float) -> float | None:
        """Feed the gate, the limiter and the health log; returns Jira's Retry-After deadline (epoch s)."""
        headers = resp.headers
        until = None
        remaining = rate_limit_remaining(headers)
        status = resp.status_code
        error = None
        if status == 429 or (status == 503 and ("Retry-After" in headers or "Beta-Retry-After" in headers)):
            delay = retry_after_seconds(headers)
            if delay is None and status == 429:
                delay = self.conn.backoff_base_seconds  # 429 without a hint: still hold everyone back a bit
            if delay is not None:
                self.gate.push(delay)
                until = time.time() + delay
                if self.on_event is not None:
                    self.on_event(RateLimited(self.conn.name, delay, until))
            if status == 429:
                self.limiter.on_rate_limited()
            error = f"rate limited, retry after {delay}s"
        self.limiter.observe(headers)
        self._health.record(
            CallRecord(method, template, status, latency, remaining, datetime.now(UTC), error=error)
        )
        return until

    def _error(self, method: str, path: str, resp: httpx.Response) -> JiraError:
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        retry_after = None
        if resp.status_code in (429, 503):
            retry_after = retry_after_seconds(resp.headers)
        return error_for_status(resp.status_code, method, path, body, retry_after=retry_after)
