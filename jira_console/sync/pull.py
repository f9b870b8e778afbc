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
current one is written.

A pull that reads everything (a first import, a full sync) of :data:`STREAM_MIN` issues or more reads
:data:`STREAMS` ranges of ``updated`` at once, each by key set as above: while one stream waits for Jira's
answer, another's page is written. The newest range's stream, once its search runs out, waits for the older
ranges and then searches on from where it stopped, so an issue edited meanwhile (which moves to the newest
range) is read as it would be by one stream. A tie group larger than a page is read in a stream of its own
while its range searches on past it. The watermark moves with the oldest range's pages (until it meets a tie
group), and to the newest version read once every stream is done. As a pull creates issues (a first
import), PostgreSQL's statistics are refreshed at a few sizes, so the per-page look-ups stay index searches
while the table grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jira_console.jira.client import settle, together
from jira_console.jira.errors import JiraError
from jira_console.store import issues as si
from jira_console.store import state as st
from jira_console.sync.apply import ApplyMode, ApplyResult, updated_of
from jira_console.sync.context import ISSUES_SCOPE, SyncContext, SyncIO
from jira_console.sync.jql import EPOCH_FLOOR_MS, bounded_jql, newest_first_jql
from jira_console.sync.page import SETTLED, apply_page, checkpoint
from jira_console.sync.report import SyncReport

TIE_PASSES = 5
KEYS_ONLY = ("key",)
"""The fields of a pass that only confirms which issues a tie group holds: the key alone, for which Cloud
serves its largest pages (up to :data:`KEYS_PAGE`)."""
KEYS_PAGE = 5_000
"""The page size asked for by that pass (Jira clamps it to what it serves, and the client reads that back)."""
SETTLED_MS = 60_000
"""How far in Jira's past a tie must be for no issue to join its group any more (an edit stamps Jira's
current time)."""


STREAMS = 4
"""Key-set streams a pull that reads everything (a first import, a full sync) runs at once, each over its own
range of ``updated``: one stream's next request waits for Jira's answer to its last, the others' do not."""
STREAM_MIN = 2_000
"""Issues (as Server counts them, or Cloud estimates) below which a pull reads in one stream."""

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


async def _given(value: Any) -> Any:
    return value


async def _ahead(pages: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
    """The pages of a search, each next one requested while the caller works on the current one."""
    pending: asyncio.Future[Any] = asyncio.ensure_future(anext(pages, None))
    try:
        while (page := await pending) is not None:
            pending = asyncio.ensure_future(anext(pages, None))
            yield page
    finally:
        await settle(pending)
        await pages.aclose()


@dataclass
class _Stream:
    """One key-set stream of a pull: the ``updated`` range it reads (``hi`` None: up to the newest) and what
    its pages leave behind."""

    lo: int
    hi: int | None = None
    checkpoint: bool = True
    """Its pages move the watermark (the oldest range's do; the others' only once every range is read)."""
    after: asyncio.Event | None = None
    """For the newest range of several: the older ranges' end. Once its search runs out it waits for them,
    then searches on from where it was: an issue edited while the older ranges were read has moved here."""
    settled: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    """The versions of the page applied last that are in the store as read: a key-set page reads the
    previous page's last issue or two again, and the same version read again needs no applying (not even
    a look-up of its row) to be a duplicate."""
    newest: int | None = None
    keys_at_newest: list[str] = field(default_factory=list)


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
        self.reapply = False
        self.started = time.monotonic()
        self.expected: int | None = None
        """How many issues this pull expects to read (for progress), None when unknown."""
        self.next_analyze = ANALYZE_FIRST
        self.applying = asyncio.Lock()
        """One page written at a time, whichever stream read it."""
        self.streams: list[_Stream] = []
        """Every stream of a pull of several (ranges and the tie groups drained beside them); empty for a
        pull of one stream, which drains a tie group before it searches on."""

    async def run(self, *, full: bool = False) -> dict[str, int | None]:
        """Pull from the watermark, or everything when ``full``. Returns every key seen with its ``updated``
        (after a full pull: the whole scope)."""
        # A full pull reads everything but skips versions already stored; after a mapping change every
        # version is applied again (``reapply``), since the new field's values were never read.
        self.reapply = await asyncio.to_thread(self._read_state, st.reapply_pending)
        self.first_import = not await asyncio.to_thread(self._read_state, _holds_issues)
        watermark = None if full or self.reapply else await asyncio.to_thread(self._read_state, st.watermark)
        bound = EPOCH_FLOOR_MS if watermark is None else watermark - self.ctx.conn.overlap_seconds * 1000
        everything = watermark is None
        self.started = time.monotonic()
        first = asyncio.ensure_future(self._first_page(bound))
        counting = asyncio.ensure_future(self._count_expected(bound, everything=everything))
        top = asyncio.ensure_future(self._newest_time(bound) if everything else _none())
        try:
            page = await first
            estimate = await counting
            if page is None:
                return self.listed
            # The first page's ``total`` (Server) is exact for this run; else Cloud's estimate.
            self.expected = page.total if page.total is not None else estimate
            splits = self._splits(page, await top)
        finally:
            await settle(first, counting, top)
        if not splits:
            await self._stream(_Stream(bound), page)
        else:
            await self._streams(bound, splits, page)
        return self.listed

    def _splits(self, first: Any, top: int | None) -> list[int]:
        """Where the ranges of :data:`STREAMS` streams meet (none: one stream), evenly in time from the end
        of the first page to the newest ``updated``; only for a pull of :data:`STREAM_MIN` issues or more."""
        start = _next_bound(first.issues)
        if first.is_last or top is None or start is None or (self.expected or 0) < STREAM_MIN or top <= start:
            return []
        return sorted({start + (top - start) * n // STREAMS for n in range(1, STREAMS)} - {start, top})

    async def _streams(self, bound: int, splits: list[int], first: Any) -> None:
        """The ranges read at once, the oldest starting with ``first``; the watermark moves with the oldest
        range's pages, and to the newest version read once every range is read."""
        edges = [bound, *(s + 1 for s in splits)]
        older = [_Stream(lo, hi, checkpoint=lo == bound) for lo, hi in zip(edges, splits, strict=False)]
        newest = _Stream(edges[-1], None, checkpoint=False, after=asyncio.Event())
        self.streams.extend([*older, newest])

        async def older_ranges() -> None:
            await together([self._stream(older[0], first), *(self._stream(s) for s in older[1:])])
            assert newest.after is not None
            newest.after.set()

        await together([older_ranges(), self._stream(newest)])
        read = [s for s in self.streams if s.newest is not None]
        if read:
            latest = max(read, key=lambda s: s.newest or 0)
            await asyncio.to_thread(checkpoint, self.io, self.ctx, latest.newest, latest.keys_at_newest)

    async def _stream(self, s: _Stream, first: Any = None) -> None:
        """Read ``s``'s range page by page by key set (see the module docstring), each next page requested
        while the current one is written."""
        bound = s.lo
        pending: asyncio.Future[Any] = asyncio.ensure_future(
            _given(first) if first is not None else self._first_page(bound, s.hi)
        )
        drains: list[asyncio.Future[None]] = []
        try:
            while (page := await pending) is not None:
                for drain in drains:
                    if drain.done():
                        drain.result()  # a tie group that failed stops the stream now
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
                    pending = asyncio.ensure_future(self._first_page(bound, s.hi))
                await self._apply(page.issues, s, unseen)
                if tie_group:
                    bound = newest if whole_tie and newest is not None else bound
                    if self.streams:
                        drains.append(self._drain_beside(bound, s))
                    else:
                        await self._drain_tie_group(bound, s)
                    bound += 1
                    more = s.hi is None or bound <= s.hi
                    pending = asyncio.ensure_future(self._first_page(bound, s.hi) if more else _none())
                elif page.is_last and s.after is not None:
                    await s.after.wait()
                    s.after = None
                    bound = max(bound, newest or bound)
                    pending = asyncio.ensure_future(self._first_page(bound, s.hi))
            await together(drains)
        finally:
            await settle(pending, *drains)

    def _drain_beside(self, tie: int, s: _Stream) -> asyncio.Future[None]:
        """Drain the tie group at ``tie`` in a stream of its own while ``s`` searches on from ``tie + 1`` (a
        group is read page by page, so a large one would otherwise hold up its range). ``s`` no longer
        moves the watermark: it must not pass the group before the group is read; the pull's last
        checkpoint, once every stream is read, covers both."""
        side = _Stream(tie, tie, checkpoint=False)
        self.streams.append(side)
        s.checkpoint = False
        return asyncio.ensure_future(self._drain_tie_group(tie, side))

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

    def _search(
        self, bound: int, until: int | None = None, *, exact: bool = False, keys_only: bool = False
    ) -> Any:
        """The search's pages (an async generator: closed by the caller as soon as it has read enough)."""
        jql = bounded_jql(self.ctx.conn.jql, bound, until_ms=bound if exact else until)
        if keys_only:
            return self.io.client.search_pages(jql, fields=list(KEYS_ONLY), page_size=KEYS_PAGE)
        return self.io.client.search_pages(
            jql, fields=list(self.ctx.jira_fields), page_size=self.ctx.conn.page_size
        )

    async def _first_page(self, bound: int, until: int | None = None) -> Any:
        """The first page of a fresh search from ``bound`` (to ``until``)."""
        pages = self._search(bound, until)
        try:
            return await anext(pages, None)
        finally:
            await pages.aclose()

    async def _newest_time(self, bound: int) -> int | None:
        """The newest ``updated`` in scope from ``bound`` (None when unknown: the pull runs one stream)."""
        jql = newest_first_jql(self.ctx.conn.jql, bound)
        pages: Any = self.io.client.search_pages(jql, fields=["updated"], page_size=1)
        try:
            page = await anext(pages, None)
        except JiraError:
            return None
        finally:
            await pages.aclose()
        return updated_of(page.issues[0]) if page is not None and page.issues else None

    async def _drain_tie_group(self, tie: int, s: _Stream) -> None:
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
            steady = await self._read_group(tie, seen_in_group, s)
            if steady and tie < settled_before:
                return
            if not await self._unread_in_group(tie, seen_in_group):
                return

    async def _read_group(self, tie: int, seen_in_group: set[str], s: _Stream) -> bool:
        """One pass over the group in full, each page applied. Whether the pass was steady: every page
        counted the same group (Server's ``total``) and every issue of it was read, still in the group."""
        totals: set[int | None] = set()
        in_group: set[str] = set()
        async with contextlib.aclosing(_ahead(self._search(tie, exact=True))) as pages:
            async for page in pages:
                times = _times(page.issues)
                totals.add(page.total)
                in_group.update(k for k, t in times.items() if t == tie)
                # Read in full, in the group or not (an issue edited since the index placed it there).
                seen_in_group.update(times)
                await self._apply(page.issues, s, self._note(page.issues, times))
        return len(totals) == 1 and None not in totals and totals == {len(in_group)}

    async def _unread_in_group(self, tie: int, seen_in_group: set[str]) -> set[str]:
        """Keys in the group now that no pass has read: the group listed by key alone."""
        missed: set[str] = set()
        pages = self._search(tie, exact=True, keys_only=True)
        try:
            async for page in pages:
                missed.update(k for k in map(_key, page.issues) if k not in seen_in_group)
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

    async def _apply(self, issues: list[Any], s: _Stream, unseen: frozenset[str] = frozenset()) -> None:
        mode = ApplyMode(allow_equal=self.reapply, unseen=unseen)
        again = [i for i in issues if s.settled.get(_key(i)) == i]
        fresh = [i for i in issues if s.settled.get(_key(i)) != i] if again else issues
        result = ApplyResult()
        async with self.applying:
            if fresh:
                result = await asyncio.to_thread(
                    apply_page, self.io, self.ctx, fresh, mode, checkpoint=s.checkpoint
                )
        for raw in again:  # counted as applying them would have: duplicates of what this pull just stored
            result.saw(_key(raw), updated_of(raw))
            result.skipped += 1
            result.statuses[_key(raw)] = "duplicate"
        s.settled = {_key(i): i for i in issues if result.statuses.get(_key(i)) in SETTLED}
        if result.max_updated_ms is not None and (s.newest is None or result.max_updated_ms >= s.newest):
            s.newest, s.keys_at_newest = result.max_updated_ms, list(result.keys_at_max)
        self.report.pages += 1
        self.report.add_applied(result, self.io.emit)
        if self.report.created >= self.next_analyze:
            self.next_analyze = self.report.created * 5
            await asyncio.to_thread(si.refresh_statistics, self.io.db)
        elapsed_ms = int((time.monotonic() - self.started) * 1000)
        progress = self.report.progressed(read=len(self.listed), total=self.expected, elapsed_ms=elapsed_ms)
        self.io.emit(progress)
        await self.on_page()
