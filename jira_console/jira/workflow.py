"""Status writes that plan before they move.

Jira changes a status only through transitions, and shows only those of an issue's current status. To plan the
whole path before the first move, the planner reads the statuses the issue's project allows for its type (with
their categories), the issue's own transitions, and, for each status a path would pass through, the
transitions of another issue of the same project and type sitting in that status (same workflow). Only reads
happen until a complete path is known; then it is walked. An unknown or unreachable status moves nothing and
says which statuses can be reached. A path never passes through a status of a category the target does not
need: a detour through Done (resolution set, people notified) is refused unless the target is done itself.
A transition whose screen needs a field Jira has no default for says so, and nothing moves.

One planner serves a whole push: the statuses of a project's type and the transitions out of each status
it learnt (from another issue sitting there, or from an issue that arrived there) are remembered, so a
hundred issues moved to Done read the workflow once, not a hundred times. An issue's own transitions from
where it stands are always read from that issue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jira_console.jira.client import JiraClient
from jira_console.jira.errors import JiraBadRequest
from jira_console.jira.models import Transition
from jira_console.logs import get_logger

log = get_logger(__name__)

CATEGORY_RANK = {"new": 0, "indeterminate": 1, "done": 2}
MAX_EXPANDED = 12
"""Statuses whose transitions are read at most while planning one move."""


class StatusPlanError(JiraBadRequest):
    """No acceptable path to the wanted status; nothing was moved."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(400, "POST", f"issue/{key}/transitions", [message])


@dataclass(frozen=True)
class StatusPlan:
    """The transitions to apply, in order (empty: the issue is already there)."""

    key: str
    start: str
    target: str
    steps: tuple[Transition, ...]
    partial: bool = False
    """The steps end at a status whose way on is not known yet (no other issue sits there to read its
    transitions from): walk them, then plan again from there."""

    @property
    def path(self) -> list[str]:
        return [self.start, *(t.to_status for t in self.steps)]


@dataclass(frozen=True)
class _Goal:
    """Where one issue should go, and the statuses its workflow has."""

    key: str
    project: str
    issuetype: str
    target: str
    category: str | None
    known: dict[str, tuple[str, str | None]]


def _fold(name: str) -> str:
    return name.strip().casefold()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class WorkflowPlanner:
    """Plans and walks status changes for one client (see the module docs)."""

    def __init__(self, client: JiraClient) -> None:
        self.http = client
        self._statuses: dict[tuple[str, str], dict[str, tuple[str, str | None]]] = {}
        self._edges: dict[tuple[str, str, str], list[Transition]] = {}
        """(project, issue type, casefolded status) -> the transitions out of that status, as learnt."""

    async def _issue(self, key: str) -> tuple[str, str, str]:
        data = await self.http.get_issue(key, fields=["status", "project", "issuetype"])
        fields = data.get("fields") or {}
        status = str((fields.get("status") or {}).get("name") or "")
        project = str((fields.get("project") or {}).get("key") or "")
        issuetype = str((fields.get("issuetype") or {}).get("name") or "")
        return status, project, issuetype

    async def statuses(self, project: str, issuetype: str) -> dict[str, tuple[str, str | None]]:
        """casefolded name -> (name, category key) of the statuses ``issuetype`` may have in ``project``."""
        known = self._statuses.get((project, issuetype))
        if known is None:
            known = self._statuses[(project, issuetype)] = await self._read_statuses(project, issuetype)
        return known

    async def _read_statuses(self, project: str, issuetype: str) -> dict[str, tuple[str, str | None]]:
        await self.http.ensure_flavor()
        resp = await self.http.request("GET", f"{self.http.api}/project/{project}/statuses")
        out: dict[str, tuple[str, str | None]] = {}
        for entry in resp.json() or []:
            if issuetype and _fold(str(entry.get("name") or "")) != _fold(issuetype):
                continue
            for status in entry.get("statuses") or []:
                name = str(status.get("name") or "")
                out[_fold(name)] = (name, (status.get("statusCategory") or {}).get("key"))
        return out

    async def _sample_transitions(
        self, project: str, issuetype: str, status: str, exclude: str
    ) -> list[Transition] | None:
        """The transitions out of ``status`` in this workflow, read from another issue sitting there."""
        jql = (
            f"project = {_quote(project)} AND issuetype = {_quote(issuetype)} AND status = {_quote(status)} "
            f"AND key != {_quote(exclude)} ORDER BY key ASC"
        )
        found = await self.http.search(jql, fields=["status"], limit=1)
        if not found:
            return None
        return list(await self.http.transitions(str(found[0]["key"])))

    async def plan(self, key: str, target: str) -> StatusPlan:
        """The path from the issue's status to ``target``, found by reading only; raises
        :class:`StatusPlanError` when there is none worth taking."""
        current, project, issuetype = await self._issue(key)
        if _fold(current) == _fold(target):
            return StatusPlan(key, current, target, ())
        known = await self.statuses(project, issuetype)
        if _fold(target) not in known:
            choices = ", ".join(sorted(name for name, _ in known.values())) or "none listed"
            raise StatusPlanError(
                key, f"status {target!r} does not exist for {issuetype} in {project}; its statuses: {choices}"
            )
        wanted, category = known[_fold(target)]
        own = list(await self.http.transitions(key))
        self._edges.setdefault((project, issuetype, _fold(current)), own)  # a sample for the next issue
        edges: dict[str, list[Transition]] = {_fold(current): own}
        goal = _Goal(key, project, issuetype, wanted, category, known)
        steps, frontier = await self._search(goal, current, edges)
        if steps is None and frontier is not None:
            return StatusPlan(key, current, frontier[-1].to_status, tuple(frontier), partial=True)
        if steps is None:
            reachable = sorted({t.to_status for ts in edges.values() for t in ts} - {current})
            raise StatusPlanError(key, _unreachable(wanted, current, reachable))
        for step in steps:
            _check_screen(key, step)
        return StatusPlan(key, current, wanted, tuple(steps))

    async def _search(
        self, g: _Goal, current: str, edges: dict[str, list[Transition]]
    ) -> tuple[list[Transition] | None, list[Transition] | None]:
        """Breadth-first over the workflow, reading each status's transitions only when reached. Statuses of
        the done category are passed through only on the way to a done status. Returns the path, or (when
        there is none) the path to the nearest status whose transitions could not be read."""
        goal = _fold(g.target)
        frontier: list[Transition] | None = None
        queue: deque[tuple[str, list[Transition]]] = deque([(current, [])])
        seen = {_fold(current)}
        expanded = 0
        while queue:
            status, path = queue.popleft()
            here = _fold(status)
            learnt = self._edges.get((g.project, g.issuetype, here))
            if here not in edges and learnt is not None:
                edges[here] = learnt
            elif here not in edges:
                if expanded >= MAX_EXPANDED:
                    continue
                expanded += 1
                sampled = await self._sample_transitions(g.project, g.issuetype, status, g.key)
                if sampled is None and frontier is None and path:
                    frontier = path  # nothing sits there to read from: the way on is learnt by going
                if sampled is not None:
                    self._edges[(g.project, g.issuetype, here)] = sampled
                edges[here] = sampled or []
            for t in edges[here]:
                step = _fold(t.to_status)
                if step == goal:
                    return [*path, t], None
                step_category = t.to_category or (g.known.get(step) or ("", None))[1]
                if step in seen or (step_category == "done" and g.category != "done"):
                    continue
                seen.add(step)
                queue.append((t.to_status, [*path, t]))
        return None, frontier

    async def walk(self, plan: StatusPlan, on_step: Any = None) -> None:
        """Apply the planned transitions in order (each one's failure stops the walk there)."""
        for step in plan.steps:
            await self.http.transition(plan.key, step.id)
            if on_step is not None:
                on_step(step)


def describe(steps: Sequence[Transition]) -> str:
    return " -> ".join(t.to_status for t in steps)


def _unreachable(wanted: str, current: str, reachable: list[str]) -> str:
    return (
        f"status {wanted!r} cannot be reached from {current!r} without passing through a status of another "
        f"category (a detour through Done); reachable from here: {', '.join(reachable) or 'none'}"
    )


def _check_screen(key: str, step: Transition) -> None:
    """A transition whose screen needs a field Jira has no default for cannot be made by the sync."""
    missing = [
        str(meta.get("name") or fid)
        for fid, meta in step.fields.items()
        if isinstance(meta, dict) and meta.get("required") and not meta.get("hasDefaultValue")
    ]
    if missing:
        raise StatusPlanError(
            key,
            f"transition {step.name!r} to {step.to_status!r} needs {', '.join(missing)}, which the sync does "
            "not set: move the issue in Jira, or map the field",
        )
