"""A small time series per connection for the console's sparklines: Jira requests, their mean latency,
throttled (429) and failed (5xx or no answer) calls, and webhook deliveries, in fixed buckets over the
last few minutes.

:class:`ActivityRecorder` is fed as things happen (the Jira client's call records, the listener's
deliveries) and keeps only the buckets still in the window; :class:`Activity` is the frozen read of it
that the facade hands out and the daemon writes into its heartbeat for attached consoles. Buckets are
aligned on the wall clock, so two recorders read at the same moment line up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BUCKET_SECONDS = 10
"""Width of one bucket."""
BUCKETS = 30
"""How many buckets the window holds (five minutes)."""


@dataclass(frozen=True)
class Activity:
    """Per-bucket figures, oldest first, the last bucket being the current (still filling) one; ``ends_at``
    is the epoch second at which the window ends. Empty tuples: nothing recorded."""

    bucket_seconds: int = BUCKET_SECONDS
    ends_at: float | None = None
    requests: tuple[int, ...] = ()
    latency_ms: tuple[float, ...] = ()
    """Mean latency of the bucket's calls (0 when there were none)."""
    throttled: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
    """Calls answered 5xx or not answered at all."""
    webhooks: tuple[int, ...] = ()

    @property
    def minutes(self) -> float:
        """How many minutes the window covers."""
        return len(self.requests or self.webhooks) * self.bucket_seconds / 60

    def per_minute(self, series: tuple[int, ...]) -> list[float]:
        """A count series as a rate per minute."""
        scale = 60 / self.bucket_seconds
        return [n * scale for n in series]

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Activity:
        """Rebuild from ``dataclasses.asdict`` output that travelled as JSON (lists instead of tuples)."""
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("requests", "latency_ms", "throttled", "failed", "webhooks"):
            known[name] = tuple(known.get(name) or ())
        return cls(**known)


@dataclass
class _Bucket:
    requests: int = 0
    latency_total: float = 0.0
    throttled: int = 0
    failed: int = 0
    webhooks: int = 0


class ActivityRecorder:
    """Thread-safe: the client records on the event loop, the console reads from worker threads."""

    def __init__(self, bucket_seconds: int = BUCKET_SECONDS, buckets: int = BUCKETS) -> None:
        self.bucket_seconds = bucket_seconds
        self.buckets = buckets
        self._data: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, at: float) -> _Bucket:
        index = int(at // self.bucket_seconds)
        bucket = self._data.get(index)
        if bucket is None:
            bucket = self._data[index] = _Bucket()
            for old in [i for i in self._data if i <= index - self.buckets]:
                del self._data[old]
        return bucket

    def call(self, status: int, latency_ms: float, at: float | None = None) -> None:
        """One Jira call: its HTTP status (0 when no answer came) and latency."""
        with self._lock:
            bucket = self._bucket(time.time() if at is None else at)
            bucket.requests += 1
            bucket.latency_total += latency_ms
            bucket.throttled += status == 429
            bucket.failed += status == 0 or status >= 500

    def webhook(self, at: float | None = None) -> None:
        """One webhook delivery stored."""
        with self._lock:
            self._bucket(time.time() if at is None else at).webhooks += 1

    def snapshot(self, now: float | None = None) -> Activity:
        """The window ending with the bucket that holds ``now``."""
        now = time.time() if now is None else now
        last = int(now // self.bucket_seconds)
        with self._lock:
            window = [self._data.get(i) or _Bucket() for i in range(last - self.buckets + 1, last + 1)]
        return Activity(
            bucket_seconds=self.bucket_seconds,
            ends_at=float((last + 1) * self.bucket_seconds),
            requests=tuple(b.requests for b in window),
            latency_ms=tuple(b.latency_total / b.requests if b.requests else 0.0 for b in window),
            throttled=tuple(b.throttled for b in window),
            failed=tuple(b.failed for b in window),
            webhooks=tuple(b.webhooks for b in window),
        )
