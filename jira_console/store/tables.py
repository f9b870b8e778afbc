"""The shared database's tables, as SQLAlchemy Core ``Table`` objects.

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

Declared as plain tables, so that a process which only reads (``status``, ``issues show``, the console's
views) builds them without the ORM's class mapping, about a tenth of such a command's start-up
(bench/cli_bench.py); :mod:`jira_console.store.models` maps its classes onto these same tables. What each
column means is documented on those classes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
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

metadata = MetaData(naming_convention=NAMING)


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


UTCTime = UTCDateTime()
SERIAL_ID = BigInteger().with_variant(Integer, "sqlite")
"""A 64-bit auto-increment key (SQLite's rowid alias must be declared INTEGER)."""


_SQL_FALSE = text("false")
_SQL_TRUE = text("true")
"""Boolean defaults as migration 0001 wrote them (the keyword, on SQLite too), so that a database created
in one step (store/fresh.py) has exactly the migrated schema."""


def _now(name: str, **kw: Any) -> Column[datetime]:
    """A not-null timestamp column defaulting to now (in Python, and in SQL for host programs' INSERTs)."""
    return Column(
        name, UTCTime, nullable=False, default=utcnow, server_default=func.current_timestamp(), **kw
    )


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


connections = Table(
    "connections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("flavor", String(16)),
    Column("base_url", String(512)),
    Column("server_version", String(64)),
    Column("detected_at", UTCTime),
    Column("rate_limited_until", UTCTime),
    Column("auth_blocked", Text),
    Column("auth_blocked_at", UTCTime),
    Column("auth_blocked_config", String(64)),
)

boards = Table(
    "boards",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("jira_id", BigInteger, nullable=False),
    Column("name", String(255)),
    Column("type", String(32)),
    Column("project_key", String(64)),
    Column("estimation_field", String(255)),
    UniqueConstraint("connection", "jira_id"),
)

sprints = Table(
    "sprints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("jira_id", BigInteger, nullable=False),
    Column("board_jira_id", BigInteger),
    Column("name", String(255)),
    Column("state", String(16)),
    Column("goal", Text),
    Column("start_date", UTCTime),
    Column("end_date", UTCTime),
    Column("complete_date", UTCTime),
    Column("raw", JSONType),
    Column("synced_at", UTCTime),
    UniqueConstraint("connection", "jira_id"),
)

issues = Table(
    "issues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("jira_id", String(32)),
    Column("key", String(64), nullable=False),
    Column("project_key", String(64)),
    Column("issue_type", String(64)),
    Column("summary", Text),
    Column("status", String(128)),
    Column("priority", String(64)),
    Column("assignee", String(255)),
    Column("labels", JSONType),
    Column("description", Text),
    Column("sprint_id", BigInteger),
    Column("story_points", Float),
    Column("parent_key", String(64)),
    Column("fields", JSONType),
    Column("raw", JSONType),
    Column("base", JSONType),
    Column("pushing", JSONType),
    Column("queued_strategies", JSONType),
    Column("jira_updated_ms", BigInteger),
    Column("jira_created_ms", BigInteger),
    Column("deleted", Boolean, nullable=False, default=False, server_default=_SQL_FALSE),
    Column("local_dirty", Boolean, nullable=False, default=False, server_default=_SQL_FALSE),
    Column("local_changed_at", UTCTime),
    Column("sync_stamp", Integer, nullable=False, default=0, server_default=text("0")),
    _now("created_at"),
    _now("updated_at", onupdate=utcnow),
    Column("deleted_at", UTCTime),
    Column("stale_fields", JSONType),
    Column("base_from", JSONType),
    UniqueConstraint("connection", "key"),
    UniqueConstraint("connection", "jira_id"),
    Index("ix_issues_connection_jira_updated_ms", "connection", "jira_updated_ms"),
    Index("ix_issues_connection_local_dirty", "connection", "local_dirty"),
)

issue_aliases = Table(
    "issue_aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("old_key", String(64), nullable=False),
    Column("issue_id", Integer, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    _now("moved_at"),
    UniqueConstraint("connection", "old_key"),
)

quarantined_issues = Table(
    "quarantined_issues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("issue_key", String(64), nullable=False),
    Column("jira_id", String(32)),
    Column("kind", String(64), nullable=False),
    Column("cause", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=1, server_default=text("1")),
    _now("first_at"),
    _now("last_at"),
    UniqueConstraint("connection", "issue_key"),
)

field_errors = Table(
    "field_errors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_id", Integer, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("field", String(255), nullable=False),
    Column("mapping", String(255)),
    Column("step", String(255)),
    Column("value", JSONType),
    Column("message", Text, nullable=False),
    _now("at"),
    UniqueConstraint("issue_id", "field"),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("connection", String(64), primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("watermark_ms", BigInteger),
    Column("watermark_keys", JSONType),
    Column("cursor", JSONType),
    Column("last_started_at", UTCTime),
    Column("last_finished_at", UTCTime),
    Column("last_status", String(32)),
    Column("last_error", Text),
    Column("counts", JSONType),
    Column("duration_ms", BigInteger),
    Column("api_calls", Integer),
    Column("lease_owner", String(255)),
    Column("lease_expires_at", UTCTime),
    Column("last_success_at", UTCTime),
    Column("failing_since", UTCTime),
    Column("failures", Integer, nullable=False, default=0, server_default=text("0")),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_id", Integer, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("connection", String(64), nullable=False),
    Column("issue_key", String(64), nullable=False),
    Column("field", String(255), nullable=False),
    Column("base", JSONType),
    Column("local", JSONType),
    Column("jira", JSONType),
    _now("detected_at"),
    Column("status", String(16), nullable=False, default="open", server_default="open"),
    Column("resolution", String(16)),
    Column("resolved_value", JSONType),
    Column("resolved_by", String(255)),
    Column("resolved_at", UTCTime),
    Column("local_edited_at", UTCTime),
    Column("jira_edited_at", UTCTime),
    # Writes in place to an open row (migration 0017): part of the queue's change marker.
    Column("revision", Integer, nullable=False, default=0, server_default=text("0")),
    Index("ix_conflicts_connection_status", "connection", "status"),
    # At most one open conflict per issue and field; both dialects support partial indexes.
    partial_index("uq_conflicts_open_issue_field", "issue_id", "field", where="status = 'open'"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", SERIAL_ID, primary_key=True),
    _now("at"),
    Column("connection", String(64), nullable=False),
    Column("issue_key", String(64)),
    Column("side", String(8), nullable=False),
    Column("field", String(255)),
    Column("old", JSONType),
    Column("new", JSONType),
    Column("reason", String(255)),
    Column("actor", String(255)),
    Column("cause", String(16)),
    Column("run_id", Integer),
    Column("event_id", BigInteger),
    Column("undo_of", BigInteger),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_connection_issue_key", "connection", "issue_key"),
    Index("ix_audit_log_run_id", "run_id"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("full", Boolean, nullable=False, default=False, server_default=false()),
    Column("owner", String(255)),
    _now("started_at"),
    Column("finished_at", UTCTime),
    Column("status", String(16), nullable=False, default="running", server_default="running"),
    Column("note", Text),
    Index("ix_sync_runs_connection_started_at", "connection", "started_at"),
)

local_changes = Table(
    "local_changes",
    metadata,
    Column("id", SERIAL_ID, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("issue_key", String(64), nullable=False),
    Column("field", String(255), nullable=False),
    Column("value", JSONType),
    _now("created_at"),
    Column("processed_at", UTCTime),
    Column("error", Text),
    Index("ix_local_changes_connection_processed_at", "connection", "processed_at"),
)

new_issues = Table(
    "new_issues",
    metadata,
    Column("id", SERIAL_ID, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("project_key", String(64), nullable=False),
    Column("issue_type", String(64), nullable=False),
    Column("fields", JSONType, nullable=False),
    _now("requested_at"),
    Column("requested_by", String(255)),
    Column("state", String(16), nullable=False, default="pending", server_default="pending"),
    Column("token", String(64)),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("attempted_at", UTCTime),
    Column("issue_key", String(64)),
    Column("jira_id", String(32)),
    Column("error", Text),
    Column("done_at", UTCTime),
    Index("ix_new_issues_connection_state", "connection", "state"),
)
"""Issues a host program asks to create in Jira (see docs/schema.md and :mod:`jira_console.sync.create`)."""

mappings = Table(
    "mappings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection", String(64)),
    Column("name", String(255), nullable=False),
    Column("jira_field", String(255)),
    Column("internal_field", String(255)),
    Column("direction", String(8), nullable=False, default="both", server_default="both"),
    Column("definition", JSONType, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True, server_default=_SQL_TRUE),
    Column("version", Integer, nullable=False, default=1, server_default=text("1")),
    _now("updated_at"),
    Column("updated_by", String(255)),
    UniqueConstraint("connection", "name"),
    # NULLs never collide in a unique constraint, so global mappings need their own rule.
    partial_index("uq_mappings_global_name", "name", where="connection IS NULL"),
)

mapping_versions = Table(
    "mapping_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mapping_id", Integer, ForeignKey("mappings.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSONType, nullable=False),
    _now("changed_at"),
    Column("changed_by", String(255)),
    Column("comment", Text),
    UniqueConstraint("mapping_id", "version"),
)

mapping_state = Table(
    "mapping_state",
    metadata,
    Column("connection", String(64), primary_key=True),
    Column("generation", BigInteger, nullable=False, default=0, server_default=text("0")),
    Column("changed_at", UTCTime),
    Column("flavor", String(16)),
    Column("field_list", JSONType),
    Column("fields_at", UTCTime),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("connection", String(64), nullable=False),
    Column("jira_user", String(255), nullable=False),
    Column("email", String(255)),
    Column("internal_id", String(255)),
    Column("display_name", String(255)),
    UniqueConstraint("connection", "jira_user"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", SERIAL_ID, primary_key=True),
    Column("connection", String(64)),
    Column("identifier", String(255), nullable=False, unique=True),
    Column("content_hash", String(128)),
    Column("event_type", String(128)),
    Column("issue_key", String(64)),
    Column("event_ts_ms", BigInteger),
    _now("received_at"),
    Column("headers", JSONType),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False, default="received", server_default="received"),
    Column("attempts", Integer, nullable=False, default=0, server_default=text("0")),
    Column("next_attempt_at", UTCTime),
    Column("last_error", Text),
    Column("claimed_by", String(255)),
    Column("claimed_until", UTCTime),
    Column("processed_at", UTCTime),
    Index("ix_webhook_events_received_at", "received_at"),
    Index("ix_webhook_events_status_next_attempt_at", "status", "next_attempt_at"),
)

daemons = Table(
    "daemons",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("version", String(64)),
    Column("started_at", UTCTime),
    Column("heartbeat_at", UTCTime),
    Column("stopping", Boolean, nullable=False, default=False, server_default=_SQL_FALSE),
    Column("status", JSONType),
    Column("stopped_at", UTCTime),
)

commands = Table(
    "commands",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("args", JSONType),
    _now("created_at"),
    Column("created_by", String(255)),
    Column("claimed_by", String(255)),
    Column("claimed_at", UTCTime),
    Column("finished_at", UTCTime),
    Column("result", JSONType),
    Column("error", Text),
    Index("ix_commands_claimed_by", "claimed_by"),
)
