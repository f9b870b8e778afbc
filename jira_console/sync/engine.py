"""The per-connection sync coordinator: prepares the connection's :class:`SyncContext` (flavor, fields,
mappings), runs a sync (pull, then for a full sync reconciliation and boards, then push) under an expiring
lease so that one run per connection happens at a time across processes, and records how each run went.

The steps themselves live in their own modules: :mod:`~jira_console.sync.pull`,
:mod:`~jira_console.sync.push` (with :mod:`~jira_console.sync.writer`), :mod:`~jira_console.sync.reconcile`,
:mod:`~jira_console.sync.boards` and, for webhook events, :mod:`~jira_console.sync.remote`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jira_console import events as ev
from jira_console.config import ConfigError, JiraConnection
from jira_console.jira import JiraClient
from jira_console.jira.client import discover_roles, settle, together
from jira_console.jira.errors import JiraBadRequest, JiraError, JiraNotFound
from jira_console.jira.models import ServerInfo
from jira_console.logs import get_logger
from jira_console.mapping import MappingContext, MappingSet, compile_mapping
from jira_console.mapping import repo as mrepo
from jira_console.mapping.compiled import field_dicts
from jira_console.store import mapping_state as mstate
from jira_console.store import repo, runs
from jira_console.store import state as st
from jira_console.store.cause import Cause, caused_by
from jira_console.store.db import Database
from jira_console.sync import backfill, boards, clock, estimation, reconcile, remote, scope_change, undo_apply
from jira_console.sync import push as push_step
from jira_console.sync.context import ISSUES_SCOPE, SyncContext, SyncIO
from jira_console.sync.failures import told_without_data
from jira_console.sync.fields import FieldCodec, Flavor
from jira_console.sync.page import retry_quarantined
from jira_console.sync.pull import Pull
from jira_console.sync.report import SyncBusy, SyncInterrupted, SyncReport
from jira_console.sync.undo import UndoStep

if TYPE_CHECKING:  # the webhooks package (its HTTP server) is not loaded for a sync
    from jira_console.webhooks.processor import IssueItem

log = get_logger(__name__)


class SyncEngine:
    """Two-way sync for one connection. Create one per connection and keep it: it caches flavor and fields."""

    def __init__(
        self,
        db: Database,
        conn: JiraConnection,
        client: JiraClient,
        *,
        emit: Callable[[ev.EngineEvent], None] | None = None,
        owner: str = "local",
        lease_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.conn = conn
        self.client = client
        self.emit = emit or (lambda _e: None)
        self.io = SyncIO(db, client, self.emit)
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._lease_renewed = 0.0
        self._lock = asyncio.Lock()
        self._stop_requested = False
        self.context: SyncContext | None = None
        """The connection's facts once prepared (rebuilt, never mutated, when they change)."""
        self._generation: int | None = None
        """The stored mappings' generation :attr:`context` was compiled from."""
        self._prepared_info: ServerInfo | None = None
        """serverInfo as the last :meth:`prepare` read it, until a run's clock reading takes it."""

    # ------------------------------------------------------------------------------------ context

    @property
    def flavor(self) -> Flavor | None:
        return self.context.flavor if self.context else None

    @property
    def field_list(self) -> list[Any]:
        return list(self.context.field_list) if self.context else []

    @property
    def discovered(self) -> Mapping[str, str]:
        return self.context.discovered if self.context else {}

    @property
    def codecs(self) -> list[FieldCodec]:
        return list(self.context.codecs) if self.context else []

    @property
    def mapped(self) -> list[FieldCodec]:
        return list(self.context.mapped) if self.context else []

    @property
    def mapping_ctx(self) -> MappingContext | None:
        return self.context.mapping_ctx if self.context else None

    def jira_fields(self) -> list[str]:
        return list(self._ctx().jira_fields)

    def _ctx(self) -> SyncContext:
        if self.context is None:
            raise RuntimeError(f"connection {self.conn.name!r} is not prepared yet")
        return self.context

    async def prepare(self, *, refresh: bool = False) -> SyncContext:
        """Detect the flavor, discover fields by schema and compile this connection's mappings against the
        site's field list (kept, and stored for processes without Jira, until ``refresh``). The stored
        mappings' generation is looked at every time: a change saved by any process (the CLI, a console, the
        operations API) is compiled before this engine reads or writes another issue."""
        if self.context is not None and not refresh:
            if await asyncio.to_thread(self._generation_now) != self._generation:
                await asyncio.to_thread(self._load_mappings, self.context)
            return self._ctx()
        # The site's facts are read together; on ``auto`` the flavor (from serverInfo) comes first, since
        # it decides which REST version the other reads use.
        if self.conn.flavor == "auto":
            info = await self._server_info()
            field_list, _ = await together([self.client.fields(), self._discover_boards()])
        else:
            try:
                info, field_list, _ = await together(
                    [self._server_info(), self.client.fields(), self._discover_boards()]
                )
            except (JiraNotFound, JiraBadRequest):
                # A flavor pinned against the site fails the reads of the other flavor's API (a 404, Cloud's
                # 410): serverInfo, served by both, says why. Not after a refusal of the credentials: asking
                # again would count towards locking the account.
                with contextlib.suppress(JiraError):
                    self._refuse_pinned(await self.client.server_info())
                raise
        self._refuse_pinned(info)
        per_board = await asyncio.to_thread(estimation.by_project, self.db, self.conn.name)
        site = SyncContext.build(
            self.conn, info.flavor, discover_roles(field_list), field_list, estimation=per_board
        )
        await asyncio.to_thread(self._record_connection, info.flavor, info.version, field_list)
        await asyncio.to_thread(self._load_mappings, site)
        return self._ctx()

    def _refuse_pinned(self, info: ServerInfo) -> None:
        problem = info.pinned_problem(self.conn.flavor)
        if problem is not None:
            raise ConfigError(problem)

    async def _server_info(self) -> ServerInfo:
        """serverInfo, its time observed as it arrives; kept for this run's clock reading when that time was
        readable (else that reading asks again)."""
        info = await self.client.server_info()
        self._prepared_info = info if self.io.clock.observe(info.server_time) is not None else None
        return info

    async def _discover_boards(self) -> None:
        if not await asyncio.to_thread(estimation.boards_known, self.db, self.conn.name):
            await estimation.discover(self.db, self.conn.name, self.client, self.conn.project_keys or ())

    def _record_connection(self, flavor: str, version: str, field_list: Sequence[Any]) -> None:
        with self.db.session(write=True) as s:
            repo.upsert_connection(
                s, self.conn.name, flavor=flavor, base_url=self.conn.url, server_version=version
            )
            mstate.store_field_list(s, self.conn.name, flavor, field_dicts(list(field_list)) or [])

    def _generation_now(self) -> int:
        with self.db.session() as s:
            return mstate.generation(s, self.conn.name)

    def reload_mappings(self) -> list[str]:
        """Compile the stored mappings again (after an edit) into a new context. A mapping that no longer
        compiles is left out and reported; the others keep syncing. Returns the problems."""
        return self._load_mappings(self._ctx())

    def _load_mappings(self, site: SyncContext) -> list[str]:
        """Install ``site`` with the stored mappings compiled against its field list (the next run
        back-fills when they decide the local values differently from the last run, see
        :func:`~jira_console.sync.backfill.needed`)."""
        problems: list[str] = []
        compiled = []
        # The generation first: a change saved while the mappings are read is caught at the next look.
        self._generation = self._generation_now()
        for stored in mrepo.list_mappings(self.db, self.conn.name, enabled_only=True):
            try:
                compiled.append(compile_mapping(stored.definition, field_dicts(list(site.field_list))))
            except Exception as exc:  # noqa: BLE001 - one broken mapping must not stop the others
                problems.append(f"mapping {stored.definition.name!r} not loaded: {exc}")
        try:
            mapped: list[FieldCodec] = list(MappingSet(compiled, self.conn.name))
        except ValueError as exc:
            problems.append(str(exc))
            mapped = []
        identities = mrepo.identity_table(self.db, self.conn.name, site.flavor)
        self.context = site.with_mappings(mapped, MappingContext(flavor=site.flavor, identities=identities))
        for problem in problems:
            log.warning("mapping problem", connection=self.conn.name, problem=problem)
            self.emit(ev.Notice("warning", f"{self.conn.name}: {problem}"))
        return problems

    # ---------------------------------------------------------------------------------------- run

    async def run(self, *, full: bool = False) -> SyncReport:
        """One sync: pull (from the watermark, or everything when ``full``), push, and for a full sync the
        reconciliation sweep. Only one run per connection at a time, across processes (lease)."""
        async with self._lock:
            report = SyncReport(self.conn.name, full=full)
            started = time.monotonic()
            calls_before = self.client.api_calls
            if not await asyncio.to_thread(self._take_lease):
                raise SyncBusy(f"a sync of {self.conn.name!r} is already running elsewhere (lease held)")
            self.emit(ev.SyncStarted(self.conn.name, ISSUES_SCOPE, full))
            await asyncio.to_thread(self._with_state, st.mark_sync_started)
            report.run_id = await asyncio.to_thread(self._start_run, "sync", full)
            try:
                with caused_by(Cause("sync", run_id=report.run_id)), told_without_data():
                    await self._steps(report, full)
            except SyncInterrupted as exc:
                report.status = "interrupted"
                report.errors.append(str(exc))
                log.info("sync interrupted", connection=self.conn.name, reason=str(exc))
            except Exception as exc:
                report.status = "failed"
                report.errors.append(str(exc) or type(exc).__name__)
                raise
            finally:
                report.api_calls = self.client.api_calls - calls_before
                report.duration_ms = int((time.monotonic() - started) * 1000)
                await asyncio.to_thread(self._mark_finished, report)
                self.emit(report.finished())
            return report

    def _start_run(self, kind: str, full: bool = False, note: str | None = None) -> int:
        with self.db.session(write=True) as s:
            return runs.start_run(s, self.conn.name, kind, owner=self.owner, full=full, note=note)

    def _finish_run(self, run_id: int, status: str, note: str | None = None) -> None:
        with self.db.session(write=True) as s:
            runs.finish_run(s, run_id, status, note)

    async def _steps(self, report: SyncReport, full: bool) -> None:
        # A full sync reads the site's field list again (a field added or renamed since the last one).
        self._prepared_info = None
        ctx = await self.prepare(refresh=full)
        await self._read_clock()
        if not full and await asyncio.to_thread(scope_change.changed, self.db, ctx):
            full = report.full = True
            self.emit(ev.Notice("info", f"{self.conn.name}: {scope_change.ANNOUNCEMENT}"))
            log.info("the JQL changed; full sync", connection=self.conn.name)
        retried = await retry_quarantined(self.io, ctx)
        if retried is not None:
            report.add_applied(retried, self.emit)
        report.backfill = await asyncio.to_thread(backfill.needed, self.db, ctx)
        if report.backfill:
            self.emit(ev.Notice("info", f"{self.conn.name}: {backfill.ANNOUNCEMENT}"))
            log.info("mapping back-fill", connection=self.conn.name)
        pull = Pull(self.io, ctx, report, self._keep_lease)
        # A full sync reads the boards and their sprints while it pulls when the projects are configured
        # (else the boards to read are those of the issues stored, known once the pull has read them).
        early = boards.sync_boards_and_sprints(self.io, ctx) if full and self.conn.project_keys else None
        boards_read: asyncio.Future[int] | None = asyncio.ensure_future(early) if early else None
        try:
            listed = await pull.run(full=full)
            report.issues_read = len(listed)
            self._check_stop()
            await asyncio.to_thread(backfill.done, self.db, ctx)  # remembers the JQL too
            report.backfilled = len(listed) if report.backfill else 0
            if full:
                # A full pull has just listed every issue in scope: reconcile against that list.
                await reconcile.reconcile(self.io, ctx, report, listed, ids=pull.ids)
                await (boards_read or boards.sync_boards_and_sprints(self.io, ctx))
                if await asyncio.to_thread(estimation.by_project, self.db, self.conn.name) != ctx.estimation:
                    # A board now estimates with another field: story points follow it from the next run on.
                    await self.prepare(refresh=True)
        finally:
            if boards_read is not None:  # after a failed step: not left running, nor its own failure unread
                await settle(boards_read)
        self._check_stop()
        await push_step.push(self.io, ctx, report)

    async def _read_clock(self) -> None:
        """Jira's clock at the start of a run (``serverTime``): a step back since the last run widens this
        pull's window and brings stored times back from Jira's future (see :mod:`jira_console.sync.clock`).
        serverInfo is asked again unless this run's :meth:`prepare` has just read it (its time observed)."""
        if self._prepared_info is None:
            info = await self.client.server_info()
            if self.io.clock.observe(info.server_time) is None:
                return
        self._prepared_info = None

        def settle() -> clock.Settled:
            with self.db.session(write=True) as s:
                return clock.settle(s, self.conn.name, ISSUES_SCOPE, self.io.clock)

        settled = await asyncio.to_thread(settle)
        if settled.step_ms:
            message = (
                f"{self.conn.name}: Jira's clock stepped back {settled.step_ms // 1000} s; re-reading since"
            )
            log.warning("Jira's clock stepped back", connection=self.conn.name, step_ms=settled.step_ms)
            self.emit(ev.Notice("warning", message + " the last run"))
        if settled.brought_back:
            log.warning(
                "stored versions dated in Jira's future brought back",
                connection=self.conn.name, issues=settled.brought_back,
            )  # fmt: skip

    def _with_state(self, change: Callable[[Any, str, str], None]) -> None:
        with self.db.session(write=True) as s:
            change(s, self.conn.name, ISSUES_SCOPE)

    def _mark_finished(self, report: SyncReport) -> None:
        with self.db.session(write=True) as s:
            if report.run_id is not None:
                runs.finish_run(s, report.run_id, report.status)
            st.mark_sync_finished(
                s, self.conn.name, ISSUES_SCOPE, self.owner, status=report.status,
                error=report.errors[0] if report.errors else None, counts=report.counts(),
                duration_ms=report.duration_ms, api_calls=report.api_calls,
            )  # fmt: skip

    # -------------------------------------------------------------------------------------- lease

    def _take_lease(self) -> bool:
        with self.db.session(write=True) as s:
            if st.acquire_lease(s, self.conn.name, ISSUES_SCOPE, self.owner, self.lease_seconds):
                self._lease_renewed = time.monotonic()
                return True
            # A holder on this host whose process is gone (a killed CLI run) need not be waited out.
            state = st.get_sync_state(s, self.conn.name, ISSUES_SCOPE)
            holder = state.lease_owner if state else None
            if holder and _dead_local_owner(holder):
                st.release_lease(s, self.conn.name, ISSUES_SCOPE, holder)
                log.warning(
                    "took over the sync lease of a dead process", connection=self.conn.name, holder=holder
                )
                if st.acquire_lease(s, self.conn.name, ISSUES_SCOPE, self.owner, self.lease_seconds):
                    self._lease_renewed = time.monotonic()
                    return True
            return False

    def request_stop(self) -> None:
        """Ask a running sync (and any later one) to stop at its next safe point: after the page being
        written, or between steps (see :class:`SyncInterrupted`). For a shutdown; there is no undoing it."""
        self._stop_requested = True

    def _check_stop(self) -> None:
        if self._stop_requested:
            raise SyncInterrupted("stopped for the daemon's shutdown; the next sync goes on from here")

    async def _keep_lease(self) -> None:
        """After each committed page: stop here when asked to; renew the lease a third of the way through
        its time (a page can be slow under rate limits)."""
        self._check_stop()
        if time.monotonic() - self._lease_renewed < self.lease_seconds / 3:
            return

        def renew() -> None:
            with self.db.session(write=True) as s:
                st.renew_lease(s, self.conn.name, ISSUES_SCOPE, self.owner, self.lease_seconds)

        await asyncio.to_thread(renew)
        self._lease_renewed = time.monotonic()

    # ------------------------------------------------------------------------- single steps

    async def pull(self, report: SyncReport, *, full: bool = False) -> dict[str, int | None]:
        """Only the pull (see :mod:`jira_console.sync.pull`)."""
        return await Pull(self.io, await self.prepare(), report, self._keep_lease).run(full=full)

    async def push(self, report: SyncReport | None = None) -> SyncReport:
        """Only the push: local changes to Jira after a fresh compare (see :mod:`jira_console.sync.push`)."""
        ctx = await self.prepare()
        report = report or SyncReport(self.conn.name)
        report.run_id = await asyncio.to_thread(self._start_run, "push")
        try:
            with caused_by(Cause("push", run_id=report.run_id)):
                await push_step.push(self.io, ctx, report)
        except Exception:
            report.status = "failed"
            raise
        finally:
            await asyncio.to_thread(self._finish_run, report.run_id, report.status)
        return report

    async def reconcile(
        self,
        report: SyncReport,
        listed: Mapping[str, int | None] | None = None,
        ids: Mapping[str, str] | None = None,
    ) -> None:
        """Only the reconciliation sweep (see :mod:`jira_console.sync.reconcile`)."""
        await reconcile.reconcile(self.io, await self.prepare(), report, listed, ids=ids)

    async def sync_boards_and_sprints(self, project_keys: Sequence[str] | None = None) -> int:
        """Boards of the synced projects and all their sprints (see :mod:`jira_console.sync.boards`)."""
        return await boards.sync_boards_and_sprints(self.io, await self.prepare(), project_keys)

    async def undo(self, entry_ids: Sequence[int], actor: str = "operator") -> tuple[int, list[UndoStep]]:
        """Undo audit lines of this connection (see :mod:`jira_console.sync.undo`) as a run of its own,
        under the sync lease so no sync of the connection runs meanwhile. Returns (run id, steps)."""
        async with self._lock:
            if not await asyncio.to_thread(self._take_lease):
                raise SyncBusy(f"a sync of {self.conn.name!r} is running (lease held); undo after it")
            try:
                ctx = await self.prepare()
                ids = sorted(set(entry_ids))
                run_id = await asyncio.to_thread(self._start_run, "undo", False, f"undo of {len(ids)} lines")
                status = "failed"
                try:
                    steps = await undo_apply.apply_undo(self.io, ctx, ids, actor=actor, run_id=run_id)
                    status = "ok" if all(s.action != "failed" for s in steps) else "partial"
                finally:
                    await asyncio.to_thread(self._finish_run, run_id, status)
                return run_id, steps
            finally:
                await asyncio.to_thread(self._release_lease)

    def _release_lease(self) -> None:
        with self.db.session(write=True) as s:
            st.release_lease(s, self.conn.name, ISSUES_SCOPE, self.owner)

    # ------------------------------------------------------------------------------- webhooks

    async def apply_remote_issues(self, items: Sequence[IssueItem]) -> list[str]:
        """Issue versions from webhooks, in one transaction (see :mod:`jira_console.sync.remote`)."""
        return await remote.apply_remote_issues(self.io, await self.prepare(), items)

    async def apply_remote_deletion(
        self, issue_key: str, *, event_ts_ms: int | None, issue_id: str | None = None
    ) -> str:
        """An issue deleted in Jira, from a webhook."""
        return await remote.apply_remote_deletion(
            self.io, await self.prepare(), issue_key, event_ts_ms=event_ts_ms, issue_id=issue_id
        )

    async def refresh_sprint(self, sprint_id: int | None, payload: Mapping[str, Any]) -> str:
        """A sprint event from a webhook."""
        return await remote.refresh_sprint(self.io, await self.prepare(), sprint_id, payload)


def _dead_local_owner(owner: str) -> bool:
    """Whether a lease owner named ``host:pid`` is a process of this host that no longer exists."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
