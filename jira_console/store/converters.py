"""Plain records handed to the rest of the tool, and their construction from ORM rows.

The sync engine, CLI and console get these frozen dataclasses, never ORM rows: a record cannot lazy-load,
cannot be flushed by accident and stays valid after its session closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Row

    from jira_console.store import models as m


@dataclass(frozen=True, slots=True)
class IssueRecord:
    """The local copy of one Jira issue."""

    id: int
    connection: str
    key: str
    jira_id: str | None = None
    project_key: str | None = None
    issue_type: str | None = None
    summary: str | None = None
    status: str | None = None
    priority: str | None = None
    assignee: str | None = None
    labels: list[Any] = field(default_factory=list)
    description: str | None = None
    sprint_id: int | None = None
    story_points: float | None = None
    parent_key: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] | None = None
    base: dict[str, Any] = field(default_factory=dict)
    jira_updated_ms: int | None = None
    jira_created_ms: int | None = None
    deleted: bool = False
    local_dirty: bool = False
    local_changed_at: datetime | None = None
    sync_stamp: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SprintRecord:
    """One sprint."""

    id: int
    connection: str
    jira_id: int
    board_jira_id: int | None
    name: str | None
    state: str | None
    goal: str | None
    start_date: datetime | None
    end_date: datetime | None
    complete_date: datetime | None
    raw: dict[str, Any] | None
    synced_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A field both sides changed differently."""

    id: int
    issue_id: int
    connection: str
    issue_key: str
    field: str
    base: Any
    local: Any
    jira: Any
    detected_at: datetime
    status: str
    resolution: str | None
    resolved_value: Any
    resolved_by: str | None
    resolved_at: datetime | None
    local_edited_at: datetime | None = None
    """When the local side made the conflicting edit (None: not recorded, before issue 14)."""
    jira_edited_at: datetime | None = None
    """When Jira's side made it (the Jira version's ``updated``)."""
    revision: int = 0
    """How many times the open conflict was written in place since it was found (a sync saw Jira's or
    the local value edited again, the issue's key moved): it moves whenever what the queue shows does."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit-log line: a field value changed on one side."""

    id: int
    at: datetime
    connection: str
    issue_key: str | None
    side: str
    field: str | None
    old: Any
    new: Any
    reason: str | None
    actor: str | None
    cause: str | None = None
    """``sync``, ``push``, ``undo``, ``webhook`` or ``operator`` (None: written before issue 18)."""
    run_id: int | None = None
    event_id: int | None = None
    undo_of: int | None = None


@dataclass(frozen=True, slots=True)
class SyncRunRecord:
    """One run of the engine that writes (a sync, a push, an undo)."""

    id: int
    connection: str
    kind: str
    full: bool
    owner: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    note: str | None


@dataclass(frozen=True, slots=True)
class SyncStateRecord:
    """Progress and lease of one sync scope."""

    connection: str
    scope: str
    watermark_ms: int | None = None
    watermark_keys: list[Any] = field(default_factory=list)
    cursor: dict[str, Any] | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    duration_ms: int | None = None
    api_calls: int | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    last_success_at: datetime | None = None
    failing_since: datetime | None = None
    failures: int = 0


@dataclass(frozen=True, slots=True)
class WebhookEventRecord:
    """A received webhook delivery."""

    id: int
    connection: str | None
    identifier: str
    content_hash: str | None
    event_type: str | None
    issue_key: str | None
    event_ts_ms: int | None
    received_at: datetime
    headers: dict[str, Any]
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    claimed_by: str | None
    claimed_until: datetime | None
    processed_at: datetime | None


@dataclass(frozen=True, slots=True)
class DaemonRecord:
    """A daemon's last heartbeat."""

    name: str
    host: str | None
    pid: int | None
    version: str | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    stopping: bool
    status: dict[str, Any]
    stopped_at: datetime | None = None
    """When the daemon stopped cleanly (None while it runs, or when it died without saying)."""


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """An operator command for a daemon."""

    id: int
    kind: str
    args: dict[str, Any]
    created_at: datetime
    created_by: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class MappingRecord:
    """A stored field mapping (``definition`` is the whole mapping as JSON)."""

    id: int
    connection: str | None
    name: str
    jira_field: str | None
    internal_field: str | None
    direction: str
    definition: dict[str, Any]
    enabled: bool
    version: int
    updated_at: datetime
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class LocalChangeRecord:
    """A host program's outbox row: set ``field`` of ``issue_key`` to ``value``."""

    id: int
    connection: str
    issue_key: str
    field: str
    value: Any
    created_at: datetime
    processed_at: datetime | None
    error: str | None
    problem: str | None = None
    """Why ``value`` (then None) could not be read from the stored text."""


@dataclass(frozen=True, slots=True)
class FieldErrorRecord:
    """The last mapping failure of one issue field."""

    issue_id: int
    field: str
    mapping: str | None
    step: str | None
    value: Any
    message: str
    at: datetime


def issue_record(row: m.Issue | Row[Any]) -> IssueRecord:
    """Record of an ``issues`` row (mapped, or as a Core query returns it)."""
    return IssueRecord(
        id=row.id,
        connection=row.connection,
        key=row.key,
        jira_id=row.jira_id,
        project_key=row.project_key,
        issue_type=row.issue_type,
        summary=row.summary,
        status=row.status,
        priority=row.priority,
        assignee=row.assignee,
        labels=list(row.labels or []),
        description=row.description,
        sprint_id=row.sprint_id,
        story_points=row.story_points,
        parent_key=row.parent_key,
        fields=dict(row.fields or {}),
        raw=row.raw,
        base=dict(row.base or {}),
        jira_updated_ms=row.jira_updated_ms,
        jira_created_ms=row.jira_created_ms,
        deleted=bool(row.deleted),
        local_dirty=bool(row.local_dirty),
        local_changed_at=row.local_changed_at,
        sync_stamp=row.sync_stamp or 0,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _plain(row: Any, cls: type[Any], **override: Any) -> Any:
    # Column names and dataclass fields coincide for these tables; overrides normalise NULL collections.
    values = {name: getattr(row, name) for name in cls.__dataclass_fields__ if name not in override}
    return cls(**values, **override)


def sprint_record(row: m.Sprint | Row[Any]) -> SprintRecord:
    """Record of a ``sprints`` row."""
    return _plain(row, SprintRecord)  # type: ignore[no-any-return]


def conflict_record(row: m.Conflict | Row[Any]) -> ConflictRecord:
    """Record of a ``conflicts`` row."""
    return _plain(row, ConflictRecord)  # type: ignore[no-any-return]


def audit_entry(row: m.AuditLog | Row[Any]) -> AuditEntry:
    """Record of an ``audit_log`` row."""
    return _plain(row, AuditEntry)  # type: ignore[no-any-return]


def sync_run_record(row: m.SyncRun | Row[Any]) -> SyncRunRecord:
    """Record of a ``sync_runs`` row."""
    return _plain(row, SyncRunRecord)  # type: ignore[no-any-return]


def sync_state_record(row: m.SyncState | Row[Any]) -> SyncStateRecord:
    """Record of a ``sync_state`` row (mapped, or as a Core query returns it)."""
    return _plain(  # type: ignore[no-any-return]
        row,
        SyncStateRecord,
        watermark_keys=list(row.watermark_keys or []),
        counts=dict(row.counts or {}),
        failures=row.failures or 0,
    )


def webhook_event_record(row: m.WebhookEvent | Row[Any]) -> WebhookEventRecord:
    """Record of a ``webhook_events`` row."""
    return _plain(row, WebhookEventRecord, headers=dict(row.headers or {}))  # type: ignore[no-any-return]


def daemon_record(row: m.Daemon | Row[Any]) -> DaemonRecord:
    """Record of a ``daemons`` row (mapped, or as a Core query returns it)."""
    return _plain(  # type: ignore[no-any-return]
        row, DaemonRecord, stopping=bool(row.stopping), status=dict(row.status or {})
    )


def command_record(row: m.Command | Row[Any]) -> CommandRecord:
    """Record of a ``commands`` row."""
    return _plain(row, CommandRecord, args=dict(row.args or {}))  # type: ignore[no-any-return]


def mapping_record(row: m.Mapping | Row[Any]) -> MappingRecord:
    """Record of a ``mappings`` row."""
    return _plain(row, MappingRecord, enabled=bool(row.enabled))  # type: ignore[no-any-return]


def field_error_record(row: m.FieldError | Row[Any]) -> FieldErrorRecord:
    """Record of a ``field_errors`` row (mapped, or as a Core query returns it)."""
    return _plain(row, FieldErrorRecord)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class MappingVersionRecord:
    """One version of a mapping definition."""

    id: int
    mapping_id: int
    version: int
    definition: dict[str, Any]
    changed_at: datetime
    changed_by: str | None
    comment: str | None


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """A Jira user linked to the host program's user."""

    id: int
    connection: str
    jira_user: str
    email: str | None
    internal_id: str | None
    display_name: str | None


def mapping_version_record(row: m.MappingVersion | Row[Any]) -> MappingVersionRecord:
    """Record of a ``mapping_versions`` row."""
    return _plain(row, MappingVersionRecord)  # type: ignore[no-any-return]


def identity_record(row: m.Identity | Row[Any]) -> IdentityRecord:
    """Record of an ``identities`` row."""
    return _plain(row, IdentityRecord)  # type: ignore[no-any-return]
