"""``sprints list``: the sprints the local copy holds, each with its issues, done issues and story points,
read straight from the store like ``issues list`` (no engine, no Jira)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from jira_console.cli import output as out
from jira_console.cli.common import EXIT_NOT_FOUND, EXIT_USAGE, emit_json, fail, none_found, stored_connection
from jira_console.cli.safe_text import echo
from jira_console.cli.store_reader import read_store

if TYPE_CHECKING:
    from jira_console.store.converters import SprintRecord
    from jira_console.store.db import Database
    from jira_console.store.sprints import SprintSummary

STATES = ("active", "future", "closed")


def _day(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment is not None else None


def sprint_view(summary: SprintSummary) -> dict[str, Any]:
    """The stable JSON shape of a sprint for scripts."""
    s = summary.sprint
    return {
        "connection": s.connection,
        "id": s.jira_id,
        "name": s.name,
        "state": s.state,
        "board": s.board_jira_id,
        "goal": s.goal,
        "start": s.start_date.isoformat() if s.start_date else None,
        "end": s.end_date.isoformat() if s.end_date else None,
        "complete": s.complete_date.isoformat() if s.complete_date else None,
        "issues": summary.issues,
        "done": summary.done,
        "points": summary.points,
    }


def _points(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def sprints_list(
    connection: str | None = typer.Option(None, "--connection", "-C", help="Connection name (default: all)."),
    state_: str | None = typer.Option(
        None, "--state", help="Only sprints in this state: active, future, closed."
    ),
    board: int | None = typer.Option(None, "--board", help="Only sprints of this board (its Jira id)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Sprints in the local database, oldest first (not started last), with their issues (not deleted), how
    many of them Jira has as done, and their story points. ``issues list --sprint ID`` lists a sprint's
    issues."""
    from jira_console.store import sprints as store_sprints

    if state_ is not None and state_.lower() not in STATES:
        fail(f"--state takes one of {', '.join(STATES)}, not {state_!r}", EXIT_USAGE)

    def work(db: Database) -> list[SprintSummary]:
        stored_connection(connection, db)
        with db.session() as s:
            return store_sprints.sprint_summaries(s, connection, state=state_, board_jira_id=board)

    summaries = read_store(work)
    if as_json:
        emit_json([sprint_view(x) for x in summaries])
        return
    if not summaries:
        filtered = state_ is not None or board is not None
        echo(none_found("sprints", connection, filtered, " in the local database (a sync reads them)"))
        return
    several = len({x.sprint.connection for x in summaries}) > 1
    table = [("id", "state", "name", "start", "end", "issues", "done", "points", "board")]
    for x in summaries:
        s = x.sprint
        table.append((
            (f"{s.connection}:" if several else "") + str(s.jira_id), out.text(s.state), out.text(s.name),
            _day(s.start_date) or "-", _day(s.end_date) or "-", str(x.issues), str(x.done), _points(x.points),
            out.text(s.board_jira_id),
        ))  # fmt: skip
    for line in out.rows(table):
        echo(line)


def resolve_sprint(db: Database, ident: str, connection: str | None) -> tuple[str, int]:
    """The connection and Jira id of the one sprint ``ident`` names (an id or a name), or a usage error that
    says what it names instead."""
    from jira_console.store import sprints as store_sprints

    with db.session() as s:
        found: list[SprintRecord] = store_sprints.find_sprints(s, ident, connection)
        boards = store_sprints.board_names(s, found[:LISTED]) if len(found) > 1 else {}
    if not found:
        where = f" of {connection}" if connection else ""
        fail(f"no sprint {ident!r}{where} in the local database (sprints list shows them)", EXIT_NOT_FOUND)
    if len(found) > 1:
        fail(_several(ident, found, boards), EXIT_USAGE)
    return found[0].connection, found[0].jira_id


LISTED = 10
"""How many of the sprints an ambiguous ``--sprint`` names are listed in its refusal."""


def _several(ident: str, found: list[SprintRecord], boards: dict[tuple[str, int], str | None]) -> str:
    """The refusal of a ``--sprint`` that names several sprints: each (connection, id, board, state), one a
    line, and what tells them apart (the id within a connection, --connection between connections)."""
    connections = [x.connection for x in found]
    hint = [
        *(["give its id"] if len(set(connections)) < len(connections) else []),
        *(["pass --connection"] if len(set(connections)) > 1 else []),
    ]
    lines = [f"{ident!r} names {len(found)} sprints ({' and '.join(hint)}):"]
    for x in found[:LISTED]:
        board = "no board"
        if x.board_jira_id is not None:
            name = boards.get((x.connection, x.board_jira_id))
            board = f"board {x.board_jira_id}" + (f" ({name})" if name else "")
        lines.append(f"{x.connection} {x.jira_id}: {board}, {out.text(x.state)}")
    if len(found) > LISTED:
        lines.append(f"and {len(found) - LISTED} more (sprints list shows them)")
    return "\n  ".join(lines)


def register(app: typer.Typer) -> None:
    """Add the ``sprints`` group to the root app."""
    sprints = typer.Typer(help="Read the local copy of sprints.", no_args_is_help=True)
    sprints.command("list")(sprints_list)
    app.add_typer(sprints, name="sprints")


__all__ = ["register", "resolve_sprint", "sprint_view"]
