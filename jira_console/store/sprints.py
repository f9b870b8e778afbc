"""Sprints and boards: the sync's writes (``upsert_*``) and the reads behind ``sprints list`` and
``issues list --sprint``.

An issue names its sprint by Jira's sprint id (``issues.sprint_id``), never by the ``sprints`` row's own id:
a host program can set it before the sprint has been read. Every function takes an open
:class:`~sqlalchemy.orm.Session` (the caller owns the transaction) and returns records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import tables as t
from jira_console.store.repo import dialect_insert
from jira_console.store.tables import utcnow

_S = t.sprints.c
_I = t.issues.c
_B = t.boards.c


def upsert_sprint(session: Session, connection: str, jira_id: int, values: Mapping[str, Any]) -> None:
    """Create or update a sprint by its Jira id."""
    data = {
        **values,
        "connection": connection,
        "jira_id": jira_id,
        "synced_at": values.get("synced_at") or utcnow(),
    }
    stmt = dialect_insert(session, t.sprints).values(**data)
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection", "jira_id"], set_={k: stmt.excluded[k] for k in data if k != "jira_id"}
    )
    session.execute(stmt)


def upsert_board(session: Session, connection: str, jira_id: int, values: Mapping[str, Any]) -> None:
    """Create or update a board by its Jira id."""
    data = {**values, "connection": connection, "jira_id": jira_id}
    stmt = dialect_insert(session, t.boards).values(**data)
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection", "jira_id"], set_={k: stmt.excluded[k] for k in data if k != "jira_id"}
    )
    session.execute(stmt)


def list_sprints(
    session: Session, connection: str, *, board_jira_id: int | None = None, state: str | None = None
) -> list[cv.SprintRecord]:
    """Sprints of a connection, optionally of one board and/or state, by start date."""
    stmt = select(t.sprints).where(_S.connection == connection)
    if board_jira_id is not None:
        stmt = stmt.where(_S.board_jira_id == board_jira_id)
    if state is not None:
        stmt = stmt.where(_S.state == state)
    stmt = stmt.order_by(_S.start_date, _S.jira_id)
    return [cv.sprint_record(r) for r in session.execute(stmt)]


@dataclass(frozen=True)
class SprintSummary:
    """A sprint and what the local copy holds of it (issues not deleted in Jira)."""

    sprint: cv.SprintRecord
    issues: int
    done: int
    """Issues whose status, as Jira last gave it, is in the done category."""
    points: float | None
    """The sum of their story points (None when none has any)."""


def sprint_summaries(
    session: Session,
    connection: str | None = None,
    *,
    state: str | None = None,
    board_jira_id: int | None = None,
) -> list[SprintSummary]:
    """Sprints (of one connection, or all), each with its issue count, done count and story points; by
    connection, then start date (sprints not started last), then Jira id."""
    category = _I.raw["fields"]["status"]["statusCategory"]["key"].as_string()
    per_sprint = (
        select(
            _I.connection,
            _I.sprint_id,
            func.count().label("issues"),
            func.sum(case((category == "done", 1), else_=0)).label("done"),
            func.sum(_I.story_points).label("points"),
        )
        .where(_I.deleted.is_(False), _I.sprint_id.is_not(None))
        .group_by(_I.connection, _I.sprint_id)
        .subquery()
    )
    stmt = select(t.sprints, per_sprint.c.issues, per_sprint.c.done, per_sprint.c.points).outerjoin(
        per_sprint, and_(per_sprint.c.connection == _S.connection, per_sprint.c.sprint_id == _S.jira_id)
    )
    if connection is not None:
        stmt = stmt.where(_S.connection == connection)
    if state is not None:
        stmt = stmt.where(func.lower(_S.state) == state.lower())
    if board_jira_id is not None:
        stmt = stmt.where(_S.board_jira_id == board_jira_id)
    not_started = case((_S.start_date.is_(None), 1), else_=0)
    stmt = stmt.order_by(_S.connection, not_started, _S.start_date, _S.jira_id)
    out = []
    for row in session.execute(stmt):
        sprint = cv.sprint_record(row)
        points = row.points
        out.append(SprintSummary(sprint, int(row.issues or 0), int(row.done or 0), points))
    return out


def find_sprints(session: Session, ident: str, connection: str | None = None) -> list[cv.SprintRecord]:
    """The sprints ``ident`` names: its Jira id when it is a number, else its name (any case), of one
    connection or all; several when the name is not unique."""
    stmt = select(t.sprints)
    text = ident.strip()
    if text.isdigit():
        stmt = stmt.where(_S.jira_id == int(text))
    else:
        stmt = stmt.where(func.lower(_S.name) == text.lower())
    if connection is not None:
        stmt = stmt.where(_S.connection == connection)
    return [cv.sprint_record(r) for r in session.execute(stmt.order_by(_S.connection, _S.jira_id))]


def board_names(session: Session, sprints: Iterable[cv.SprintRecord]) -> dict[tuple[str, int], str | None]:
    """(connection, board Jira id) -> the board's name, for the boards of ``sprints`` the store has read."""
    wanted = {(x.connection, x.board_jira_id) for x in sprints if x.board_jira_id is not None}
    if not wanted:
        return {}
    stmt = select(_B.connection, _B.jira_id, _B.name).where(
        _B.connection.in_({conn for conn, _ in wanted}), _B.jira_id.in_({board for _, board in wanted})
    )
    return {(conn, board): name for conn, board, name in session.execute(stmt) if (conn, board) in wanted}


def with_sprint_id(session: Session, connection: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Local changes with a ``sprint_id`` given by name resolved (see :func:`named_sprint_id`)."""
    if "sprint_id" not in changes:
        return dict(changes)
    return {**changes, "sprint_id": named_sprint_id(session, connection, changes["sprint_id"])}


def named_sprint_id(session: Session, connection: str, value: Any) -> Any:
    """``value`` for ``issues.sprint_id`` with a sprint's name (any case) or id given as text turned into its
    Jira id; any other value as given. Raises ValueError when the name names no sprint of ``connection``, or
    several."""
    if not isinstance(value, str) or not value.strip():
        return value
    found = find_sprints(session, value, connection)
    if len(found) == 1:
        return found[0].jira_id
    if value.strip().isdigit():
        return int(value)  # an id the store has not read yet: the push says whether Jira knows it
    if not found:
        raise ValueError(f"no sprint named {value!r} in {connection} (sprints list shows them)")
    ids = ", ".join(str(s.jira_id) for s in found)
    raise ValueError(f"{value!r} names {len(found)} sprints of {connection} ({ids}): give the id")


__all__ = [
    "SprintSummary",
    "board_names",
    "find_sprints",
    "list_sprints",
    "named_sprint_id",
    "sprint_summaries",
    "with_sprint_id",
    "upsert_board",
    "upsert_sprint",
]
