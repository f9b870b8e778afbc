"""Prometheus metrics of the webhook path, shared by the listener and the processor.

One :class:`WebhookMetrics` per registry (``for_registry`` memoises), so the listener and the processor of
one daemon count into the same series. Values owned by other parts (API calls, breaker states, queue
depth) are read at scrape time from callables, never copied into module globals.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jira_console.health import SyncHealth
from jira_console.store.queue import QueueStats

BREAKER_STATES = ("closed", "open", "half-open")

_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, WebhookMetrics] = weakref.WeakKeyDictionary()


class WebhookMetrics:
    """Counters and histograms of received and processed events."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.received = Counter(
            "jira_webhook_events_received",
            "Deliveries acknowledged, by event type and outcome (stored, duplicate, ignored, failed).",
            ["event_type", "outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "jira_webhook_deliveries_rejected",
            "Deliveries refused before storing, by reason (signature, too_large, unavailable).",
            ["reason"],
            registry=registry,
        )
        self.dropped = Counter(
            "jira_listener_connections_dropped",
            "Connections the listener closed before a request was answered, by reason (slow, per_client, "
            "evicted, capacity, headers_too_large).",
            ["reason"],
            registry=registry,
        )
        self.processed = Counter(
            "jira_webhook_events_processed",
            "Events processed, by event type and final status (applied, stale, ignored).",
            ["event_type", "status"],
            registry=registry,
        )
        self.failed = Counter(
            "jira_webhook_events_failed",
            "Failed processing attempts, by event type and whether the event was parked.",
            ["event_type", "parked"],
            registry=registry,
        )
        self.lag = Histogram(
            "jira_webhook_processing_lag_seconds",
            "Time from receipt to the end of processing.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
            registry=registry,
        )
        self.commit_batch = Histogram(
            "jira_webhook_ingest_batch_rows",
            "Rows per ingestion commit (how well concurrent deliveries are grouped).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=registry,
        )
        self._received: dict[tuple[str, str], Any] = {}
        self.snapshot = QueueStats()
        """Latest queue figures (``event_stats``), refreshed by the listener before each scrape."""
        self.breakers: Callable[[], Mapping[str, str]] | None = None
        self.api_calls: Callable[[], Mapping[tuple[str, str], float]] | None = None
        self.syncs: Mapping[str, SyncHealth] = {}
        """Latest sync health per connection, refreshed by the listener before each scrape."""
        registry.register(CallableCollector(self))

    def count_received(self, event_type: str, outcome: str) -> None:
        """One acknowledged delivery (the labelled child is kept: looking it up is most of a count's cost)."""
        child = self._received.get((event_type, outcome))
        if child is None:
            child = self._received[(event_type, outcome)] = self.received.labels(event_type, outcome)
        child.inc()

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> WebhookMetrics:
        """The metrics registered in ``registry`` (created on first use)."""
        found = _by_registry.get(registry)
        if found is None:
            found = _by_registry[registry] = cls(registry)
        return found


def _label(event_type: str | None) -> str:
    return event_type or "none"


event_type_label = _label


class CallableCollector(Collector):
    """Gauges read at scrape time: queue depth, oldest pending age, breaker states, API calls.

    Reads ``owner.snapshot`` (refreshed off the event loop before each scrape), ``owner.breakers()``
    (connection -> breaker state) and ``owner.api_calls()`` ((connection, status) -> count).
    """

    def __init__(self, owner: WebhookMetrics) -> None:
        self._owner = weakref.ref(owner)

    def collect(self) -> Iterator[Any]:
        owner = self._owner()
        if owner is None:
            return
        snap = owner.snapshot
        depth = GaugeMetricFamily("jira_webhook_queue_depth", "Events waiting or being processed.")
        depth.add_metric([], float(snap.depth))
        yield depth
        lag = GaugeMetricFamily(
            "jira_webhook_oldest_pending_seconds", "Age of the oldest event not yet processed."
        )
        lag.add_metric([], float(snap.oldest_pending_seconds))
        yield lag
        by_status = GaugeMetricFamily("jira_webhook_events", "Stored events by status.", labels=["status"])
        for status, events in sorted(snap.by_status.items()):
            by_status.add_metric([status], float(events))
        yield by_status
        if owner.breakers is not None:
            family = GaugeMetricFamily(
                "jira_breaker_state",
                "Circuit breaker state per connection (1 = current).",
                labels=["connection", "state"],
            )
            for conn, state in sorted(owner.breakers().items()):
                for candidate in BREAKER_STATES:
                    family.add_metric([conn, candidate], 1.0 if state == candidate else 0.0)
            yield family
        yield from _sync_families(owner.syncs)
        if owner.api_calls is not None:
            calls = GaugeMetricFamily(
                "jira_api_calls",
                "Jira API calls by connection and HTTP status.",
                labels=["connection", "status"],
            )
            for (conn, status), count in sorted(owner.api_calls().items()):
                calls.add_metric([conn, str(status)], float(count))
            yield calls


def _sync_families(syncs: Mapping[str, SyncHealth]) -> Iterator[GaugeMetricFamily]:
    """Per connection: when a sync last got through, the failing streak, degraded, quarantined issues."""
    if not syncs:
        return
    families = {
        "success": GaugeMetricFamily(
            "jira_sync_last_success_timestamp_seconds",
            "When a sync of the connection last got through (Unix time; 0 before the first).",
            labels=["connection"],
        ),
        "failures": GaugeMetricFamily(
            "jira_sync_failures", "Sync runs of the connection failed in a row.", labels=["connection"]
        ),
        "degraded": GaugeMetricFamily(
            "jira_sync_degraded",
            "1 when the connection's syncs have failed for longer than two intervals.",
            labels=["connection"],
        ),
        "quarantined": GaugeMetricFamily(
            "jira_quarantined_issues",
            "Issues set aside because they cannot be synced.",
            labels=["connection"],
        ),
    }
    for name, health in sorted(syncs.items()):
        success = health.last_success_at.timestamp() if health.last_success_at else 0.0
        families["success"].add_metric([name], success)
        families["failures"].add_metric([name], float(health.failures))
        families["degraded"].add_metric([name], 1.0 if health.degraded else 0.0)
        families["quarantined"].add_metric([name], float(health.quarantined))
    yield from families.values()
