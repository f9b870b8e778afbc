"""The one front door to the engine, used by the CLI, the console and the daemon.

It returns plain records (dataclasses), never ORM rows or sessions. Two modes:

* ``inprocess``: this process owns the Jira clients and sync engines (CLI runs, the demo, the daemon).
* ``attached``: a daemon with a fresh heartbeat runs the engine; this process reads the shared database,
  and operator actions that need Jira (a sync) are queued as commands the daemon carries out. Never two
  engines competing for the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from sqlalchemy import func, select

from jira_console import events as ev
from jira_console.config import JiraConnection, Settings
from jira_console.jira import JiraClient
from jira_console.logs import get_logger
from jira_console.store import converters as cv
from jira_console.store import models as m
from jira_console.store import queue as q
from jira_console.store import repo
from jira_console.store import state as st
from jira_console.store.db import Database
from jira_console.sync import conflicts as cf
from jira_console.sync.engine import SyncBusy, SyncEngine, SyncReport

log = get_logger(__name__)
Listener = Callable[[ev.EngineEvent], None]
RATE_LIMIT_SCOPE = "rate_limit"


@dataclass(frozen=True)
class ConnectionStatus:
    """Health of one Jira connection, for the console and ``status``."""

    name: str
    url: str
    auth: str
    flavor: str | None = None
    version: str | None = None
    ok: bool = True
    breaker_state: str = "closed"
    opens_in_seconds: float | None = None
    last_latency_ms: float | None = None
    rate_limit_remaining: int | None = None
    calls_by_status: dict[str, int] = field(default_factory=dict)
    recent_errors: list[str] = field(default_factory=list)
    last_webhook_at: datetime | None = None
    total_calls: int = 0


@dataclass(frozen=True)
class ListenerStatus:
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


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Engine:
    """Facade over the store, the Jira clients and the sync engines of every configured connection."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        owner: str | None = None,
        transports: dict[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db or Database(
            settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size
        )
        self.owner = owner or settings.daemon.name or default_owner()
        self.mode: Literal["inprocess", "attached"] = "inprocess"
        self._transports = transports or {}
        self.clients: dict[str, JiraClient] = {}
        self.syncs: dict[str, SyncEngine] = {}
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()
        self._running: set[str] = set()
        self.next_runs: dict[str, datetime] = {}
        self.listener: Any = None
        self.started = False

    # --------------------------------------------------------------------------------- lifecycle

    def migrate(self) -> None:
        self.db.migrate()

    async def start(self, *, attach: bool | None = None) -> None:
        """Migrate the schema and, unless a live daemon owns the engine, build clients and sync engines.
        ``attach=True`` forces attached mode, ``False`` forces in-process, ``None`` decides by heartbeat."""
        await asyncio.to_thread(self.db.migrate)
        live = await asyncio.to_thread(self.live_daemons)
        if attach or (attach is None and live):
            self.mode = "attached"
        else:
            self.mode = "inprocess"
            for conn in self.settings.jira:
                self._build(conn)
        self.started = True

    def _build(self, conn: JiraConnection) -> None:
        client = JiraClient(conn, transport=self._transports.get(conn.name), on_event=self._client_event)
        # A Retry-After received by an earlier process (a daemon killed and restarted) still holds.
        until = self._stored_not_before(conn.name)
        if until is not None and until > time.time():
            client.gate.push(until - time.time())
        self.clients[conn.name] = client
        self.syncs[conn.name] = SyncEngine(
            self.db,
            conn,
            client,
            emit=self.emit,
            owner=self.owner,
            lease_seconds=self.settings.daemon.lease_seconds,
        )

    async def stop(self) -> None:
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()
        self.clients.clear()
        self.syncs.clear()
        self.db.close()
        self.started = False

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------------ events

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Receive every engine event (from whichever thread or loop emits it). Returns an unsubscriber."""
        with self._listeners_lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._listeners_lock, contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return unsubscribe

    def emit(self, event: ev.EngineEvent) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a broken subscriber must not break the engine
                log.exception("event listener failed", event=type(event).__name__)

    def _stored_not_before(self, connection: str) -> float | None:

        with self.db.session() as s:
            row = s.get(m.SyncState, (connection, RATE_LIMIT_SCOPE))
            return row.watermark_ms / 1000 if row is not None and row.watermark_ms else None

    def _store_not_before(self, connection: str, until: float) -> None:
        """Keep Jira's Retry-After across restarts (``sync_state`` row, scope ``rate_limit``, epoch ms)."""
        with contextlib.suppress(Exception):  # losing it only risks one early request after a restart
            with self.db.session(write=True) as s:
                st.upsert_sync_state(s, connection, RATE_LIMIT_SCOPE, watermark_ms=int(until * 1000))

    def _client_event(self, event: Any) -> None:
        if isinstance(event, ev.RateLimited):
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to persist from
                asyncio.get_running_loop().run_in_executor(
                    None, self._store_not_before, event.connection, event.until
                )
        if isinstance(event, ev.EngineEvent):
            self.emit(event)
        else:
            name = getattr(event, "connection", None)
            if name:
                self.emit(ev.HealthChanged(name))

    # ------------------------------------------------------------------------------------ health

    def live_daemons(self, *, within: float | None = None) -> list[cv.DaemonRecord]:
        """Daemons whose heartbeat is recent (three heartbeat intervals by default)."""
        window = timedelta(seconds=within or self.settings.daemon.heartbeat_seconds * 3)
        now = datetime.now(UTC)
        with self.db.session() as s:
            return [
                d
                for d in st.list_daemons(s)
                if d.heartbeat_at
                and now - d.heartbeat_at <= window
                and d.name != self.owner
                and not d.stopping
            ]

    def daemons(self) -> list[cv.DaemonRecord]:
        with self.db.session() as s:
            return st.list_daemons(s)

    def connections(self) -> list[ConnectionStatus]:
        """Per connection: flavor, version, breaker, latency, budget, errors. In attached mode these come from
        the daemon's heartbeat status."""
        last_events = self._last_webhook_times()
        if self.mode == "attached":
            return self._connections_from_daemon(last_events)
        with self.db.session() as s:
            detected = {c.name: c for c in s.scalars(select(m.Connection))}
        out = []
        for conn in self.settings.jira:
            client = self.clients.get(conn.name)
            info = detected.get(conn.name)
            health = client.health if client else None
            out.append(
                ConnectionStatus(
                    name=conn.name,
                    url=conn.url,
                    auth=conn.auth,
                    flavor=(info.flavor if info else None)
                    or (conn.flavor if conn.flavor != "auto" else None),
                    version=info.server_version if info else None,
                    ok=bool(
                        health is None or (health.breaker_state == "closed" and not _recent_failure(health))
                    ),
                    breaker_state=health.breaker_state if health else "closed",
                    opens_in_seconds=health.opens_in_seconds if health else None,
                    last_latency_ms=health.last_latency_ms if health else None,
                    rate_limit_remaining=health.rate_limit_remaining if health else None,
                    calls_by_status={
                        str(k): v for k, v in (health.calls_by_status if health else {}).items()
                    },
                    recent_errors=[_describe_call(c) for c in health.recent_errors] if health else [],
                    last_webhook_at=last_events.get(conn.name),
                    total_calls=health.total_calls if health else 0,
                )
            )
        return out

    def health_snapshot(self) -> list[dict[str, Any]]:
        """JSON-friendly connection health, written into the daemon heartbeat for attached consoles."""
        from dataclasses import asdict

        return [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(c).items()}
            for c in self.connections()
        ]

    def _connections_from_daemon(self, last_events: dict[str, datetime]) -> list[ConnectionStatus]:
        daemons = self.live_daemons() or self.daemons()
        reported: dict[str, dict[str, Any]] = {}
        for d in daemons:
            for c in (d.status or {}).get("connections", []):
                reported.setdefault(c.get("name"), c)
        out = []
        for conn in self.settings.jira:
            data = dict(reported.get(conn.name) or {})
            data.pop("last_webhook_at", None)
            known = {k: v for k, v in data.items() if k in ConnectionStatus.__dataclass_fields__}
            known.update(
                name=conn.name, url=conn.url, auth=conn.auth, last_webhook_at=last_events.get(conn.name)
            )
            out.append(ConnectionStatus(**known))
        return out

    def _last_webhook_times(self) -> dict[str, datetime]:

        with self.db.session() as s:
            rows = s.execute(
                select(m.WebhookEvent.connection, func.max(m.WebhookEvent.received_at)).group_by(
                    m.WebhookEvent.connection
                )
            ).all()
        out: dict[str, datetime] = {}
        for name, at in rows:
            if name and at is not None:
                out[name] = at if at.tzinfo else at.replace(tzinfo=UTC)
        return out

    def listener_status(self) -> ListenerStatus:
        stats = self.webhook_stats()
        address = None
        if self.listener is not None:
            address = getattr(self.listener, "address", None)
        elif self.mode == "attached":
            for d in self.live_daemons():
                address = (d.status or {}).get("listener")
                if address:
                    break
        return ListenerStatus(
            listening=address is not None,
            address=address,
            received=sum(v for k, v in stats.get("counts", {}).items()),
            failed=stats.get("counts", {}).get("failed", 0),
            queue_depth=stats.get("queue_depth", 0),
        )

    # -------------------------------------------------------------------------------------- sync

    def _sync_for(self, name: str | None) -> list[SyncEngine]:
        if self.mode == "attached":
            raise RuntimeError("attached to a daemon: syncs run there (use request_sync)")
        if name is None:
            return list(self.syncs.values())
        conn = self.settings.connection(name)
        return [self.syncs[conn.name]]

    async def run_sync(self, connection: str | None = None, full: bool = False) -> list[SyncReport]:
        """Run one sync per chosen connection (all by default); in attached mode, ask the daemon."""
        if self.mode == "attached":
            await asyncio.to_thread(self.request_sync, connection, full)
            return []
        reports = []
        for sync in self._sync_for(connection):
            self._running.add(sync.conn.name)
            try:
                reports.append(await sync.run(full=full))
            finally:
                self._running.discard(sync.conn.name)
        return reports

    async def push(self, connection: str | None = None) -> None:
        """Send pending local changes now (after a conflict resolution or a local edit)."""
        if self.mode == "attached":
            await asyncio.to_thread(self.enqueue, "push", {"connection": connection})
            return
        for sync in self._sync_for(connection):
            with contextlib.suppress(SyncBusy):
                await sync.push()

    def request_sync(self, connection: str | None = None, full: bool = False) -> int:
        return self.enqueue("sync", {"connection": connection, "full": full})

    def enqueue(self, kind: str, args: dict[str, Any]) -> int:
        with self.db.session() as s:
            return st.enqueue_command(s, kind, args, created_by=self.owner)

    def _next_runs(self) -> dict[str, datetime]:
        """When each connection syncs next: this process's scheduler, or the daemon's heartbeat."""
        if self.mode != "attached":
            return dict(self.next_runs)
        out: dict[str, datetime] = {}
        for d in self.live_daemons():
            for name, when in ((d.status or {}).get("next_runs") or {}).items():
                with contextlib.suppress(TypeError, ValueError):
                    at = datetime.fromisoformat(when)
                    out[name] = min(out.get(name, at), at)
        return out

    def sync_states(self) -> list[SyncStateView]:
        next_runs = self._next_runs()
        with self.db.session() as s:
            records = st.list_sync_states(s)
        return [
            SyncStateView(
                connection=r.connection,
                scope=r.scope,
                watermark_ms=r.watermark_ms,
                last_started_at=r.last_started_at,
                last_finished_at=r.last_finished_at,
                last_status=r.last_status,
                last_error=r.last_error,
                counts=dict(r.counts or {}),
                duration_ms=r.duration_ms,
                api_calls=r.api_calls,
                next_run_at=next_runs.get(r.connection),
                running=r.connection in self._running or (r.last_status == "running"),
            )
            for r in records
            if r.scope != RATE_LIMIT_SCOPE
        ]

    # ------------------------------------------------------------------------------------ issues

    def list_issues(
        self,
        connection: str | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
        **filters: Any,
    ) -> list[cv.IssueRecord]:
        with self.db.session() as s:
            return repo.list_issues(s, connection, text=search, limit=limit, offset=offset, **filters)

    def get_issue(self, key: str, connection: str | None = None) -> cv.IssueRecord | None:
        with self.db.session() as s:
            if connection:
                return repo.get_issue(s, connection, key)
            found = repo.list_issues(s, None, keys=[key], include_deleted=True, limit=2)
        if len(found) > 1:
            raise ValueError(f"{key} exists in several connections; pass --connection")
        return found[0] if found else None

    def field_errors(
        self, issue_id: int | None = None, connection: str | None = None
    ) -> list[cv.FieldErrorRecord]:
        with self.db.session() as s:
            return repo.list_field_errors(s, issue_id=issue_id, connection=connection)

    def recent_field_errors(self, connection: str | None = None, limit: int = 50) -> list[FieldErrorView]:
        """The newest mapping/write failures recorded on issues, with the issue key (console and status)."""

        q = (
            select(m.FieldError, m.Issue.key, m.Issue.connection)
            .join(m.Issue, m.Issue.id == m.FieldError.issue_id)
            .order_by(m.FieldError.at.desc())
            .limit(limit)
        )
        if connection:
            q = q.where(m.Issue.connection == connection)
        with self.db.session() as s:
            return [
                FieldErrorView(conn, key, e.field, e.mapping, e.step, e.message, e.at)
                for e, key, conn in s.execute(q)
            ]

    def set_local(
        self, key: str, changes: dict[str, Any], *, connection: str | None = None
    ) -> cv.IssueRecord:
        """Change synced fields of an issue locally; the next push sends them (compare before write)."""
        from jira_console.sync.apply import set_local_value
        from jira_console.sync.fields import CORE_FIELDS

        issue = self.get_issue(key, connection)
        if issue is None:
            raise LookupError(f"no issue {key}")
        known = set(CORE_FIELDS)
        sync = self.syncs.get(issue.connection)
        if sync is not None:
            known |= {c.name for c in sync.codecs if c.direction != "pull"} | {c.name for c in sync.mapped}
        with self.db.session(write=True) as s:
            row = s.get(m.Issue, issue.id)
            assert row is not None
            for name, value in changes.items():
                if name not in known and not name.startswith("fields."):
                    raise ValueError(f"unknown field {name!r}; synced fields: {', '.join(sorted(known))}")
                set_local_value(row, name.removeprefix("fields."), value)
            row.local_dirty = True
            row.local_changed_at = datetime.now(UTC)
        result = self.get_issue(key, issue.connection)
        assert result is not None
        return result

    # --------------------------------------------------------------------------------- conflicts

    def list_conflicts(
        self,
        status: str | None = "open",
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[cv.ConflictRecord]:
        with self.db.session() as s:
            return repo.list_conflicts(
                s,
                connection=connection,
                field=field,
                issue_key=issue_key,
                status=status,
                limit=limit,
                offset=offset,
            )

    def count_conflicts(
        self,
        status: str | None = "open",
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
    ) -> int:
        with self.db.session() as s:
            return repo.count_conflicts(
                s, connection=connection, field=field, issue_key=issue_key, status=status
            )

    def get_conflict(self, conflict_id: int) -> cv.ConflictRecord | None:
        with self.db.session() as s:
            return repo.get_conflict(s, conflict_id)

    async def resolve_conflict(
        self,
        conflict_id: int,
        take: cf.Take,
        value: Any = None,
        actor: str = "operator",
        *,
        push: bool = True,
    ) -> cv.ConflictRecord:
        """Settle one conflict locally, then push it (queued for the daemon when attached)."""

        def apply() -> cv.ConflictRecord:
            with self.db.session(write=True) as s:
                row = cf.resolve(s, conflict_id, take, value, actor=actor)
                s.flush()
                return cv.conflict_record(row)

        record = await asyncio.to_thread(apply)
        self.emit(ev.ConflictResolved(record.id, record.issue_key, record.field, take))
        if push:
            await self._push_after_resolution(record.connection)
        return record

    async def resolve_conflicts(
        self,
        take: Literal["jira", "local"],
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        actor: str = "operator",
    ) -> int:
        """Resolve every open conflict matching the filter the same way; one push at the end."""

        def ids() -> Sequence[int]:
            with self.db.session() as s:
                return cf.open_conflict_ids(s, connection=connection, field=field, issue_key=issue_key)

        done = 0
        touched: set[str] = set()
        for conflict_id in await asyncio.to_thread(ids):
            with contextlib.suppress(cf.ResolutionError):
                record = await self.resolve_conflict(conflict_id, take, actor=actor, push=False)
                touched.add(record.connection)
                done += 1
        for name in touched:
            await self._push_after_resolution(name)
        return done

    async def _push_after_resolution(self, connection: str) -> None:
        try:
            await self.push(connection)
        except Exception as exc:  # noqa: BLE001 - the resolution is stored; the push retries later
            self.emit(ev.Notice("warning", f"resolution saved; push to {connection} will retry: {exc}"))

    # ------------------------------------------------------------------------------------- audit

    def audit(
        self, issue_key: str | None = None, limit: int = 100, connection: str | None = None
    ) -> list[cv.AuditEntry]:
        with self.db.session() as s:
            return repo.list_audit(s, issue_key=issue_key, connection=connection, limit=limit)

    # ---------------------------------------------------------------------------------- mappings

    def list_mappings(self, connection: str | None = None) -> list[cv.MappingRecord]:
        """Every stored mapping (all connections and global ones), by connection and name."""

        with self.db.session() as s:
            rows = s.scalars(select(m.Mapping).order_by(m.Mapping.connection, m.Mapping.name))
            records = [cv.mapping_record(r) for r in rows]
        return [r for r in records if connection is None or r.connection in (None, connection)]

    def mapping_to_toml(self, definition: dict[str, Any]) -> str:
        from jira_console.mapping import dumps, parse_definition

        return dumps([parse_definition(definition)])

    def mapping_from_toml(self, text: str) -> dict[str, Any]:
        """One mapping from TOML (``[[mapping]]`` or its bare keys); ValueError with readable problems."""
        import tomllib

        from jira_console.mapping import loads, parse_definition

        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not valid TOML: {exc}") from None
        if "mapping" in doc:
            found = loads(text)
            if len(found) != 1:
                raise ValueError(f"expected one [[mapping]], found {len(found)}")
            return found[0].to_data()
        return parse_definition(doc).to_data()

    def _preview_sample(
        self, connection: str, keys: Sequence[str] | None, limit: int
    ) -> list[dict[str, Any]]:
        with self.db.session() as s:
            issues = repo.list_issues(s, connection, keys=list(keys) if keys else None, limit=limit)
        return [{"key": i.key, "fields": (i.raw or {}).get("fields") or {}} for i in issues]

    def preview_mapping(
        self, definition: dict[str, Any], issue_keys: list[str] | None = None, limit: int = 100
    ) -> list[Any]:
        """Run a mapping being edited over stored issues, forward and back. Raises ValueError when the
        definition is invalid (the message names the mapping and step)."""
        from jira_console.mapping import MappingContext, MappingError, parse_definition, preview
        from jira_console.mapping.compiled import field_dicts

        defn = parse_definition(definition)
        name = defn.connection or (self.settings.jira[0].name if self.settings.jira else None)
        if name is None:
            raise ValueError("no connection configured to preview against")
        sync = self.syncs.get(name)
        ctx = sync.mapping_ctx if sync is not None and sync.mapping_ctx is not None else None
        if ctx is None:
            flavor = (sync.flavor if sync else None) or self._stored_flavor(name) or "cloud"
            ctx = MappingContext(flavor=flavor)  # type: ignore[arg-type]
        field_list = field_dicts(sync.field_list) if sync is not None and sync.field_list else None
        sample = self._preview_sample(name, issue_keys, limit)
        try:
            return preview(defn, sample, ctx, field_list)
        except MappingError as exc:
            raise ValueError(str(exc)) from None

    def _stored_flavor(self, name: str) -> str | None:
        with self.db.session() as s:
            return s.scalars(select(m.Connection.flavor).where(m.Connection.name == name)).first()

    async def save_mapping(
        self, definition: dict[str, Any], actor: str = "operator", comment: str | None = None
    ) -> cv.MappingRecord:
        """Store a new version of a mapping and recompile the affected connections' mappings."""
        from jira_console.mapping import repo as mrepo

        record = await asyncio.to_thread(mrepo.save, self.db, definition, changed_by=actor, comment=comment)
        for name, sync in self.syncs.items():
            if record.connection in (None, name) and sync.flavor is not None:
                await asyncio.to_thread(sync.reload_mappings)
        self.emit(ev.MappingChanged(record.name, record.version))
        return record

    # ---------------------------------------------------------------------------------- webhooks

    def list_webhook_events(
        self, status: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[cv.WebhookEventRecord]:
        with self.db.session() as s:
            return q.list_events(s, status=status, limit=limit, offset=offset)

    def get_webhook_event(self, event_id: int) -> cv.WebhookEventRecord | None:
        with self.db.session() as s:
            return q.get_event(s, event_id)

    def webhook_stats(self) -> dict[str, Any]:
        """Counts by status, queue depth, and events received/processed in the last minute."""

        since = datetime.now(UTC) - timedelta(minutes=1)
        with self.db.session() as s:
            counts = q.event_stats(s)
            received = s.execute(
                select(func.count()).select_from(m.WebhookEvent).where(m.WebhookEvent.received_at >= since)
            ).scalar_one()
            processed = s.execute(
                select(func.count()).select_from(m.WebhookEvent).where(m.WebhookEvent.processed_at >= since)
            ).scalar_one()
        depth = sum(v for k, v in counts.items() if k in ("received", "processing"))
        return {
            "counts": counts,
            "queue_depth": depth,
            "received_per_minute": int(received),
            "processed_per_minute": int(processed),
        }

    async def retry_webhook_event(self, event_id: int) -> bool:
        def retry() -> bool:
            with self.db.session(write=True) as s:
                return q.retry_event(s, event_id)

        return await asyncio.to_thread(retry)


def _recent_failure(health: Any) -> bool:
    """The last call failed at the transport or with a 5xx (a 4xx is the caller's problem, not health)."""
    calls = getattr(health, "recent_calls", None) or []
    return bool(calls) and (calls[-1].status == 0 or calls[-1].status >= 500)


def _describe_call(call: Any) -> str:
    when = call.at.strftime("%H:%M:%S") if getattr(call, "at", None) else ""
    return f"{when} {call.method} {call.path} -> {call.status or 'no response'} {call.error or ''}".strip()
