"""The records the facade builds itself (beside the store's records and the sync's reports it passes on):
what the console and the CLI show about connections, the listener, sync scopes, field errors, webhook
traffic and mapping trials. Frozen dataclasses, so a screen can hold one without it changing underneath."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from jira_console.activity import Activity
from jira_console.health import SyncHealth
from jira_console.mapping import PreviewRow
from jira_console.sync.report import SyncReport  # the one import of the sync's report (its module may move)

Mode = Literal["inprocess", "attached"]
"""Where the engine runs: in this process, or in a daemon this process is attached to."""

Flavor = Literal["cloud", "server"]
"""A Jira site's flavor: Cloud (REST v3) or Server/Data Center (REST v2)."""

__all__ = [
    "Activity",
    "ConnectionStatus",
    "ConnectionVerdict",
    "EngineState",
    "KnownNames",
    "SyncHealth",
    "FieldErrorView",
    "Flavor",
    "ListenerStatus",
    "MappingTemplates",
    "MappingTrial",
    "Mode",
    "SyncReport",
    "SyncStateView",
    "WebhookStats",
]


AuthState = Literal["ok", "rejected", "blocked", "no token", "unknown"]

ConnectionVerdict = Literal["ok", "running", "never run", "failing", "degraded", "auth", "down"]
"""One word for a connection's health, worst first: ``down`` (breaker open, or Jira not answering),
``auth`` (credentials missing or refused), ``degraded``/``failing`` (its syncs fail), else the sync's."""


@dataclass(frozen=True)
class ConnectionStatus:
    """Health of one Jira connection, for the console, ``status`` and the operations API: the client's
    view (breaker, latency, budget, calls, auth), the syncs' (:class:`SyncHealth`), traffic over the last
    minutes (:class:`Activity`) and, when attached, which daemon reported it and when."""

    name: str
    url: str
    auth: str
    flavor: str | None = None
    version: str | None = None
    ok: bool = True
    """The client's verdict: breaker closed and the last call answered (a 4xx counts as answered)."""
    breaker_state: str = "closed"
    opens_in_seconds: float | None = None
    last_latency_ms: float | None = None
    rate_limit_remaining: int | None = None
    calls_by_status: dict[str, int] = field(default_factory=dict)
    recent_errors: list[str] = field(default_factory=list)
    last_webhook_at: datetime | None = None
    total_calls: int = 0
    auth_state: AuthState = "unknown"
    """How Jira took the credentials: ``ok`` (a call succeeded), ``rejected`` (the last verdict was a
    401), ``blocked`` (Jira denied the Basic credentials: none are sent until the configuration changes or
    ``config check`` runs), ``no token`` (none configured) or ``unknown`` (no call answered yet)."""
    auth_note: str | None = None
    """The plain words about the credentials when they are held back (see ``auth_state``)."""
    sync: SyncHealth = field(default_factory=SyncHealth)
    activity: Activity = field(default_factory=Activity)
    reported_by: str | None = None
    """The daemon whose heartbeat carried this status (None: this process runs the engine)."""
    reported_at: datetime | None = None
    """That heartbeat's time (of several, the oldest): the client's figures are as of then."""
    combined_from: tuple[str, ...] = ()
    """When several daemons share the connection's work: each of them, ``reported_by`` first; their
    reports are combined (:mod:`jira_console.facade.combined`)."""

    @property
    def verdict(self) -> ConnectionVerdict:
        """The worst thing true of the connection."""
        if self.breaker_state == "open" or not self.ok:
            return "down"
        if self.auth_state in ("rejected", "blocked", "no token"):
            return "auth"
        return self.sync.verdict

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConnectionStatus:
        """Rebuild what :func:`dataclasses.asdict` made of one (a daemon's heartbeat carries them)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("last_webhook_at", "reported_at"):
            known[name] = _parse_time(known.get(name))
        sync = dict(known.get("sync") or {})
        for name in ("last_finished_at", "last_success_at", "failing_since"):
            sync[name] = _parse_time(sync.get(name))
        known["sync"] = SyncHealth(**{k: v for k, v in sync.items() if k in SyncHealth.__dataclass_fields__})
        known["activity"] = Activity.from_json(known.get("activity"))
        known["combined_from"] = tuple(known.get("combined_from") or ())
        return cls(**known)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime) or value is None:
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class EngineState:
    """Where the engine runs and whether it is alive: in this process (always alive), or in the daemon
    this process is attached to, judged by its heartbeat."""

    mode: Mode
    daemon: str | None = None
    """The daemon attached to (the freshest heartbeat when several share the database)."""
    heartbeat_at: datetime | None = None
    alive: bool = True
    """In-process, or the daemon's heartbeat is fresh (three heartbeat intervals)."""
    stopped_at: datetime | None = None
    """When the daemon stopped cleanly (None: running, or it died without saying)."""
    live_daemon: str | None = None
    """In this process: a daemon alive on the same database that the engine could be handed to
    (``Engine.attach``); None when there is none, or when this process is a daemon itself."""


@dataclass(frozen=True)
class KnownNames:
    """People and sprints the store knows by name, for showing names instead of ids."""

    people: dict[str, str] = field(default_factory=dict)
    """accountId (Cloud) or user name (Server) -> display name."""
    sprints: dict[int, str] = field(default_factory=dict)
    """Sprint id -> sprint name."""

    def name_of(self, field_name: str | None, value: Any) -> str | None:
        """The name ``value`` of field ``field_name`` stands for (a person, a sprint), when known."""
        if field_name in PEOPLE_FIELDS and isinstance(value, str | int) and not isinstance(value, bool):
            return self.people.get(str(value))
        if field_name in SPRINT_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            return self.sprints.get(value)
        return None


PEOPLE_FIELDS = frozenset({"assignee", "reporter"})
SPRINT_FIELDS = frozenset({"sprint_id", "sprint"})


def names_wanted(values: Iterable[tuple[str, str | None, Any]]) -> dict[str, tuple[set[str], set[int]]]:
    """Per connection, the people and sprint ids among ``(connection, field, value)`` (values of people and
    sprint fields): what to ask :meth:`known_names` for."""
    wanted: dict[str, tuple[set[str], set[int]]] = {}
    for connection, field_name, value in values:
        people, sprints = wanted.setdefault(connection, (set(), set()))
        if value is None or isinstance(value, bool | dict | list):
            continue
        if field_name in PEOPLE_FIELDS:
            people.add(str(value))
        elif field_name in SPRINT_FIELDS and isinstance(value, int):
            sprints.add(value)
    return {conn: found for conn, found in wanted.items() if found[0] or found[1]}


@dataclass(frozen=True)
class ListenerStatus:
    """The webhook listener: where it listens (None: not listening) and the stored events' figures."""

    listening: bool
    address: str | None
    received: int = 0
    failed: int = 0
    queue_depth: int = 0


@dataclass(frozen=True)
class SyncStateView:
    """A sync scope's state plus what only the running engine knows (next run, running)."""

    connection: str
    scope: str
    watermark_ms: int | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_error: str | None
    counts: dict[str, Any]
    duration_ms: int | None
    api_calls: int | None
    next_run_at: datetime | None = None
    running: bool = False
    last_success_at: datetime | None = None
    failures: int = 0
    """Runs failed in a row (``last_error`` is the last one's error, in one line)."""
    quarantined: tuple[str, ...] = ()
    """Issues set aside because they could not be applied, one line each: key, kind and cause (no field
    values); later syncs try them again."""

    @classmethod
    def never_run(
        cls, connection: str, scope: str, running: bool, next_run_at: datetime | None
    ) -> SyncStateView:
        """A configured connection's scope with no state yet: it has never been synced (or runs now, for
        the first time)."""
        status = "running" if running else None
        return cls(connection, scope, None, None, None, status, None, {}, None, None, next_run_at, running)


@dataclass(frozen=True)
class FieldErrorView:
    """A field of an issue that could not be converted or written, and why."""

    connection: str
    issue_key: str
    field: str
    mapping: str | None
    step: str | None
    message: str
    at: datetime | None


@dataclass(frozen=True)
class WebhookStats:
    """Stored webhook events: how many per status (every status, zero included), how many wait to be
    processed, the age of the oldest waiting one, and the last minute's traffic."""

    counts: dict[str, int]
    queue_depth: int
    received_per_minute: int
    processed_per_minute: int
    oldest_pending_seconds: float = 0.0


@dataclass(frozen=True)
class MappingTrial:
    """One stored mapping run over one issue fetched from Jira (``mapping test``): the preview row, or why
    the mapping could not run at all."""

    mapping: str
    row: PreviewRow | None = None
    error: str | None = None


@dataclass(frozen=True)
class MappingTemplates:
    """The ready-made mappings for one connection's site: the field ids found there by schema (role -> id)
    and every template whose fields the site has, as plain definitions."""

    connection: str
    flavor: Flavor
    field_ids: dict[str, str]
    templates: list[dict[str, Any]]
