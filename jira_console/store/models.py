"""ORM models of the shared database.

Table and column names are a public contract: host programs read and write these tables with plain SQL
(see docs/schema.md). Change them only through a new migration, never by editing an old one.

Conventions:

* ``connection`` columns hold the configured connection *name* (``[[jira]] name``), not a numeric id, so
  that host programs can filter without a join.
* Datetimes are timezone-aware UTC in Python; SQLite stores them as naive UTC ISO text (so that string
  comparison orders them), PostgreSQL as ``timestamptz``.
* Jira's own timestamps (``updated``, ``created``, webhook ``timestamp``) are epoch milliseconds in
  ``BigInteger`` columns suffixed ``_ms``: exact, comparable, and free of time-zone parsing.
* JSON columns are ``JSON`` on SQLite and ``JSONB`` on PostgreSQL (JSONB has equality, which the
  change-capture trigger relies on).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from jira_console.store.column_types import JSONType, partial_index

# Deterministic constraint names keep migrations reproducible and let errors name the rule that failed.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime that always comes back timezone-aware UTC, whatever the backend.

    Naive values passed in are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite has no time zones; naive UTC text compares correctly as a string.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def _now_column(**kw: Any) -> Any:
    """A not-null timestamp column defaulting to now (in Python, and in SQL for host programs' INSERTs)."""
    return mapped_column(UTCDateTime(), default=utcnow, server_default=func.current_timestamp(), **kw)


class Connection(Base):
    """A configured Jira site, and what was detected about it."""

    __tablename__ = "connections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    flavor: Mapped[str | None] = mapped_column(String(16))
    base_url: Mapped[str | None] = mapped_column(String(512))
    server_version: Mapped[str | None] = mapped_column(String(64))
    detected_at: Mapped[datetime | None]
    rate_limited_until: Mapped[datetime | None]
    """Jira asked (``Retry-After``) that no request reach it before this time (migration 0004)."""
    auth_blocked: Mapped[str | None] = mapped_column(Text)
    """Why Jira denied the Basic credentials (CAPTCHA, lockout); none are sent while set (migration 0007)."""
    auth_blocked_at: Mapped[datetime | None]
    auth_blocked_config: Mapped[str | None] = mapped_column(String(64))
    """Fingerprint of the connection's non-secret settings when blocked: another configuration lifts it."""


class Board(Base):
    """A Jira Software board."""

    __tablename__ = "boards"
    __table_args__ = (UniqueConstraint("connection", "jira_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    jira_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(32))
    project_key: Mapped[str | None] = mapped_column(String(64))
    estimation_field: Mapped[str | None] = mapped_column(String(255))
    """The field the board estimates with (its configuration's ``estimation.field``; migration 0006)."""


class Sprint(Base):
    """A Jira Software sprint."""

    __tablename__ = "sprints"
    __table_args__ = (UniqueConstraint("connection", "jira_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    jira_id: Mapped[int] = mapped_column(BigInteger)
    board_jira_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(16))
    goal: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    complete_date: Mapped[datetime | None]
    raw: Mapped[dict[str, Any] | None]
    synced_at: Mapped[datetime | None]


SYNCED_ISSUE_COLUMNS: tuple[str, ...] = (
    "summary",
    "status",
    "priority",
    "assignee",
    "labels",
    "description",
    "sprint_id",
    "story_points",
    "parent_key",
    "fields",
)
"""Columns of ``issues`` whose change by a host program marks the issue locally dirty (via trigger)."""


class Issue(Base):
    """The local copy of a Jira issue, plus its sync bookkeeping."""

    __tablename__ = "issues"
    __table_args__ = (
        UniqueConstraint("connection", "key"),
        UniqueConstraint("connection", "jira_id"),
        Index("ix_issues_connection_local_dirty", "connection", "local_dirty"),
        Index("ix_issues_connection_jira_updated_ms", "connection", "jira_updated_ms"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    jira_id: Mapped[str | None] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    project_key: Mapped[str | None] = mapped_column(String(64))
    issue_type: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(255))
    labels: Mapped[list[Any] | None]
    description: Mapped[str | None] = mapped_column(Text)
    sprint_id: Mapped[int | None] = mapped_column(BigInteger)
    story_points: Mapped[float | None] = mapped_column(Float)
    parent_key: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[dict[str, Any] | None]
    raw: Mapped[dict[str, Any] | None]
    base: Mapped[dict[str, Any] | None]
    pushing: Mapped[dict[str, Any] | None]
    """Values being written to Jira right now (field -> value), recorded before sending (migration 0003)."""
    jira_updated_ms: Mapped[int | None] = mapped_column(BigInteger)
    jira_created_ms: Mapped[int | None] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    local_dirty: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    local_changed_at: Mapped[datetime | None]
    sync_stamp: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column(onupdate=utcnow)
    deleted_at: Mapped[datetime | None]
    """When the deletion was learnt (the tombstone's time; migration 0006_11)."""
    stale_fields: Mapped[list[Any] | None]
    """Synced fields the stored version did not carry (a Cloud webhook's v2 body without its rich text):
    the next read of the same version applies it again (migration 0006_11)."""


class IssueAlias(Base):
    """A key an issue had before it moved (another project, a project key renamed): the old key still finds
    the issue (migration 0006_11)."""

    __tablename__ = "issue_aliases"
    __table_args__ = (UniqueConstraint("connection", "old_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    old_key: Mapped[str] = mapped_column(String(64))
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    moved_at: Mapped[datetime] = _now_column()


class QuarantinedIssue(Base):
    """An issue version that could not be applied: set aside with a typed cause (never the row's contents)
    so that the rest of the page and the watermark move on; retried by later syncs (migration 0006_11)."""

    __tablename__ = "quarantined_issues"
    __table_args__ = (UniqueConstraint("connection", "issue_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    issue_key: Mapped[str] = mapped_column(String(64))
    jira_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    cause: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    first_at: Mapped[datetime] = _now_column()
    last_at: Mapped[datetime] = _now_column()


class FieldError(Base):
    """The last mapping failure for one issue and field (cleared when the field maps again)."""

    __tablename__ = "field_errors"
    __table_args__ = (UniqueConstraint("issue_id", "field"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(255))
    mapping: Mapped[str | None] = mapped_column(String(255))
    step: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _now_column()


class SyncState(Base):
    """Progress and lease of one sync scope (e.g. ``issues``, ``sprints``, ``reconcile``) per connection."""

    __tablename__ = "sync_state"
    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark_ms: Mapped[int | None] = mapped_column(BigInteger)
    watermark_keys: Mapped[list[Any] | None]
    cursor: Mapped[dict[str, Any] | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any] | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    api_calls: Mapped[int | None] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Conflict(Base):
    """A field both sides changed differently since they last agreed."""

    __tablename__ = "conflicts"
    __table_args__ = (
        # At most one open conflict per issue and field; both dialects support partial indexes.
        partial_index("uq_conflicts_open_issue_field", "issue_id", "field", where="status = 'open'"),
        Index("ix_conflicts_connection_status", "connection", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    connection: Mapped[str] = mapped_column(String(64))
    issue_key: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(255))
    base: Mapped[Any] = mapped_column(JSONType, nullable=True)
    local: Mapped[Any] = mapped_column(JSONType, nullable=True)
    jira: Mapped[Any] = mapped_column(JSONType, nullable=True)
    detected_at: Mapped[datetime] = _now_column()
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    resolved_at: Mapped[datetime | None]
    local_edited_at: Mapped[datetime | None]
    jira_edited_at: Mapped[datetime | None]


class AuditLog(Base):
    """Append-only record of every field value the sync changed on either side."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_connection_issue_key", "connection", "issue_key"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_run_id", "run_id"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = _now_column()
    connection: Mapped[str] = mapped_column(String(64))
    issue_key: Mapped[str | None] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    field: Mapped[str | None] = mapped_column(String(255))
    old: Mapped[Any] = mapped_column(JSONType, nullable=True)
    new: Mapped[Any] = mapped_column(JSONType, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(255))
    cause: Mapped[str | None] = mapped_column(String(16))
    """What made the change (migration 0006): ``sync``, ``push``, ``undo`` (a run, ``run_id``), ``webhook``
    (``event_id``) or ``operator``; NULL for lines written before."""
    run_id: Mapped[int | None] = mapped_column(Integer)
    """The ``sync_runs`` row of the run that wrote it."""
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    """The ``webhook_events`` row whose delivery it applied."""
    undo_of: Mapped[int | None] = mapped_column(BigInteger)
    """The audit line this one reverses (an undo is itself audited, and can be undone)."""


class SyncRun(Base):
    """One run of the engine that writes: a sync, a push on its own, or an undo (migration 0006). Audit
    lines name the run that wrote them, so a whole run can be undone."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_connection_started_at", "connection", "started_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    full: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    owner: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = _now_column()
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    note: Mapped[str | None] = mapped_column(Text)


class LocalChange(Base):
    """Outbox: a host program's request to change one field of one issue."""

    __tablename__ = "local_changes"
    __table_args__ = (Index("ix_local_changes_connection_processed_at", "connection", "processed_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    issue_key: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(255))
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = _now_column()
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Mapping(Base):
    """One field mapping (the whole definition as JSON, plus searchable columns)."""

    __tablename__ = "mappings"
    __table_args__ = (
        UniqueConstraint("connection", "name"),
        # NULLs never collide in a unique constraint, so global mappings need their own rule.
        partial_index("uq_mappings_global_name", "name", where="connection IS NULL"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    jira_field: Mapped[str | None] = mapped_column(String(255))
    internal_field: Mapped[str | None] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(8), default="both", server_default="both")
    definition: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    updated_at: Mapped[datetime] = _now_column()
    updated_by: Mapped[str | None] = mapped_column(String(255))


class MappingVersion(Base):
    """A past (or the current) version of a mapping definition."""

    __tablename__ = "mapping_versions"
    __table_args__ = (UniqueConstraint("mapping_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mapping_id: Mapped[int] = mapped_column(ForeignKey("mappings.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    changed_at: Mapped[datetime] = _now_column()
    changed_by: Mapped[str | None] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text)


class MappingState(Base):
    """What a connection's mappings compile from (migration 0006): their generation, bumped by every change
    to a mapping that applies to it (``connection`` ``*`` counts the global mappings', which apply to
    all), and the site's field list as the last sync read it, so a process without Jira (a console attached
    to a daemon) can resolve field selectors."""

    __tablename__ = "mapping_state"
    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    changed_at: Mapped[datetime | None]
    flavor: Mapped[str | None] = mapped_column(String(16))
    field_list: Mapped[list[Any] | None]
    fields_at: Mapped[datetime | None]


class Identity(Base):
    """Link between a Jira user and the host program's own user id."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("connection", "jira_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection: Mapped[str] = mapped_column(String(64))
    jira_user: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    internal_id: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))


class WebhookEvent(Base):
    """A received webhook delivery and its processing state (a durable work queue)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_events_received_at", "received_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    connection: Mapped[str | None] = mapped_column(String(64))
    identifier: Mapped[str] = mapped_column(String(255), unique=True)
    content_hash: Mapped[str | None] = mapped_column(String(128))
    event_type: Mapped[str | None] = mapped_column(String(128))
    issue_key: Mapped[str | None] = mapped_column(String(64))
    event_ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = _now_column()
    headers: Mapped[dict[str, Any] | None]
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="received", server_default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]


# The daemons' own bookkeeping (heartbeats, queued operator commands) lives in its own module.
from jira_console.store.models_ops import Command as Command  # noqa: E402
from jira_console.store.models_ops import Daemon as Daemon  # noqa: E402
