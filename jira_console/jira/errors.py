"""Errors raised by the Jira client, worded for people and free of secrets.

Every error carries the method, the request path (never headers, never the full URL with credentials) and
Jira's own ``errorMessages``/``errors`` so an operator can act on it, e.g.
``PUT /rest/api/3/issue/ENG-1 -> 400: customfield_1: Field 'customfield_1' cannot be set``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jira_console import redact


class JiraError(Exception):
    """A request to Jira failed. ``status`` is the HTTP status (0 when no response arrived)."""

    def __init__(
        self,
        status: int,
        method: str,
        path: str,
        messages: Sequence[str] = (),
        field_errors: Mapping[str, str] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method.upper()
        self.path = path
        self.messages = [redact.scrub(str(m)) for m in messages]
        self.field_errors = {str(k): redact.scrub(str(v)) for k, v in (field_errors or {}).items()}
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = f"{self.method} {self.path} -> {self.status or 'no response'}"
        parts = list(self.messages) + [f"{k}: {v}" for k, v in self.field_errors.items()]
        return redact.scrub(f"{head}: {'; '.join(parts)}" if parts else head)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()!r})"


class JiraAuthError(JiraError):
    """401/403: the credentials are wrong, expired or lack a permission."""


class JiraNotFound(JiraError):
    """404: the issue, sprint, board or endpoint does not exist (or is not visible to this user)."""


class JiraConflict(JiraError):
    """409: a conflicting concurrent update; re-read and retry the write."""


class JiraBadRequest(JiraError):
    """400 (and other 4xx): Jira refused the request; ``field_errors`` says which field and why."""


class JiraRateLimited(JiraError):
    """429 (or 503 with Retry-After) still refused after the retries and deadline were spent."""


class JiraUnavailable(JiraError):
    """5xx, timeouts, connection errors and resets after the retries were spent."""


class CircuitOpenError(JiraUnavailable):
    """The connection's circuit breaker is open: the call failed fast without touching Jira."""

    def __init__(
        self, connection: str, method: str, path: str, opens_in: float, last_failure: str | None = None
    ) -> None:
        self.connection = connection
        self.opens_in = max(0.0, opens_in)
        self.last_failure = last_failure
        """The failure that last counted against the breaker (what the operator has to fix), if known."""
        last = f"; the last failure: {last_failure}" if last_failure else ""
        super().__init__(
            0,
            method,
            path,
            [
                f"circuit breaker for connection {connection!r} is open after repeated failures; "
                f"it half-opens in {self.opens_in:.1f}s{last}"
            ],
        )


_UNRESOLVED = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "temporary failure in name resolution",
    "no address associated",
)
"""How the resolvers of Linux, macOS and Windows say that a host name has no address."""


_NOT_TLS = ("wrong_version_number", "wrong version number")
_UNTRUSTED = ("certificate_verify_failed",)


def lasting_transport_failure(detail: str) -> bool:
    """Whether a request that got no answer failed for a cause no retry within seconds cures: the host name
    does not resolve, the server does not answer in TLS, or its certificate is not trusted (``detail``:
    httpx's text). A refused or timed-out connection may be a Jira restarting: not lasting."""
    text = detail.lower()
    return any(s in text for s in (*_NOT_TLS, *_UNTRUSTED, *_UNRESOLVED))


def transport_failure(kind: str, detail: str) -> str:
    """A request that got no answer, in words: ``kind`` (httpx's exception class) and ``detail`` (its
    text), with what the common causes usually mean (a wrong scheme, host or port, an untrusted
    certificate), since the network library's own words rarely say what to fix."""
    text = detail.lower()
    hint = None
    if any(s in text for s in _NOT_TLS):
        hint = "the server did not answer in TLS: should the URL start with http://, or use another port?"
    elif any(s in text for s in _UNTRUSTED):
        hint = "the server's TLS certificate is not trusted on this machine (install its CA, or fix the URL)"
    elif any(s in text for s in _UNRESOLVED):
        hint = "the URL's host name does not resolve"
    elif kind == "ConnectError" and ("all connection attempts failed" in text or "refused" in text):
        hint = "nothing accepts connections at the URL's host and port: is it right, and is Jira up?"
    elif kind == "ConnectTimeout":
        hint = "the connection got no answer: a wrong address, a firewall or a proxy in the way?"
    return f"{kind}: {detail or 'no detail'}" + (f" — {hint}" if hint else "")


def parse_error_body(body: Any) -> tuple[list[str], dict[str, str]]:
    """Pull ``errorMessages`` and ``errors`` out of a Jira error body (tolerating other shapes)."""
    messages: list[str] = []
    fields: dict[str, str] = {}
    if isinstance(body, dict):
        raw_msgs = body.get("errorMessages")
        if isinstance(raw_msgs, list):
            messages.extend(str(m) for m in raw_msgs if m)
        raw_fields = body.get("errors")
        if isinstance(raw_fields, dict):
            fields.update({str(k): str(v) for k, v in raw_fields.items()})
        if not messages and not fields:
            for key in ("message", "errorMessage", "error"):
                if body.get(key):
                    messages.append(str(body[key]))
                    break
    elif isinstance(body, str) and body.strip():
        messages.append(body.strip()[:300])
    return messages, fields


def error_for_status(
    status: int,
    method: str,
    path: str,
    body: Any,
    *,
    retry_after: float | None = None,
) -> JiraError:
    """The most specific :class:`JiraError` subclass for an HTTP status."""
    messages, fields = parse_error_body(body)
    cls: type[JiraError]
    if status in (401, 403):
        cls = JiraAuthError
    elif status == 404:
        cls = JiraNotFound
    elif status == 409:
        cls = JiraConflict
    elif status == 429:
        cls = JiraRateLimited
    elif status >= 500:
        cls = JiraRateLimited if (status == 503 and retry_after is not None) else JiraUnavailable
    else:
        cls = JiraBadRequest
    return cls(status, method, path, messages, fields, retry_after=retry_after)
