"""Boards and sprints: the boards of the synced projects with all their sprints through the Agile API (part
of a full sync), and the sprint names and states that come along in every issue's sprint field (kept current
from each page without extra requests)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from jira_console.jira.client import together
from jira_console.jira.sprintfield import parse_sprint_value
from jira_console.store import issues as si
from jira_console.store import sprints as sprint_rows
from jira_console.sync import estimation
from jira_console.sync.context import SyncContext, SyncIO


def _when(value: Any) -> datetime | None:
    """An Agile API date (ISO text) as an aware datetime; None when absent or unreadable."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def store_sprint(session: Session, connection: str, sprint: Any, board_id: int | None) -> None:
    """Create or update a sprint (an Agile API sprint or a sprint reference from an issue field)."""
    sprint_rows.upsert_sprint(
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


def store_sprint_refs(
    session: Session,
    ctx: SyncContext,
    written: dict[int, tuple[Any, ...]],
    raws: Sequence[Mapping[str, Any]],
) -> None:
    """Keep the sprints table current from the sprint field of a page of issues, in the page's own
    transaction. ``written`` remembers what was stored per sprint: the same few sprints appear on every
    page, and a sprint is written only when what we know of it changed."""
    sprint_field = ctx.discovered.get("sprint")
    if not sprint_field:
        return
    refs = {}
    for raw in raws:
        for ref in parse_sprint_value((raw.get("fields") or {}).get(sprint_field)):
            refs[ref.id] = ref
    for ref in refs.values():
        seen = (ref.name, ref.state, ref.board_id, ref.goal, ref.start_date, ref.end_date, ref.complete_date)
        if written.get(ref.id) == seen:
            continue
        store_sprint(session, ctx.name, ref, ref.board_id)
        written[ref.id] = seen


BOARDS_AT_ONCE = 4
"""Boards whose sprints and estimation are read at the same time (each board's two reads go together)."""


async def sync_boards_and_sprints(
    io: SyncIO, ctx: SyncContext, project_keys: Sequence[str] | None = None
) -> int:
    """Boards of the synced projects (given, configured, or those of the stored issues) and all their
    sprints; returns how many sprints were stored."""
    keys = list(project_keys or ctx.conn.project_keys or [])
    if not keys:
        keys = await asyncio.to_thread(_stored_projects, io, ctx)
    boards: dict[int, Any] = {}
    for found in await together(io.client.boards(project) for project in keys):
        for board in found:
            boards.setdefault(board.id, board)
    gate = asyncio.Semaphore(BOARDS_AT_ONCE)

    async def read(board: Any) -> tuple[Any, list[Any], str | None]:
        async with gate:
            # Team-managed boards are ``simple`` and have sprints too; kanban boards have none.
            scrum = board.type in (None, "scrum", "simple")
            sprints, field_id = await together(
                [io.client.sprints(board.id) if scrum else _no_sprints(),
                 estimation.configured_field(io.client, board.id)]
            )  # fmt: skip
            return board, list(sprints), field_id

    count = 0
    for board, sprints, field_id in await together(read(board) for board in boards.values()):
        count += await asyncio.to_thread(_store_board, io, ctx, board, sprints, field_id)
    return count


async def _no_sprints() -> list[Any]:
    return []


def _stored_projects(io: SyncIO, ctx: SyncContext) -> list[str]:
    with io.db.session() as s:
        return si.project_keys(s, ctx.name)


def _store_board(
    io: SyncIO, ctx: SyncContext, board: Any, sprints: Sequence[Any], estimation_field: str | None
) -> int:
    with io.db.session(write=True) as s:
        values = {"name": board.name, "type": board.type, "project_key": board.project_key}
        sprint_rows.upsert_board(s, ctx.name, board.id, values | {"estimation_field": estimation_field})
        for sprint in sprints:
            store_sprint(s, ctx.name, sprint, board.id)
    return len(sprints)
