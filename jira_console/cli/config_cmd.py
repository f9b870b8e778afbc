"""``jira-console config show|check``: the effective configuration with where each value came from, and a
check of each connection against its site (through the facade)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from jira_console.cli.common import EXIT_FAILURE, EXIT_USAGE, emit_json, friendly_errors, state
from jira_console.cli.safe_text import echo

if TYPE_CHECKING:
    from collections.abc import Iterator

    from jira_console.config import LoadedConfig

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
    echo(f"# config file: {loaded.path or '(none: defaults and environment only)'}")
    width = max((len(k) for k, _, _ in rows), default=10)
    for key, value, source in rows:
        echo(f"{key:<{width}}  {value!s:<40}  [{source}]")


def iter_effective(loaded: LoadedConfig) -> Iterator[tuple[str, Any, str]]:
    """(dotted key, display value, source) for every leaf of the effective config, secrets masked."""
    from pydantic import BaseModel

    from jira_console import redact
    from jira_console.config import JiraConnection

    def walk(prefix: str, model: BaseModel) -> Iterator[tuple[str, Any, str]]:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                yield from walk(key + ".", value)
            elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
                for i, item in enumerate(value):
                    yield from walk(f"{key}.{i}.", item)
            else:
                shown = redact.mask_value(name, value)
                yield key, shown, loaded.source_of(key)
        if isinstance(model, JiraConnection):
            yield f"{prefix}token (resolved)", "****" if model.resolve_token() else None, model.token_source()

    yield from walk("", loaded.settings)


def _secret_file_warnings(loaded: LoadedConfig) -> list[str]:
    """Secret files other users can read, and those that give no secret where one is needed (not those
    whose environment variable gives the secret: the file is not read then)."""
    from jira_console.secret_files import expand, file_in_use, permission_warnings, secret_file_problem

    settings = loaded.settings
    hooks = settings.webhooks
    named = [(f"jira[{c.name}].token_file", c.token_env, c.token_file) for c in settings.jira]
    named += [
        ("webhooks.secret_file", hooks.secret_env, hooks.secret_file),
        ("webhooks.previous_secret_file", hooks.previous_secret_env, hooks.previous_secret_file),
        ("api.token_file", settings.api.token_env, settings.api.token_file),
    ]
    found: list[str] = []
    for key, env, path in named:
        if path is None or not file_in_use(env, path):
            continue
        problem = secret_file_problem(path)
        found.extend([f"{key}: {problem}"] if problem else permission_warnings(expand(path)))
    return found


def check_warnings(loaded: LoadedConfig) -> list[str]:
    """What the file allows but will hurt: the loader's warnings, and a webhook listener that will turn
    every delivery away because the secret's variable is not set."""
    warnings = list(loaded.warnings)
    hooks = loaded.settings.webhooks
    if hooks.enabled and hooks.require_signature and not hooks.secrets():
        variable = hooks.secret_env or "the variable named by webhooks.secret_env"
        hint = hooks.secret_hint() if hooks.secret_file else f"export {variable}"
        warnings.append(
            f"webhook secret not set: {hint} "
            "(the listener refuses unsigned deliveries while webhooks.require_signature is on)"
        )
    warnings.extend(w for w in _secret_file_warnings(loaded) if not any(w in said for said in warnings))
    from jira_console.webhooks.exposure import exposure_warnings  # (loads the webhooks package: not at start)

    warnings.extend(exposure_warnings(loaded.settings, missing_secret=False))  # unsigned, weak, public
    return warnings


@app.command("check")
def check(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    offline: bool = typer.Option(False, "--offline", help="Validate the file only; do not contact Jira."),
) -> None:
    """Validate the configuration, the database and each connection (auth, flavor, version, permissions).
    Exits 2 on a configuration error (no [[jira]] connection, a database URL that cannot be used, the API
    without its token), 1 when a connection or the database does not answer."""
    loaded = state.config()
    results: list[dict[str, Any]] = []
    from jira_console.facade.check import check_database

    database, db = check_database(loaded.settings.database.url, offline=offline)
    api = _api_problem(loaded.settings)
    if not offline and loaded.settings.jira:
        import asyncio

        from jira_console.facade import check_connections

        state.configure_logging()

        with friendly_errors():
            results = asyncio.run(check_connections(loaded.settings, _migrated(db)))
    ok = bool(loaded.settings.jira) and database["ok"] and api is None and all(r.get("ok") for r in results)
    warnings = check_warnings(loaded) + [w for r in results for w in r.pop("warnings", [])]
    if as_json:
        emit_json(
            {
                "ok": ok,
                "path": str(loaded.path) if loaded.path else None,
                "database": database,
                "api": {"ok": api is None, "problem": api},
                "connections": results,
                "warnings": warnings,
            }
        )
    else:
        _print_check(loaded, [database, *results], warnings)
        if api is not None:
            echo(f"[FAIL] api: {api}")
    if not loaded.settings.jira or database.get("exit_code") == EXIT_USAGE or api is not None:
        raise typer.Exit(EXIT_USAGE)
    if not ok:
        raise typer.Exit(EXIT_FAILURE)


def _api_problem(settings: Any) -> str | None:
    """Why the daemon would refuse to start its operations API (a listen address without a token)."""
    from jira_console.config import ConfigError
    from jira_console.housekeeping import api_token

    try:
        api_token(settings)
    except ConfigError as exc:
        return str(exc)
    return None


def _migrated(db: Any) -> Any:
    """The store at the current schema, when it exists and answers: ``config check`` lifts credential
    blocks there (and records a new denial); without it the check still runs."""
    if db is None:
        return None
    try:
        db.migrate()
    except Exception:  # noqa: BLE001 - the check itself needs no database
        return None
    return db


def _print_check(loaded: LoadedConfig, results: list[dict[str, Any]], warnings: list[str]) -> None:
    echo(f"config {loaded.path or '(no file: defaults and environment only)'}: valid")
    if not loaded.settings.jira:
        echo("no [[jira]] connections configured: add one (`jira-console init` writes a file)")
    for r in results:
        mark = "ok " if r.get("ok") else "FAIL"
        echo(f"[{mark}] {r['name']}: {r.get('summary', '')}")
        if r.get("resumed"):
            echo(f"       - {r['resumed']}")
        problems = list(r.get("problems", []) or [])
        for problem in problems[1:] if problems[:1] == [r.get("summary")] else problems:
            echo(f"       - {problem}")
    for warning in warnings:
        if warning not in loaded.warnings:  # the loader's own were printed when it loaded the file
            echo(f"warning: {warning}", err=True)
