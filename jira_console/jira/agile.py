"""Agile 1.0 (boards, sprints, sprint moves) and user lookups, mixed into :class:`JiraClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, TypeVar

from jira_console.jira.http import JiraHttp
from jira_console.jira.models import Board, Sprint

AGILE = "/rest/agile/1.0"
_T = TypeVar("_T")
MOVE_CHUNK = 50
"""Jira accepts at most 50 issues per sprint/backlog move."""
_AGILE_PAGE = 50


def chunks(items: Sequence[_T], size: int) -> Iterable[list[_T]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


class AgileMixin(JiraHttp):
    """Boards, sprints and users."""

    async def _agile_values(self, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        # Agile pages report startAt/maxResults/isLast; advance by what arrived, since maxResults is clamped.
        start = 0
        while True:
            resp = await self.request(
                "GET", path, params={**params, "startAt": start, "maxResults": _AGILE_PAGE}
            )
            data = resp.json()
            values = data.get("values") or []
            for value in values:
                yield value
            start = int(data.get("startAt", start)) + len(values)
            total = data.get("total")
            if not values or data.get("isLast", False) or (total is not None and start >= int(total)):
                return

    async def boards(self, project_key: str | None = None) -> list[Board]:
        """All boards (of one project when ``project_key`` is given)."""
        params: dict[str, Any] = {}
        if project_key:
            params["projectKeyOrId"] = project_key
        return [Board.from_json(v) async for v in self._agile_values(f"{AGILE}/board", params)]

    async def board_configuration(self, board_id: int) -> dict[str, Any]:
        """A board's configuration (``estimation.field.fieldId``: the field its issues are estimated with)."""
        resp = await self.request("GET", f"{AGILE}/board/{int(board_id)}/configuration")
        return dict(resp.json())

    async def sprints(self, board_id: int, states: Sequence[str] | None = None) -> list[Sprint]:
        """The sprints of a board, optionally filtered by state (``future``, ``active``, ``closed``)."""
        params: dict[str, Any] = {}
        if states:
            params["state"] = ",".join(states)
        found = []
        async for value in self._agile_values(f"{AGILE}/board/{int(board_id)}/sprint", params):
            value.setdefault("originBoardId", board_id)
            found.append(Sprint.from_json(value))
        return found

    async def get_sprint(self, sprint_id: int) -> Sprint:
        """One sprint by id."""
        resp = await self.request("GET", f"{AGILE}/sprint/{int(sprint_id)}")
        return Sprint.from_json(resp.json())

    async def move_to_sprint(self, sprint_id: int, keys: Sequence[str]) -> None:
        """Move issues into an open or active sprint, 50 per request."""
        for chunk in chunks(list(keys), MOVE_CHUNK):
            # A move sets membership: repeating it leaves the same state, so it is safe to retry.
            await self.request(
                "POST", f"{AGILE}/sprint/{int(sprint_id)}/issue", json={"issues": chunk}, idempotent=True
            )

    async def move_to_backlog(self, keys: Sequence[str]) -> None:
        """Move issues out of their sprints into the backlog, 50 per request."""
        for chunk in chunks(list(keys), MOVE_CHUNK):
            await self.request("POST", f"{AGILE}/backlog/issue", json={"issues": chunk}, idempotent=True)

    async def user(self, account_id: str | None = None, name: str | None = None) -> dict[str, Any]:
        """A user by ``accountId`` (Cloud) or user name (Server/DC)."""
        flavor = await self.ensure_flavor()
        if flavor == "cloud":
            if not account_id:
                raise ValueError("Jira Cloud looks users up by accountId only (user names were removed)")
            params = {"accountId": account_id}
        else:
            if not name:
                raise ValueError("Jira Server/DC looks users up by user name")
            params = {"username": name}
        resp = await self.request("GET", f"{self.api}/user", params=params)
        return dict(resp.json())
