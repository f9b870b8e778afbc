"""An in-memory engine with the facade's shape, for console tests and ``bench/console_bench.py``.

It behaves like the real thing where the console can tell: actions change state, counts follow, and events
are delivered from a thread other than the caller's (the real engine emits from its own loop or worker
threads, so the console's bridge must marshal). Every timestamp is derived from ``FIXED_NOW`` so snapshots
are stable.
"""

from __future__ import annotations

import asyncio
import json
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from jira_console import events as ev

FIXED_NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
INJECTION = "[@click=app.quit]x[/]"


@dataclass
class ConnectionStatus:
    name: str
    flavor: str
    version: str
    url: str
    auth: str
    ok: bool
    breaker_state: str
    opens_in_seconds: float | None
    last_latency_ms: float | None
    rate_limit_remaining: int | None
    calls_by_status: dict[str, int]
    recent_errors: list[str]
    last_webhook_at: datetime | None


@dataclass
class ListenerStatus:
    listening: bool
    address: str
    received: int
    failed: int
    queue_depth: int


@dataclass
class DaemonRecord:
    name: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    status: dict[str, Any]


@dataclass
class SyncStateRecord:
    connection: str
    scope: str
    watermark_ms: int | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_error: str | None
    counts: dict[str, int]
    duration_ms: int | None
    api_calls: int
    next_run_at: datetime | None
    running: bool


@dataclass
class SyncReport:
    connection: str
    status: str
    duration_ms: int
    numbers: dict[str, int]

    def counts(self) -> dict[str, int]:
        return dict(self.numbers)


@dataclass
class ConflictRecord:
    id: int
    connection: str
    issue_key: str
    field: str
    base: Any
    local: Any
    jira: Any
    detected_at: datetime
    status: str = "open"
    resolution: str | None = None
    resolved_value: Any = None


@dataclass
class IssueRecord:
    connection: str
    key: str
    summary: str
    status: str
    assignee: str | None
    sprint_id: int | None
    story_points: float | None
    fields: dict[str, Any]
    raw: dict[str, Any]
    jira_updated_ms: int


@dataclass
class MappingRecord:
    id: int
    connection: str
    name: str
    jira_field: str
    internal_field: str
    direction: str
    definition: dict[str, Any]
    enabled: bool
    version: int
    updated_at: datetime
    updated_by: str


@dataclass
class PreviewRow:
    key: str
    jira_value: Any
    internal_value: Any
    back_to_jira: Any
    errors: list[str] = field(default_factory=list)
    validation: list[str] = field(default_factory=list)


@dataclass
class WebhookEventRecord:
    id: int
    connection: str | None
    identifier: str
    event_type: str | None
    issue_key: str | None
    received_at: datetime
    status: str
    attempts: int
    last_error: str | None
    payload: str


@dataclass
class AuditEntry:
    at: datetime
    actor: str
    action: str
    issue_key: str | None
    detail: dict[str, Any]


_FIELDS = ("summary", "story_points", "status", "assignee", "priority")


def _seed_conflicts(count: int) -> list[ConflictRecord]:
    """Conflicts spread over two connections and five fields, with values of several JSON shapes."""
    out = []
    for i in range(1, count + 1):
        name = _FIELDS[i % len(_FIELDS)]
        base: Any = {"summary": f"Title {i}", "story_points": i % 13, "status": "To Do"}.get(name, f"v{i}")
        local: Any = f"{base}-local" if isinstance(base, str) else base + 1
        jira: Any = f"{base}-jira" if isinstance(base, str) else {"value": base + 2}
        out.append(
            ConflictRecord(
                id=i,
                connection="cloud" if i % 3 else "dc",
                issue_key=f"{'OPS' if i % 3 else 'DC'}-{i}",
                field=name,
                base=base,
                local=local,
                jira=jira,
                detected_at=FIXED_NOW - timedelta(minutes=i % 600),
            )
        )
    return out


def _seed_issues() -> list[IssueRecord]:
    issues = []
    for i in range(1, 13):
        points = None if i == 7 else (i % 8) + 0.5 * (i % 2)
        fields = {"customfield_10016": points if i != 9 else "lots", "summary": f"Issue {i}"}
        issues.append(
            IssueRecord(
                "cloud", f"OPS-{i}", f"Issue {i}", "In Progress", "ana", 4, points, fields, {}, 1000 * i
            )
        )
    return issues


def _seed_webhooks() -> list[WebhookEventRecord]:
    out = []
    for i in range(1, 11):
        failed = i in (3, 8)
        payload = {"webhookEvent": "jira:issue_updated", "issue": {"key": f"OPS-{i}", "fields": {"n": i}}}
        out.append(
            WebhookEventRecord(
                id=i,
                connection="cloud",
                identifier=f"wh-{i:04d}",
                event_type="jira:issue_updated",
                issue_key=f"OPS-{i}",
                received_at=FIXED_NOW - timedelta(seconds=30 * (11 - i)),
                status="failed" if failed else "processed",
                attempts=2 if failed else 1,
                last_error="mapping story-points: expected a number, got 'lots'" if failed else None,
                payload=json.dumps(payload),
            )
        )
    return out


def _mapping(mid: int, name: str, jira_field: str, internal: str, multiply: float) -> MappingRecord:
    definition = {
        "name": name,
        "connection": "cloud",
        "jira_field": jira_field,
        "internal_field": internal,
        "direction": "both",
        "transform": {"multiply": multiply},
    }
    return MappingRecord(
        mid, "cloud", name, jira_field, internal, "both", definition, True, 1, FIXED_NOW, "lead"
    )


class FakeEngine:
    """The facade's surface over in-memory data. ``sync_gate``, when set, holds a running sync after its
    first progress report until the test sets the event, so "running" can be observed."""

    def __init__(self, *, conflicts: int = 40, mode: str = "inprocess") -> None:
        self.mode = mode
        self.sync_gate: asyncio.Event | None = None
        self._subscribers: list[Callable[[ev.EngineEvent], None]] = []
        self._lock = threading.Lock()
        self._conflicts = _seed_conflicts(conflicts)
        self._next_conflict_id = conflicts + 1
        self._issues = _seed_issues()
        self._mappings = [
            _mapping(1, "story-points", "customfield_10016", "story_points", 1.0),
            _mapping(2, "summary", "summary", "title", 1.0),
        ]
        self._webhooks = _seed_webhooks()
        self._connections = {
            "cloud": ConnectionStatus(
                "cloud",
                "cloud",
                "1001.0.0-SNAPSHOT",
                "https://acme.atlassian.net",
                "api-token",
                True,
                "closed",
                None,
                182.0,
                940,
                {"200": 1210, "429": 3},
                [],
                FIXED_NOW - timedelta(seconds=12),
            ),
            "dc": ConnectionStatus(
                "dc",
                "server",
                "9.12.4",
                "https://jira.acme.internal",
                "pat",
                False,
                "open",
                42.0,
                3012.0,
                None,
                {"200": 300, "503": 9},
                ["503 Service Unavailable", "timeout after 10s"],
                None,
            ),
        }
        self._sync = {
            (c, s): SyncStateRecord(
                c,
                s,
                1741944000000,
                FIXED_NOW - timedelta(minutes=5),
                FIXED_NOW - timedelta(minutes=4),
                "ok",
                None,
                {"pulled": 12, "pushed": 3, "conflicts": 1},
                5400,
                17,
                FIXED_NOW + timedelta(minutes=1),
                False,
            )
            for c, s in (("cloud", "issues"), ("cloud", "sprints"), ("dc", "issues"))
        }
        self.sync_calls: list[tuple[str | None, bool]] = []
        self.retried: list[int] = []

    # -- events -------------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[ev.EngineEvent], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def emit(self, event: ev.EngineEvent) -> None:
        """Deliver ``event`` from another thread, as the real engine may."""
        thread = threading.Thread(target=lambda: [cb(event) for cb in list(self._subscribers)])
        thread.start()
        thread.join()

    def set_breaker(self, connection: str, state: str, opens_in: float | None = None) -> None:
        status = self._connections[connection]
        old = status.breaker_state
        self._connections[connection] = replace(status, breaker_state=state, opens_in_seconds=opens_in)
        self.emit(ev.BreakerStateChanged(connection, old, state, at=FIXED_NOW))

    # -- health -------------------------------------------------------------------------------------

    def connections(self) -> list[ConnectionStatus]:
        return list(self._connections.values())

    def listener_status(self) -> ListenerStatus:
        failed = sum(1 for w in self._webhooks if w.status == "failed")
        return ListenerStatus(True, "0.0.0.0:8787/webhooks", len(self._webhooks), failed, 0)

    def daemons(self) -> list[DaemonRecord]:
        if self.mode != "attached":
            return []
        return [
            DaemonRecord("syncd", "ops-1", 4242, FIXED_NOW - timedelta(hours=3), FIXED_NOW, {"loop": "ok"})
        ]

    # -- sync ---------------------------------------------------------------------------------------

    def sync_states(self) -> list[SyncStateRecord]:
        return list(self._sync.values())

    async def run_sync(self, connection: str | None = None, full: bool = False) -> list[SyncReport]:
        """One report per connection, as the facade returns (its scopes run one after another)."""
        self.sync_calls.append((connection, full))
        keys = [k for k in self._sync if connection in (None, k[0])]
        if not keys:
            raise ValueError(f"unknown connection {connection!r}")
        totals: dict[str, dict[str, int]] = {}
        for key in keys:
            self._sync[key] = replace(self._sync[key], running=True)
            self.emit(ev.SyncStarted(key[0], key[1], full, at=FIXED_NOW))
            for page in range(1, 4):
                self.emit(ev.SyncProgressed(key[0], key[1], page, page * 50, page * 4, page, 0))
                if self.sync_gate is not None:
                    await self.sync_gate.wait()
                await asyncio.sleep(0)
            counts = {"pulled": 12 if not full else 150, "pushed": 3, "conflicts": 0}
            self._sync[key] = replace(
                self._sync[key],
                running=False,
                counts=counts,
                last_status="ok",
                watermark_ms=(self._sync[key].watermark_ms or 0) + 60_000,
                last_finished_at=FIXED_NOW + timedelta(minutes=1),
            )
            self.emit(ev.SyncFinished(key[0], key[1], "ok", counts, 900, at=FIXED_NOW))
            total = totals.setdefault(key[0], dict.fromkeys(counts, 0))
            for name, number in counts.items():
                total[name] += number
        return [SyncReport(name, "ok", 900, numbers) for name, numbers in totals.items()]

    # -- conflicts ----------------------------------------------------------------------------------

    def _matching(self, status: str, connection: str | None, field: str | None, issue_key: str | None):
        for c in self._conflicts:
            if c.status != status or (connection and c.connection != connection):
                continue
            if (field and c.field != field) or (issue_key and issue_key.lower() not in c.issue_key.lower()):
                continue
            yield c

    def list_conflicts(
        self, status="open", connection=None, field=None, issue_key=None, limit=200, offset=0
    ) -> list[ConflictRecord]:
        with self._lock:
            rows = list(self._matching(status, connection, field, issue_key))
        return rows[offset : offset + limit]

    def count_conflicts(self, status="open", connection=None, field=None, issue_key=None) -> int:
        with self._lock:
            return sum(1 for _ in self._matching(status, connection, field, issue_key))

    def add_conflict(self, **values: Any) -> ConflictRecord:
        record = ConflictRecord(id=self._next_conflict_id, detected_at=FIXED_NOW, **values)
        self._next_conflict_id += 1
        self._conflicts.append(record)
        self.emit(ev.ConflictDetected(record.connection, record.issue_key, record.field, record.id))
        return record

    def _resolve(self, record: ConflictRecord, take: str, value: Any, actor: str) -> ConflictRecord:
        chosen = {"jira": record.jira, "local": record.local, "value": value}[take]
        record.status, record.resolution, record.resolved_value = "resolved", take, chosen
        self.emit(ev.ConflictResolved(record.id, record.issue_key, record.field, take))
        return record

    async def resolve_conflict(self, conflict_id: int, take: str, value: Any = None, actor: str = "console"):
        await asyncio.sleep(0)
        found = [c for c in self._conflicts if c.id == conflict_id]
        if not found or found[0].status != "open":
            raise LookupError(f"conflict {conflict_id} is not open")
        return self._resolve(found[0], take, value, actor)

    async def resolve_conflicts(
        self, take, connection=None, field=None, issue_key=None, actor="console"
    ) -> int:
        await asyncio.sleep(0)
        with self._lock:
            targets = list(self._matching("open", connection, field, issue_key))
        for record in targets:
            record.status, record.resolution = "resolved", take
        return len(targets)

    # -- issues and mappings ------------------------------------------------------------------------

    def list_issues(self, connection=None, search=None, limit=100, offset=0) -> list[IssueRecord]:
        rows = [i for i in self._issues if search is None or search.lower() in i.summary.lower()]
        return rows[offset : offset + limit]

    def add_issue(self, issue: IssueRecord) -> None:
        self._issues.append(issue)

    def list_mappings(self) -> list[MappingRecord]:
        return list(self._mappings)

    def mapping_to_toml(self, definition: dict) -> str:
        lines, tables = [], []
        for key, value in definition.items():
            if isinstance(value, dict):
                tables.append((key, value))
            else:
                lines.append(f"{key} = {json.dumps(value)}")
        for key, table in tables:
            lines += ["", f"[{key}]"] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
        return "\n".join(lines) + "\n"

    def mapping_from_toml(self, text: str) -> dict:
        try:
            definition = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not valid TOML: {exc}") from exc
        missing = [k for k in ("name", "jira_field", "internal_field") if k not in definition]
        if missing:
            raise ValueError(f"missing keys: {', '.join(missing)}")
        if definition.get("direction", "both") not in ("both", "pull", "push"):
            raise ValueError("direction must be one of both, pull, push")
        factor = definition.get("transform", {}).get("multiply", 1)
        if not isinstance(factor, int | float) or factor == 0:
            raise ValueError("transform.multiply must be a non-zero number")
        return definition

    def preview_mapping(
        self, definition: dict, issue_keys: list[str] | None = None, limit=100
    ) -> list[PreviewRow]:
        self.mapping_from_toml(self.mapping_to_toml(definition))  # same validation as saving
        factor = definition.get("transform", {}).get("multiply", 1)
        issues = [i for i in self._issues if not issue_keys or i.key in issue_keys][:limit]
        rows = []
        for issue in issues:
            raw = issue.fields.get(definition["jira_field"])
            if raw is None:
                rows.append(PreviewRow(issue.key, None, None, None, [], ["no value in Jira"]))
            elif isinstance(raw, int | float):
                internal = raw * factor
                checks = [f"{definition['internal_field']} above 20"] if internal > 20 else []
                rows.append(PreviewRow(issue.key, raw, internal, internal / factor, [], checks))
            elif isinstance(raw, str) and not definition["internal_field"].endswith("points"):
                rows.append(PreviewRow(issue.key, raw, raw, raw))
            else:
                rows.append(PreviewRow(issue.key, raw, None, None, [f"expected a number, got {raw!r}"]))
        return rows

    async def save_mapping(self, definition: dict, actor="console", comment=None) -> MappingRecord:
        await asyncio.sleep(0)
        self.mapping_from_toml(self.mapping_to_toml(definition))
        for i, record in enumerate(self._mappings):
            if record.name == definition["name"]:
                saved = replace(record, definition=definition, version=record.version + 1, updated_by=actor)
                self._mappings[i] = saved
                break
        else:
            saved = _mapping(
                len(self._mappings) + 1,
                definition["name"],
                definition["jira_field"],
                definition["internal_field"],
                1.0,
            )
            saved = replace(saved, definition=definition, updated_by=actor)
            self._mappings.append(saved)
        self.emit(ev.MappingChanged(saved.name, saved.version))
        return saved

    # -- webhooks and audit -------------------------------------------------------------------------

    def list_webhook_events(self, status=None, limit=200, offset=0) -> list[WebhookEventRecord]:
        rows = [w for w in reversed(self._webhooks) if status in (None, w.status)]
        return rows[offset : offset + limit]

    def add_webhook(self, **values: Any) -> WebhookEventRecord:
        record = WebhookEventRecord(id=len(self._webhooks) + 1, received_at=FIXED_NOW, **values)
        self._webhooks.append(record)
        self.emit(ev.WebhookReceived(record.id, record.connection, record.event_type, record.issue_key))
        return record

    def webhook_stats(self) -> dict:
        counts: dict[str, int] = {}
        for w in self._webhooks:
            counts[w.status] = counts.get(w.status, 0) + 1
        return {"counts": counts, "received_per_minute": 2.0, "processed_per_minute": 1.6, "queue_depth": 0}

    async def retry_webhook_event(self, event_id: int) -> None:
        await asyncio.sleep(0)
        for i, record in enumerate(self._webhooks):
            if record.id == event_id:
                self._webhooks[i] = replace(
                    record, status="processed", attempts=record.attempts + 1, last_error=None
                )
                self.retried.append(event_id)
                self.emit(ev.WebhookProcessed(event_id, "processed"))
                return
        raise LookupError(f"no webhook event {event_id}")

    def audit(self, issue_key=None, limit=100) -> list[AuditEntry]:
        return []
