"""A pull that reads everything reads several ranges of ``updated`` at once (:mod:`jira_console.sync.pull`):
every issue is stored, the watermark ends at the newest version read, and an issue edited while the older
ranges are still being read (after the newest range's search ran out) is read by the same pull, not left for
the next one; a range that fails stops the pull with the watermark where the oldest range left it, and the
next run reads the rest. A tie group larger than a page is read beside the rest of its range, and one that
fails leaves the watermark no further than the group.

The site: ``OLD`` issues one second apart, and one issue far newer, so that the ranges split evenly in time
put every old issue in the oldest range and the newest range holds one issue: its search runs out at once,
while the oldest range still has pages to read.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from jira_console.simulator import routes_search
from jira_console.simulator.http import JiraHTTPError
from jira_console.store import state as st
from jira_console.sync import pull
from jira_console.sync.context import ISSUES_SCOPE
from jira_console.sync.jql import EPOCH_FLOOR_MS

FLAVORS = ["cloud", "server"]
PAGE = 10
OLD = 60
T0 = 1_700_000_000_000
NEWEST = T0 + 10_000_000
TIE = T0 + 10_000


def _spread(rig: Any, tie: int = 0) -> list[str]:
    """OLD issues at T0, T0 + 1 s, ...; the last one far newer. With ``tie``, that many issues from the
    11th on share :data:`TIE` instead. Returns the keys oldest first."""
    site = rig.sim.site
    keys = sorted(site.issues, key=lambda k: (site.issues[k].project, site.issues[k].number))
    with site.lock:
        for n, key in enumerate(keys[:OLD]):
            site._reindex(site.issues[key], TIE if 10 <= n < 10 + tie else T0 + n * 1000)
        site._reindex(site.issues[keys[OLD]], NEWEST)
    return keys


class _Searches:
    """Stands in for the search routes' JQL parsing and search: records each ascending search's bounds and,
    with ``edit``, edits the last issue of the oldest range once the newest range's search has run out
    (a colleague's edit that moves an issue the oldest range has not read yet to the newest range)."""

    def __init__(self, sim: Any, *, edit: bool = False, fail_middle: bool = False) -> None:
        self.sim = sim
        self.edit = edit
        self.fail_middle = fail_middle
        """Answer the first search of a middle range (above every old issue, bounded above) with an error."""
        self.texts: dict[int, str] = {}
        self.ranges: set[tuple[int, int | None]] = set()
        self.newest_ran_out = False
        self.edited: str | None = None
        self.order: list[tuple[int, int | None]] = []
        """The bounds of every ascending search, in the order they were answered."""
        self._parse, self._run = routes_search._parse_jql, routes_search._run_search

    def parse(self, text: str) -> Any:
        query = self._parse(text)
        self.texts[id(query)] = text
        return query

    def run(self, sim: Any, query: Any, **options: Any) -> list[Any]:
        matched = self._run(sim, query, **options)
        text = self.texts.get(id(query), "")
        low = re.search(r"updated >= (\d+)", text)
        high = re.search(r"updated <= (\d+)", text)
        if "ORDER BY updated ASC" not in text or low is None:
            return matched
        lo, hi = int(low.group(1)), int(high.group(1)) if high else None
        self.order.append((lo, hi))
        if hi is not None and hi == lo:
            return matched  # a tie group's own search
        self.ranges.add((lo, hi))
        if self.fail_middle and hi is not None and lo > T0 + OLD * 1000:
            self.fail_middle = False
            raise JiraHTTPError(400, ["The search failed (the test's fault)."])
        if hi is None and lo > EPOCH_FLOOR_MS and len(matched) <= PAGE:
            self.newest_ran_out = True
        elif (
            hi is not None
            and self.edit
            and self.newest_ran_out
            and self.edited is None
            and len(matched) > PAGE
        ):
            last = matched[-1]
            sim.site.commit(
                last, {"summary": f"{last.summary} (edited while older ranges are read)"}, "other"
            )
            self.edited = last.key
        return matched


def _stored(rig: Any) -> dict[str, Any]:
    """Key -> summary of every live issue row of the connection."""
    query = text("SELECT key, summary FROM issues WHERE connection = :c AND deleted = :no")
    with rig.db.session() as s:
        return {key: summary for key, summary in s.execute(query, {"c": rig.engine.conn.name, "no": False})}


async def _watched(
    rig_factory: Any, monkeypatch: pytest.MonkeyPatch, flavor: str, *, tie: int = 0, **faults: bool
) -> tuple[Any, _Searches]:
    """The spread site, its searches watched, and a store that reads in ranges from its 30th issue."""
    rig = await rig_factory(flavor, issues=OLD + 1, max_page_size=PAGE, tie_fraction=0.0)
    _spread(rig, tie)
    searches = _Searches(rig.sim, **faults)
    monkeypatch.setattr(routes_search, "_parse_jql", searches.parse)
    monkeypatch.setattr(routes_search, "_run_search", searches.run)
    monkeypatch.setattr(pull, "STREAM_MIN", OLD // 2)
    return rig, searches


async def _full_sync(
    rig_factory: Any, monkeypatch: pytest.MonkeyPatch, flavor: str, *, edit: bool
) -> tuple[Any, _Searches]:
    """A first import (a full sync into an empty store) of the spread site."""
    rig, searches = await _watched(rig_factory, monkeypatch, flavor, edit=edit)
    report = await rig.engine.run(full=True)
    assert report.status == "ok", report.errors
    return rig, searches


def _every_issue_stored_up_to_the_newest(rig: Any) -> None:
    assert set(_stored(rig)) == set(rig.sim.site.issues)
    assert _watermark(rig) == NEWEST


async def _next_run_reads_the_rest(rig: Any) -> None:
    report = await rig.engine.run()
    assert report.status == "ok", report.errors
    _every_issue_stored_up_to_the_newest(rig)


def _watermark(rig: Any) -> int | None:
    with rig.db.session() as s:
        return st.watermark(s, rig.engine.conn.name, ISSUES_SCOPE)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_first_import_reads_ranges_at_once_and_ends_at_the_newest_version(
    rig_factory: Any, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    rig, searches = await _full_sync(rig_factory, monkeypatch, flavor, edit=False)
    # The first page, the oldest range's key-set pages (bounded above), and the other ranges' searches.
    bounded = {r for r in searches.ranges if r[1] is not None}
    assert len({hi for _, hi in bounded}) == pull.STREAMS - 1, searches.ranges
    stored = _stored(rig)
    assert set(stored) == set(rig.sim.site.issues)
    assert stored == {k: rig.sim.issue(k)["summary"] for k in stored}
    assert _watermark(rig) == NEWEST


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_edit_while_older_ranges_are_read_is_read_by_the_same_pull(
    rig_factory: Any, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    rig, searches = await _full_sync(rig_factory, monkeypatch, flavor, edit=True)
    assert searches.edited is not None, "the newest range's search never ran out before the oldest range's"
    edited = rig.sim.issue(searches.edited)
    assert edited["updated"] > NEWEST
    # Read by this pull (the newest range searched again once the older ranges were read), not left for
    # the next run: stored with the edit, and the watermark at the edit.
    assert _stored(rig)[searches.edited] == edited["summary"]
    assert _watermark(rig) == edited["updated"]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_range_that_fails_stops_the_pull_and_the_next_run_reads_what_is_left(
    rig_factory: Any, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    rig, searches = await _watched(rig_factory, monkeypatch, flavor, fail_middle=True)
    with pytest.raises(Exception, match="the test's fault"):
        await rig.engine.run(full=True)
    # The watermark did not move past what the oldest range had read: not to the newest issue, which another
    # range may or may not have read before the failure stopped it.
    assert searches.fail_middle is False
    assert (_watermark(rig) or 0) < T0 + OLD * 1000
    await _next_run_reads_the_rest(rig)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_tie_group_is_read_beside_the_rest_of_its_range(
    rig_factory: Any, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    # A group of four pages in the oldest range: its range searches on past it while the group is read.
    rig, searches = await _watched(rig_factory, monkeypatch, flavor, tie=4 * PAGE - 5)
    report = await rig.engine.run(full=True)
    assert report.status == "ok", report.errors
    group = [n for n, (lo, hi) in enumerate(searches.order) if lo == hi == TIE]
    past = [n for n, (lo, hi) in enumerate(searches.order) if lo == TIE + 1 and hi is not None]
    assert len(group) >= 4 and past, searches.order
    assert past[0] < group[-1], searches.order
    _every_issue_stored_up_to_the_newest(rig)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_tie_group_that_fails_keeps_the_watermark_from_passing_it(
    rig_factory: Any, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    rig, searches = await _watched(rig_factory, monkeypatch, flavor, tie=4 * PAGE - 5)
    run = searches.run
    failed: list[int] = []

    def fail_group(sim: Any, query: Any, **options: Any) -> list[Any]:
        matched = run(sim, query, **options)
        if searches.order and searches.order[-1] == (TIE, TIE) and not failed:
            failed.append(len(searches.order))
            raise JiraHTTPError(400, ["The tie group's search failed (the test's fault)."])
        return matched

    monkeypatch.setattr(routes_search, "_run_search", fail_group)
    with pytest.raises(Exception, match="the test's fault"):
        await rig.engine.run(full=True)
    # Its range may have searched on past the group meanwhile, but the watermark did not pass the group (a
    # search from it reads the whole group again).
    assert failed and (_watermark(rig) or 0) <= TIE
    await _next_run_reads_the_rest(rig)
