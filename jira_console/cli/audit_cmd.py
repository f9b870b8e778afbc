"""``audit``: the append-only log of changes to either side, and ``audit undo`` (dry run by default,
``--apply`` to write), through the engine facade."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer

from jira_console.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    configured_connection,
    emit_json,
    fail,
    issue_key,
    none_found,
    stored_connection,
    with_engine,
)
from jira_console.cli.safe_text import echo

if TYPE_CHECKING:
    from jira_console.facade import Engine
    from jira_console.facade.undo import UndoResult

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CONN_OPT = typer.Option(None, "--connection", "-C", help="Connection name (default: all).")
_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A moment given as ISO 8601 (UTC unless it says otherwise) or as a span back from now (``90m``,
    ``2h``, ``1d``)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r} is neither an ISO 8601 time (2026-03-01T09:30) nor a span (90m, 2h, 1d)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _value(value: Any) -> str:
    # JSON escapes control characters: a value from Jira cannot drive the terminal.
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(engine: Engine, rows: list[Any]) -> dict[str, Any]:
    """Per connection, the names of the people and sprints the lines' values are."""
    from jira_console.facade import names_wanted

    wanted = names_wanted((a.connection, a.field, v) for a in rows for v in (a.old, a.new))
    return {conn: engine.known_names(conn, people, ids) for conn, (people, ids) in wanted.items()}


def _named(field: str | None, value: Any, known: Any) -> str:
    """A value as :func:`_value` gives it, with the name of the person or sprint it is when known."""
    name = known.name_of(field, value) if known is not None else None
    return _value(value) + (f" ({_value(name)})" if name else "")


def audit(
    ctx: typer.Context,
    *,
    key: str | None = typer.Option(None, "--key", help="Only this issue.", callback=issue_key),
    run: int | None = typer.Option(None, "--run", help="Only lines of this run (a sync, push or undo)."),
    side: str | None = typer.Option(None, "--side", help="Only lines written to jira or local."),
    field: str | None = typer.Option(None, "--field", help="Only this field."),
    connection: str | None = CONN_OPT,
    limit: int = typer.Option(100, "--limit", min=1),
    as_json: bool = JSON_OPT,
) -> None:
    """The append-only log of changes applied to either side, newest first (``audit undo`` reverses)."""
    if ctx.invoked_subcommand is not None:
        return
    from jira_console.facade.undo import AuditQuery

    if side is not None and side not in ("jira", "local"):
        fail(f"--side must be jira or local, not {side!r}", EXIT_USAGE)
    query = AuditQuery(key, run, side, field, connection, limit=limit)

    async def work(engine: Engine) -> Any:
        stored_connection(connection, engine.db)
        rows = engine.audit_log(query)
        return rows, {} if as_json else _names(engine, rows)

    rows, names = with_engine(work, attach=True, read_only=True)
    if as_json:
        emit_json([asdict(a) for a in rows])
        return
    if not rows:
        filtered = key is not None or run is not None or side is not None or field is not None
        echo(none_found("audit lines", connection, filtered, " yet (a sync writes them)"))
    for a in rows:
        cause = f"{a.cause} {a.run_id or a.event_id or ''}".strip() if a.cause else "-"
        undo = f", undo of #{a.undo_of}" if a.undo_of else ""
        # A line about the whole issue (imported, deleted, moved) carries no values: its reason says it all.
        whole = a.field is None and a.old is None and a.new is None
        known = names.get(a.connection)
        old_value, new_value = _named(a.field, a.old, known), _named(a.field, a.new, known)
        change = "" if whole else f"{a.field or '*'} {old_value} -> {new_value} "
        echo(
            f"#{a.id} {a.at:%Y-%m-%d %H:%M:%S} {a.connection} {a.issue_key or '-'} -> {a.side}: "
            f"{change}({a.reason}; {cause}{undo})"
        )


def undo(
    entries: list[int] = typer.Argument(None, help="Audit entry ids (see `audit`)."),
    *,
    run: int | None = typer.Option(None, "--run", help="Undo every line of this run (see `audit`)."),
    key: str | None = typer.Option(
        None, "--key", help="Undo this issue's changes (with --since).", callback=issue_key
    ),
    since: str | None = typer.Option(None, "--since", help="ISO 8601 time, or a span back: 90m, 2h, 1d."),
    connection: str | None = CONN_OPT,
    apply: bool = typer.Option(False, "--apply", help="Write the reverse changes (default: dry run)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Reverse audited changes: show what would be written where, and with --apply write it through the
    same compare-before-write as any local change (a value changed since becomes a conflict)."""
    from jira_console.facade.undo import UndoSelection
    from jira_console.sync.undo import UndoError

    configured_connection(connection)
    try:
        moment = parse_since(since) if since is not None else None
        selection = UndoSelection(tuple(entries or ()), run, key, moment, connection)
        selection.check()
    except (ValueError, UndoError) as exc:
        fail(str(exc), EXIT_USAGE)

    async def work(engine: Engine) -> UndoResult:
        return await engine.undo(selection, apply=apply, actor="cli")

    result = with_engine(work, attach=True if not apply else None)
    if as_json:
        emit_json({**asdict(result), "steps": [s.to_json() for s in result.steps]})
    else:
        print_result(result)
    if any(s.action == "failed" for s in result.steps):
        raise typer.Exit(EXIT_FAILURE)


def runs(
    connection: str | None = CONN_OPT,
    limit: int = typer.Option(20, "--limit", min=1),
    all_: bool = typer.Option(False, "--all", help="Runs that changed nothing too."),
    as_json: bool = JSON_OPT,
) -> None:
    """The runs that wrote (syncs, pushes, undos), newest first, with how many changes each made: the ids
    ``audit --run`` and ``audit undo --run`` take."""

    async def work(engine: Engine) -> Any:
        stored_connection(connection, engine.db)
        return engine.sync_runs(connection, limit, changed_only=not all_)

    found = with_engine(work, attach=True, read_only=True)
    if as_json:
        emit_json([asdict(r) | {"changes": n} for r, n in found])
        return
    for r, n in found:
        kind = "full sync" if r.kind == "sync" and r.full else r.kind
        note = f" -- {r.note}" if r.note else ""
        changes = f"{n} change{'s' if n != 1 else ''}" if n else "no change"
        when = f"{r.started_at:%Y-%m-%d %H:%M:%S}"
        echo(f"run {r.id} {when} {r.connection} {kind}: {r.status}, {changes}{note}")
    if not found:
        echo(none_found("runs", connection, False, " that changed anything" if not all_ else " yet"))


_GROUPED = frozenset({"refused", "skip"})
_ALIKE_LISTED = 3
"""Steps of one action and reason listed before the rest are counted (text output)."""


def print_result(result: UndoResult) -> None:
    counts = ", ".join(f"{n} {a}" for a, n in sorted(result.counts().items()))
    head = "undone" if result.applied else "dry run"
    if result.applied and result.count("failed"):  # never "undone" while a step did not happen
        head = "partly undone" if result.count("undone") else "not undone"
    runs = f" as run {', '.join(str(r) for r in result.run_ids)}" if result.run_ids else ""
    echo(f"{head}: {result.selection}{runs} -- {counts or 'nothing'}")
    # Steps that write nothing for one shared reason (the 5,000 lines of a first import, none undoable)
    # are said once past the first few; those that write or fail are all listed. --json lists every one.
    alike = Counter((s.action, s.note) for s in result.steps if s.action in _GROUPED)
    shown: Counter[tuple[str, str | None]] = Counter()
    for s in result.steps:
        group = (s.action, s.note)
        if group in alike and alike[group] > _ALIKE_LISTED:
            shown[group] += 1
            if shown[group] > _ALIKE_LISTED:
                continue
        ids = ",".join(f"#{i}" for i in s.entries)
        note = f" -- {s.note}" if s.note else ""
        echo(
            f"  {ids} {s.connection} {s.issue_key or '-'} {s.field or '*'} -> {s.where}: "
            f"{_value(s.current)} -> {_value(s.value)} [{s.action}]{note}"
        )
    for (action, reason), n in alike.items():
        if n > _ALIKE_LISTED:
            echo(f"  ... and {n - _ALIKE_LISTED} more [{action}]" + (f" -- {reason}" if reason else ""))
    if not result.applied and any(s.action in ("write", "conflict") for s in result.steps):
        echo("nothing was written (dry run); add --apply to write these changes")


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group (listing without a sub-command, ``undo``) to the root app."""
    group = typer.Typer(help="The audit log, and undo from it.", invoke_without_command=True)
    group.callback()(audit)
    group.command("undo")(undo)
    group.command("runs")(runs)
    app.add_typer(group, name="audit")
