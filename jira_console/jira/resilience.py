"""Per-connection resilience parts: the "not before" gate, an adaptive token bucket, the circuit breaker
wrapper (pybreaker plus a single half-open probe under asyncio), retry policy helpers and the health log.

These are assembled by :class:`jira_console.jira.http.JiraHttp`; they hold no secrets.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pybreaker
from tenacity import RetryCallState
from tenacity.wait import wait_base, wait_random_exponential

from jira_console.activity import ActivityRecorder
from jira_console.jira.errors import CircuitOpenError, JiraError
from jira_console.jira.models import BreakerStateChanged, CallRecord, ConnectionHealth
from jira_console.logs import get_logger

log = get_logger(__name__)


# --------------------------------------------------------------------------------------------- headers


def _parse_delay(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After``-style value: delta seconds, an HTTP date or an ISO time."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # Epoch timestamps (s or ms) show up in X-RateLimit-Reset on some proxies; deltas are small.
        if seconds > 1e12:
            return max(0.0, seconds / 1000 - now.timestamp())
        if seconds > 1e9:
            return max(0.0, seconds - now.timestamp())
        return max(0.0, seconds)
    when: datetime | None = None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long Jira asked us to stay away.

    ``Retry-After`` (or its ``Beta-`` form) wins; else ``X-RateLimit-Reset``.
    """
    now = now or datetime.now(UTC)
    for name in ("Retry-After", "Beta-Retry-After"):
        delay = _parse_delay(headers.get(name), now)
        if delay is not None:
            return delay
    return _parse_delay(headers.get("X-RateLimit-Reset"), now)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


_POLICY_R = re.compile(r"(?:^|[;,\s])r=(\d+(?:\.\d+)?)")
_POLICY_T = re.compile(r"(?:^|[;,\s])t=(\d+(?:\.\d+)?)")


def rate_limit_remaining(headers: Mapping[str, str]) -> int | None:
    """Remaining budget from ``X-RateLimit-Remaining`` or the ``r=`` of ``(Beta-)RateLimit``."""
    remaining = _int_header(headers, "X-RateLimit-Remaining")
    if remaining is not None:
        return remaining
    for name in ("RateLimit", "Beta-RateLimit"):
        raw = headers.get(name)
        if raw and (m := _POLICY_R.search(raw)):
            return int(float(m.group(1)))
    return None


# --------------------------------------------------------------------------------------------- gate


class NotBeforeGate:
    """A per-connection instant before which no request may be sent (set from ``Retry-After``).

    Every request waits on it right before going out, so one 429 holds back all concurrent callers, not
    only the one that got it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._not_before = 0.0

    def push(self, delay: float) -> None:
        """Stay away for at least ``delay`` seconds from now (never shortens an earlier promise)."""
        self._not_before = max(self._not_before, self._clock() + max(0.0, delay))

    def remaining(self) -> float:
        return max(0.0, self._not_before - self._clock())

    @property
    def not_before(self) -> float:
        return self._not_before

    async def wait(self) -> None:
        # Loop because another response may push the gate further while we sleep.
        while True:
            left = self.remaining()
            if left <= 0:
                return
            await asyncio.sleep(left)


# --------------------------------------------------------------------------------------------- limiter


class AdaptiveRateLimiter:
    """Token bucket whose rate follows Jira's rate-limit headers.

    aiolimiter's leaky bucket fixes its rate at construction, so this small bucket keeps the rate mutable:
    it slows down when Jira says the budget is nearly spent and recovers gradually when it is not.
    """

    def __init__(self, rate_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_rate = float(rate_per_second)
        self.rate = float(rate_per_second)
        self._floor = max(0.05, self.base_rate * 0.05)
        self._capacity = max(1.0, self.base_rate)
        self._tokens = self._capacity
        self._clock = clock
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Take one token, waiting (first come, first served) until one is available."""
        async with self._lock:
            self._refill()
            while self._tokens < 1.0:
                await asyncio.sleep((1.0 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1.0

    def _set_rate(self, rate: float) -> None:
        new = min(self.base_rate, max(self._floor, rate))
        if abs(new - self.rate) > 1e-9:
            self._refill()  # account the time so far at the old rate
            self.rate = new
            self._capacity = max(1.0, new)
            self._tokens = min(self._tokens, self._capacity)

    def on_rate_limited(self) -> None:
        """A 429 arrived: halve the rate."""
        self._set_rate(self.rate / 2)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to one response's rate-limit headers."""
        target: float | None = None
        if str(headers.get("X-RateLimit-NearLimit", "")).lower() == "true":
            target = self.base_rate * 0.5
        limit = _int_header(headers, "X-RateLimit-Limit")
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        if limit and remaining is not None and limit > 0 and remaining / limit < 0.2:
            fraction = max(0.0, remaining / limit) / 0.2
            candidate = self.base_rate * max(0.1, fraction)
            # Server/DC publish the refill speed of their bucket; do not outrun it when nearly empty.
            fill = _int_header(headers, "X-RateLimit-FillRate")
            interval = _int_header(headers, "X-RateLimit-Interval-Seconds")
            if fill and interval:
                candidate = min(candidate, max(fill / interval, self._floor))
            target = candidate if target is None else min(target, candidate)
        for name in ("RateLimit", "Beta-RateLimit"):
            raw = headers.get(name)
            if raw and (mr := _POLICY_R.search(raw)) and (mt := _POLICY_T.search(raw)):
                r, t = float(mr.group(1)), float(mt.group(1))
                if t > 0 and r / t < self.rate:
                    target = r / t if target is None else min(target, r / t)
        if target is not None:
            self._set_rate(min(self.rate, target))
        elif self.rate < self.base_rate:
            self._set_rate(self.rate * 1.25)


# --------------------------------------------------------------------------------------------- breaker


def _failure_words(exc: BaseException) -> str:
    """A failure as the breaker's refusals quote it: Jira's words without the request line (the refusal
    names its own request), or the exception's class and text."""
    if isinstance(exc, JiraError):
        return "; ".join(exc.messages) or (f"HTTP {exc.status}" if exc.status else "no response")
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _not_a_failure(exc: BaseException) -> bool:
    # Jira answered: a 4xx (including 429) says nothing about the health of the site.
    return isinstance(exc, JiraError) and 0 < exc.status < 500


class _EventListener(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: Breaker) -> None:
        self._owner = owner

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        old = old_state.name if old_state is not None else "closed"
        self._owner._emit(old, new_state.name)


class Breaker:
    """pybreaker's state machine plus what asyncio needs: exactly one probe while half-open.

    pybreaker lets every call through in half-open; with many concurrent tasks that would hammer a site
    that is just recovering, so the first caller after the timeout becomes the probe and the rest fail
    fast with :class:`CircuitOpenError` until the probe's outcome closes or re-opens the circuit.
    """

    def __init__(
        self,
        connection: str,
        failure_threshold: int,
        recovery_seconds: float,
        on_event: Callable[[Any], Any] | None = None,
    ) -> None:
        self.connection = connection
        self._on_event = on_event
        self._probe_in_flight = False
        self.last_failure: str | None = None
        """What the last failure counted against the breaker was (said while it is open)."""
        self._cb = pybreaker.CircuitBreaker(
            fail_max=failure_threshold,
            reset_timeout=recovery_seconds,
            exclude=[_not_a_failure],
            listeners=[_EventListener(self)],
            name=connection,
            throw_new_error_on_trip=False,
        )

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (open with the timeout elapsed still reads ``open``)."""
        return str(self._cb.current_state)

    def opens_in(self) -> float | None:
        """Seconds until an open breaker lets a probe through (None unless open)."""
        if self.state != pybreaker.STATE_OPEN:
            return None
        opened = self._cb._state_storage.opened_at
        if opened is None:
            return 0.0
        due = opened + timedelta(seconds=self._cb.reset_timeout)
        return max(0.0, (due - datetime.now(UTC)).total_seconds())

    def _emit(self, old: str, new: str) -> None:
        event = BreakerStateChanged(self.connection, old, new, datetime.now(UTC))
        log.warning("jira.breaker", connection=self.connection, old=old, new=new)
        if self._on_event is None:
            return
        try:
            result = self._on_event(event)
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)
        except Exception:  # noqa: BLE001 - a broken subscriber must not break requests
            log.exception("jira.breaker.listener_failed", connection=self.connection)

    def _admit(self, method: str, path: str) -> bool:
        """Fail fast while open; returns True when this call is the half-open probe."""
        state = self.state
        if state == pybreaker.STATE_CLOSED:
            return False
        if state == pybreaker.STATE_OPEN:
            left = self.opens_in() or 0.0
            if left > 0:
                raise CircuitOpenError(self.connection, method, path, left, self.last_failure)
        if self._probe_in_flight:
            raise CircuitOpenError(self.connection, method, path, 0.0, self.last_failure)
        self._probe_in_flight = True
        return True

    @asynccontextmanager
    async def guard(self, method: str, path: str) -> Any:
        """Run one HTTP attempt under the breaker; exceptions raised inside count as failures."""
        probe = self._admit(method, path)
        try:
            with self._cb.calling():
                yield
        except pybreaker.CircuitBreakerError:
            opens_in = self.opens_in() or 0.0
            raise CircuitOpenError(self.connection, method, path, opens_in, self.last_failure) from None
        except Exception as exc:
            if not _not_a_failure(exc):
                self.last_failure = _failure_words(exc)
            raise
        finally:
            if probe:
                self._probe_in_flight = False


# --------------------------------------------------------------------------------------------- retries


def should_retry(exc: BaseException, idempotent: bool) -> bool:
    """Whether an attempt's failure may be retried without risking a duplicate write."""
    if isinstance(exc, CircuitOpenError) or getattr(exc, "local", False):
        return False
    if not isinstance(exc, JiraError):
        return False
    if exc.status == 429:
        return True  # Jira refused it before doing anything
    if exc.status == 503 and exc.retry_after is not None:
        return True  # an overload shed with Retry-After is not processed either
    if exc.status == 0:
        return idempotent or getattr(exc, "reached_server", None) is False
    if exc.status >= 500:
        return idempotent
    return False


class RetryWait(wait_base):
    """Full-jitter exponential backoff, except after a Retry-After: then exactly the gate's remaining time."""

    def __init__(self, base: float, maximum: float, gate: NotBeforeGate) -> None:
        self._jitter = wait_random_exponential(multiplier=base, max=maximum)
        self._gate = gate

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, JiraError) and exc.retry_after is not None:
            return self._gate.remaining()
        return float(self._jitter(retry_state))


# --------------------------------------------------------------------------------------------- health


class HealthLog:
    """Bounded ring buffer of recent calls plus running counters."""

    def __init__(self, size: int = 500) -> None:
        self.calls: deque[CallRecord] = deque(maxlen=size)
        self.errors: deque[CallRecord] = deque(maxlen=50)
        self.by_status: Counter[int] = Counter()
        self.total = 0
        self.last_latency_ms: float | None = None
        self.rate_limit_remaining: int | None = None
        self.activity = ActivityRecorder()
        self.auth = "unknown"
        """``ok`` once Jira accepted the credentials, ``rejected`` after a 401 (until a call succeeds)."""

    def record(self, rec: CallRecord) -> None:
        self.calls.append(rec)
        self.total += 1
        self.by_status[rec.status] += 1
        self.last_latency_ms = rec.latency_ms
        self.activity.call(rec.status, rec.latency_ms, rec.at.timestamp())
        if rec.rate_limit_remaining is not None:
            self.rate_limit_remaining = rec.rate_limit_remaining
        if rec.status == 401:
            self.auth = "rejected"
        elif 200 <= rec.status < 400:
            self.auth = "ok"
        if rec.status == 0 or rec.status >= 400:
            self.errors.append(rec)

    def snapshot(
        self, connection: str, breaker: Breaker, limiter: AdaptiveRateLimiter, gate: NotBeforeGate
    ) -> ConnectionHealth:
        return ConnectionHealth(
            connection=connection,
            breaker_state=breaker.state,
            opens_in_seconds=breaker.opens_in(),
            last_latency_ms=self.last_latency_ms,
            rate_limit_remaining=self.rate_limit_remaining,
            calls_by_status=dict(self.by_status),
            recent_errors=list(self.errors),
            total_calls=self.total,
            current_rate_per_second=limiter.rate,
            not_before_in_seconds=gate.remaining(),
            recent_calls=list(self.calls),
            activity=self.activity.snapshot(),
            auth=self.auth,
        )


_KEY_SEGMENT = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


def path_template(path: str) -> str:
    """``/rest/api/3/issue/ENG-12/transitions`` -> ``/rest/api/3/issue/{key}/transitions`` (for grouping)."""
    parts: list[str] = []
    segments = path.split("?", 1)[0].split("/")
    for i, seg in enumerate(segments):
        if i > 0 and segments[i - 1] == "api":
            parts.append(seg)  # the REST version (``/rest/api/2``), not an id
        elif _KEY_SEGMENT.match(seg):
            parts.append("{key}")
        elif seg.isdigit():
            parts.append("{id}")
        else:
            parts.append(seg)
    return "/".join(parts)
