"""Connection limits for the listener's uvicorn server: a slow or stalled client cannot starve it.

uvicorn parses HTTP (httptools) and already owns keep-alive (``timeout_keep_alive``) and the request
concurrency backstop (``limit_concurrency``). What it lacks is added here as a subclass of its own
protocol, at the connection level only (no HTTP is parsed or written by hand):

- a **request read deadline**: a request's headers and body must arrive within ``request_timeout`` of
  its first byte (or of the connection's opening), else the connection is closed. This bounds slowloris
  clients that announce ``Content-Length: 100000`` and send 16 bytes;
- a **header size cap**: more than ``max_header_bytes`` before the headers end closes the connection;
- a **per-client-address cap** on open connections: the excess is closed at once;
- a **total cap** on open connections: at the cap, a new connection evicts the connection that has waited
  longest for its client's bytes (stalled uploads and idle keep-alives), so a real delivery always gets a
  slot; a connection whose request is complete and being answered is never evicted.

Every dropped connection is counted by reason (``slow``, ``per_client``, ``evicted``, ``capacity``,
``headers_too_large``), exported as ``jira_listener_connections_dropped_total`` in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from jira_console.config import WebhookConfig

DROP_REASONS = ("slow", "per_client", "evicted", "capacity", "headers_too_large")


@dataclass(frozen=True)
class ListenerLimits:
    """The ceilings of one listening server (see :class:`jira_console.config.WebhookConfig`)."""

    max_connections: int = 256
    max_connections_per_client: int = 64
    """0: no per-address cap (behind a reverse proxy every connection comes from the proxy)."""
    request_timeout: float = 10.0
    keep_alive: float = 5.0
    max_header_bytes: int = 16_384


def limits_for(config: WebhookConfig) -> ListenerLimits:
    """The ceilings configured in ``[webhooks]`` (used by the listener and the operations API's server)."""
    return ListenerLimits(
        max_connections=config.max_connections,
        max_connections_per_client=config.max_connections_per_client,
        request_timeout=config.request_timeout_seconds,
        keep_alive=config.keep_alive_seconds,
        max_header_bytes=config.max_header_bytes,
    )


@dataclass
class ConnectionGuard:
    """Shared by every connection of one server: the counts and the waiting order."""

    limits: ListenerLimits
    on_drop: Callable[[str], None] | None = None
    dropped: Counter[str] = field(default_factory=Counter)
    open: set[GuardedProtocol] = field(default_factory=set)
    per_client: Counter[str] = field(default_factory=Counter)
    waiting: dict[GuardedProtocol, float] = field(default_factory=dict)
    """Connections waiting for their client's bytes, oldest wait first (insertion order)."""

    def drop(self, reason: str) -> None:
        self.dropped[reason] += 1
        if self.on_drop is not None:
            self.on_drop(reason)

    def oldest_waiting(self, other_than: GuardedProtocol) -> GuardedProtocol | None:
        for proto in self.waiting:
            if proto is not other_than:
                return proto
        return None


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the guard's deadlines and caps (``guard`` set per server)."""

    guard: ConnectionGuard

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._headers_done = False
        self._counted = False
        guard, limits = self.guard, self.guard.limits
        address = self.client[0] if self.client else "?"
        self._address = address
        if (
            limits.max_connections_per_client
            and guard.per_client[address] >= limits.max_connections_per_client
        ):
            self._refuse("per_client")
            return
        if len(guard.open) >= limits.max_connections:
            victim = guard.oldest_waiting(self)
            if victim is None:
                self._refuse("capacity")
                return
            victim._close("evicted")
        self._counted = True
        guard.open.add(self)
        guard.per_client[address] += 1
        self._wait_for_client()

    def _refuse(self, reason: str) -> None:
        self.guard.drop(reason)
        self.transport.abort()

    def _close(self, reason: str) -> None:
        if not self.transport.is_closing():
            self.guard.drop(reason)
            self.transport.close()
        self._stop_waiting()
        self._release()  # its slot is free now, not only once the loop reports the connection lost

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            self.guard.open.discard(self)
            self.guard.per_client[self._address] -= 1
            if self.guard.per_client[self._address] <= 0:
                del self.guard.per_client[self._address]

    def _wait_for_client(self) -> None:
        """The client owes us bytes: arm the read deadline and join the eviction order."""
        self._stop_waiting()
        self.guard.waiting[self] = time.monotonic()
        self._deadline = self.loop.call_later(self.guard.limits.request_timeout, self._close, "slow")

    def _stop_waiting(self) -> None:
        self.guard.waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        self._release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted after parsing, so a chunk that carries the headers' end and a large body is not mistaken
        # for large headers; what piles up without an end of headers is bounded by one read plus the cap.
        if not self._headers_done and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > self.guard.limits.max_header_bytes:
                self._close("headers_too_large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._headers_done = False
        if self._deadline is None:  # a keep-alive or pipelined request: a deadline of its own
            self._wait_for_client()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # The request is in: it is being answered, so it is neither slow nor evictable.
        self._stop_waiting()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # Idle keep-alive: evictable; uvicorn's timeout_keep_alive closes it before our deadline.
            self._stop_waiting()
            self.guard.waiting[self] = time.monotonic()
            self._header_bytes = 0
            self._headers_done = False


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedProtocol]:
    """A protocol class bound to ``guard`` (uvicorn instantiates the class it is given per connection)."""
    attrs: dict[str, Any] = {"guard": guard}
    return type("ListenerProtocol", (GuardedProtocol,), attrs)
