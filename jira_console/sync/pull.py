"""The pull: every issue updated since the watermark (minus the overlap window) read page by page by key set,
each page merged and committed together with the new watermark.

Paging is by key set, not offset: after each page the search restarts from that page's last ``updated``
(``>=``, so ties are re-read and deduplicated on (issue, updated, content)). Jira orders a search by its
index but renders each issue as it is at that moment, so the page's last issue may show an edit newer than
its place in the order: the bound is the older of the last two issues' times, which an edit of the last one
cannot push past issues not read yet. An issue edited while pages are read moves to the end of the order;
with offset paging that shifts an unread issue into an already read position and it is skipped for good,
with key-set paging it cannot be. A group of ties larger than a page is read with ``updated = T`` by offset,
each issue in full once, the pass confirmed without reading the group in full again (see
:meth:`Pull._drain_tie_group`); then the search goes on from ``T + 1``. The next page is fetched while the
current one is written. As a pull creates issues (a first import), PostgreSQL's statistics are refreshed at
a few sizes, so the per-page look-ups stay index searches while the table grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from jira_console.jira.errors import JiraError
from jira_console.store import issues as si
from jira_console.store import state as st
from jira_console.sync.apply import ApplyMode, ApplyResult, updated_of
from jira_console.sync.context import ISSUES_SCOPE, SyncContext, SyncIO
from jira_console.sync.jql import EPOCH_FLOOR_MS, bounded_jql
from jira_console.sync.page import SETTLED, apply_page
from jira_console.sync.report import SyncReport

TIE_PASSES = 5
KEYS_ONLY = ("updated",)
"""The fields of a pass that only confirms which issues a tie group holds (Jira adds id and key)."""
SETTLED_MS = 60_000
"""How far in Jira's past a tie must be for no issue to join its group any more (an edit stamps Jira's
current time)."""


ANALYZE_FIRST = 2_000
"""Issues created by one pull after which PostgreSQL's statistics are refreshed; again at five times as many,
and so on (see :func:`jira_console.store.issues.refresh_statistics`)."""


def _holds_issues(session: Any, connection: str, _scope: str) -> bool:
    return si.holds_issues(session, connection)


def _key(issue: Mapping[str, Any]) -> str:
    return str(issue.get("key"))


def _times(issues: Sequence[Mapping[str, Any]]) -> dict[str, int | None]:
    return {_key(i): updated_of(i) for i in issues}


def _ids(issues: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {_key(i): str(i["id"]) for i in issues if i.get("id") is not None}


def _next_bound(issues: Sequence[Mapping[str, Any]]) -> int | None:
    """Where the next key-set search starts: the older ``updated`` of the page's last two issues (see the
    module docstring: the last one alone may carry an edit made while the page was rendered)."""
    tail = [t for t in (updated_of(i) for i in issues[-2:]) if t is not None]
    return min(tail) if tail else None


def _one_time(issues: Sequence[Mapping[str, Any]], when: int | None) -> bool:
    """Whether every one of ``issues`` (at least one) has ``updated`` equal to ``when``."""
    return bool(issues) and all(updated_of(i) == when for i in issues)


async def _none() -> None:
    return None


async def _ahead(pages: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
    """The pages of a search, each next one requested while the caller works on the current one."""
    pending: asyncio.Future[Any] = asyncio.ensure_future(anext(pages, None))
    try:
        while (page := await pending) is not None:
            pending = asyncio.ensure_future(anext(pages, None))
            yield page
    finally:
        if not pending.done():
            pending.cancel()
        with contextlib.suppress(BaseException):
            await pending
        await pages.aclose()


class Pull:
    """One pull of a connection (see the module docstring). ``on_page`` runs after each page is committed
    (the engine renews its lease there)."""

    def __init__(
        self, io: SyncIO, ctx: SyncContext, report: SyncReport, on_page: Callable[[], Awaitable[None]]
    ) -> None:
        self.io = io
        self.ctx = ctx
        self.report = report
        self.on_page = on_page
        self.listed: dict[str, int | None] = {}
        self.ids: dict[str, str] = {}
        """Key -> Jira id of every issue read (reconciliation tells a moved issue from a deleted one)."""
        self.first_import = False
        """The store held none of the connection's issues when the pull began: an issue whose key and id
        this pull has not read yet has no row (see ``ApplyMode.unseen``)."""
        self.read_ids: set[str] = set()
        self.settled: dict[str, Mapping[str, Any]] = {}
        """The versions of the page applied last that are in the store as read: a key-set page reads the
        previous page's last issue or two again, and the same version read again needs no applying (not even
        a look-up of its row) to be a duplicate."""
        self.reapply = False
        self.started = time.monotonic()
        self.expected: int | None = None
        """How many issues this pull expects to read (for progress), None when unknown."""
        self.next_analyze = ANALYZE_FIRST

    async def run(self, *, full: bool = False) -> dict[str, int | None]:
        """Pull from the watermark, or everything when ``full``. Returns every key seen with its ``updated``
        (after a full pull: the whole scope)."""
        # A full pull reads everything but skips versions already stored; after a mapping change every
        # version is applied again (``reapply``), since the new field's values were never read.
        self.reapply = await asyncio.to_thread(self._read_state, st.reapply_pending)
        self.first_import = not await asyncio.to_thread(self._read_state, _holds_issues)
        watermark = None if full or self.reapply else await asyncio.to_thread(self._read_state, st.watermark)
        bound = EPOCH_FLOOR_MS if watermark is None else watermark - self.ctx.conn.overlap_seconds * 1000
        self.started = time.monotonic()
        pending: asyncio.Future[Any] = asyncio.ensure_future(self._first_page(bound))
        counting: asyncio.Future[int | None] | None = asyncio.ensure_future(
            self._count_expected(bound, everything=watermark is None)
        )
        try:
            while True:
                page = await pending
                if page is None:
                    break
                if counting is not None:
                    # The first page's ``total`` (Server) is exact for this run; else Cloud's estimate.
                    estimate = await counting
                    self.expected, counting = page.total if page.total is not None else estimate, None
                times = _times(page.issues)
                unseen = self._note(page.issues, times)
                newest = _next_bound(page.issues)
                # A page with one ``updated`` throughout (the last issue aside, as for the bound) opens a tie
                # group larger than a page: it is read whole from here.
                whole_tie = _one_time(page.issues[:-1], newest) and newest is not None and newest > bound
                tie_group = not page.is_last and (newest is None or newest <= bound or whole_tie)
                if page.is_last:
                    pending = asyncio.ensure_future(_none())
                elif not tie_group and newest is not None:
                    bound = newest
                    pending = asyncio.ensure_future(self._first_page(bound))
                await self._apply(page.issues, unseen)
                if tie_group:
                    bound = newest if whole_tie and newest is not None else bound
                    await self._drain_tie_group(bound)
                    bound += 1
                    pending = asyncio.ensure_future(self._first_page(bound))
        finally:
            for task in (pending, counting):
                if task is not None and not task.done():
                    task.cancel()
                with contextlib.suppress(BaseException):
                    await task  # type: ignore[misc]  # narrowed to a Future just above
        return self.listed

    async def _count_expected(self, bound: int, *, everything: bool) -> int | None:
        """Cloud's approximate count of what this pull will read, asked only when it reads everything (a
        first import or a full sync: an incremental run is too short to need an estimate). Never fails
        the sync: without it, progress simply has no total."""
        if not everything or self.ctx.flavor != "cloud":
            return None
        try:
            return await self.io.client.approximate_count(bounded_jql(self.ctx.conn.jql, bound))
        except JiraError:
            return None

    def _read_state(self, read: Callable[[Any, str, str], Any]) -> Any:
        with self.io.db.session() as s:
            return read(s, self.ctx.name, ISSUES_SCOPE)

    def _search(self, bound: int, *, exact: bool = False, fields: Sequence[str] | None = None) -> Any:
        """The search's pages (an async generator: closed by the caller as soon as it has read enough)."""
        jql = bounded_jql(self.ctx.conn.jql, bound, until_ms=bound if exact else None)
        return self.io.client.search_pages(
            jql, fields=list(fields or self.ctx.jira_fields), page_size=self.ctx.conn.page_size
        )

    async def _first_page(self, bound: int) -> Any:
        """The first page of a fresh search from ``bound``."""
        pages = self._search(bound)
        try:
            return await anext(pages, None)
        finally:
            await pages.aclose()

    async def _drain_tie_group(self, tie: int) -> None:
        """Read every issue whose ``updated`` is exactly ``tie``, by offset within that group. An edit during
        the pass moves the edited issue out of the group and shifts the offsets, so an issue not read yet
        may slip into a page already read: the pass is confirmed, reading each issue in full only once.
        On Server/DC the pass confirms itself when every page counted the same group (``total``), every
        member was read, and no issue can join the group any more (``tie`` is in Jira's past). Otherwise a
        pass asking only for keys confirms it; when that finds an issue not read, the group is read in full
        again (an edit also moves the edited issue out of the group, so passes converge)."""
        seen_in_group = {k for k, t in self.listed.items() if t == tie}
        settled_before = self.io.clock.now_ms() - SETTLED_MS
        for _pass in range(TIE_PASSES):
            steady = await self._read_group(tie, seen_in_group)
            if steady and tie < settled_before:
                return
            if not await self._unread_in_group(tie, seen_in_group):
                return

    async def _read_group(self, tie: int, seen_in_group: set[str]) -> bool:
        """One pass over the group in full, each page applied. Whether the pass was steady: every page
        counted the same group (Server's ``total``) and every issue of it was read, still in the group."""
        totals: set[int | None] = set()
        in_group: set[str] = set()
        async with contextlib.aclosing(_ahead(self._search(tie, exact=True))) as pages:
            async for page in pages:
                times = _times(page.issues)
                totals.add(page.total)
                in_group.update(k for k, t in times.items() if t == tie)
                seen_in_group.update(k for k, t in times.items() if t == tie)
                await self._apply(page.issues, self._note(page.issues, times))
        return len(totals) == 1 and None not in totals and totals == {len(in_group)}

    async def _unread_in_group(self, tie: int, seen_in_group: set[str]) -> set[str]:
        """Keys in the group now that no pass has read: the group listed with keys and ``updated`` only."""
        missed: set[str] = set()
        pages = self._search(tie, exact=True, fields=KEYS_ONLY)
        try:
            async for page in pages:
                missed.update(
                    k for k, t in _times(page.issues).items() if t == tie and k not in seen_in_group
                )
        finally:
            await pages.aclose()
        return missed

    def _note(self, issues: Sequence[Mapping[str, Any]], times: Mapping[str, int | None]) -> frozenset[str]:
        """Record a page's keys, times and ids as read; returns the keys that have no row (a first import's
        keys read for the first time, under an id not read either), which need no look-up."""
        ids = _ids(issues)
        unseen: frozenset[str] = frozenset()
        if self.first_import:
            unseen = frozenset(
                k for k in times if k not in self.listed and (k not in ids or ids[k] not in self.read_ids)
            )
        self.listed.update(times)
        self.ids.update(ids)
        self.read_ids.update(ids.values())
        return unseen

    async def _apply(self, issues: list[Any], unseen: frozenset[str] = frozenset()) -> None:
        mode = ApplyMode(allow_equal=self.reapply, unseen=unseen)
        again = [i for i in issues if self.settled.get(_key(i)) == i]
        fresh = [i for i in issues if self.settled.get(_key(i)) != i] if again else issues
        result = ApplyResult()
        if fresh:
            result = await asyncio.to_thread(apply_page, self.io, self.ctx, fresh, mode)
        for raw in again:  # counted as applying them would have: duplicates of what this pull just stored
            result.saw(_key(raw), updated_of(raw))
            result.skipped += 1
            result.statuses[_key(raw)] = "duplicate"
        self.settled = {_key(i): i for i in issues if result.statuses.get(_key(i)) in SETTLED}
        self.report.pages += 1
        self.report.add_applied(result, self.io.emit)
        if self.report.created >= self.next_analyze:
            self.next_analyze = self.report.created * 5
            await asyncio.to_thread(si.refresh_statistics, self.io.db)
        elapsed_ms = int((time.monotonic() - self.started) * 1000)
        progress = self.report.progressed(read=len(self.listed), total=self.expected, elapsed_ms=elapsed_ms)
        self.io.emit(progress)
        await self.on_page()
