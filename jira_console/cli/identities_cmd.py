"""``jira-console identities``: the identity table the ``user`` mapping step reads (Jira user <-> the host
program's person): list it with the people nobody mapped yet, set one row, import a CSV file, and match
(by e-mail where Jira shows it; display-name matches are proposals until confirmed with --accept)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from jira_console.cli.common import EXIT_USAGE, emit_json, fail, friendly_errors, state, with_engine
from jira_console.cli.safe_text import echo

if TYPE_CHECKING:
    from jira_console.facade import Engine
    from jira_console.mapping.people import MatchResult

app = typer.Typer(help="Who is who: Jira users linked to your own people.", no_args_is_help=True)

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CONN_OPT = typer.Option(None, "--connection", "-C", help="Connection name (default: the only one).")


def _connection(name: str | None) -> str:
    with friendly_errors():
        return state.config().settings.connection(name).name
    raise AssertionError("unreachable")


def _text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text: {exc}", EXIT_USAGE)


@app.command("list")
def list_cmd(
    connection: str | None = CONN_OPT,
    unresolved: bool = typer.Option(False, "--unresolved", help="Only the people nobody mapped yet."),
    as_csv: bool = typer.Option(False, "--csv", help="The table as CSV, as `identities import` reads it."),
    as_json: bool = JSON_OPT,
) -> None:
    """The identity table, then the people the issues name whom it does not resolve."""
    conn = _connection(connection)
    if as_csv:

        async def table(engine: Engine) -> list[Any]:
            return engine.identities(conn)

        from jira_console.mapping.people import to_csv  # the CLI starts without the mapping package

        echo(to_csv(with_engine(table, attach=True)), nl=False)
        return

    async def work(engine: Engine) -> tuple[list[Any], list[Any]]:
        rows = [] if unresolved else engine.identities(conn)
        return rows, engine.unresolved_people(conn)

    rows, pending = with_engine(work, attach=True)
    if as_json:
        emit_json({"identities": [asdict(r) for r in rows], "unresolved": [asdict(p) for p in pending]})
        return
    for r in rows:
        echo(f"{r.jira_user:<44} {r.email or '-':<28} {r.internal_id or '-':<14} {r.display_name or ''}")
    if not unresolved:
        echo(f"{len(rows)} identities")
    for p in pending:
        echo(f"unresolved: {p.jira_user} ({p.display_name or 'no name'}, {p.email or 'e-mail hidden'})")
    if pending:
        echo(f"{len(pending)} unresolved: `identities match` or `identities set JIRA_USER --email ...`")


@app.command("set")
def set_cmd(
    jira_user: str = typer.Argument(..., help="accountId (Cloud) or user name (Server/DC)."),
    email: str | None = typer.Option(None, "--email"),
    internal_id: str | None = typer.Option(None, "--id", help="Your program's id for this person."),
    display_name: str | None = typer.Option(None, "--name", help="Display name (for people reading lists)."),
    connection: str | None = CONN_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Link one Jira user to an e-mail and/or your own id (only the values given are changed)."""
    conn = _connection(connection)

    async def work(engine: Engine) -> Any:
        try:
            return await engine.set_identity(
                conn, jira_user, email=email, internal_id=internal_id, display_name=display_name
            )
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)

    record = with_engine(work, attach=True)
    if as_json:
        emit_json(asdict(record))
        return
    echo(f"{record.jira_user}: {record.email or '-'} {record.internal_id or '-'} {record.display_name or ''}")


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV: jira_user,email,internal_id,display_name"
    ),
    connection: str | None = CONN_OPT,
) -> None:
    """Store every row of a CSV file (all or nothing)."""
    conn = _connection(connection)
    text = _text(file)

    async def work(engine: Engine) -> int:
        try:
            return await engine.import_identities(conn, text)
        except ValueError as exc:
            fail(f"{file}: {exc}", EXIT_USAGE)

    echo(f"{with_engine(work, attach=True)} identities stored")


@app.command("match")
def match_cmd(
    people: Path | None = typer.Option(
        None,
        "--people",
        exists=True,
        dir_okay=False,
        help="CSV of your people: internal_id,email,display_name",
    ),
    accept: bool = typer.Option(
        False, "--accept", help="Store the display-name proposals listed (confirmed)."
    ),
    connection: str | None = CONN_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Match the unresolved people: by e-mail where Jira shows it (stored), else propose the person of
    --people with the same display name (stored only with --accept). Nobody is guessed."""
    conn = _connection(connection)
    text = _text(people) if people is not None else None

    async def work(engine: Engine) -> MatchResult:
        try:
            return await engine.match_identities(conn, text, accept_proposals=accept)
        except ValueError as exc:
            fail(f"{people}: {exc}", EXIT_USAGE)

    result = with_engine(work, attach=None)
    if as_json:
        emit_json(
            {
                "by_email": [
                    {"jira": asdict(p), "local": asdict(lp) if lp else None} for p, lp in result.by_email
                ],
                "proposals": [{"jira": asdict(p), "local": asdict(lp)} for p, lp in result.proposals],
                "accepted": accept,
                "unresolved": [asdict(p) for p in result.unresolved],
            }
        )
        return
    for p, lp in result.by_email:
        who = f" = {lp.internal_id}" if lp else ""
        echo(f"matched by e-mail: {p.display_name or p.jira_user} <{p.email}>{who}")
    for p, lp in result.proposals:
        verb = "stored" if accept else "proposed"
        echo(
            f"{verb} by display name: {p.display_name} ({p.jira_user}) = {lp.internal_id} <{lp.email or '-'}>"
        )
    for p in result.unresolved:
        echo(f"still unresolved: {p.display_name or '?'} ({p.jira_user})")
    if result.proposals and not accept:
        echo("check the proposals, then run again with --accept (or `identities set` one by one)")


def register(root: typer.Typer) -> None:
    """Add the ``identities`` group to the root app."""
    root.add_typer(app, name="identities")
