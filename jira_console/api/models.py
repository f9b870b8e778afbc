"""The operations API's request and response bodies: FastAPI validates requests and writes the OpenAPI
document from them. Responses are the facade's own records (the store's converters, the facade's views, the
mapping checks and previews) wherever the API shows one as it is; the few shapes of the API's own (a page, a
summary without the payload, a record with what the API adds to it) are defined here."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from jira_console.facade.views import ConnectionStatus, SyncStateView
from jira_console.mapping import MappingDefinition, PreviewRow, Problem
from jira_console.store.converters import CommandRecord, DaemonRecord, MappingRecord, MappingVersionRecord

ConnectionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
IssueKey = Annotated[
    str, StringConstraints(pattern=r"^(?:[A-Za-z][A-Za-z0-9_]{0,30}-[1-9][0-9]{0,11}|[1-9][0-9]{0,17})$")
]
MappingName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
EventStatus = Literal["received", "processing", "applied", "ignored", "stale", "failed"]

T = TypeVar("T")
R = TypeVar("R")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def extend(cls: type[R], record: Any, **extra: Any) -> R:
    """One of the records below built from the record it extends (its fields as they are) and the rest."""
    return cls(**{f.name: getattr(record, f.name) for f in dataclasses.fields(record)}, **extra)


class MappingOut(BaseModel):
    """A stored mapping as every mapping route answers it: ``jira_field`` in the shape it was sent (a field
    id, or the selector object such as ``{"name": "Team"}``), as in ``definition``; not the label the
    ``mappings`` table keeps for searching and listing."""

    model_config = ConfigDict(extra="forbid")  # a new column of the record must be added here, not dropped

    id: int
    connection: str | None
    name: str
    jira_field: str | dict[str, Any] | None = Field(
        description="The Jira field as the definition gives it: an id (or name), or a selector object."
    )
    internal_field: str | None
    direction: str
    definition: dict[str, Any]
    enabled: bool
    version: int
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, record: MappingRecord, **extra: Any) -> Self:
        values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
        as_sent = record.definition.get("jira_field", record.jira_field)
        return cls(**{**values, "jira_field": as_sent, **extra})


class MappingDetail(MappingOut):
    """A stored mapping with every version, newest first."""

    versions: list[MappingVersionRecord]


@dataclass(frozen=True)
class TrialResult(PreviewRow):
    """One mapping run forward (Jira -> local) and back; ``unresolved`` lists users no identity resolved."""

    unresolved: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ConnectionHealth(ConnectionStatus):
    """A connection's health (``sync``: how its syncs are going, the facade's verdict) with the state of
    each of its sync scopes."""

    scopes: list[SyncStateView] = field(default_factory=list)


@dataclass(frozen=True)
class DaemonHealth(DaemonRecord):
    """A daemon's last heartbeat; ``alive`` when it is recent (three heartbeat intervals) and the daemon
    neither stopping nor stopped."""

    alive: bool = False


@dataclass(frozen=True)
class CommandState(CommandRecord):
    """A queued command and where it stands: ``queued``, ``running`` (claimed), ``done`` or ``failed``."""

    state: Literal["queued", "running", "done", "failed"]


class ErrorDetail(BaseModel):
    loc: list[str]
    message: str


class ErrorBody(BaseModel):
    """Every refusal: what went wrong, in words; ``details`` names each invalid value."""

    error: str
    details: list[ErrorDetail] | None = None


class Paging(BaseModel):
    limit: int = Field(100, ge=1, le=1000, description="At most this many items.")
    offset: int = Field(0, ge=0, le=10**9, description="Skip this many items first.")


class Page(BaseModel, Generic[T]):
    """One page of a longer list: ``total`` matches the filters, ``items`` starts at ``offset``."""

    items: list[T]
    total: int
    limit: int
    offset: int


# ------------------------------------------------------------------------------------------- mappings


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] = Field(description="A mapping's keys, as in a `[[mapping]]` TOML table.")
    connection: ConnectionName | None = Field(
        None, description="The site to check against (required when several connections are configured)."
    )
    issue_key: IssueKey | None = Field(
        None, description="Also check that the field is on this issue's edit screen."
    )


class ValidateResult(BaseModel):
    ok: bool = Field(description="No problem of severity `error`.")
    connection: str
    problems: list[Problem]


class TrialRequest(BaseModel):
    """Exactly one of ``value`` (Jira's raw value of the field) and ``issue_key`` (fetched from Jira)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["value"]}, {"required": ["issue_key"]}]},
    )

    mapping: MappingName | MappingDefinition = Field(description="A stored mapping's name, or a definition.")
    connection: ConnectionName | None = Field(
        None, description="The site (required when several connections are configured)."
    )
    value: Any = None
    issue_key: IssueKey | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TrialRequest:
        given = "value" in self.model_fields_set
        if given == ("issue_key" in self.model_fields_set):
            raise ValueError("give exactly one of value and issue_key")
        return self


# ------------------------------------------------------------------------------------------- webhooks


class EventQuery(Paging):
    status: EventStatus | None = None
    connection: ConnectionName | None = None
    since: AwareDatetime | None = Field(
        None,
        description="Received at or after this moment (RFC 3339, with its offset: `2025-01-31T08:00:00Z`).",
    )

    @field_validator("since", mode="before")
    @classmethod
    def _rfc3339(cls, value: object) -> object:
        if isinstance(value, str) and not _RFC3339.match(value):
            raise ValueError("expected an RFC 3339 date-time with an offset, e.g. 2025-01-31T08:00:00Z")
        return value


class EventSummary(_Out):
    id: int
    connection: str | None
    identifier: str
    event_type: str | None
    issue_key: str | None
    event_ts_ms: int | None
    received_at: datetime
    status: EventStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None = Field(
        description="Why the last attempt failed (received, failed), or why the event was not applied "
        "(ignored, stale: a duplicate of the stored version, an issue deleted here, outside the JQL...)."
    )
    processed_at: datetime | None


class WebhookAccepted(BaseModel):
    status: Literal["stored", "duplicate"]
    note: str | None = Field(None, description="Why a stored event will not be applied (malformed, unknown).")


class QueueHealth(BaseModel):
    depth: int
    oldest_pending_seconds: float
    failed: int


class WebhookHealth(BaseModel):
    listening: bool = Field(
        description="A webhook listener serves this database (here or in another daemon)."
    )
    address: str | None = Field(description="Where the listener takes Jira's deliveries.")
    receiver: str | None = Field(description="This API's receiver path, when this daemon receives webhooks.")
    queue: QueueHealth
    breakers: dict[str, str] = Field(description="Circuit-breaker state per connection.")


# ---------------------------------------------------------------------------------------- integration


class IntegrationHealth(BaseModel):
    connections: list[ConnectionHealth]
    daemons: list[DaemonHealth]


class SyncOverview(BaseModel):
    states: list[SyncStateView]
    pending: list[CommandState] = Field(description="Queued or running commands, newest first.")
    field_errors: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Connection -> field -> how many issues fail to map or write it (each issue's message is "
        "on the issue).",
    )
    local_edits: dict[str, int] = Field(
        default_factory=dict,
        description="Connection -> issues edited locally (a host program's UPDATE, `local set`) that the "
        "push has not written to Jira yet, for connections that have any.",
    )
    outbox: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Connection -> `pending` (not taken yet) and `refused` (with `local_changes.error`) "
        "rows of the outbox, for connections that have any; rows for a connection not configured stay "
        "pending.",
    )
    creations: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Connection -> `waiting` (pending or being created) and `failed` requests to create "
        "an issue in Jira (`new_issues`; see `/integration/jira/issue-requests`), for connections that have "
        "any.",
    )


class SyncTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection: ConnectionName | None = Field(None, description="One connection; all of them when omitted.")
    full: bool = Field(False, description="A reconciliation sweep instead of an incremental sync.")


class SyncTriggered(BaseModel):
    command: CommandState
    already_queued: bool = Field(description="A queued or running sync already covered this request.")


class ConflictQuery(Paging):
    status: Literal["open", "resolved", "all"] = "open"
    connection: ConnectionName | None = None
    field: FieldName | None = Field(None, description="A synced field's name.")
    issue_key: IssueKey | None = None


class TakeSide(BaseModel):
    """Keep Jira's value or the local one."""

    model_config = ConfigDict(extra="forbid")

    take: Literal["jira", "local"]


class TakeValue(BaseModel):
    """Settle on a value of your own (any JSON value that fits the field)."""

    model_config = ConfigDict(extra="forbid")

    take: Literal["value"] = "value"
    value: Any = Field(description="The agreed value (required; null is a value).")


ResolveRequest = TakeSide | TakeValue
