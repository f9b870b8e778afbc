"""The headless daemon: scheduler, webhook listener and event workers around one in-process engine.

It runs the engine's own asyncio loop (no Textual). APScheduler drives the periodic work: an incremental
sync per connection, the reconciliation sweep, retention, dynamic-webhook refresh, the heartbeat and the
operator command queue. SIGTERM/SIGINT drain: the listener stops accepting (in-flight deliveries still
commit), workers finish their batch, a running sync finishes its page, then the daemon leaves.

Several daemons can share one PostgreSQL database: sync runs are serialised per connection by an expiring
lease, webhook events are claimed with ``FOR UPDATE SKIP LOCKED``, and a killed daemon's lease or claims
expire and are taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry

from jira_console import __version__
from jira_console import events as ev
from jira_console.config import Settings
from jira_console.facade import Engine
from jira_console.logs import get_logger
from jira_console.store import state as st
from jira_console.sync.engine import SyncBusy

log = get_logger("jira_console.daemon")


class ConnectionRouter:
    """The webhook processor's applier: sends each event to its connection's sync engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _sync(self, connection: str | None) -> Any:
        syncs = self.engine.syncs
        if connection in syncs:
            return syncs[connection]
        if connection is None and len(syncs) == 1:
            return next(iter(syncs.values()))
        from jira_console.webhooks.processor import PermanentEventError

        raise PermanentEventError(
            f"cannot tell which connection this event is for ({connection!r}); "
            "register the webhook with ?connection=NAME"
        )

    async def apply_remote_issue(
        self,
        connection: str | None,
        issue: dict[str, Any],
        *,
        event_ts_ms: int | None,
        source: str,
        **kw: Any,
    ) -> str:
        return str(
            await self._sync(connection).apply_remote_issue(
                connection, issue, event_ts_ms=event_ts_ms, source=source, changelog=kw.get("changelog")
            )
        )

    async def apply_remote_issues(
        self, connection: str | None, items: list[tuple[dict[str, Any], dict[str, Any] | None]]
    ) -> list[str]:
        """A batch of issue events of one connection, in one transaction (see SyncEngine)."""
        return list(await self._sync(connection).apply_remote_issues(connection, items))

    async def apply_remote_deletion(
        self, connection: str | None, issue_key: str, *, event_ts_ms: int | None
    ) -> str:
        return str(
            await self._sync(connection).apply_remote_deletion(connection, issue_key, event_ts_ms=event_ts_ms)
        )

    async def refresh_sprint(
        self, connection: str | None, sprint_id: int | None, payload: dict[str, Any]
    ) -> str:
        return str(await self._sync(connection).refresh_sprint(connection, sprint_id, payload))


class Daemon:
    """``await Daemon(settings).run()`` until SIGTERM/SIGINT (or :meth:`request_stop`)."""

    def __init__(
        self, settings: Settings, *, engine: Engine | None = None, listen: bool | None = None
    ) -> None:
        self.settings = settings
        self.name = settings.daemon.name or f"{socket.gethostname()}:{os.getpid()}"
        self.engine = engine or Engine(settings, owner=self.name)
        self.listen = settings.webhooks.enabled if listen is None else listen
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.listener: Any = None
        self.processor: Any = None
        self._stop = asyncio.Event()
        self._sync_tasks: set[asyncio.Task[Any]] = set()
        # One registry for the listener and the workers, so /metrics shows both.
        self.metrics = CollectorRegistry()
        self.started_at = datetime.now(UTC)

    def request_stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        await self.engine.start(attach=False)
        await asyncio.to_thread(self._heartbeat)
        if self.listen:
            await self._start_listener()
        self._start_processor()
        self._schedule()
        self.scheduler.start()
        log.info(
            "daemon started",
            name=self.name,
            connections=[c.name for c in self.settings.jira],
            listener=self.listener.url if self.listener else None,
        )

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        try:
            await self._stop.wait()
        finally:
            await self.shutdown()

    # -------------------------------------------------------------------------------- components

    async def _start_listener(self) -> None:
        from jira_console.webhooks.listener import create_listener_app, serve_listener

        def breakers() -> dict[str, str]:
            return {name: c.health.breaker_state for name, c in self.engine.clients.items()}

        def api_calls() -> dict[tuple[str, str], float]:
            out: dict[tuple[str, str], float] = {}
            for name, c in self.engine.clients.items():
                for status, count in c.health.calls_by_status.items():
                    out[(name, str(status))] = float(count)
            return out

        def on_event(delivery: Any) -> None:
            if self.processor is not None:
                self.processor.wake()
            self.engine.emit(
                ev.WebhookReceived(
                    getattr(delivery, "event_id", None),
                    getattr(delivery, "connection", None),
                    getattr(delivery, "event_type", None),
                    getattr(delivery, "issue_key", None),
                    bool(getattr(delivery, "duplicate", False)),
                )
            )

        app = create_listener_app(
            self.engine.db,
            self.settings,
            on_event=on_event,
            health=breakers,
            api_calls=api_calls,
            metrics=self.metrics,
        )
        wh = self.settings.webhooks
        self.listener = await serve_listener(app, wh.host, wh.port)
        self.engine.listener = _ListenerInfo(f"{self.listener.url}{wh.path}")

    def _start_processor(self) -> None:
        from jira_console.webhooks.processor import EventProcessor

        wh = self.settings.webhooks
        self.processor = EventProcessor(
            self.engine.db,
            ConnectionRouter(self.engine),
            owner=self.name,
            max_attempts=wh.max_attempts,
            lease_seconds=self.settings.daemon.lease_seconds,
            metrics=self.metrics,
        )
        self.processor.start(wh.workers)

    def _schedule(self) -> None:
        now = datetime.now(UTC)
        for conn in self.settings.jira:
            self.scheduler.add_job(
                self._sync_job,
                "interval",
                seconds=conn.sync_interval_seconds,
                args=[conn.name, False],
                id=f"sync:{conn.name}",
                next_run_time=now + timedelta(seconds=1),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=conn.sync_interval_seconds,
            )
            self.scheduler.add_job(
                self._sync_job,
                "interval",
                seconds=conn.reconcile_interval_seconds,
                args=[conn.name, True],
                id=f"reconcile:{conn.name}",
                max_instances=1,
                coalesce=True,
            )
        self.scheduler.add_job(
            self._heartbeat_job, "interval", seconds=self.settings.daemon.heartbeat_seconds, id="heartbeat",
            max_instances=1, coalesce=True,
        )  # fmt: skip
        self.scheduler.add_job(
            self._commands_job, "interval", seconds=1, id="commands", max_instances=1, coalesce=True
        )
        self.scheduler.add_job(
            self._retention_job, "interval", hours=6, id="retention", max_instances=1, coalesce=True
        )
        self.scheduler.add_job(
            self._refresh_webhooks_job,
            "interval",
            hours=24,
            id="webhook-refresh",
            max_instances=1,
            coalesce=True,
        )

    # -------------------------------------------------------------------------------------- jobs

    async def _sync_job(self, connection: str, full: bool) -> None:
        if self._stop.is_set():
            return
        task = asyncio.current_task()
        if task is not None:
            self._sync_tasks.add(task)
        try:
            await self.engine.run_sync(connection, full=full)
        except SyncBusy:
            log.debug("sync skipped: another daemon holds the lease", connection=connection)
        except Exception as exc:  # noqa: BLE001 - a failed run is recorded in sync_state; next run retries
            log.warning("sync failed", connection=connection, full=full, error=str(exc))
        finally:
            if task is not None:
                self._sync_tasks.discard(task)

    def _heartbeat(self, stopping: bool = False) -> None:
        for conn in self.settings.jira:
            job = self.scheduler.get_job(f"sync:{conn.name}") if self.scheduler.running else None
            if job is not None and job.next_run_time is not None:
                self.engine.next_runs[conn.name] = job.next_run_time
        status = {
            "connections": self.engine.health_snapshot(),
            "listener": self.engine.listener.address if self.engine.listener else None,
            "next_runs": {k: v.isoformat() for k, v in self.engine.next_runs.items()},
        }
        with self.engine.db.session() as s:
            st.heartbeat(
                s, self.name, host=socket.gethostname(), pid=os.getpid(), version=__version__, status=status,
                started_at=self.started_at,
            )  # fmt: skip
            if stopping:
                st.request_stop(s, self.name)

    async def _heartbeat_job(self) -> None:
        await asyncio.to_thread(self._heartbeat)

    async def _commands_job(self) -> None:
        """Operator actions queued by an attached console or CLI."""

        def claim() -> Any:
            with self.engine.db.session(write=True) as s:
                return st.claim_command(s, self.name)

        while (command := await asyncio.to_thread(claim)) is not None:
            result: dict[str, Any] = {}
            error = None
            try:
                args = command.args or {}
                if command.kind == "sync":
                    reports = await self.engine.run_sync(args.get("connection"), full=bool(args.get("full")))
                    result = {"reports": [r.counts() | {"status": r.status} for r in reports]}
                elif command.kind == "push":
                    await self.engine.push(args.get("connection"))
                else:
                    error = f"unknown command {command.kind!r}"
            except Exception as exc:  # noqa: BLE001 - reported back to whoever queued it
                error = str(exc) or type(exc).__name__

            def finish(command_id: int = command.id, result: Any = result, error: Any = error) -> None:
                with self.engine.db.session() as s:
                    st.finish_command(s, command_id, result=result, error=error)

            await asyncio.to_thread(finish)

    async def _retention_job(self) -> None:
        from jira_console.webhooks.processor import purge

        removed = await asyncio.to_thread(purge, self.engine.db, self.settings.webhooks.retention_days)
        if removed:
            log.info("webhook retention", removed=removed)

    async def _refresh_webhooks_job(self) -> None:
        """Dynamic (OAuth/Connect) webhooks on Cloud expire after 30 days: refresh well before."""
        try:
            from jira_console.webhooks import registration
        except ImportError:
            return
        refresh = getattr(registration, "refresh_due_webhooks", None)
        if refresh is None:
            return
        for name, client in self.engine.clients.items():
            try:
                await refresh(client)
            except Exception as exc:  # noqa: BLE001 - retried at the next run; visible in logs and health
                log.warning("webhook refresh failed", connection=name, error=str(exc))

    # ---------------------------------------------------------------------------------- shutdown

    async def shutdown(self, grace_seconds: float = 30.0) -> None:
        """Drain and leave: stop scheduling, stop accepting webhooks, let workers and syncs finish."""
        log.info("daemon stopping", name=self.name)
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        if self.listener is not None:
            await self.listener.stop()
        if self.processor is not None:
            await self.processor.stop()
        if self._sync_tasks:
            await asyncio.wait(list(self._sync_tasks), timeout=grace_seconds)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._heartbeat, True)
        await self.engine.stop()
        log.info("daemon stopped", name=self.name)


class _ListenerInfo:
    def __init__(self, address: str) -> None:
        self.address = address
