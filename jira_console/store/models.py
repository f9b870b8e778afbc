"""ORM classes of the shared database, mapped onto the tables of :mod:`jira_console.store.tables` (the
columns, types, defaults and constraints live there; the classes say what each column means).

Writers (the sync, the outbox, the webhook queue) use these classes; code that only reads can use the
tables alone and never pay for the mapping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped

from jira_console.store import tables
from jira_console.store.tables import SYNCED_ISSUE_COLUMNS as SYNCED_ISSUE_COLUMNS
from jira_console.store.tables import UTCDateTime as UTCDateTime
from jira_console.store.tables import utcnow as utcnow


class Base(DeclarativeBase):
    """Declarative base over the tables' metadata (which carries the naming convention)."""

    metadata = tables.metadata


class Connection(Base):
    """A configured Jira site, and what was detected about it."""

    __table__ = tables.connections
    id: Mapped[int]
    name: Mapped[str]
    flavor: Mapped[str | None]
    base_url: Mapped[str | None]
    server_version: Mapped[str | None]
    detected_at: Mapped[datetime | None]
    rate_limited_until: Mapped[datetime | None]
    """Jira asked (``Retry-After``) that no request reach it before this time (migration 0004)."""
    auth_blocked: Mapped[str | None]
    """Why Jira denied the Basic credentials (CAPTCHA, lockout); none are sent while set (migration 0007)."""
    auth_blocked_at: Mapped[datetime | None]
    auth_blocked_config: Mapped[str | None]
    """Fingerprint of the connection's non-secret settings when blocked: another configuration lifts it."""


class Board(Base):
    """A Jira Software board."""

    __table__ = tables.boards
    id: Mapped[int]
    connection: Mapped[str]
    jira_id: Mapped[int]
    name: Mapped[str | None]
    type: Mapped[str | None]
    project_key: Mapped[str | None]
    estimation_field: Mapped[str | None]
    """The field the board estimates with (its configuration's ``estimation.field``; migration 0006)."""


class Sprint(Base):
    """A Jira Software sprint."""

    __table__ = tables.sprints
    id: Mapped[int]
    connection: Mapped[str]
    jira_id: Mapped[int]
    board_jira_id: Mapped[int | None]
    name: Mapped[str | None]
    state: Mapped[str | None]
    goal: Mapped[str | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    complete_date: Mapped[datetime | None]
    raw: Mapped[dict[str, Any] | None]
    synced_at: Mapped[datetime | None]


class Issue(Base):
    """The local copy of a Jira issue, plus its sync bookkeeping."""

    __table__ = tables.issues
    id: Mapped[int]
    connection: Mapped[str]
    jira_id: Mapped[str | None]
    key: Mapped[str]
    project_key: Mapped[str | None]
    issue_type: Mapped[str | None]
    summary: Mapped[str | None]
    status: Mapped[str | None]
    priority: Mapped[str | None]
    assignee: Mapped[str | None]
    labels: Mapped[list[Any] | None]
    description: Mapped[str | None]
    sprint_id: Mapped[int | None]
    story_points: Mapped[float | None]
    parent_key: Mapped[str | None]
    fields: Mapped[dict[str, Any] | None]
    raw: Mapped[dict[str, Any] | None]
    base: Mapped[dict[str, Any] | None]
    pushing: Mapped[dict[str, Any] | None]
    """Values being written to Jira right now (field -> value), recorded before sending (migration 0003)."""
    queued_strategies: Mapped[dict[str, Any] | None]
    """Field -> {strategy, value}: the conflict strategy a queued local change carries instead of the
    connection's, while the field holds that value (an undo's ``manual``; migration 0015)."""
    jira_updated_ms: Mapped[int | None]
    jira_created_ms: Mapped[int | None]
    deleted: Mapped[bool]
    local_dirty: Mapped[bool]
    local_changed_at: Mapped[datetime | None]
    sync_stamp: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
    """When the deletion was learnt (the tombstone's time; migration 0006_11)."""
    stale_fields: Mapped[list[Any] | None]
    """Synced fields the stored version did not carry (a Cloud webhook's v2 body without its rich text):
    the next read of the same version applies it again (migration 0006_11)."""
    base_from: Mapped[dict[str, Any] | None]
    """Per mapped field, a digest of the Jira value its base was read from (migration 0015, see
    :mod:`jira_console.sync.base_from`)."""


class IssueAlias(Base):
    """A key an issue had before it moved (another project, a project key renamed): the old key still finds
    the issue (migration 0006_11)."""

    __table__ = tables.issue_aliases
    id: Mapped[int]
    connection: Mapped[str]
    old_key: Mapped[str]
    issue_id: Mapped[int]
    moved_at: Mapped[datetime]


class QuarantinedIssue(Base):
    """An issue version that could not be applied: set aside with a typed cause (never the row's contents)
    so that the rest of the page and the watermark move on; retried by later syncs (migration 0006_11)."""

    __table__ = tables.quarantined_issues
    id: Mapped[int]
    connection: Mapped[str]
    issue_key: Mapped[str]
    jira_id: Mapped[str | None]
    kind: Mapped[str]
    cause: Mapped[str]
    attempts: Mapped[int]
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class FieldError(Base):
    """The last mapping failure for one issue and field (cleared when the field maps again)."""

    __table__ = tables.field_errors
    id: Mapped[int]
    issue_id: Mapped[int]
    field: Mapped[str]
    mapping: Mapped[str | None]
    step: Mapped[str | None]
    value: Mapped[Any]
    message: Mapped[str]
    at: Mapped[datetime]


class SyncState(Base):
    """Progress and lease of one sync scope (e.g. ``issues``, ``sprints``, ``reconcile``) per connection."""

    __table__ = tables.sync_state
    connection: Mapped[str]
    scope: Mapped[str]
    watermark_ms: Mapped[int | None]
    watermark_keys: Mapped[list[Any] | None]
    cursor: Mapped[dict[str, Any] | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_status: Mapped[str | None]
    last_error: Mapped[str | None]
    counts: Mapped[dict[str, Any] | None]
    duration_ms: Mapped[int | None]
    api_calls: Mapped[int | None]
    lease_owner: Mapped[str | None]
    lease_expires_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    failures: Mapped[int]


class Conflict(Base):
    """A field both sides changed differently since they last agreed."""

    __table__ = tables.conflicts
    id: Mapped[int]
    issue_id: Mapped[int]
    connection: Mapped[str]
    issue_key: Mapped[str]
    field: Mapped[str]
    base: Mapped[Any]
    local: Mapped[Any]
    jira: Mapped[Any]
    detected_at: Mapped[datetime]
    status: Mapped[str]
    resolution: Mapped[str | None]
    resolved_value: Mapped[Any]
    resolved_by: Mapped[str | None]
    resolved_at: Mapped[datetime | None]
    local_edited_at: Mapped[datetime | None]
    jira_edited_at: Mapped[datetime | None]
    revision: Mapped[int]
    """How many times the open row was written in place (values refreshed, key moved); migration 0017."""


class AuditLog(Base):
    """Append-only record of every field value the sync changed on either side."""

    __table__ = tables.audit_log
    id: Mapped[int]
    at: Mapped[datetime]
    connection: Mapped[str]
    issue_key: Mapped[str | None]
    side: Mapped[str]
    field: Mapped[str | None]
    old: Mapped[Any]
    new: Mapped[Any]
    reason: Mapped[str | None]
    actor: Mapped[str | None]
    cause: Mapped[str | None]
    """What made the change (migration 0006): ``sync``, ``push``, ``undo`` (a run, ``run_id``), ``webhook``
    (``event_id``) or ``operator``; NULL for lines written before."""
    run_id: Mapped[int | None]
    """The ``sync_runs`` row of the run that wrote it."""
    event_id: Mapped[int | None]
    """The ``webhook_events`` row whose delivery it applied."""
    undo_of: Mapped[int | None]
    """The audit line this one reverses (an undo is itself audited, and can be undone)."""


class SyncRun(Base):
    """One run of the engine that writes: a sync, a push on its own, or an undo (migration 0006). Audit
    lines name the run that wrote them, so a whole run can be undone."""

    __table__ = tables.sync_runs
    id: Mapped[int]
    connection: Mapped[str]
    kind: Mapped[str]
    full: Mapped[bool]
    owner: Mapped[str | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str]
    note: Mapped[str | None]


class LocalChange(Base):
    """Outbox: a host program's request to change one field of one issue."""

    __table__ = tables.local_changes
    id: Mapped[int]
    connection: Mapped[str]
    issue_key: Mapped[str]
    field: Mapped[str]
    value: Mapped[Any]
    created_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None]


class Mapping(Base):
    """One field mapping (the whole definition as JSON, plus searchable columns)."""

    __table__ = tables.mappings
    id: Mapped[int]
    connection: Mapped[str | None]
    name: Mapped[str]
    jira_field: Mapped[str | None]
    internal_field: Mapped[str | None]
    direction: Mapped[str]
    definition: Mapped[dict[str, Any]]
    enabled: Mapped[bool]
    version: Mapped[int]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None]


class MappingVersion(Base):
    """A past (or the current) version of a mapping definition."""

    __table__ = tables.mapping_versions
    id: Mapped[int]
    mapping_id: Mapped[int]
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    changed_at: Mapped[datetime]
    changed_by: Mapped[str | None]
    comment: Mapped[str | None]


class MappingState(Base):
    """What a connection's mappings compile from (migration 0006): their generation, bumped by every change
    to a mapping that applies to it (``connection`` ``*`` counts the global mappings', which apply to
    all), and the site's field list as the last sync read it, so a process without Jira (a console attached
    to a daemon) can resolve field selectors."""

    __table__ = tables.mapping_state
    connection: Mapped[str]
    generation: Mapped[int]
    changed_at: Mapped[datetime | None]
    flavor: Mapped[str | None]
    field_list: Mapped[list[Any] | None]
    fields_at: Mapped[datetime | None]


class Identity(Base):
    """Link between a Jira user and the host program's own user id."""

    __table__ = tables.identities
    id: Mapped[int]
    connection: Mapped[str]
    jira_user: Mapped[str]
    email: Mapped[str | None]
    internal_id: Mapped[str | None]
    display_name: Mapped[str | None]


class WebhookEvent(Base):
    """A received webhook delivery and its processing state (a durable work queue)."""

    __table__ = tables.webhook_events
    id: Mapped[int]
    connection: Mapped[str | None]
    identifier: Mapped[str]
    content_hash: Mapped[str | None]
    event_type: Mapped[str | None]
    issue_key: Mapped[str | None]
    event_ts_ms: Mapped[int | None]
    received_at: Mapped[datetime]
    headers: Mapped[dict[str, Any] | None]
    payload: Mapped[str]
    status: Mapped[str]
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None]
    claimed_by: Mapped[str | None]
    claimed_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]


# The daemons' own bookkeeping (heartbeats, queued operator commands) lives in its own module.
from jira_console.store.models_ops import Command as Command  # noqa: E402
from jira_console.store.models_ops import Daemon as Daemon  # noqa: E402
