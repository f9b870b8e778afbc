"""Which field holds an issue's story points: the one its project's board estimates with.

Company-managed boards estimate with the classic "Story Points" field, team-managed (``simple``) ones with
"Story point estimate"; a site has both. The board configuration's ``estimation.field`` says which
(``GET /rest/agile/1.0/board/{id}/configuration``). It is kept on the board's row (``boards.
estimation_field``), read once per connection when no board is stored yet, and refreshed by every full sync
with the boards and sprints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from jira_console.jira import JiraClient
from jira_console.jira.client import together
from jira_console.jira.errors import JiraError
from jira_console.store import models as m
from jira_console.store import sprints as sprint_rows
from jira_console.store.db import Database


def by_project(db: Database, connection: str) -> dict[str, str]:
    """Project key -> the field its board estimates with, from the stored boards (a project with several
    boards: the first one stored that says)."""
    with db.session() as s:
        rows = s.execute(
            select(m.Board.project_key, m.Board.estimation_field)
            .where(m.Board.connection == connection, m.Board.estimation_field.is_not(None))
            .order_by(m.Board.jira_id)
        )
        found: dict[str, str] = {}
        for project, field_id in rows:
            if project and field_id:
                found.setdefault(project, field_id)
    return found


def boards_known(db: Database, connection: str) -> bool:
    with db.session() as s:
        return s.scalar(select(m.Board.id).where(m.Board.connection == connection).limit(1)) is not None


async def configured_field(client: JiraClient, board_id: int) -> str | None:
    """The field a board estimates with; None when it estimates otherwise (issue count, time) or the
    configuration cannot be read (that board then keeps the site's default field)."""
    with contextlib.suppress(JiraError, ValueError, TypeError):
        config: Mapping[str, Any] = await client.board_configuration(board_id)
        estimation = config.get("estimation") or {}
        if estimation.get("type") == "field":
            field_id = (estimation.get("field") or {}).get("fieldId")
            return str(field_id) if field_id else None
    return None


async def _boards_of(client: JiraClient, project: str | None) -> list[Any]:
    with contextlib.suppress(JiraError):
        return list(await client.boards(project))
    return []


async def discover(db: Database, connection: str, client: JiraClient, projects: Iterable[str] = ()) -> None:
    """Read the boards (of ``projects``, else every board the account sees) and how each estimates, and
    store them: done once, before the first sync, so its story points come from the right fields."""
    targets: list[str | None] = [*projects] or [None]
    found = await together(_boards_of(client, project) for project in targets)
    boards = list({b.id: b for listed in found for b in listed}.values())
    rows = list(zip(boards, await together(configured_field(client, b.id) for b in boards), strict=True))
    with db.session(write=True) as s:
        for board, field_id in rows:
            values = {"name": board.name, "type": board.type, "project_key": board.project_key}
            sprint_rows.upsert_board(s, connection, board.id, values | {"estimation_field": field_id})
