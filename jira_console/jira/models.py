"""Plain data returned by the Jira client (frozen dataclasses, parsed tolerantly from Jira's JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from jira_console.activity import Activity
from jira_console.events import BreakerStateChanged as BreakerStateChanged  # the client emits it

Flavor = Literal["cloud", "server"]


@dataclass(frozen=True)
class ServerInfo:
    """What ``/rest/api/2/serverInfo`` says about the site."""

    flavor: Flavor
    version: str
    version_numbers: tuple[int, ...]
    deployment_type: str
    base_url: str | None = None
    server_time: str | None = None
    """Jira's clock when it answered (``serverTime``), as Jira wrote it."""
    reported: bool = True
    """Whether the site named its deployment type (else the flavor is a guess from the host name)."""

    def pinned_problem(self, pinned: str) -> str | None:
        """Why a connection pinned to flavor ``pinned`` cannot work with this site, which says it is the other
        flavor (every API path would be the wrong one's: Cloud answers Server's search with 410), or None."""
        if pinned in ("auto", self.flavor) or not self.reported:
            return None
        said = f"flavor = {pinned!r}, but the site says it is {self.flavor} (serverInfo)"
        return f'{said}: set flavor = "{self.flavor}" or "auto"'

    @classmethod
    def from_json(cls, data: dict[str, Any], *, host_hint: Flavor | None = None) -> ServerInfo:
        deployment = str(data.get("deploymentType") or "")
        if deployment.lower() == "cloud":
            flavor: Flavor = "cloud"
        elif deployment:
            flavor = "server"  # Data Center reports "Server" too
        else:
            flavor = host_hint or "server"
        numbers = tuple(int(n) for n in data.get("versionNumbers") or () if isinstance(n, int | str))
        return cls(
            flavor=flavor,
            version=str(data.get("version") or ""),
            version_numbers=numbers,
            deployment_type=deployment or ("Cloud" if flavor == "cloud" else "Server"),
            base_url=data.get("baseUrl"),
            server_time=data.get("serverTime") if isinstance(data.get("serverTime"), str) else None,
            reported=bool(deployment),
        )


@dataclass(frozen=True)
class BulkFetch:
    """What a bulk fetch returned: the issues, and the ids Jira could not read this time (``issueErrors``:
    a retriable failure, not a deletion)."""

    issues: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)


@dataclass
class BulkCreated:
    """What a bulk create did: the issues created (``{id, key, self}``, in the order of the elements that
    succeeded) and, per element that failed (its 0-based index), Jira's reasons."""

    issues: list[dict[str, Any]]
    failed: dict[int, ElementError] = field(default_factory=dict)


@dataclass(frozen=True)
class ElementError:
    """Why Jira refused one element of a bulk request (its ``elementErrors``)."""

    status: int
    messages: list[str] = field(default_factory=list)
    field_errors: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = list(self.messages) + [f"{k}: {v}" for k, v in self.field_errors.items()]
        return "; ".join(parts) or f"refused ({self.status})"


@dataclass(frozen=True)
class SearchPage:
    """One page of search results; ``max_results`` is the page size Jira actually used."""

    issues: list[dict[str, Any]]
    start_at: int | None
    max_results: int
    total: int | None
    next_page_token: str | None
    is_last: bool


@dataclass(frozen=True)
class JiraField:
    """One entry of ``/field``."""

    id: str
    name: str
    custom: bool
    schema_type: str | None = None
    schema_items: str | None = None
    schema_custom: str | None = None
    schema_system: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JiraField:
        schema = data.get("schema") or {}
        return cls(
            id=str(data.get("id") or data.get("key") or ""),
            name=str(data.get("name") or ""),
            custom=bool(data.get("custom", False)),
            schema_type=schema.get("type"),
            schema_items=schema.get("items"),
            schema_custom=schema.get("custom"),
            schema_system=schema.get("system"),
        )


@dataclass(frozen=True)
class Transition:
    """A workflow transition available on an issue."""

    id: str
    name: str
    to_status: str
    to_status_id: str | None = None
    to_category: str | None = None
    has_screen: bool = False
    fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transition:
        to = data.get("to") or {}
        category = to.get("statusCategory") or {}
        return cls(
            id=str(data.get("id")),
            name=str(data.get("name") or ""),
            to_status=str(to.get("name") or ""),
            to_status_id=str(to["id"]) if to.get("id") is not None else None,
            to_category=category.get("key"),
            has_screen=bool(data.get("hasScreen", False)),
            fields=dict(data.get("fields") or {}),
        )


@dataclass(frozen=True)
class Board:
    """An Agile board."""

    id: int
    name: str
    type: str | None = None
    project_key: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Board:
        location = data.get("location") or {}
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            type=data.get("type"),
            project_key=location.get("projectKey"),
        )


@dataclass(frozen=True)
class Sprint:
    """An Agile sprint (dates are Jira's ISO strings, unparsed)."""

    id: int
    name: str
    state: str
    board_id: int | None = None
    goal: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    complete_date: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sprint:
        board = data.get("originBoardId", data.get("boardId"))
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            state=str(data.get("state") or "").lower(),
            board_id=int(board) if board is not None else None,
            goal=data.get("goal") or None,
            start_date=data.get("startDate"),
            end_date=data.get("endDate"),
            complete_date=data.get("completeDate"),
        )


@dataclass(frozen=True)
class CallRecord:
    """One HTTP exchange, kept for the health view (no bodies, no headers)."""

    method: str
    path: str
    status: int
    latency_ms: float
    rate_limit_remaining: int | None
    at: datetime
    error: str | None = None


@dataclass(frozen=True)
class ConnectionHealth:
    """A snapshot of one connection's health for the console and ``status`` commands."""

    connection: str
    breaker_state: str
    opens_in_seconds: float | None
    last_latency_ms: float | None
    rate_limit_remaining: int | None
    calls_by_status: dict[int, int]
    recent_errors: list[CallRecord]
    total_calls: int
    current_rate_per_second: float = 0.0
    not_before_in_seconds: float = 0.0
    recent_calls: list[CallRecord] = field(default_factory=list)
    activity: Activity = field(default_factory=Activity)
    """Calls, latency, 429s and failures over the last minutes."""
    auth: str = "unknown"
    """``ok`` (Jira accepted the credentials), ``rejected`` (the last verdict was a 401) or ``unknown``."""
