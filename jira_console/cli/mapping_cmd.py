"""``jira-console mapping``: list, show, import, export, validate and test field mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from jira_console.cli.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    emit_json,
    fail,
    friendly_errors,
    state,
)
from jira_console.files import write_private_text

app = typer.Typer(help="Field mappings between Jira fields and the local database.", no_args_is_help=True)

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CONN_OPT = typer.Option(None, "--connection", "-C", help="Connection name (default: the only one).")


def _db() -> Any:
    from jira_console.store.db import Database

    cfg = state.config().settings.database
    database = Database(cfg.url, echo=cfg.echo, pool_size=cfg.pool_size)
    database.migrate()
    return database


def _connection_name(name: str | None, required: bool = False) -> str | None:
    settings = state.config().settings
    if name is None and not required and len(settings.jira) != 1:
        return None
    with friendly_errors():
        return settings.connection(name).name


def _summary(stored: Any) -> dict[str, Any]:
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


@app.command("list")
def list_cmd(connection: str | None = CONN_OPT, as_json: bool = JSON_OPT) -> None:
    """The mappings that apply to a connection (its own and global ones)."""
    from jira_console.mapping import repo

    with friendly_errors():
        rows = [_summary(m) for m in repo.list_mappings(_db(), _connection_name(connection))]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no mappings")
    for r in rows:
        scope = r["connection"] or "global"
        typer.echo(
            f"{r['name']:<20} {r['jira_field']:<24} -> {r['internal_field']:<18} {r['direction']:<5} "
            f"v{r['version']} [{scope}]{'' if r['enabled'] else ' (disabled)'}"
        )


@app.command("show")
def show(name: str, connection: str | None = CONN_OPT, as_json: bool = JSON_OPT) -> None:
    """One mapping's definition (as TOML) and its version history."""
    from jira_console.mapping import dumps, repo

    with friendly_errors():
        db = _db()
        conn = _connection_name(connection)
        stored = repo.get(db, name, conn)
        if stored is None:
            fail(f"no mapping named {name!r}", EXIT_NOT_FOUND)
        hist = repo.history(db, name, conn)
    if as_json:
        emit_json({**_summary(stored), "definition": stored.definition.to_data(), "history": hist})
        return
    typer.echo(dumps([stored.definition]).rstrip())
    typer.echo("")
    for h in hist:
        typer.echo(
            f"# v{h.version} {h.changed_at:%Y-%m-%d %H:%M} {h.changed_by or '-'} {h.comment or ''}".rstrip()
        )


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="TOML file with [[mapping]] tables."),
    connection: str | None = CONN_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Validate a TOML file and store every mapping in it (all or nothing; changes become new versions)."""
    from jira_console.mapping import MappingDefinitionError, repo

    try:
        text = file.read_text(encoding="utf-8")
        records = repo.import_toml(_db(), text, connection=connection, changed_by="cli")
    except MappingDefinitionError as exc:
        fail(str(exc), EXIT_USAGE)
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text: {exc}", EXIT_USAGE)
    if as_json:
        emit_json([{"name": r.name, "connection": r.connection, "version": r.version} for r in records])
        return
    for r in records:
        typer.echo(f"{r.name}: v{r.version}")


@app.command("export")
def export(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    connection: str | None = CONN_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Write the mappings as TOML (or JSON with --json)."""
    from jira_console.mapping import repo

    with friendly_errors():
        db = _db()
        conn = _connection_name(connection)
        if as_json:
            data = [m.definition.to_data() for m in repo.list_mappings(db, conn)]
            if output is None:
                emit_json(data)
                return
            import json

            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        else:
            text = repo.export_toml(db, conn)
        if output is None:
            typer.echo(text, nl=False)
        else:
            write_private_text(output, text)
            typer.echo(f"wrote {output}", err=True)


async def _client_and(connection: str, work: Any) -> Any:
    from jira_console.jira.client import JiraClient

    conn = state.config().settings.connection(connection)
    async with JiraClient(conn) as client:
        return await work(client)


@app.command("validate")
def validate(
    connection: str | None = CONN_OPT,
    issue: str | None = typer.Option(None, "--issue", help="Also check the edit screen of this issue."),
    as_json: bool = JSON_OPT,
) -> None:
    """Check the mappings against the Jira site: fields exist and fit the steps; with --issue, editable."""
    import asyncio

    from jira_console.mapping import repo
    from jira_console.mapping.check import check_with_client

    with friendly_errors():
        conn = _connection_name(connection, required=True)
        definitions = [m.definition for m in repo.list_mappings(_db(), conn)]
        problems = asyncio.run(_client_and(conn, lambda c: check_with_client(definitions, c, issue)))  # type: ignore[arg-type]
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        emit_json({"ok": not errors, "checked": len(definitions), "problems": problems})
    else:
        for p in problems:
            typer.echo(str(p))
        warnings = len(problems) - len(errors)
        typer.echo(f"{len(definitions)} mappings checked, {len(errors)} errors, {warnings} warnings")
    if errors:
        raise typer.Exit(EXIT_FAILURE)


@app.command("test")
def test_cmd(key: str, connection: str | None = CONN_OPT, as_json: bool = JSON_OPT) -> None:
    """Fetch one issue and show every mapping's Jira value, internal value and what a push would write."""
    import asyncio

    from jira_console.mapping import MappingContext, preview, repo

    with friendly_errors():
        conn = _connection_name(connection, required=True)
        db = _db()
        stored = repo.list_mappings(db, conn, enabled_only=True)

        async def fetch(client: Any) -> tuple[Any, Any, str]:
            flavor = await client.ensure_flavor()
            return await client.get_issue(key), await client.fields(), flavor

        issue, field_list, flavor = asyncio.run(_client_and(conn, fetch))  # type: ignore[arg-type]
        ctx = MappingContext(flavor=flavor, identities=repo.identity_table(db, conn, flavor))  # type: ignore[arg-type]
        results = []
        for m in stored:
            try:
                (row,) = preview(m.definition, [issue], ctx, field_list)
                results.append({"mapping": m.name, **row.__dict__})
            except Exception as exc:  # noqa: BLE001 - one broken mapping must not hide the others
                results.append({"mapping": m.name, "key": key, "errors": [str(exc)]})
    if as_json:
        emit_json({"key": key, "results": results, "unresolved": ctx.unresolved})
        return
    for r in results:
        typer.echo(f"{r['mapping']}: {r.get('jira_value')!r} -> {r.get('internal_value')!r}")
        if r.get("back_to_jira") is not None:
            typer.echo(f"    push: {r['back_to_jira']}")
        for line in r.get("errors", []) + r.get("validation", []):
            typer.echo(f"    ! {line}")


def register(root: typer.Typer) -> None:
    """Add the ``mapping`` group to the root app."""
    root.add_typer(app, name="mapping")
