"""Incremental two-way sync of one Jira connection with the local store.

Pull: a JQL search ordered by ``updated ASC, key ASC`` from the watermark minus an overlap window (epoch
milliseconds, so neither the user's time zone nor minute precision can lose an update), streamed page by
page; each page is merged and committed together with the new watermark, so a sync killed at any point
resumes from its last page. Versions not newer than the stored one are skipped (dedupe on issue + updated).

Push: dirty issues (marked by the change-capture trigger, the outbox, the CLI or the console) are compared
with Jira's current version right before writing, so a field Jira changed meanwhile becomes a conflict, not an
overwrite. After writing, the issue is read back and its new ``updated`` recorded, so the engine's own writes
never come back as remote changes.

Reconcile (full sync): every key in scope is listed; local issues Jira no longer has are marked deleted,
anything a cursor missed is fetched, and rows whose local values diverge from the base are re-flagged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from jira_console import events as ev
from jira_console.config import JiraConnection
from jira_console.jira import JiraClient
from jira_console.jira.client import discover_roles
from jira_console.jira.errors import JiraBadRequest, JiraError, JiraNotFound, JiraUnavailable
from jira_console.jira.sprintfield import parse_sprint_value
from jira_console.logs import get_logger
from jira_console.mapping.compiled import field_dicts
from jira_console.store import models as m
from jira_console.store import repo
from jira_console.store import state as st
from jira_console.store.db import Database
from jira_console.sync import apply as ap
from jira_console.sync import push as ps
from jira_console.sync.fields import (
    RICH_TEXT_JIRA_FIELDS,
    CodecContext,
    FieldCodec,
    Write,
    combine,
    core_codecs,
    parse_jira_time,
)

log = get_logger(__name__)
ISSUES_SCOPE = "issues"
PUSH_BATCH = 100
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
META_FIELDS = ("updated", "created", "project", "issuetype")


def scope_filter(jql: str) -> str:
    """The connection's JQL without its ORDER BY clause (the sync orders by itself)."""
    match = _ORDER_BY.search(jql)
    return (jql[: match.start()] if match else jql).strip()


# Jira reads a small number as a malformed date, and Cloud refuses unbounded searches: a full sync starts at
# 2000-01-01 (older than any Jira issue; Jira was first released in 2002).
EPOCH_FLOOR_MS = 946_684_800_000


def bounded_jql(jql: str, since_ms: int | None, until_ms: int | None = None) -> str:
    filt = scope_filter(jql)
    bound = f"updated >= {max(EPOCH_FLOOR_MS, since_ms or 0)}"
    if until_ms is not None:
        bound += f" AND updated <= {until_ms}"
    where = f"({filt}) AND {bound}" if filt else bound
    return f"{where} ORDER BY updated ASC, key ASC"


@dataclass
class SyncReport:
    """What one sync run did."""

    connection: str
    status: str = "ok"
    full: bool = False
    pages: int = 0
    seen: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    pulled_fields: int = 0
    pushed_fields: int = 0
    conflicts: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)
    api_calls: int = 0
    duration_ms: int = 0

    def counts(self) -> dict[str, int]:
        return {
            k: getattr(self, k)
            for k in ("pages", "seen", "created", "updated", "skipped", "pulled_fields", "pushed_fields")
        } | {"conflicts": self.conflicts, "deleted": self.deleted}


class SyncBusy(Exception):
    """Another sync of the same connection holds the lease."""

    exit_code = 1


class SyncEngine:
    """Two-way sync for one connection. Create one per connection and keep it: it caches flavor and fields."""

    def __init__(
        self,
        db: Database,
        conn: JiraConnection,
        client: JiraClient,
        *,
        mapped: Sequence[FieldCodec] = (),
        mapping_ctx: Any = None,
        emit: Callable[[ev.EngineEvent], None] | None = None,
        owner: str = "local",
        lease_seconds: float = 60.0,
    ) -> None:
        self.db = db
        self.conn = conn
        self.client = client
        self.mapped = list(mapped)
        self.mapping_ctx = mapping_ctx
        self.emit = emit or (lambda _e: None)
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._lease_renewed = 0.0
        self.codecs: list[FieldCodec] = []
        self.field_list: list[Any] = []
        self._sprints_written: dict[int, tuple[Any, ...]] = {}
        self.flavor: str | None = None
        self.discovered: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self.actor = f"sync:{conn.name}"

    # ------------------------------------------------------------------------------------------ setup

    async def prepare(self, *, refresh: bool = False) -> None:
        """Detect the flavor, discover fields by schema and compile this connection's mappings against the
        site's field list (once; cached for the engine's lifetime, see :meth:`reload_mappings`)."""
        if self.codecs and not refresh:
            return
        info = await self.client.server_info()
        self.flavor = info.flavor
        self.field_list = await self.client.fields()
        self.discovered = discover_roles(self.field_list)
        await asyncio.to_thread(self._record_connection, info.flavor, info.version)
        await asyncio.to_thread(self.reload_mappings)

    def reload_mappings(self) -> list[str]:
        """Compile the stored mappings again (after an edit). A mapping that no longer compiles is left out
        and reported; the others keep syncing. Returns the problems."""
        from jira_console.mapping import MappingContext, MappingSet, compile_mapping
        from jira_console.mapping import repo as mrepo

        problems: list[str] = []
        compiled = []
        for stored in mrepo.list_mappings(self.db, self.conn.name, enabled_only=True):
            try:
                compiled.append(compile_mapping(stored.definition, field_dicts(self.field_list)))
            except Exception as exc:  # noqa: BLE001 - one broken mapping must not stop the others
                problems.append(f"mapping {stored.definition.name!r} not loaded: {exc}")
        try:
            mapped = list(MappingSet(compiled, self.conn.name))
        except ValueError as exc:
            problems.append(str(exc))
            mapped = []
        flavor = self.flavor or "cloud"
        self.mapping_ctx = MappingContext(
            flavor=flavor,  # type: ignore[arg-type]
            identities=mrepo.identity_table(self.db, self.conn.name, flavor),
        )
        before = {(c.name, c.jira_field, getattr(c, "mapping", None)) for c in self.codecs}
        self.set_mapped(mapped)
        if (
            self.codecs
            and before
            and before != {(c.name, c.jira_field, getattr(c, "mapping", None)) for c in self.codecs}
        ):
            self._set_reapply(True)
        for problem in problems:
            log.warning("mapping problem", connection=self.conn.name, problem=problem)
            self.emit(ev.Notice("warning", f"{self.conn.name}: {problem}"))
        return problems

    def _codec_signature(self) -> set[str]:
        """What decides the local values: each field, its Jira field and its mapping definition."""
        import json

        out = set()
        for c in self.codecs:
            compiled = getattr(c, "compiled", None)
            data = compiled.definition.to_data() if compiled is not None else None
            out.add(json.dumps([c.name, c.jira_field, data], sort_keys=True, default=str))
        return out

    def set_mapped(self, mapped: Sequence[FieldCodec]) -> None:
        """Install the compiled mappings (after an edit); core fields stay."""
        self.mapped = list(mapped)
        if self.flavor is not None:
            self.codecs = combine(core_codecs(self.flavor, self.discovered), self.mapped)  # type: ignore[arg-type]

    @property
    def ctx(self) -> CodecContext:
        return CodecContext(self.flavor or "cloud")  # type: ignore[arg-type]

    @property
    def strategies(self) -> dict[str, str]:
        return {c.name: c.strategy for c in self.codecs if getattr(c, "strategy", None)}  # type: ignore[misc]

    def jira_fields(self) -> list[str]:
        wanted = {c.jira_field for c in self.codecs if c.jira_field != "*"}
        return sorted(wanted | set(META_FIELDS))

    def _record_connection(self, flavor: str, version: str) -> None:
        with self.db.session(write=True) as s:
            repo.upsert_connection(
                s, self.conn.name, flavor=flavor, base_url=self.conn.url, server_version=version
            )

    # ------------------------------------------------------------------------------------------- run

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
            await asyncio.to_thread(self._mark_started)
            try:
                await self.prepare()
                listed = await self.pull(report, full=full)
                await asyncio.to_thread(self._set_reapply, False)
                if full:
                    # A full pull has just listed every issue in scope: reconcile against that list.
                    await self.reconcile(report, listed)
                    await self.sync_boards_and_sprints()
                await self.push(report)
            except Exception as exc:
                report.status = "failed"
                report.errors.append(str(exc) or type(exc).__name__)
                raise
            finally:
                report.api_calls = self.client.api_calls - calls_before
                report.duration_ms = int((time.monotonic() - started) * 1000)
                await asyncio.to_thread(self._mark_finished, report)
                self.emit(
                    ev.SyncFinished(
                        self.conn.name,
                        ISSUES_SCOPE,
                        report.status,
                        report.counts(),
                        report.duration_ms,
                        report.errors[0] if report.errors else None,
                    )
                )
            return report

    def _take_lease(self) -> bool:
        with self.db.session(write=True) as s:
            if st.acquire_lease(s, self.conn.name, ISSUES_SCOPE, self.owner, self.lease_seconds):
                self._lease_renewed = time.monotonic()
                return True
            # A holder on this host whose process is gone (a killed CLI run) need not be waited out.
            state = s.get(m.SyncState, (self.conn.name, ISSUES_SCOPE))
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

    async def _keep_lease(self) -> None:
        """Renew the lease a third of the way through its time (a page can be slow under rate limits)."""
        if time.monotonic() - self._lease_renewed < self.lease_seconds / 3:
            return

        def renew() -> None:
            with self.db.session(write=True) as s:
                st.renew_lease(s, self.conn.name, ISSUES_SCOPE, self.owner, self.lease_seconds)

        await asyncio.to_thread(renew)
        self._lease_renewed = time.monotonic()

    def _mark_started(self) -> None:
        with self.db.session(write=True) as s:
            state = s.get(m.SyncState, (self.conn.name, ISSUES_SCOPE)) or m.SyncState(
                connection=self.conn.name, scope=ISSUES_SCOPE
            )
            state.last_started_at = datetime.now(UTC)
            state.last_status = "running"
            s.add(state)

    def _mark_finished(self, report: SyncReport) -> None:

        with self.db.session(write=True) as s:
            state = s.get(m.SyncState, (self.conn.name, ISSUES_SCOPE)) or m.SyncState(
                connection=self.conn.name, scope=ISSUES_SCOPE
            )
            state.last_finished_at = datetime.now(UTC)
            state.last_status = report.status
            state.last_error = report.errors[0][:2000] if report.errors else None
            state.counts = report.counts()
            state.duration_ms = report.duration_ms
            state.api_calls = report.api_calls
            s.add(state)
            s.flush()
            st.release_lease(s, self.conn.name, ISSUES_SCOPE, self.owner)

    # ------------------------------------------------------------------------------------------ pull

    def _reapply_pending(self) -> bool:
        with self.db.session() as s:
            state = s.get(m.SyncState, (self.conn.name, ISSUES_SCOPE))
            return bool(state and (state.cursor or {}).get("reapply"))

    def _set_reapply(self, value: bool) -> None:
        """After a mapping change every issue must be read again (the new Jira field was never requested, and
        stored versions would otherwise be skipped as already seen); the next pull does that once."""
        with self.db.session(write=True) as s:
            state = s.get(m.SyncState, (self.conn.name, ISSUES_SCOPE))
            if state is None:
                if not value:
                    return
                state = m.SyncState(connection=self.conn.name, scope=ISSUES_SCOPE)
                s.add(state)
            cursor = dict(state.cursor or {})
            if bool(cursor.get("reapply")) == value:
                return
            cursor["reapply"] = value
            state.cursor = cursor

    def _watermark(self) -> int | None:
        with self.db.session() as s:
            state = s.get(m.SyncState, (self.conn.name, ISSUES_SCOPE))
            return state.watermark_ms if state else None

    async def pull(self, report: SyncReport, *, full: bool = False) -> dict[str, int | None]:
        """Stream every issue updated since the watermark (minus the overlap) and merge it, page by page.

        Paging is by key set, not offset: after each page the search restarts from that page's newest
        ``updated`` (``>=``, so ties are re-read and deduplicated on (issue, updated)). An issue edited while
        pages are read moves to the end of the order; with offset paging that shifts an unread issue into an
        already read position and it is skipped for good, with key-set paging it cannot be. A group of
        ties larger than a page is read with ``updated = T`` until a pass finds nothing new, then the search
        goes on from ``T + 1``. The next page is fetched while the current one is written. Returns every key
        seen with its ``updated`` (after a full pull: the whole scope)."""
        listed: dict[str, int | None] = {}
        # A full pull reads everything but skips versions already stored; after a mapping change every
        # version is applied again (``reapply``), since the new field's values were never read.
        reapply = await asyncio.to_thread(self._reapply_pending)
        watermark = None if full or reapply else await asyncio.to_thread(self._watermark)
        bound = EPOCH_FLOOR_MS if watermark is None else watermark - self.conn.overlap_seconds * 1000
        pending: asyncio.Future[Any] = asyncio.ensure_future(self._first_page(bound))
        try:
            while True:
                page = await pending
                if page is None:
                    break
                times = self._times(page.issues)
                listed.update(times)
                newest = max((t for t in times.values() if t), default=None)
                tie_group = not page.is_last and (newest is None or newest <= bound)
                if page.is_last:
                    pending = asyncio.ensure_future(_none())
                elif not tie_group:
                    bound = newest  # type: ignore[assignment]
                    pending = asyncio.ensure_future(self._first_page(bound))
                await self._apply_and_count(report, page.issues, reapply)
                if tie_group:
                    await self._drain_tie_group(report, bound, listed, reapply)
                    bound += 1
                    pending = asyncio.ensure_future(self._first_page(bound))
        finally:
            if not pending.done():
                pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        return listed

    @staticmethod
    def _times(issues: Sequence[Mapping[str, Any]]) -> dict[str, int | None]:
        return {str(i.get("key")): parse_jira_time((i.get("fields") or {}).get("updated")) for i in issues}

    async def _first_page(self, bound: int, *, exact: bool = False) -> Any:
        """The first page of a fresh search from ``bound`` (only ``updated = bound`` when ``exact``)."""
        pages = self._search(bound, exact=exact)
        try:
            return await anext(pages, None)
        finally:
            await pages.aclose()

    def _search(self, bound: int, *, exact: bool = False) -> Any:
        jql = bounded_jql(self.conn.jql, bound, until_ms=bound if exact else None)
        return self.client.search_pages(jql, fields=self.jira_fields(), page_size=self.conn.page_size)

    async def _drain_tie_group(
        self, report: SyncReport, tie: int, listed: dict[str, int | None], reapply: bool
    ) -> None:
        """Read every issue whose ``updated`` is exactly ``tie``, by offset within that group, until a pass
        finds no key it had not seen (an edit during a pass shifts the offsets; it also moves the edited
        issue out of the group, so passes converge)."""
        seen_in_group = {k for k, t in listed.items() if t == tie}
        for _pass in range(5):
            new = 0
            pages = self._search(tie, exact=True)
            try:
                async for page in pages:
                    times = self._times(page.issues)
                    new += len(set(times) - seen_in_group)
                    seen_in_group.update(k for k, t in times.items() if t == tie)
                    listed.update(times)
                    await self._apply_and_count(report, page.issues, reapply)
            finally:
                await pages.aclose()
            if not new:
                return

    async def _apply_and_count(self, report: SyncReport, issues: list[Any], reapply: bool) -> None:
        result = await asyncio.to_thread(self._apply_page, issues, allow_equal=reapply)
        report.pages += 1
        self._count(report, result)
        self.emit(
            ev.SyncProgressed(
                self.conn.name,
                ISSUES_SCOPE,
                report.pages,
                report.seen,
                report.pulled_fields + report.created,
                report.pushed_fields,
                report.conflicts,
            )
        )
        await self._keep_lease()

    def _count(self, report: SyncReport, result: ap.ApplyResult) -> None:
        report.seen += result.seen
        report.created += result.created
        report.updated += result.updated
        report.skipped += result.skipped + result.stale
        report.pulled_fields += result.pulled_fields
        report.conflicts += len(result.conflicts)
        for conflict_id, key, name in result.conflicts:
            self.emit(ev.ConflictDetected(self.conn.name, key, name, conflict_id))

    def _apply_page(
        self,
        raws: Sequence[Mapping[str, Any]],
        *,
        skip_fields: Iterable[str] = (),
        keep_raw_fields: Iterable[str] = (),
        checkpoint: bool = True,
        allow_equal: bool = False,
    ) -> ap.ApplyResult:
        with self.db.session(write=True) as s:
            self._store_sprint_refs(s, raws)
            result = ap.apply_issue_versions(
                s,
                self.conn.name,
                raws,
                self.codecs,
                self.ctx,
                strategies=self.strategies,
                default_strategy=self.conn.conflict_strategy,
                actor=self.actor,
                mapping_ctx=self.mapping_ctx,
                skip_fields=skip_fields,
                keep_raw_fields=keep_raw_fields,
                allow_equal=allow_equal,
            )
            if checkpoint:
                ap.advance_watermark(s, self.conn.name, ISSUES_SCOPE, result)
        return result

    def _store_sprint_refs(self, session: Any, raws: Sequence[Mapping[str, Any]]) -> None:
        """Sprint names and states come along in every issue's sprint field: keep the sprints table current
        from them, in the page's own transaction, without extra requests."""
        sprint_field = self.discovered.get("sprint")
        if not sprint_field:
            return
        refs = {}
        for raw in raws:
            for ref in parse_sprint_value((raw.get("fields") or {}).get(sprint_field)):
                refs[ref.id] = ref
        for ref in refs.values():
            # The same few sprints appear on every page: write a sprint only when what we know changed.
            seen = (
                ref.name,
                ref.state,
                ref.board_id,
                ref.goal,
                ref.start_date,
                ref.end_date,
                ref.complete_date,
            )
            if self._sprints_written.get(ref.id) == seen:
                continue
            _store_sprint(session, self.conn.name, ref, ref.board_id)
            self._sprints_written[ref.id] = seen

    # ------------------------------------------------------------------------------------------ push

    async def push(self, report: SyncReport | None = None) -> SyncReport:
        """Write local changes to Jira after a fresh compare. Transient Jira failures stop the push and leave
        the changes queued; a change Jira refuses is parked as a field error on that issue."""
        report = report or SyncReport(self.conn.name)
        await self.prepare()
        await asyncio.to_thread(self._drain_outbox)
        after_id = 0
        while True:
            batch = await asyncio.to_thread(self._dirty_batch, after_id)
            if not batch:
                break
            after_id = batch[-1][0]
            keys = [k for _, k in batch]
            fresh = {i["key"]: i for i in await self.client.bulk_fetch(keys, self.jira_fields())}
            plans, conflicts = await asyncio.to_thread(self._plan, keys, fresh)
            report.conflicts += len(conflicts)
            for conflict_id, key, name in conflicts:
                self.emit(ev.ConflictDetected(self.conn.name, key, name, conflict_id))
            plans = [p for p in plans if p.writes]
            if not plans:
                continue
            succeeded, failed = await self._execute(plans)
            written = [k for k, names in succeeded.items() if names]
            refetched: dict[str, Any] = {}
            if written:
                try:
                    refetched = {
                        i["key"]: i for i in await self.client.bulk_fetch(written, self.jira_fields())
                    }
                except JiraError as exc:
                    log.warning("refetch after push failed", connection=self.conn.name, error=str(exc))
            report.pushed_fields += await asyncio.to_thread(
                self._record_outcome, plans, succeeded, failed, refetched
            )
            transient = [
                msg for errs in failed.values() for msg in errs.values() if msg.startswith("transient:")
            ]
            if transient:
                report.errors.append(transient[0].removeprefix("transient: "))
                report.status = "partial"
                break
        return report

    def _drain_outbox(self) -> None:
        with self.db.session(write=True) as s:
            ps.drain_outbox(s, self.conn.name, self.codecs)

    def _dirty_batch(self, after_id: int) -> list[tuple[int, str]]:
        with self.db.session() as s:
            return ps.dirty_batch(s, self.conn.name, after_id, PUSH_BATCH)

    def _plan(self, keys: Sequence[str], fresh: Mapping[str, Any]) -> tuple[list[ps.IssuePlan], list[Any]]:
        with self.db.session(write=True) as s:
            return ps.plan_push(
                s,
                self.conn.name,
                keys,
                fresh,
                self.codecs,
                self.ctx,
                strategies=self.strategies,
                default_strategy=self.conn.conflict_strategy,
                actor=self.actor,
                mapping_ctx=self.mapping_ctx,
            )

    def _record_outcome(self, plans: Any, succeeded: Any, failed: Any, refetched: Any) -> int:
        with self.db.session(write=True) as s:
            return ps.record_push_outcome(
                s,
                self.conn.name,
                plans,
                succeeded,
                failed,
                refetched,
                self.codecs,
                self.ctx,
                actor=self.actor,
                mapping_ctx=self.mapping_ctx,
            )

    async def _execute(
        self, plans: Sequence[ps.IssuePlan]
    ) -> tuple[dict[str, set[str]], dict[str, dict[str, str]]]:
        """Send the planned writes: one edit per issue for plain fields, transitions for status, and sprint
        moves grouped by target sprint (the Agile API moves up to 50 issues per call)."""
        succeeded: dict[str, set[str]] = {p.key: set() for p in plans}
        failed: dict[str, dict[str, str]] = {p.key: {} for p in plans}
        sprint_moves: dict[int | None, list[tuple[str, str]]] = {}
        for plan in plans:
            field_writes: dict[str, Write] = {}
            update_writes: dict[str, Write] = {}
            for name, w in plan.writes.items():
                if w.kind == "sprint":
                    sprint_moves.setdefault(w.value, []).append((plan.key, name))
                elif w.kind == "transition":
                    await self._guard(
                        plan.key, [name], succeeded, failed, self._transition(plan.key, w.value)
                    )
                elif w.kind == "update":
                    update_writes[name] = w
                else:
                    field_writes[name] = w
            if field_writes or update_writes:
                await self._edit(plan.key, field_writes, update_writes, succeeded, failed)
        for sprint_id, members in sprint_moves.items():
            keys = [k for k, _ in members]
            op = (
                self.client.move_to_backlog(keys)
                if sprint_id is None
                else self.client.move_to_sprint(sprint_id, keys)
            )
            ok = await self._guard_many(members, failed, op)
            if ok:
                for key, name in members:
                    succeeded[key].add(name)
        return succeeded, failed

    async def _transition(self, key: str, status: str) -> None:
        if not await self.client.transition_to(key, status):
            raise JiraBadRequest(
                400, "POST", f"issue/{key}/transitions", [f"no transition path to status {status!r}"]
            )

    async def _edit(
        self,
        key: str,
        field_writes: dict[str, Write],
        update_writes: dict[str, Write],
        succeeded: dict[str, set[str]],
        failed: dict[str, dict[str, str]],
    ) -> None:
        remaining = dict(field_writes)
        for _attempt in range(2):
            names = list(remaining) + list(update_writes)
            body_fields = {w.field_id: w.value for w in remaining.values()}
            body_update = {w.field_id: w.value for w in update_writes.values()}
            try:
                await self.client.edit_issue(key, fields=body_fields or None, update=body_update or None)
            except JiraBadRequest as exc:
                # Jira names the fields it refused: park those, send the rest once more.
                by_id = {w.field_id: n for n, w in {**remaining, **update_writes}.items()}
                refused = {by_id[f]: msg for f, msg in exc.field_errors.items() if f in by_id}
                if not refused or len(refused) == len(names):
                    for n in names:
                        failed[key][n] = refused.get(n) or str(exc)
                    return
                failed[key].update(refused)
                remaining = {n: w for n, w in remaining.items() if n not in refused}
                update_writes = {n: w for n, w in update_writes.items() if n not in refused}
                continue
            except JiraNotFound as exc:
                for n in names:
                    failed[key][n] = str(exc)
                return
            except (JiraUnavailable, JiraError) as exc:
                for n in names:
                    failed[key][n] = f"transient: {exc}"
                return
            succeeded[key].update(names)
            return

    async def _guard(
        self,
        key: str,
        names: list[str],
        succeeded: dict[str, set[str]],
        failed: dict[str, dict[str, str]],
        op: Any,
    ) -> None:
        if await self._guard_many([(key, n) for n in names], failed, op):
            succeeded[key].update(names)

    async def _guard_many(
        self, members: list[tuple[str, str]], failed: dict[str, dict[str, str]], op: Any
    ) -> bool:
        try:
            await op
            return True
        except (JiraBadRequest, JiraNotFound) as exc:
            for key, name in members:
                failed[key][name] = str(exc)
        except JiraError as exc:
            for key, name in members:
                failed[key][name] = f"transient: {exc}"
        return False

    # ------------------------------------------------------------------------------------- reconcile

    async def reconcile(self, report: SyncReport, listed: Mapping[str, int | None] | None = None) -> None:
        """Find deletions and anything a cursor missed, given every key in scope with its ``updated``
        (listed here, with only the ``updated`` field, unless a full pull just listed them)."""
        seen: dict[str, int | None] = dict(listed or {})
        if listed is None:
            jql = f"{scope_filter(self.conn.jql) or f'updated >= {EPOCH_FLOOR_MS}'} ORDER BY key ASC"
            async for page in self.client.search_pages(
                jql, fields=["updated"], page_size=max(self.conn.page_size, 100)
            ):
                for issue in page.issues:
                    seen[issue["key"]] = parse_jira_time((issue.get("fields") or {}).get("updated"))
        missing, newer = await asyncio.to_thread(self._compare_keys, seen)
        report.deleted += len(missing)
        if newer:
            for start in range(0, len(newer), PUSH_BATCH):
                chunk = newer[start : start + PUSH_BATCH]
                raws = await self.client.bulk_fetch(chunk, self.jira_fields())
                result = await asyncio.to_thread(self._apply_page, raws, checkpoint=False)
                self._count(report, result)

    def _compare_keys(self, seen: Mapping[str, int | None]) -> tuple[list[str], list[str]]:
        with self.db.session(write=True) as s:
            rows = s.execute(
                select(m.Issue.key, m.Issue.jira_updated_ms, m.Issue.deleted).where(
                    m.Issue.connection == self.conn.name
                )
            ).all()
            local = {k: (u, d) for k, u, d in rows}
            missing = [k for k, (_u, d) in local.items() if k not in seen and not d]
            for key in missing:
                row = s.scalars(
                    select(m.Issue).where(m.Issue.connection == self.conn.name, m.Issue.key == key)
                ).one()
                row.deleted = True
                row.sync_stamp = (row.sync_stamp or 0) + 1
                ap.audit(
                    s,
                    self.conn.name,
                    key,
                    "local",
                    None,
                    None,
                    None,
                    "deleted in Jira (reconciliation)",
                    self.actor,
                )
            newer = [
                k
                for k, u in seen.items()
                if k not in local or (u is not None and (local[k][0] or 0) < u) or local[k][1]
            ]
            ps.mark_dirty_where_diverged(s, self.conn.name, self.codecs)
        return missing, newer

    # ------------------------------------------------------------------------------ webhook applier

    async def apply_remote_issue(
        self,
        connection: str | None,
        issue: dict[str, Any],
        *,
        event_ts_ms: int | None,
        source: str,
        changelog: Mapping[str, Any] | None = None,
    ) -> str:
        """Apply one issue version that arrived outside the poll (a webhook)."""
        [status] = await self.apply_remote_issues(connection, [(issue, changelog)], source=source)
        return status

    async def apply_remote_issues(
        self,
        connection: str | None,
        items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]],
        *,
        source: str = "webhook",
    ) -> list[str]:
        """Apply many (issue, changelog) pairs from webhooks in one transaction; a status per item:
        ``applied``, ``stale`` (older than what is stored, or than another item of the batch) or ``ignored``.

        Webhook bodies use the v2 representation even on Cloud, so on Cloud rich-text fields are not taken
        from them: issues whose change touched one (or that come without a changelog) are fetched through
        REST v3 instead, together (bulk fetch)."""
        await self.prepare()
        plain: list[Mapping[str, Any]] = []
        refetch: list[str] = []
        for issue, changelog in items:
            if not issue.get("key"):
                continue
            touched = _changelog_fields(changelog)
            if self.flavor == "cloud" and (touched is None or touched & RICH_TEXT_JIRA_FIELDS):
                refetch.append(str(issue["key"]))
            else:
                plain.append(issue)
        statuses: dict[str, str] = {}
        if plain:
            skip = [c.name for c in self.codecs if c.jira_field in RICH_TEXT_JIRA_FIELDS]
            cloud = self.flavor == "cloud"
            result = await asyncio.to_thread(
                self._apply_page,
                plain,
                skip_fields=skip if cloud else (),
                keep_raw_fields=sorted(RICH_TEXT_JIRA_FIELDS) if cloud else (),
                checkpoint=False,
            )
            self._count(SyncReport(self.conn.name), result)
            statuses.update(result.statuses)
        if refetch:
            fetched = await self.client.bulk_fetch(sorted(set(refetch)), self.jira_fields())
            result = await asyncio.to_thread(self._apply_page, fetched, checkpoint=False)
            self._count(SyncReport(self.conn.name), result)
            statuses.update(result.statuses)
            found = {str(i.get("key")) for i in fetched}
            for key in set(refetch) - found:
                statuses[key] = await self.apply_remote_deletion(connection, key, event_ts_ms=None)
        newest: dict[str, int] = {}
        for issue, _ in items:
            t = parse_jira_time((issue.get("fields") or {}).get("updated"))
            if t is not None and t > newest.get(str(issue.get("key")), -1):
                newest[str(issue.get("key"))] = t
        out = []
        for issue, _ in items:
            key = str(issue.get("key") or "")
            t = parse_jira_time((issue.get("fields") or {}).get("updated"))
            status = statuses.get(key, "ignored")
            if t is not None and t < newest.get(key, t):
                status = "stale"  # a newer version of the same issue came in the same batch
            out.append(
                {"created": "applied", "applied": "applied", "duplicate": "ignored"}.get(status, status)
            )
        return out

    async def apply_remote_deletion(
        self, connection: str | None, issue_key: str, *, event_ts_ms: int | None
    ) -> str:
        def mark() -> str:
            with self.db.session(write=True) as s:
                row = s.scalars(
                    select(m.Issue).where(m.Issue.connection == self.conn.name, m.Issue.key == issue_key)
                ).first()
                if row is None or row.deleted:
                    return "ignored"
                if (
                    event_ts_ms is not None
                    and row.jira_updated_ms is not None
                    and event_ts_ms < row.jira_updated_ms
                ):
                    return "stale"
                row.deleted = True
                row.sync_stamp = (row.sync_stamp or 0) + 1
                ap.audit(
                    s,
                    self.conn.name,
                    issue_key,
                    "local",
                    None,
                    None,
                    None,
                    "deleted in Jira (webhook)",
                    self.actor,
                )
                return "applied"

        return await asyncio.to_thread(mark)

    async def refresh_sprint(
        self, connection: str | None, sprint_id: int | None, payload: dict[str, Any]
    ) -> str:
        """A sprint event: read the sprint from the Agile API (the payload's shape is undocumented)."""
        data = payload.get("sprint") if isinstance(payload.get("sprint"), Mapping) else None
        sid = sprint_id or (data or {}).get("id")
        if sid is None:
            return "ignored"
        try:
            sprint = await self.client.get_sprint(int(sid))
        except JiraNotFound:
            return "ignored"

        def store() -> str:
            with self.db.session(write=True) as s:
                _store_sprint(s, self.conn.name, sprint, sprint.board_id)
            return "applied"

        return await asyncio.to_thread(store)

    def _project_keys(self) -> list[str]:
        with self.db.session() as s:
            rows = s.scalars(
                select(m.Issue.project_key)
                .where(m.Issue.connection == self.conn.name, m.Issue.project_key.is_not(None))
                .distinct()
            )
            return sorted(str(k) for k in rows)

    async def sync_boards_and_sprints(self, project_keys: Sequence[str] | None = None) -> int:
        """Boards of the synced projects and all their sprints, through the Agile API (part of a full
        sync; between full syncs, sprint names and states come along in the issues' sprint field)."""
        keys = list(project_keys or self.conn.project_keys or [])
        if not keys:
            keys = await asyncio.to_thread(self._project_keys)
        count = 0
        seen_boards: set[int] = set()
        for project in keys:
            for board in await self.client.boards(project):
                if board.id in seen_boards:
                    continue
                seen_boards.add(board.id)
                sprints = await self.client.sprints(board.id) if board.type in (None, "scrum") else []

                def store(board: Any = board, sprints: Any = sprints) -> int:
                    with self.db.session(write=True) as s:
                        repo.upsert_board(
                            s, self.conn.name, board.id,
                            {"name": board.name, "type": board.type, "project_key": board.project_key},
                        )  # fmt: skip
                        for sprint in sprints:
                            _store_sprint(s, self.conn.name, sprint, board.id)
                    return len(sprints)

                count += await asyncio.to_thread(store)
        return count


def _when(value: Any) -> datetime | None:
    """An Agile API date (ISO text) as an aware datetime; None when absent or unreadable."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _store_sprint(session: Any, connection: str, sprint: Any, board_id: int | None) -> None:
    repo.upsert_sprint(
        session,
        connection,
        sprint.id,
        {
            "name": sprint.name,
            "state": sprint.state,
            "goal": sprint.goal,
            "board_jira_id": board_id,
            "start_date": _when(sprint.start_date),
            "end_date": _when(sprint.end_date),
            "complete_date": _when(sprint.complete_date),
            "synced_at": datetime.now(UTC),
        },
    )


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


async def _none() -> None:
    return None


def _changelog_fields(changelog: Mapping[str, Any] | None) -> set[str] | None:
    """Jira field ids a webhook's changelog names (None when the payload carries no changelog)."""
    if not isinstance(changelog, Mapping):
        return None
    out: set[str] = set()
    for item in changelog.get("items") or []:
        if isinstance(item, Mapping):
            out.add(str(item.get("fieldId") or item.get("field") or "").lower())
    return out
