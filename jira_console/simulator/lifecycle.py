"""What real sites do to issues besides editing them, for the simulator: an issue moved to another project
(same id, new key, ``updated`` moves, a changelog names the key and the project), a project key renamed (every
issue of it gets a new key, ``updated`` stays, no issue event), old keys that keep resolving, ``issueErrors``
in bulk fetches for chosen ids, and a site clock that can step.

A :class:`Lifecycle` hangs off each :class:`~jira_console.simulator.state.Site` (``site.lifecycle``); the
site consults it to find issues by old keys and to tell the time.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import TYPE_CHECKING, Any

from jira_console.simulator.model import History

if TYPE_CHECKING:
    from jira_console.simulator.model import Issue
    from jira_console.simulator.state import Site


class Lifecycle:
    """Moves, key renames, issue errors and the clock of one site. Mutations take the site's lock."""

    def __init__(self, site: Site | None = None) -> None:
        self.site = site
        self.aliases: dict[str, int] = {}
        """Old key -> issue id (Jira keeps answering to the keys an issue had)."""
        self.issue_error_ids: set[str] = set()
        """Ids (or keys) that bulk fetches answer with an ``issueErrors`` entry instead of the issue."""
        self.clock_offset_ms = 0
        """Added to the host's clock: the site's clock (``updated``, ``serverTime``)."""
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ clock
    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def step_clock(self, delta_ms: int) -> None:
        """Jira's clock jumps by ``delta_ms`` (negative: back, as after an NTP correction)."""
        with self._lock:
            self.clock_offset_ms += delta_ms

    # ----------------------------------------------------------- issue errors
    def set_issue_errors(self, ids_or_keys: set[str]) -> None:
        """Bulk fetches answer these with ``issueErrors`` (a retriable failure) until changed."""
        with self._lock:
            self.issue_error_ids = {str(i) for i in ids_or_keys}

    def fails(self, issue: Issue) -> bool:
        return str(issue.id) in self.issue_error_ids or issue.key in self.issue_error_ids

    def current_key(self, key: str) -> str:
        """The key an issue has now for a key it had (JQL ``key = OLD-1`` finds the moved issue)."""
        key = key.upper()
        issue_id = self.aliases.get(key)
        if issue_id is None or self.site is None:
            return key
        issue = self.site.issue_by_id(str(issue_id))
        return issue.key if issue is not None else key

    def alias(self, site: Site, key: str) -> Issue | None:
        """The issue an old key names now, or None."""
        issue_id = self.aliases.get(key.upper())
        return site.issue_by_id(str(issue_id)) if issue_id is not None else None


def _rekey(site: Site, issue: Issue, project: str, number: int) -> str:
    """Give ``issue`` a new key in ``project`` (index, lookups, children's parent links); returns the old."""
    old = issue.key
    row = (issue.updated, issue.project, issue.number, issue.key)
    pos = bisect.bisect_left(site._index, row)
    if pos < len(site._index) and site._index[pos] == row:
        del site._index[pos]
    del site.issues[old]
    issue.project, issue.number, issue.key = project, number, f"{project}-{number}"
    site.issues[issue.key] = issue
    bisect.insort(site._index, (issue.updated, issue.project, issue.number, issue.key))
    site.lifecycle.aliases[old] = issue.id
    site.lifecycle.aliases.pop(issue.key, None)
    for other in site.issues.values():
        if other.parent == old:
            other.parent = issue.key
    return old


def move_issue(site: Site, key: str, project: str, by: str) -> str:
    """Move an issue to another project: a new key there, ``updated`` bumped, a changelog entry naming the
    key and project, and an ``issue_moved`` update event. Returns the new key."""
    with site.lock:
        issue = site.find(key)
        if issue is None:
            raise KeyError(key)
        project = project.upper()
        if project not in site.projects:
            raise KeyError(project)
        if project == issue.project:
            return issue.key
        old_project = issue.project
        number = site._next_number[project]
        site._next_number[project] += 1
        old = _rekey(site, issue, project, number)
        now = site.lifecycle.now_ms()
        items: list[dict[str, Any]] = [
            {"field": "Key", "fieldtype": "jira", "fieldId": "issuekey", "from": None, "fromString": old,
             "to": None, "toString": issue.key},
            {"field": "project", "fieldtype": "jira", "fieldId": "project", "from": None,
             "fromString": old_project, "to": None, "toString": project},
        ]  # fmt: skip
        history = History(site._next_history, by, now, items)
        site._next_history += 1
        issue.changelog.append(history)
        site._reindex(issue, now)
        site._emit(
            "jira:issue_updated",
            {"issue": issue, "history": history, "user": by, "event_type": "issue_moved"},
        )
        return issue.key


def rename_project(site: Site, old: str, new: str) -> dict[str, str]:
    """Rename a project key: every issue of it gets the new prefix (same number, same id, same ``updated``:
    Jira sends no issue event), boards follow, old keys keep resolving. Returns old key -> new key."""
    with site.lock:
        old, new = old.upper(), new.upper()
        if old not in site.projects or new in site.projects:
            raise KeyError(new if new in site.projects else old)
        site.projects = tuple(new if p == old else p for p in site.projects)
        site._next_number[new] = site._next_number.pop(old)
        renamed: dict[str, str] = {}
        for issue in [i for i in site.issues.values() if i.project == old]:
            prev = _rekey(site, issue, new, issue.number)
            renamed[prev] = issue.key
        for board in site.boards.values():
            if board.project == old:
                board.project = new
        return renamed


def add_project(site: Site, key: str) -> None:
    """A new project (a key freed by a rename may be taken again: Jira allows it)."""
    with site.lock:
        key = key.upper()
        if key in site.projects:
            raise KeyError(key)
        site.projects = (*site.projects, key)
        site._next_number[key] = 1
