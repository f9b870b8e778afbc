"""``jira-console config show|check``."""

from __future__ import annotations

import asyncio

import typer

from jira_console.cli.common import EXIT_FAILURE, emit_json, friendly_errors, state
from jira_console.config import iter_effective

app = typer.Typer(help="Show or check the configuration.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the effective configuration, where each value came from, secrets masked."""
    loaded = state.config()
    rows = list(iter_effective(loaded))
    if as_json:
        emit_json(
            {
                "path": str(loaded.path) if loaded.path else None,
                "values": [{"key": k, "value": v, "source": s} for k, v, s in rows],
            }
        )
        return
    typer.echo(f"# config file: {loaded.path or '(none: defaults and environment only)'}")
    width = max((len(k) for k, _, _ in rows), default=10)
    for key, value, source in rows:
        typer.echo(f"{key:<{width}}  {value!s:<40}  [{source}]")


@app.command("check")
def check(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    offline: bool = typer.Option(False, "--offline", help="Validate the file only; do not contact Jira."),
) -> None:
    """Validate the configuration and test each connection (auth, flavor, version, permissions)."""
    loaded = state.config()
    results: list[dict[str, object]] = []
    if not offline:
        from jira_console.jira.check import check_connection

        async def run_all() -> list[dict[str, object]]:
            return list(await asyncio.gather(*(check_connection(c) for c in loaded.settings.jira)))

        with friendly_errors():
            results = asyncio.run(run_all())
    ok = all(r.get("ok") for r in results)
    if as_json:
        emit_json(
            {
                "ok": ok,
                "path": str(loaded.path) if loaded.path else None,
                "connections": results,
                "warnings": list(loaded.warnings),
            }
        )
    else:
        typer.echo(f"config {loaded.path or '(defaults)'}: valid")
        if not loaded.settings.jira:
            typer.echo("no [[jira]] connections configured")
        for r in results:
            mark = "ok " if r.get("ok") else "FAIL"
            typer.echo(f"[{mark}] {r['name']}: {r.get('summary', '')}")
            problems = list(r.get("problems", []) or [])  # type: ignore[call-overload]
            for problem in problems[1:] if problems[:1] == [r.get("summary")] else problems:
                typer.echo(f"       - {problem}")
    if not ok:
        raise typer.Exit(EXIT_FAILURE)
