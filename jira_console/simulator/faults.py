"""Fault injection and rate limiting, switchable at runtime, plus the rule-breaking (violation) log."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class FaultSettings:
    """What goes wrong, and how often. Rates are probabilities per request (0..1)."""

    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_rate: float = 0.0
    retry_after: float = 1.0
    timeout_rate: float = 0.0
    reset_rate: float = 0.0
    outage: bool = False
    requests_per_second: float | None = None
    timeout_seconds: float = 5.0
    index_lag_ms: int = 0
    """Search's index behind the database: an issue created less than this long ago is not found by a
    search yet (reading it by key or id works at once), as Cloud's eventually consistent index does."""


@dataclass(frozen=True)
class Decision:
    """What to do with one request before the app sees it."""

    kind: str  # pass | error | rate_limit | timeout | reset | outage
    status: int = 200
    retry_after: int | None = None


class Faults:
    """Runtime fault switches and a per-client token bucket. Thread-safe."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._rng = random.Random(seed ^ 0x5EED)
        self._tokens: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill)

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def set(self, **changes: Any) -> FaultSettings:
        """Change some switches, keep the others. Unknown names raise TypeError."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            self._settings = replace(self._settings, **changes)
            if "requests_per_second" in changes:
                self._tokens.clear()
            return self._settings

    def clear(self) -> None:
        """No faults, no rate limit."""
        with self._lock:
            self._settings = FaultSettings()
            self._tokens.clear()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self._settings)

    def decide(self, client: str) -> Decision:
        """Roll the dice for one request from ``client`` (its credentials)."""
        with self._lock:
            s = self._settings
            if s.outage:
                return Decision("outage", 503, None)
            wait = self._take_token(client, s)
            if wait is not None:
                return Decision("rate_limit", 429, max(1, math.ceil(wait)))
            roll = self._rng.random()
            if roll < s.reset_rate:
                return Decision("reset")
            roll -= s.reset_rate
            if roll < s.timeout_rate:
                return Decision("timeout")
            roll -= s.timeout_rate
            if roll < s.rate_limit_rate:
                return Decision("rate_limit", 429, max(0, math.ceil(s.retry_after)))
            roll -= s.rate_limit_rate
            if roll < s.error_rate:
                retry = math.ceil(s.retry_after) if s.error_status == 503 else None
                return Decision("error", s.error_status, retry)
            return Decision("pass")

    def _take_token(self, client: str, s: FaultSettings) -> float | None:
        """None when a token was taken; else seconds until one is available."""
        if not s.requests_per_second:
            return None
        rate = s.requests_per_second
        capacity = max(1.0, rate)
        now = time.monotonic()
        tokens, last = self._tokens.get(client, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._tokens[client] = (tokens - 1.0, now)
            return None
        self._tokens[client] = (tokens, now)
        return (1.0 - tokens) / rate

    def headroom(self, client: str) -> tuple[int, int]:
        """(limit, remaining) for the rate-limit headers of a normal response."""
        with self._lock:
            s = self._settings
            if not s.requests_per_second:
                return 1000, 999
            capacity = max(1.0, s.requests_per_second)
            tokens, _ = self._tokens.get(client, (capacity, 0.0))
            return int(capacity), max(0, int(tokens))


class Violations:
    """Requests that broke a rule a well-behaved client must follow; tests assert there are none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        self._not_before: dict[str, float] = {}  # client -> monotonic time its Retry-After ends
        self._told_at: dict[str, tuple[float, Any]] = {}  # client -> (when, connection) of our last 429

    def add(self, kind: str, method: str, path: str, detail: str) -> None:
        with self._lock:
            self._items.append(
                {"kind": kind, "method": method, "path": path, "detail": detail, "at": time.time()}
            )

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._not_before.clear()
            self._told_at.clear()

    # A request arriving on another connection this soon after a 429 was sent had already left the
    # client: it could not have read the answer yet, so it is not a retry (it still gets a 429). On the
    # connection that carried the 429 nothing can be in flight (HTTP/1.1 without pipelining): a request
    # there is a retry.
    IN_FLIGHT_GRACE = 0.1

    def told_to_wait(self, client: str, seconds: float, connection: Any = None) -> None:
        """Remember a Retry-After we sent to ``client`` (over ``connection``, the peer address)."""
        with self._lock:
            now = time.monotonic()
            self._not_before[client] = max(now + seconds, self._not_before.get(client, 0.0))
            self._told_at[client] = (now, connection)

    def in_flight(self, client: str, connection: Any = None) -> bool:
        """Whether a request now arriving from ``client`` was sent before it could have read our last 429."""
        with self._lock:
            told = self._told_at.get(client)
            if told is None:
                return False
            at, told_on = told
            return connection != told_on and time.monotonic() - at < self.IN_FLIGHT_GRACE

    def check_early(self, client: str) -> float | None:
        """Seconds left of ``client``'s Retry-After, or None when it may call."""
        with self._lock:
            until = self._not_before.get(client)
            if until is None:
                return None
            # A little slack: the client's clock starts when it reads our answer, ours before we sent it.
            left = until - time.monotonic() - 0.05
            if left <= 0:
                del self._not_before[client]
                return None
            return left
