"""The in-process runner: this process owns a Jira client and a sync engine per connection (CLI runs, the
demo, the daemon, a console with no daemon alive). Everything the facade needs of ``SyncEngine`` goes
through here, so a change to the sync engine's shape is absorbed in this one module."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

import httpx

from jira_console import events as ev
from jira_console.activity import ActivityRecorder
from jira_console.config import JiraConnection
from jira_console.facade.runner import PreviewInputs, Runner, RunnerContext
from jira_console.facade.views import AuthState, ConnectionStatus, Flavor, SyncReport
from jira_console.jira import JiraClient
from jira_console.jira.models import CallRecord, ConnectionHealth
from jira_console.mapping.compiled import field_dicts
from jira_console.store import repo
from jira_console.sync.connection import open_connection
from jira_console.sync.engine import SyncEngine
from jira_console.sync.report import SyncBusy
from jira_console.sync.undo import UndoStep


class InProcessRunner(Runner):
    """Clients and sync engines of every configured connection, built by :meth:`start`."""

    mode = "inprocess"

    def __init__(
        self, context: RunnerContext, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
    ) -> None:
        super().__init__(context)
        self._transports = dict(transports or {})
        self._clients: dict[str, JiraClient] = {}
        self._syncs: dict[str, SyncEngine] = {}
        self._running: set[str] = set()
        self._working: list[str] = []
        """Pushes and undos under way here, in words (see :meth:`busy`)."""
        self._webhooks: dict[str, ActivityRecorder] = {}
        """Deliveries stored per connection (the listener runs in this process when there is one)."""

    @property
    def syncs(self) -> dict[str, SyncEngine]:
        return self._syncs

    @property
    def clients(self) -> dict[str, JiraClient]:
        return self._clients

    async def start(self) -> None:
        for conn in self.context.settings.jira:
            self._build(conn)

    def _build(self, conn: JiraConnection) -> None:
        peers = self.context.settings.site_peers(conn)
        sync = open_connection(
            self.context.db,
            conn,
            transport=self._transports.get(conn.name),
            on_event=self._client_event,
            emit=self.context.emit,
            owner=self.context.owner,
            lease_seconds=self.context.settings.daemon.lease_seconds,
            site_peers=peers,
            share_with=next((self._clients[p] for p in peers if p in self._clients), None),
        )
        self._clients[conn.name] = sync.client
        self._syncs[conn.name] = sync

    async def stop(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()
        self._clients.clear()
        self._syncs.clear()

    def _client_event(self, event: Any) -> None:
        """A client event (breaker, rate limit, call) reaches the console as itself or as a health change."""
        if isinstance(event, ev.EngineEvent):
            self.context.emit(event)
        else:
            name = getattr(event, "connection", None)
            if name:
                self.context.emit(ev.HealthChanged(name))

    def observe(self, event: ev.EngineEvent) -> None:
        if isinstance(event, ev.WebhookReceived) and event.connection and not event.duplicate:
            self._webhooks.setdefault(event.connection, ActivityRecorder()).webhook()

    # ---------------------------------------------------------------------------------------- syncs

    def _chosen(self, name: str | None) -> list[SyncEngine]:
        if name is None:
            return list(self._syncs.values())
        return [self._syncs[self.context.settings.connection(name).name]]

    async def run_sync(self, connection: str | None, full: bool) -> list[SyncReport]:
        reports = []
        for sync in self._chosen(connection):
            self._running.add(sync.conn.name)
            try:
                reports.append(await sync.run(full=full))
            finally:
                self._running.discard(sync.conn.name)
        return reports

    async def push(self, connection: str | None) -> None:
        for sync in self._chosen(connection):
            with self._doing(f"a push to {sync.conn.name}"), contextlib.suppress(SyncBusy):
                await sync.push()

    async def undo(self, connection: str, entry_ids: list[int], actor: str) -> tuple[int, list[UndoStep]]:
        sync = self._chosen(connection)[0]
        with self._doing(f"an undo in {sync.conn.name}"):
            return await sync.undo(entry_ids, actor)

    @contextlib.contextmanager
    def _doing(self, what: str) -> Iterator[None]:
        self._working.append(what)
        try:
            yield
        finally:
            self._working.remove(what)

    def running(self) -> set[str]:
        return set(self._running)

    def busy(self) -> str | None:
        doing = [f"a sync of {name}" for name in sorted(self._running)] + self._working
        return ", ".join(doing) or None

    def upcoming_runs(self) -> dict[str, datetime]:
        return dict(self.next_runs)

    def listener_address(self) -> str | None:
        return self.listener.address if self.listener is not None else None

    # ------------------------------------------------------------------------------------ mappings

    def writable_fields(self, connection: str) -> set[str]:
        sync = self._syncs.get(connection)
        if sync is None:
            return set()
        return {c.name for c in sync.codecs if c.direction != "pull"} | {c.name for c in sync.mapped}

    def preview_inputs(self, connection: str) -> PreviewInputs:
        sync = self._syncs.get(connection)
        if sync is None:
            return PreviewInputs()
        fields = field_dicts(sync.field_list) if sync.field_list else None
        return PreviewInputs(sync.mapping_ctx, sync.flavor, fields)

    async def reload_mappings(self, connection: str | None) -> None:
        for name, sync in self._syncs.items():
            if connection in (None, name) and sync.flavor is not None:
                await asyncio.to_thread(sync.reload_mappings)

    def client(self, connection: str) -> JiraClient:
        return self._clients[self.context.settings.connection(connection).name]

    async def site_fields(self, connection: str) -> tuple[Flavor, list[dict[str, Any]]]:
        sync = self._chosen(connection)[0]
        await sync.prepare()
        flavor: Flavor = "server" if sync.flavor == "server" else "cloud"
        return flavor, field_dicts(sync.field_list) or []

    # -------------------------------------------------------------------------------------- health

    def connections(self, last_webhooks: Mapping[str, datetime]) -> list[ConnectionStatus]:
        with self.context.db.session() as s:
            detected = repo.detected_sites(s)
        out = []
        now = time.time()
        for conn in self.context.settings.jira:
            client = self._clients.get(conn.name)
            flavor, version = detected.get(conn.name, (None, None))
            status = connection_status(
                conn,
                client.health if client else None,
                flavor=flavor or (conn.flavor if conn.flavor != "auto" else None),
                version=version,
                last_webhook_at=last_webhooks.get(conn.name),
            )
            webhooks = self._webhooks.get(conn.name) or ActivityRecorder()
            activity = replace(status.activity, webhooks=webhooks.snapshot(now).webhooks)
            out.append(replace(status, activity=activity))
        return out


def connection_status(
    conn: JiraConnection,
    health: ConnectionHealth | None,
    *,
    flavor: str | None,
    version: str | None,
    last_webhook_at: datetime | None,
) -> ConnectionStatus:
    """The status of one connection from its client's health (None: no client built yet)."""
    identity: dict[str, Any] = dict(
        name=conn.name, url=conn.url, auth=conn.auth, flavor=flavor, version=version,
        last_webhook_at=last_webhook_at,
    )  # fmt: skip
    if health is None:
        return ConnectionStatus(**identity)
    return ConnectionStatus(
        **identity,
        ok=health.breaker_state == "closed" and not _recent_failure(health),
        breaker_state=health.breaker_state,
        opens_in_seconds=health.opens_in_seconds,
        last_latency_ms=health.last_latency_ms,
        rate_limit_remaining=health.rate_limit_remaining,
        calls_by_status={str(k): v for k, v in health.calls_by_status.items()},
        recent_errors=[_describe_call(c) for c in health.recent_errors],
        total_calls=health.total_calls,
        auth_state=cast("AuthState", health.auth),
        activity=health.activity,
    )


def _recent_failure(health: ConnectionHealth) -> bool:
    """The last call failed at the transport or with a 5xx (a 4xx is the caller's problem, not health)."""
    calls = health.recent_calls
    return bool(calls) and (calls[-1].status == 0 or calls[-1].status >= 500)


def _describe_call(call: CallRecord) -> str:
    when = call.at.strftime("%H:%M:%S") if call.at else ""
    return f"{when} {call.method} {call.path} -> {call.status or 'no response'} {call.error or ''}".strip()
