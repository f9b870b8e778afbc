"""A group of issues sharing one ``updated`` (a bulk import) larger than a page: each issue of it is read in
full once, and an edit made while the group is read hides no other issue of it.

The group is read by offset within ``updated = T``. Before, a second full pass confirmed that no issue had
slipped into an offset already read; now the confirmation asks only for keys (Cloud), or is not needed when
every page of the pass counted the same group and all of it was read (Server's ``total``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from jira_console.simulator import render, routes_search

FLAVORS = ["cloud", "server"]
PAGE = 10
GROUP = 45
TIE_MS = 1_700_000_000_000  # long past: no issue can join the group any more


class _Renders:
    """Stands in for the ``render`` module inside the search routes: counts each issue rendered with more
    than its key and ``updated``, and (``edit_after``) edits the first issue of the group once that many
    issues of the group have been rendered in full, as a colleague's edit between two pages of the group."""

    def __init__(self, edit_after: int | None = None) -> None:
        self.full: Counter[str] = Counter()
        self.edit_after = edit_after
        self.edited: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(render, name)

    def issue_json(self, site: Any, issue: Any, base: str, v: str, wanted: Any, *args: Any, **kw: Any) -> Any:
        if wanted is None or set(wanted) - {"updated", "key", "id"}:
            self.full[issue.key] += 1
        out = render.issue_json(site, issue, base, v, wanted, *args, **kw)
        tied = sum(n for k, n in self.full.items() if site.issues[k].updated == TIE_MS)
        if self.edit_after is not None and self.edited is None and tied >= self.edit_after:
            first = min(
                (i for i in site.issues.values() if i.updated == TIE_MS), key=lambda i: (i.project, i.number)
            )
            site.commit(first, {"summary": f"{first.summary} (edited while the group is read)"}, "other")
            self.edited = first.key
        return out


def _tie(rig: Any) -> list[str]:
    """Put GROUP issues of the site at the same ``updated``, older than every other one."""
    site = rig.sim.site
    keys = sorted(site.issues, key=lambda k: (site.issues[k].project, site.issues[k].number))[:GROUP]
    with site.lock:
        for key in keys:
            site._reindex(site.issues[key], TIE_MS)
    return keys


def _missing(rig: Any) -> list[str]:
    from jira_console.store import repo

    with rig.db.session() as s:
        return [k for k in sorted(rig.sim.site.issues) if repo.get_issue(s, rig.engine.conn.name, k) is None]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_each_issue_of_a_tie_group_is_read_in_full_once(
    rig_factory, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    rig = await rig_factory(flavor, issues=60, max_page_size=PAGE, tie_fraction=0.0)
    group = _tie(rig)
    renders = _Renders()
    monkeypatch.setattr(routes_search, "render", renders)
    await rig.engine.run(full=True)
    assert _missing(rig) == []
    # Only the main pass's pages that met the group are read again by the group's own pass (before, a
    # second full pass read the whole group again).
    assert sum(renders.full[k] for k in group) <= GROUP + 2 * PAGE, renders.full


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_edit_while_a_tie_group_is_read_hides_no_issue_of_it(
    rig_factory, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    rig = await rig_factory(flavor, issues=60, max_page_size=PAGE, tie_fraction=0.0)
    _tie(rig)
    # The main pass reads the group's first page, the group's pass its first page again: the edit comes
    # after that, so the group shifts by one under the pass.
    renders = _Renders(edit_after=2 * PAGE)
    monkeypatch.setattr(routes_search, "render", renders)
    await rig.engine.run(full=True)
    assert renders.edited is not None
    assert _missing(rig) == []
    await rig.engine.run()
    edited = rig.sim.issue(renders.edited)["summary"]
    assert rig.local(renders.edited)["summary"] == edited
