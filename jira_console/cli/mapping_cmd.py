"""``jira-console mapping``: list, show, import, export, validate and test field mappings, through the
engine facade (validate and test ask the Jira site, through the connection's client)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from jira_console.cli.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    configured_connection,
    emit_json,
    fail,
    friendly_errors,
    state,
    stored_connection,
    with_engine,
)
from jira_console.cli.safe_text import echo
from jira_console.files import write_private_text

if TYPE_CHECKING:
    from jira_console.facade import Engine, MappingTrial
    from jira_console.mapping import Problem
    from jira_console.mapping.repo import StoredMapping
    from jira_console.store.converters import MappingRecord, MappingVersionRecord

app = typer.Typer(help="Field mappings between Jira fields and the local database.", no_args_is_help=True)

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CONN_OPT = typer.Option(None, "--connection", "-C", help="Connection name (default: the only one).")
SCOPE_OPT = typer.Option(
    None, "--connection", "-C", help="Only the mappings that apply to this connection (default: every one)."
)
OWN_OPT = typer.Option(
    None, "--connection", "-C", help="This connection's own (default: the only mapping of that name)."
)
IMPORT_OPT = typer.Option(
    None, "--connection", "-C", help="Store them all for this connection (default: as the file says)."
)


def _site(name: str | None) -> str:
    """The connection whose Jira site a command asks: the one named, else the only one configured."""
    with friendly_errors():
        return state.config().settings.connection(name).name
    raise AssertionError("unreachable")


def _holder(engine: Engine, key: str) -> str:
    """The connection ``mapping test KEY`` tries without -C: the only one configured, else the one the
    database holds issue ``key`` under."""
    names = [c.name for c in engine.settings.jira]
    if len(names) == 1:
        return names[0]
    choose = f"choose one with --connection ({', '.join(names)})"
    try:
        found = engine.get_issue(key)
    except ValueError:
        fail(f"{key} is stored for several connections; {choose}", EXIT_USAGE)
    if found is None:
        fail(f"{key} is not in the local database, so its connection is not known; {choose}", EXIT_USAGE)
    return found.connection


def _summary(stored: StoredMapping) -> dict[str, Any]:
    d = stored.definition
    return {
        "name": d.name,
        "connection": stored.connection,
        "jira_field": d.field_label(),
        "internal_field": d.internal_field,
        "direction": d.direction,
        "strategy": d.strategy,
        "steps": [s.op for s in d.steps],
        "enabled": stored.enabled,
        "version": stored.version,
    }


def _stored(engine: Engine, connection: str | None) -> list[StoredMapping]:
    """With -C, the mappings that apply to that connection (its own, and the global ones it does not
    override); without, every stored mapping (the global ones, then each connection's own)."""
    conn = stored_connection(connection, engine.db)
    return engine.stored_mappings(conn) if conn is not None else engine.every_mapping()


@app.command("list")
def list_cmd(connection: str | None = SCOPE_OPT, as_json: bool = JSON_OPT) -> None:
    """Every stored mapping, each with its scope (global, or the connection it belongs to); with -C, the
    ones that apply to that connection (its own and the global ones)."""

    async def work(engine: Engine) -> list[StoredMapping]:
        return _stored(engine, connection)

    rows = [_summary(m) for m in with_engine(work, attach=True, read_only=True)]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        echo("no mappings")
    for r in rows:
        scope = r["connection"] or "global"
        echo(
            f"{r['name']:<20} {r['jira_field']:<24} -> {r['internal_field']:<18} {r['direction']:<5} "
            f"v{r['version']} [{scope}]{'' if r['enabled'] else ' (disabled)'}"
        )


@app.command("show")
def show(name: str, connection: str | None = OWN_OPT, as_json: bool = JSON_OPT) -> None:
    """One mapping's definition (as TOML) and its version history (-C: that connection's own, else the global
    one; without, the only mapping of that name)."""
    from jira_console.facade.errors import NotFound, StateConflict

    async def work(engine: Engine) -> tuple[StoredMapping | None, list[MappingVersionRecord], str]:
        conn = stored_connection(connection, engine.db)
        if conn is None:
            try:
                conn = engine.find_mapping(name, None).connection
            except NotFound:
                return None, [], ""
            except StateConflict as exc:
                fail(str(exc), EXIT_USAGE)
        stored = engine.get_mapping(name, conn)
        if stored is None:
            return None, [], ""
        toml = engine.mapping_to_toml(stored.definition.to_data())
        return stored, engine.mapping_history(name, conn), toml

    stored, hist, toml = with_engine(work, attach=True, read_only=True)
    if stored is None:
        fail(f"no mapping named {name!r}", EXIT_NOT_FOUND)
    if as_json:
        emit_json({**_summary(stored), "definition": stored.definition.to_data(), "history": hist})
        return
    echo(toml.rstrip())
    echo("")
    for h in hist:
        echo(f"# v{h.version} {h.changed_at:%Y-%m-%d %H:%M} {h.changed_by or '-'} {h.comment or ''}".rstrip())


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text: {exc}", EXIT_USAGE)


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="TOML file with [[mapping]] tables."),
    connection: str | None = IMPORT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Check a TOML file against the site and store every mapping in it (all or nothing; changes become new
    versions). A field the site lacks is refused with the closest candidates."""
    from jira_console.mapping import MappingDefinitionError

    configured_connection(connection)  # the site it is checked against
    text = _read(file)

    async def work(engine: Engine) -> tuple[list[MappingRecord], list[Problem]]:
        try:
            return await engine.import_checked(text, connection=connection, actor="cli")
        except MappingDefinitionError as exc:
            fail(str(exc), EXIT_USAGE)

    # Attached to a live daemon the field list its syncs stored is used; else this process asks the site.
    records, warnings = with_engine(work, attach=None)
    for p in warnings:  # on stderr, so --json stays the list of stored mappings
        echo(str(p), err=True)
    if as_json:
        emit_json([{"name": r.name, "connection": r.connection, "version": r.version} for r in records])
        return
    for r in records:
        echo(f"{r.name}: v{r.version} [{r.connection or 'global'}]")


def _by_name(name: str, connection: str | None, action: str) -> MappingRecord:
    from jira_console.facade.errors import NotFound, StateConflict

    async def work(engine: Engine) -> MappingRecord:
        stored_connection(connection, engine.db)
        try:
            if action == "delete":
                return await engine.delete_mapping_named(name, connection)
            return await engine.set_mapping_enabled(name, connection, action == "enable")
        except NotFound as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        except StateConflict as exc:
            fail(str(exc), EXIT_USAGE)

    return with_engine(work, attach=True)


def _by_name_done(record: MappingRecord, what: str, as_json: bool) -> None:
    if as_json:
        emit_json(
            {"name": record.name, "connection": record.connection, "version": record.version, what: True}
        )
    else:
        echo(f"{record.name} [{record.connection or 'global'}]: {what}; the next sync applies it")


@app.command("delete")
def delete_cmd(name: str, connection: str | None = OWN_OPT, as_json: bool = JSON_OPT) -> None:
    """Delete a stored mapping and its history (-C: the connection's own; without, the only one so named)."""
    _by_name_done(_by_name(name, connection, "delete"), "deleted", as_json)


@app.command("enable")
def enable_cmd(name: str, connection: str | None = OWN_OPT, as_json: bool = JSON_OPT) -> None:
    """Enable a stored mapping again (the next sync back-fills what it pulls)."""
    _by_name_done(_by_name(name, connection, "enable"), "enabled", as_json)


@app.command("disable")
def disable_cmd(name: str, connection: str | None = OWN_OPT, as_json: bool = JSON_OPT) -> None:
    """Disable a stored mapping without deleting it (its definition and history stay)."""
    _by_name_done(_by_name(name, connection, "disable"), "disabled", as_json)


@app.command("export")
def export(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    connection: str | None = SCOPE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Write every stored mapping (-C: those that apply to that connection) as TOML that `mapping import`
    takes back, a connection's own mapping with its `connection` (or JSON with --json)."""

    async def work(engine: Engine) -> str | list[dict[str, Any]]:
        if as_json:
            return [m.definition.to_data() for m in _stored(engine, connection)]
        return engine.export_mappings(stored_connection(connection, engine.db))

    exported = with_engine(work, attach=True, read_only=True)
    if isinstance(exported, list):
        if output is None:
            emit_json(exported)
            return
        text = json.dumps(exported, indent=2, ensure_ascii=False) + "\n"
    else:
        text = exported
    if output is None:
        echo(text, nl=False)
    else:
        with friendly_errors():
            write_private_text(output, text)
        echo(f"wrote {output}", err=True)


@app.command("validate")
def validate(
    file: Path | None = typer.Argument(
        None, exists=True, dir_okay=False, help="Check this TOML file instead of the stored mappings."
    ),
    connection: str | None = CONN_OPT,
    issue: str | None = typer.Option(None, "--issue", help="Also check the edit screen of this issue."),
    as_json: bool = JSON_OPT,
) -> None:
    """Check mappings (stored, or a file before importing it) against the Jira sites they apply to (-C: that
    connection's): the fields exist and fit the steps, value_map options are allowed values; with --issue
    (and the connection that has it), the fields are on its edit screen."""
    from dataclasses import replace

    configured = [c.name for c in state.config().settings.jira]
    several = connection is None and issue is None and len(configured) > 1
    conns = configured if several else [_site(connection)]
    text = _read(file) if file is not None else None

    async def work(engine: Engine) -> tuple[int, list[Problem]]:
        if text is not None:  # each mapping against the sites it applies to (its connection's, or all)
            return await engine.check_file(text, None if several else conns[0], issue)
        checked, problems = 0, []
        for conn in conns:
            n, found = await engine.check_mappings(conn, issue)
            checked += n
            problems += [replace(p, message=f"{conn}: {p.message}") if several else p for p in found]
        return checked, problems

    checked, problems = with_engine(work, attach=False)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        emit_json({"ok": not errors, "checked": checked, "problems": problems})
    else:
        for p in problems:
            echo(str(p))
        warnings = len(problems) - len(errors)
        against = f" against {', '.join(conns)}" if several else ""
        echo(f"{checked} mappings checked{against}, {len(errors)} errors, {warnings} warnings")
    if errors:
        raise typer.Exit(EXIT_FAILURE)


def _trial_view(key: str, trial: MappingTrial) -> dict[str, Any]:
    if trial.row is None:
        return {"mapping": trial.mapping, "key": key, "errors": [trial.error]}
    return {"mapping": trial.mapping, **trial.row.__dict__}


@app.command("test")
def test_cmd(
    target: str = typer.Argument(..., help="An issue key (the stored mappings), or a TOML file to try."),
    connection: str | None = CONN_OPT,
    issue: str | None = typer.Option(None, "--issue", help="With a file: try it on this issue."),
    limit: int = typer.Option(5, "--limit", min=1, max=50, help="With a file: how many issues to fetch."),
    as_json: bool = JSON_OPT,
) -> None:
    """Fetch issues from Jira and show each mapping's Jira value, internal value and what a push would write:
    the stored mappings over issue KEY, or a file's mappings (not stored) before importing it."""
    file = Path(target)
    text = _read(file) if file.is_file() else None
    # An issue key (the target, or a file's --issue) says which site it is on when the database holds it
    # under one connection.
    key = target if text is None else issue
    conn = _site(connection) if connection is not None or key is None else None

    async def work(engine: Engine) -> tuple[list[MappingTrial], list[dict[str, Any]]]:
        nonlocal conn
        conn = conn or _holder(engine, str(key))
        if text is not None:
            from jira_console.mapping import MappingDefinitionError

            try:
                return await engine.try_file(text, conn, issue, limit)
            except MappingDefinitionError as exc:
                fail(str(exc), EXIT_USAGE)
        return await engine.try_mappings(target, conn)

    trials, unresolved = with_engine(work, attach=False)
    results = [_trial_view(issue or target, t) for t in trials]
    if as_json:
        emit_json({"key": None if text is not None else target, "results": results, "unresolved": unresolved})
        return
    from jira_console.cli import output as out

    for r in results:
        where = f" {r['key']}" if text is not None else ""
        echo(f"{r['mapping']}{where}: {out.text(r.get('jira_value'))} -> {out.text(r.get('internal_value'))}")
        if r.get("back_to_jira") is not None:
            echo(f"    push: {out.jira_write(r['back_to_jira'])}")
        for line in r.get("errors", []) + r.get("validation", []):
            echo(f"    ! {line}")
    for person in unresolved:
        echo(f"unresolved person: {person} (map them with `jira-console identities`)")
    if not results:
        why = "the file holds no [[mapping]]" if text is not None else f"no stored mapping applies to {conn}"
        echo(f"nothing to try: {why} (mapping import FILE stores some; mapping test FILE tries one first)")


def register(root: typer.Typer) -> None:
    """Add the ``mapping`` group to the root app."""
    root.add_typer(app, name="mapping")
