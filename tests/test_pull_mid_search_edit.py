"""An issue edited while Jira renders a search page must not hide the issues after it.

Jira orders a search by its index and renders each issue as it is at that moment, so the last issue of a
page can carry an ``updated`` newer than its place in the order. The pull takes a page's newest
``updated`` as the next key-set bound made it skip every issue between the two: found by
the loaded run of ``test_ties_and_edits_during_paging_are_not_missed`` (issue 10), reproduced here without
any timing by editing the page's last issue just before it is rendered.
"""

from __future__ import annotations

from typing import Any

import pytest

from jira_console.simulator import render, routes_search

FLAVORS = ["cloud", "server"]
PAGE = 10


class _EditsLastIssueOfFirstPage:
    """Stands in for the ``render`` module inside the search routes: just before the last issue of the first
    page is rendered, a colleague edits it (the site's lock is re-entrant, as for any edit in flight)."""

    def __init__(self) -> None:
        self.rendered = 0
        self.edited: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(render, name)

    def issue_json(self, site: Any, issue: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.rendered += 1
        if self.rendered == PAGE and self.edited is None:
            site.commit(issue, {"summary": f"{issue.summary} (edited mid-search)"}, "other")
            self.edited = issue.key
        return render.issue_json(site, issue, *args, **kwargs)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_issue_edited_while_its_page_renders_hides_no_other_issue(
    rig_factory, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    rig = await rig_factory(flavor, issues=60, max_page_size=PAGE, tie_fraction=0.0)
    editor = _EditsLastIssueOfFirstPage()
    monkeypatch.setattr(routes_search, "render", editor)
    await rig.engine.run(full=True)
    assert editor.edited is not None  # the edit really happened inside the first page
    await rig.engine.run()
    from jira_console.store import repo

    with rig.db.session() as s:
        missing = [
            k for k in sorted(rig.sim.site.issues) if repo.get_issue(s, rig.engine.conn.name, k) is None
        ]
    assert missing == []
