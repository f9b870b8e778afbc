"""The headless daemon: scheduler, webhook listener and event workers around one in-process engine.

It runs the engine's own asyncio loop (no Textual). APScheduler drives the periodic work: an incremental
sync per connection, the reconciliation sweep, retention, dynamic-webhook refresh, the heartbeat and the
operator command queue. SIGTERM/SIGINT drain: the listener stops accepting (in-flight deliveries still
commit), workers finish their batch, a running sync finishes its page, then the daemon leaves. SIGHUP
reloads the configuration (see :mod:`jira_console.reload`).

Several daemons can share one PostgreSQL database: sync runs are serialised per connection by an expiring
lease, webhook events are claimed with ``FOR UPDATE SKIP LOCKED``, and a killed daemon's lease or claims
expire and are taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry

from jira_console import __version__
from jira_console import events as ev
from jira_console.config import ConfigError, Settings
from jira_console.facade import Engine, SyncReport
from jira_console.health import one_line
from jira_console.housekeeping import NameTaken, api_token, refuse_taken_name, retention
from jira_console.logs import get_logger
from jira_console.reload import ReloadCheck, install_signal_handlers, reload_wanted
from jira_console.store import state as st
from jira_console.store.local_notify import LocalWorkListener, WalWatch
from jira_console.store.local_work import LocalWatch
from jira_console.store.outage import DatabaseOutage
from jira_console.sync.report import SyncBusy
from jira_console.sync.router import ConnectionRouter
from jira_console.webhooks.exposure import exposure_warnings, is_loopback  # noqa: F401 - re-exported
from jira_console.webhooks.guard import limits_for

if TYPE_CHECKING:
    from jira_console.webhooks.listener import Delivery, ListenerHandlers
    from jira_console.webhooks.processor import EventProcessor

log = get_logger("jira_console.daemon")


class Daemon:
    """``await Daemon(settings).run()`` until SIGTERM/SIGINT (or :meth:`request_stop`)."""

    def __init__(
        self, settings: Settings, *, engine: Engine | None = None, listen: bool | None = None
    ) -> None:
        self.settings = settings
        self.reload_check: ReloadCheck | None = None  # what SIGHUP reads (see jira_console.reload)
        self.restart_requested: bool | None = False
        """A SIGHUP with a valid configuration: start again once drained (None: a stop was asked for)."""
        self.name = settings.daemon.name or f"{socket.gethostname()}:{os.getpid()}"
        self.engine = engine or Engine(settings, owner=self.name)
        self.listen = settings.webhooks.enabled if listen is None else listen
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.listener: Any = None  # a ListenerServer once started
        self.receiver: ListenerHandlers | None = None
        """The listener's delivery handler, which the operations API's receiver route shares."""
        self.api: Any = None
        """The operations API's server (``[api] listen``), or None."""
        self.processor: EventProcessor | None = None
        self._stop = asyncio.Event()
        self._syncs: dict[str, asyncio.Task[SyncReport]] = {}
        """The sync running per connection (whoever asked for it: the schedule or an operator)."""
        # One registry for the listener and the workers, so /metrics shows both.
        self.metrics = CollectorRegistry()
        self._commands: set[asyncio.Task[None]] = set()
        self.outage = DatabaseOutage()
        self.local_watch = LocalWatch(self.engine.db, [c.name for c in settings.jira])
        self.announcements: LocalWorkListener | WalWatch | None = None  # word of commits (local work)
        self.started_at = datetime.now(UTC)

    def request_stop(self) -> None:
        self.restart_requested = None  # a stop wins over a reload asked for before it or after it
        self._stop.set()

    def request_reload(self) -> None:
        if self.restart_requested is not None and reload_wanted(self.reload_check):
            self.restart_requested = True
            self._stop.set()

    async def start(self) -> None:
        token = api_token(self.settings)
        for warning in exposure_warnings(self.settings, missing_secret=False):  # the listener says that one
            log.warning(warning)
        await self.engine.start(attach=False)
        await asyncio.to_thread(refuse_taken_name, self.engine.db, self.name, self.settings.daemon)
        await self.engine.refresh_mappings()  # what the syncs compile from here on; later saves reload them
        await asyncio.to_thread(self._heartbeat)
        if self.listen:
            await self._start_listener()
        if token is not None:
            await self._start_api(token)
        self._start_processor()
        self._schedule()
        self.scheduler.start()
        if self.settings.daemon.local_check_seconds:
            found = self.engine.db.engine
            self.announcements = LocalWorkListener.started_for(found, self._heard) or WalWatch.started_for(
                found, self._look_now
            )
        log.info(
            "daemon started",
            name=self.name,
            connections=[c.name for c in self.settings.jira],
            listener=self.listener.url if self.listener else None,
            api=self.api.url if self.api else None,
        )

    async def run(self) -> None:
        install_signal_handlers(asyncio.get_running_loop(), self.request_stop, self.request_reload)
        try:
            await self.start()
        except Exception as exc:
            if not isinstance(exc, NameTaken):  # (that name's row is another daemon's: left as it is)
                with contextlib.suppress(Exception):  # nothing left half-started: servers, the heartbeat row
                    await self.shutdown(grace_seconds=5)
            raise
        # Everything alive now (modules, settings, the engine, the apps) lives as long as the daemon: frozen
        # out of the collector, so that a full collection does not walk it again and again (on the webhook
        # benchmark, a 60 ms pause every few hundred deliveries, which set the p99 acknowledgement time).
        gc.freeze()
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

        def on_event(delivery: Delivery) -> None:
            if self.processor is not None:
                self.processor.wake()
            self.engine.emit(
                ev.WebhookReceived(
                    delivery.event_id,
                    delivery.connection,
                    delivery.event_type,
                    delivery.issue_key,
                    delivery.duplicate,
                )
            )

        app = create_listener_app(
            self.engine.db,
            self.settings,
            on_event=on_event,
            health=breakers,
            api_calls=api_calls,
            metrics=self.metrics,
            sync_health=self.engine.sync_health,
        )
        wh = self.settings.webhooks
        self.receiver = app.state.listener
        self.receiver.outage = self.outage
        self.listener = await serve_listener(app, wh.host, wh.port, limits=limits_for(wh))
        self.engine.listener = _ListenerInfo(f"{self.listener.url}{wh.path}")

    async def _start_api(self, token: str) -> None:
        from jira_console.api import create_api_app
        from jira_console.webhooks.listener import serve_listener

        api = self.settings.api  # a public bind is warned about at start (exposure_warnings)
        app = create_api_app(self.engine, token, receiver=self.receiver)
        limits = limits_for(self.settings.webhooks)
        self.api = await serve_listener(app, api.host, api.port, limits=limits, what="the operations API")

    def _start_processor(self) -> None:
        from jira_console.webhooks.processor import EventProcessor, RetryPolicy

        wh = self.settings.webhooks
        self.processor = EventProcessor(
            self.engine.db,
            ConnectionRouter(self.engine.syncs),
            owner=self.name,
            retry=RetryPolicy(max_attempts=wh.max_attempts),
            batch_size=wh.batch_size,
            lease_seconds=self.settings.daemon.lease_seconds,
            metrics=self.metrics,
            on_processed=self.engine.emit,
            outage=self.outage,
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
        guarded = self.outage.guarded  # a database outage said once, not a traceback every run
        beat = self.settings.daemon.heartbeat_seconds
        jobs: list[tuple[str, Callable[[], Awaitable[Any]], dict[str, float]]] = [
            ("heartbeat", self._heartbeat_job, {"seconds": beat}),
            ("commands", self._commands_job, {"seconds": 1}),
            ("mappings", self.engine.refresh_mappings, {"seconds": beat}),
            ("retention", self._retention_job, {"hours": 6}),
        ]
        if check := self.settings.daemon.local_check_seconds:
            jobs.append(("local-work", self._local_work_job, {"seconds": check}))
        for job_id, job, every in jobs:
            self.scheduler.add_job(
                guarded(job_id, job), "interval", **every, id=job_id, max_instances=1, coalesce=True
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
        """A scheduled sync: started as a task of its own, so the job ends at once and APScheduler never
        has an instance of it still running when it fires again (its "maximum number of running instances
        reached" warning). While the sync runs, the connection's jobs are paused: nothing is scheduled
        that could not run."""
        if not self._stop.is_set() and connection not in self._syncs:
            self._start_sync(connection, full, "reconcile" if full else "schedule")

    def _start_sync(self, connection: str, full: bool, trigger: str) -> asyncio.Task[SyncReport]:
        """Run one sync of ``connection`` as a task (the caller may await it for the report)."""
        task = asyncio.ensure_future(self._run_sync(connection, full, trigger))
        self._syncs[connection] = task
        self._pause_jobs(connection, True)

        def done(_task: asyncio.Task[SyncReport]) -> None:
            if not task.cancelled():
                task.exception()  # logged by _run_sync; whoever awaits the task gets it too
            if self._syncs.get(connection) is task:
                del self._syncs[connection]
            self._pause_jobs(connection, False)

        task.add_done_callback(done)
        return task

    def _pause_jobs(self, connection: str, paused: bool) -> None:
        if not self.scheduler.running or self._stop.is_set():
            return
        for job_id in (f"sync:{connection}", f"reconcile:{connection}"):
            with contextlib.suppress(Exception):  # JobLookupError: not scheduled (shut down meanwhile)
                # Resuming computes the next run from now: a full interval after this sync ended.
                (self.scheduler.pause_job if paused else self.scheduler.resume_job)(job_id)
        job = self.scheduler.get_job(f"sync:{connection}")
        if (
            job is not None and job.next_run_time is not None
        ):  # shown as the next run without a heartbeat's wait
            self.engine.next_runs[connection] = job.next_run_time

    async def _run_sync(self, connection: str, full: bool, trigger: str) -> SyncReport:
        """One sync run and its one log line (INFO when it got everything through, WARNING when it failed or
        left some of it, a partial push)."""
        started = time.monotonic()
        try:
            await asyncio.to_thread(self.local_watch.began, connection)
            [report] = await self.engine.run_sync(connection, full=full)
        except SyncBusy:
            # A command goes back to the queue and is tried again each second until the lease is free, and
            # local work is looked for every few seconds: not a line per try at INFO.
            level = log.info if trigger in ("schedule", "reconcile") else log.debug
            level("sync skipped: another daemon holds the lease", connection=connection, trigger=trigger)
            raise
        except Exception as exc:
            log.warning(
                "sync run", connection=connection, full=full, trigger=trigger, status="failed",
                duration_ms=int((time.monotonic() - started) * 1000), error=one_line(str(exc) or repr(exc)),
            )  # fmt: skip
            raise
        (log.info if report.status == "ok" else log.warning)(
            "sync run", connection=connection, full=report.full, trigger=trigger, status=report.status,
            duration_ms=report.duration_ms, api_calls=report.api_calls, **report.counts(),
        )  # fmt: skip
        return report

    def _heartbeat(self, stopping: bool = False) -> None:
        for conn in self.settings.jira:
            job = self.scheduler.get_job(f"sync:{conn.name}") if self.scheduler.running else None
            if job is not None and job.next_run_time is not None:
                self.engine.next_runs[conn.name] = job.next_run_time
            elif job is not None:  # paused while a sync of the connection runs
                self.engine.next_runs.pop(conn.name, None)
        status = {
            "connections": self.engine.health_snapshot(),
            "listener": self.engine.listener.address if self.engine.listener else None,
            "api": self.api.url if self.api else None,
            "next_runs": {k: v.isoformat() for k, v in self.engine.next_runs.items()},
        }
        with self.engine.db.session() as s:
            st.heartbeat(
                s, self.name, host=socket.gethostname(), pid=os.getpid(), version=__version__, status=status,
                started_at=self.started_at,
            )  # fmt: skip
            if stopping:
                st.mark_stopped(s, self.name)

    async def _record_stop(self) -> None:
        """The last heartbeat, marking this daemon stopped (consoles attached to it say so at once). A busy
        database (another process writing, SQLite's single writer) gets a few tries; a failure is logged, and
        the heartbeat then goes stale as after a crash."""
        from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(4), wait=wait_exponential(multiplier=0.2, max=1.0), reraise=True
            ):
                with attempt:
                    await asyncio.to_thread(self._heartbeat, True)
        except Exception as exc:  # noqa: BLE001 - stopping goes on; the reason is logged
            log.warning("daemon stop not recorded", name=self.name, error=one_line(str(exc) or repr(exc)))

    async def _heartbeat_job(self) -> None:
        try:
            await asyncio.to_thread(self._heartbeat)
        except Exception as exc:
            if self.receiver is not None:
                self.receiver.note_write(exc)  # /healthz: the database cannot take writes
            raise
        if self.receiver is not None:
            self.receiver.note_write(None)

    async def _local_work_job(self) -> None:
        """Sync at once a connection that host programs have given work since its last sync began."""
        marks = await asyncio.to_thread(self.local_watch.read)
        idle = [c.name for c in self.settings.jira if c.name not in self._syncs]
        for name in self.local_watch.due(marks, idle):
            if not self._stop.is_set():
                self._start_sync(name, False, "local change")

    def _heard(self, connection: str | None) -> None:
        """PostgreSQL: local work of ``connection`` (None: maybe of any, the listener missed some) was
        committed."""
        self.local_watch.announced(connection)
        self._look_now()

    def _look_now(self) -> None:
        """Look for local work now, not at the next tick (SQLite: something was committed)."""
        if not self._stop.is_set() and (job := self.scheduler.get_job("local-work")) is not None:
            job.modify(next_run_time=datetime.now(UTC))  # look now, not at the next tick

    async def _commands_job(self) -> None:
        """Operator actions queued by an attached console, the CLI or the operations API. A sync that
        another daemon's running sync holds up is given back to the queue and runs after it (here or
        there): never alongside, and not refused."""

        def claim() -> Any:
            with self.engine.db.session(write=True) as s:
                return st.claim_command(s, self.name, heartbeat=self.settings.daemon.heartbeat_seconds)

        def release(command_id: int) -> None:
            with self.engine.db.session(write=True) as s:
                st.release_command(s, command_id, self.name)

        while (command := await asyncio.to_thread(claim)) is not None:
            # Carried out in a task of its own: a sync takes far longer than this one-second job's interval.
            task = asyncio.ensure_future(self._carry_out(command, release))
            self._commands.add(task)
            task.add_done_callback(self._commands.discard)

    async def _carry_out(self, command: Any, release: Callable[[int], None]) -> None:
        """Run one queued command and record its outcome for whoever queued it. A sync another daemon
        holds the lease for goes back to the queue (``release``): it runs after that one, here or there."""
        result: dict[str, Any] = {}
        error = None
        args = command.args or {}
        try:
            if command.kind == "sync":
                names = (
                    [args["connection"]] if args.get("connection") else [c.name for c in self.settings.jira]
                )
                reports = [await self._sync_for_command(name, bool(args.get("full"))) for name in names]
                result = {"reports": [asdict(r) for r in reports]}
            elif command.kind == "push":
                await self.engine.push(args.get("connection"))
            elif command.kind == "undo":
                run_id, steps = await self.engine.runner.undo(
                    str(args.get("connection")), [int(i) for i in args.get("entries") or []],
                    str(args.get("actor") or "operator"),
                )  # fmt: skip
                result = {"run_id": run_id, "steps": [s.to_json() for s in steps]}
            else:
                error = f"unknown command {command.kind!r}"
        except SyncBusy:
            await asyncio.to_thread(release, command.id)
            return
        except Exception as exc:  # noqa: BLE001 - reported back to whoever queued it
            error = one_line(str(exc)) or type(exc).__name__

        def finish() -> None:
            with self.engine.db.session() as s:
                st.finish_command(s, command.id, result=result, error=error)

        await asyncio.to_thread(finish)

    async def _sync_for_command(self, connection: str, full: bool) -> SyncReport:
        """An operator's sync: after the one already running on that connection, if any."""
        try:
            name = self.settings.connection(connection).name
        except ConfigError as exc:  # e.g. added to the file since: a daemon reads its configuration at start
            raise ConfigError(f"{exc} (in this daemon's configuration, read when it started)") from None
        while (running := self._syncs.get(name)) is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(running)
        return await self._start_sync(name, full, "command")

    async def _retention_job(self) -> None:
        removed = await asyncio.to_thread(retention, self.engine.db, self.settings)
        if any(removed.values()):
            log.info("retention", **removed)

    async def _refresh_webhooks_job(self) -> None:
        """Dynamic (OAuth/Connect) webhooks on Cloud expire after 30 days: refresh well before."""
        from jira_console.webhooks.registration import refresh_due_webhooks

        for name, client in self.engine.clients.items():
            try:
                await refresh_due_webhooks(client)
            except Exception as exc:  # noqa: BLE001 - retried at the next run; visible in logs and health
                log.warning("webhook refresh failed", connection=name, error=str(exc))

    # ---------------------------------------------------------------------------------- shutdown

    async def shutdown(self, grace_seconds: float = 30.0) -> None:
        """Drain and leave: stop scheduling, stop accepting webhooks, let workers and syncs finish."""
        log.info(
            "daemon draining", name=self.name, syncs_running=sorted(self._syncs), commands=len(self._commands)
        )
        self._stop.set()
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        if self.api is not None:
            await self.api.stop()
        if self.listener is not None:
            await self.listener.stop()
        if self.processor is not None:
            await self.processor.stop()
        if self.announcements is not None:
            await self.announcements.stop()
        for sync in self.engine.syncs.values():
            sync.request_stop()  # a running sync stops after the page it is writing, not at its end
        pending = [*self._syncs.values(), *self._commands]
        if pending:
            await asyncio.wait(pending, timeout=grace_seconds)
        log.info("daemon drained", name=self.name, unfinished=sum(not t.done() for t in pending))
        await self._record_stop()
        await self.engine.stop()
        log.info("daemon stopped", name=self.name)


class _ListenerInfo:
    def __init__(self, address: str) -> None:
        self.address = address
