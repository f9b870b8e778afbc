"""Events the engine emits (past tense, small, immutable). The console turns them into Textual messages;
the daemon logs them and feeds metrics. Nothing here knows about Textual."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EngineEvent:
    """Base class of every engine event."""


@dataclass(frozen=True)
class BreakerStateChanged(EngineEvent):
    connection: str
    old: str
    new: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class RateLimited(EngineEvent):
    """Jira asked this connection to wait (``Retry-After``) until ``until`` (epoch seconds)."""

    connection: str
    seconds: float
    until: float


@dataclass(frozen=True)
class HealthChanged(EngineEvent):
    """A connection's health snapshot changed (latency, rate-limit budget, errors). High rate: coalesce."""

    connection: str


@dataclass(frozen=True)
class SyncStarted(EngineEvent):
    connection: str
    scope: str
    full: bool
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class SyncProgressed(EngineEvent):
    """A page of a sync was applied: the run's figures so far (``seen``: distinct issues read), how long it
    has been reading, and how many issues it expects to read (Server's search ``total``, Cloud's
    approximate count on a first import or a full sync; None when unknown)."""

    connection: str
    scope: str
    pages: int
    seen: int
    pulled: int
    pushed: int
    conflicts: int
    total: int | None = None
    elapsed_ms: int = 0
    backfill: bool = False
    """The run re-reads every issue once because the mappings changed."""
    created: int = 0
    """Issues created in Jira so far from ``new_issues`` requests (after the pull, with the push)."""


@dataclass(frozen=True)
class SyncFinished(EngineEvent):
    connection: str
    scope: str
    status: str
    counts: dict[str, int]
    duration_ms: int
    error: str | None = None
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class ConflictDetected(EngineEvent):
    connection: str
    issue_key: str
    field: str
    conflict_id: int


@dataclass(frozen=True)
class ConflictResolved(EngineEvent):
    conflict_id: int
    issue_key: str
    field: str
    resolution: str


@dataclass(frozen=True)
class WebhookReceived(EngineEvent):
    """A delivery was stored (``event_id``: its row), or recognised as a duplicate (``event_id`` None)."""

    event_id: int | None
    connection: str | None
    event_type: str | None
    issue_key: str | None
    duplicate: bool = False


@dataclass(frozen=True)
class WebhookProcessed(EngineEvent):
    """A stored event was processed: ``status`` is its new status (``received`` again when it will be
    retried, ``failed`` when parked), ``error`` why it failed or was ignored."""

    event_id: int
    status: str
    error: str | None = None
    connection: str | None = None
    event_type: str | None = None


@dataclass(frozen=True)
class MappingChanged(EngineEvent):
    name: str
    version: int
    deleted: bool = False


@dataclass(frozen=True)
class Notice(EngineEvent):
    """Something an operator should see (a warning or error worded for people)."""

    level: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
