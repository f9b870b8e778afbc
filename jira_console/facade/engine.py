"""The facade's ``Engine``: the one front door to the engine, used by the CLI, the console and the daemon.

It returns plain records (dataclasses), never ORM rows or sessions. Where the engine runs is decided once,
by :meth:`Engine.start`, which picks a runner (:mod:`.runner`): in this process, or attached to a daemon
with a fresh heartbeat. What needs the running engine goes to the runner; everything else reads and writes
the store through its repository functions, the same in both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import httpx

from jira_console import events as ev
from jira_console.config import Settings
from jira_console.facade.attached import AttachedRunner
from jira_console.facade.commands import CommandMethods
from jira_console.facade.conflicts import ConflictMethods
from jira_console.facade.creations import CreationMethods
from jira_console.facade.health import HealthMethods
from jira_console.facade.inprocess import InProcessRunner
from jira_console.facade.local_work import LocalWorkMethods
from jira_console.facade.mappings import MappingMethods
from jira_console.facade.runner import Addressed, Runner, RunnerContext, enqueue
from jira_console.facade.undo import AuditQuery, UndoMethods
from jira_console.facade.views import (
    FieldErrorView,
    KnownNames,
    Mode,
    SyncReport,
    SyncStateView,
    WebhookStats,
)
from jira_console.health import one_line
from jira_console.logs import get_logger
from jira_console.store import catalog, identity, issues, repo
from jira_console.store import converters as cv
from jira_console.store import queue as q
from jira_console.store import sprints as sprint_rows
from jira_console.store import state as st
from jira_console.store.db import Database
from jira_console.store.liveness import shown_statuses
from jira_console.store.models import utcnow
from jira_console.sync.context import ISSUES_SCOPE
from jira_console.sync.fields import checked_local_edits

if TYPE_CHECKING:
    from jira_console.jira import JiraClient
    from jira_console.sync.engine import SyncEngine
    from jira_console.webhooks.registration import RegisteredWebhook

log = get_logger(__name__)
Listener = Callable[[ev.EngineEvent], None]


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Engine(
    HealthMethods,
    MappingMethods,
    CommandMethods,
    ConflictMethods,
    UndoMethods,
    CreationMethods,
    LocalWorkMethods,
):
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
        # Not ``[daemon] name``: that names the daemon (which passes it as ``owner``). A console or CLI
        # reading the same file took it as its own name, so it counted the daemon as itself (never
        # attaching) and would have taken sync leases under the daemon's name.
        self.owner = owner or default_owner()
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()
        self._context = RunnerContext(settings, self.db, self.owner, self.emit)
        self._transports = transports or {}
        self.runner: Runner = InProcessRunner(self._context, self._transports)
        """Where the engine runs; chosen by :meth:`start`, changed by :meth:`run_here` and :meth:`attach`."""
        self.follows_daemons = False
        """Whether this process may hand the engine to a daemon (:meth:`attach`): a process started to run
        the engine for good (a daemon, ``start(attach=False)``) never does."""
        self.started = False

    @property
    def mode(self) -> Mode:
        """``inprocess`` (this process runs the syncs) or ``attached`` (a daemon does)."""
        return self.runner.mode

    # The daemon drives the in-process runner through these (its scheduler, listener and webhook router).

    @property
    def syncs(self) -> dict[str, SyncEngine]:
        return self.runner.syncs

    @property
    def clients(self) -> dict[str, JiraClient]:
        return self.runner.clients

    @property
    def listener(self) -> Addressed | None:
        return self.runner.listener

    @listener.setter
    def listener(self, listener: Addressed | None) -> None:
        self.runner.listener = listener

    @property
    def next_runs(self) -> dict[str, datetime]:
        return self.runner.next_runs

    # --------------------------------------------------------------------------------- lifecycle

    def migrate(self) -> None:
        self.db.migrate()

    async def start(self, *, attach: bool | None = None) -> None:
        """Migrate the schema and choose where the engine runs: attached when a live daemon owns it, else
        in this process (building clients and sync engines). ``attach=True`` forces attached mode,
        ``False`` forces in-process, ``None`` decides by heartbeat."""
        await asyncio.to_thread(self.db.migrate)
        self.follows_daemons = attach is not False
        live = await asyncio.to_thread(self.live_daemons)
        if attach or (attach is None and live):
            self.runner = AttachedRunner(self._context)
        else:
            self.runner = InProcessRunner(self._context, self._transports)
        await self.runner.start()
        self.started = True

    async def stop(self) -> None:
        await self.runner.stop()
        self.db.close()
        self.started = False

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------------ events

    def subscribe(self, callback: Callable[[ev.EngineEvent], None]) -> Callable[[], None]:
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
        self.runner.observe(event)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a broken subscriber must not break the engine
                log.exception("event listener failed", event=type(event).__name__)

    # -------------------------------------------------------------------------------------- sync

    async def run_sync(self, connection: str | None = None, full: bool = False) -> list[SyncReport]:
        """Run one sync per chosen connection (all by default); in attached mode, ask the daemon."""
        return await self.runner.run_sync(connection, full)

    async def push(self, connection: str | None = None) -> None:
        """Send pending local changes now (after a conflict resolution or a local edit)."""
        await self.runner.push(connection)

    def enqueue(self, kind: str, args: dict[str, Any]) -> int:
        """Queue an operator command for a daemon; returns its id."""
        return enqueue(self._context, kind, args)

    def sync_states(self) -> list[SyncStateView]:
        """Every sync scope's state, with its next run and whether it runs right now."""
        next_runs = self.runner.upcoming_runs()
        running = self.runner.running()
        with self.db.session() as s:
            records = st.list_sync_states(s)
            set_aside: dict[str, list[str]] = {}
            for item in identity.list_quarantined(s):
                set_aside.setdefault(item.connection, []).append(
                    f"{item.issue_key}: {item.kind}: {item.cause}"
                )
        shown = shown_statuses(records, set(running), utcnow())
        views = [
            SyncStateView(
                connection=r.connection,
                scope=r.scope,
                watermark_ms=r.watermark_ms,
                last_started_at=r.last_started_at,
                last_finished_at=r.last_finished_at,
                last_status=shown[(r.connection, r.scope)],
                last_error=one_line(r.last_error),
                counts=dict(r.counts or {}),
                duration_ms=r.duration_ms,
                api_calls=r.api_calls,
                next_run_at=next_runs.get(r.connection),
                running=r.connection in running or shown[(r.connection, r.scope)] == "running",
                last_success_at=r.last_success_at,
                failures=r.failures,
                quarantined=tuple(set_aside.get(r.connection, ())) if r.scope == ISSUES_SCOPE else (),
            )
            for r in records
        ]
        # A connection never synced has no state yet: listed all the same, so its first sync can be asked for
        # where every other one is (the console's Sync screen starts the highlighted row's).
        synced = {r.connection for r in records if r.scope == ISSUES_SCOPE}
        names = [c.name for c in self.settings.jira if c.name not in synced]
        views += [SyncStateView.never_run(n, ISSUES_SCOPE, n in running, next_runs.get(n)) for n in names]
        return views

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
            query = repo.IssueQuery(connection, text=search, limit=limit, offset=offset, **filters)
            return repo.list_issues(s, query)

    def get_issue(self, key: str, connection: str | None = None) -> cv.IssueRecord | None:
        """The issue ``key`` names: its own, or the one it names now (a key an issue had before it moved;
        the record's key then differs from ``key``)."""
        with self.db.session() as s:
            found = identity.find_issues(s, key, connection, [c.name for c in self.settings.jira])
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
        with self.db.session() as s:
            found = repo.recent_field_errors(s, connection, limit)
        return [
            FieldErrorView(conn, key, e.field, e.mapping, e.step, e.message, e.at) for conn, key, e in found
        ]

    def field_error_counts(self) -> dict[str, dict[str, int]]:
        """connection -> field -> how many issues fail to map or write it (the newest are only a sample)."""
        with self.db.session() as s:
            return repo.field_error_counts(s)

    def set_local(
        self, key: str, changes: dict[str, Any], *, connection: str | None = None
    ) -> cv.IssueRecord:
        """Change synced fields of an issue locally; the next push sends them (compare before write)."""
        issue = self.get_issue(key, connection)
        if issue is None:
            raise LookupError(f"no issue {key}")
        known = set(issues.CORE_FIELDS) | self.runner.writable_fields(issue.connection)
        with self.db.session() as s:  # a sprint may be named: sprint_id="ENG Sprint 5"
            changes = sprint_rows.with_sprint_id(s, issue.connection, changes)
        plain = checked_local_edits(changes, known)
        with self.db.session(write=True) as s:
            issues.set_local_values(s, issue.id, plain)
        result = self.get_issue(key, issue.connection)
        assert result is not None
        return result

    # ------------------------------------------------------------------------------------- names

    def known_names(
        self, connection: str, people: Collection[str] = (), sprints: Collection[int] = ()
    ) -> KnownNames:
        """Names of ``people`` (accountIds or user names) and ``sprints`` (ids) of ``connection`` as far as
        the store knows them, for showing names instead of ids."""
        with self.db.session() as s:
            names, sprint_names = catalog.known_names(s, connection, people, sprints)
        return KnownNames(names, sprint_names)

    # ------------------------------------------------------------------------------------- audit

    def audit(
        self, issue_key: str | None = None, limit: int = 100, connection: str | None = None
    ) -> list[cv.AuditEntry]:
        """The audit log (of one issue: under every key it has had, newest first)."""
        return self.audit_log(AuditQuery(issue_key, connection=connection, limit=limit))

    # ---------------------------------------------------------------------------------- webhooks

    def list_webhook_events(
        self,
        status: str | None = None,
        limit: int = 200,
        offset: int = 0,
        *,
        connection: str | None = None,
        since: datetime | None = None,
    ) -> list[cv.WebhookEventRecord]:
        """Stored deliveries, newest first (of one status, one connection, received since a moment)."""
        with self.db.session() as s:
            return q.list_events(
                s, status=status, connection=connection, since=since, limit=limit, offset=offset
            )

    def count_webhook_events(
        self, status: str | None = None, *, connection: str | None = None, since: datetime | None = None
    ) -> int:
        """How many stored deliveries :meth:`list_webhook_events` pages through with the same filters."""
        with self.db.session() as s:
            return q.count_events(s, status=status, connection=connection, since=since)

    def get_webhook_event(self, event_id: int) -> cv.WebhookEventRecord | None:
        with self.db.session() as s:
            return q.get_event(s, event_id)

    def webhook_stats(self) -> WebhookStats:
        """Counts by status, queue depth, age of the oldest pending event, and events received/processed in
        the last minute."""
        with self.db.session() as s:
            stats = q.event_stats(s, window=timedelta(minutes=1))
        return WebhookStats(
            counts=stats.by_status,
            queue_depth=stats.depth,
            received_per_minute=stats.received_recently,
            processed_per_minute=stats.processed_recently,
            oldest_pending_seconds=stats.oldest_pending_seconds,
        )

    async def retry_webhook_event(self, event_id: int) -> bool:
        """Queue a stored event for processing again with a fresh attempt budget; False when it cannot be
        (no such event, or a worker is processing it)."""

        def retry() -> bool:
            with self.db.session(write=True) as s:
                return q.retry_event(s, event_id)

        return await asyncio.to_thread(retry)

    async def register_webhook(
        self,
        connection: str,
        *,
        url: str,
        events: Sequence[str],
        jql: str | None,
        secret: str | None = None,
        name: str = "jira-console",
        kind: Literal["admin", "dynamic"] = "admin",
    ) -> RegisteredWebhook:
        """Register a webhook delivering ``events`` to ``url`` with ``connection``'s Jira (admin webhooks
        on both flavors; dynamic ones on Cloud only). RegistrationError/ValueError when Jira refuses."""
        from jira_console.webhooks.registration import register_webhook  # the webhooks package on demand

        client = self.runner.client(connection)
        return await register_webhook(
            client, url=url, events=events, jql=jql, secret=secret, name=name, kind=kind
        )
