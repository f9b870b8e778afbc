"""``local create`` and ``local creations``: issues created in Jira from the database (the ``new_issues``
requests host programs insert), through the engine facade."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import typer

from jira_console.cli import output as out
from jira_console.cli.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    configured_connection,
    emit_json,
    fail,
    stored_connection,
    with_engine,
)
from jira_console.cli.safe_text import echo

if TYPE_CHECKING:
    from jira_console.facade import Engine
    from jira_console.facade.creations import CreationRecord

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CONN_OPT = typer.Option(None, "--connection", "-C", help="Connection name (default: the only one).")


def local_create(
    project: str = typer.Argument(..., help="Project key, e.g. ENG."),
    issue_type: str = typer.Argument(..., help="Issue type name, e.g. Task."),
    assignments: list[str] = typer.Argument(
        ..., help="field=value (summary= is required); value is JSON when it parses, else text."
    ),
    connection: str | None = CONN_OPT,
    push: bool = typer.Option(False, "--push", help="Create it right away instead of at the next sync."),
    as_json: bool = JSON_OPT,
) -> None:
    """Ask for an issue to be created in Jira, e.g. local create ENG Task summary="Fix login"
    priority=High status="In Progress" (created at the next sync, or now with --push)."""
    from jira_console.cli.sync_cmd import parse_assignments

    configured_connection(connection)
    fields = parse_assignments(assignments)

    async def work(engine: Engine) -> CreationRecord | None:
        try:
            request = engine.request_issue(project, issue_type, fields, connection=connection)
        except LookupError as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)
        if push:
            await engine.push(request.connection)
            return engine.get_creation(request.id)
        queued.append(when_sent(engine))
        return request

    queued: list[str] = []
    request = with_engine(work, attach=None if not push else False)
    assert request is not None  # queued above; a push does not delete it
    if as_json:
        emit_json(_view(request))
    elif request.state == "created":
        echo(f"{request.issue_key} created in Jira (request #{request.id})")
    elif request.state == "failed":
        fail(f"request #{request.id} not created: {request.error}", EXIT_FAILURE)
    elif push:
        echo(f"request #{request.id} not created yet: {request.error or request.state}")
    else:
        echo(f"request #{request.id} queued: {queued[0]}")


def when_sent(engine: Engine) -> str:
    """When queued local work reaches Jira: a running daemon looks for it every few seconds."""
    if engine.mode == "attached" and engine.settings.daemon.local_check_seconds:
        return "the running daemon sends it to Jira within seconds"
    return "sent to Jira at the next sync (jira-console sync, or --push)"


def local_creations(
    connection: str | None = CONN_OPT,
    state: str | None = typer.Option(None, "--state", help="pending, creating, created or failed."),
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = JSON_OPT,
) -> None:
    """Creation requests (new_issues), newest first, with what became of each."""

    async def work(engine: Engine) -> list[CreationRecord]:
        stored_connection(connection, engine.db)
        try:
            return engine.list_creations(connection, state, limit)
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)

    rows = with_engine(work, attach=True, read_only=True)
    if as_json:
        emit_json([_view(r) for r in rows])
        return
    if not rows:
        echo("no creation requests" + (f" in state {state}" if state else ""))
    for r in rows:
        summary = (r.fields or {}).get("summary")
        outcome = r.issue_key if r.state == "created" else (r.error or "")
        echo(
            f"#{r.id} {r.connection} {out.text(r.project_key)} {out.text(r.issue_type)} "
            f'"{out.text(summary)}" [{r.state}] {out.text(outcome)}'.rstrip()
        )


def _view(r: CreationRecord) -> dict[str, Any]:
    view = asdict(r)
    view.pop("token", None)  # bookkeeping between the engine and Jira
    return view


def add_to(local: typer.Typer) -> None:
    local.command("create")(local_create)
    local.command("creations")(local_creations)
