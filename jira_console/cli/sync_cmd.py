"""``sync``, ``status``, ``issues``, ``local``, ``conflicts`` and ``audit`` commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

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

T = TypeVar("T")
JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CONN_OPT = typer.Option(None, "--connection", "-C", help="Connection name (default: all / the only one).")


def with_engine(work: Callable[[Any], Awaitable[T]], *, attach: bool | None = False) -> T:
    """Start the engine facade, run ``work(engine)``, stop it; errors become plain words and exit codes."""
    from jira_console.facade import Engine

    settings = state.config().settings

    async def run() -> T:
        engine = Engine(settings)
        try:
            await engine.start(attach=attach)
            return await work(engine)
        finally:
            await engine.stop()

    with friendly_errors():
        return asyncio.run(run())
    raise AssertionError("unreachable")


def _ms_to_iso(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms is not None else None


def issue_view(issue: Any, errors: list[Any] | None = None) -> dict[str, Any]:
    """The stable JSON shape of an issue for scripts."""
    return {
        "connection": issue.connection,
        "key": issue.key,
        "summary": issue.summary,
        "status": issue.status,
        "priority": issue.priority,
        "assignee": issue.assignee,
        "labels": issue.labels,
        "sprint": issue.sprint_id,
        "story_points": issue.story_points,
        "parent": issue.parent_key,
        "issue_type": issue.issue_type,
        "updated": _ms_to_iso(issue.jira_updated_ms),
        "deleted": issue.deleted,
        "local_dirty": issue.local_dirty,
        "fields": issue.fields,
        "errors": [{"field": e.field, "message": e.message} for e in errors or []],
    }


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync(
        connection: str | None = CONN_OPT,
        full: bool = typer.Option(False, "--full", help="Re-read everything and reconcile deletions."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Run one two-way sync now (pull, then push; --full adds the reconciliation sweep)."""

        async def work(engine: Any) -> Any:
            return await engine.run_sync(connection, full=full)

        if not state.config().settings.jira:
            fail("no [[jira]] connections configured", EXIT_USAGE)
        reports = with_engine(work)
        if as_json:
            emit_json([asdict(r) for r in reports])
        else:
            for r in reports:
                typer.echo(
                    f"{r.connection}: {r.status} in {r.duration_ms} ms, {r.api_calls} API calls; "
                    f"seen {r.seen}, new {r.created}, pulled {r.pulled_fields} field(s), "
                    f"pushed {r.pushed_fields}, conflicts {r.conflicts}, deleted {r.deleted}"
                )
                for err in r.errors:
                    typer.echo(f"  error: {err}")
        if any(r.status != "ok" for r in reports):
            raise typer.Exit(EXIT_FAILURE)

    @app.command("status")
    def status(as_json: bool = JSON_OPT) -> None:
        """Sync state per connection, open conflicts, webhook queue and daemons (reads the database only)."""

        async def work(engine: Any) -> dict[str, Any]:
            return {
                "sync": [asdict(s) for s in engine.sync_states()],
                "conflicts_open": engine.count_conflicts(),
                "webhooks": engine.webhook_stats(),
                "daemons": [asdict(d) for d in engine.daemons()],
                "connections": [c.name for c in engine.settings.jira],
            }

        data = with_engine(work, attach=True)
        if as_json:
            emit_json(data)
            return
        if not data["sync"]:
            typer.echo("no sync has run yet")
        for s in data["sync"]:
            typer.echo(
                f"{s['connection']}/{s['scope']}: {s['last_status'] or 'never run'}; "
                f"watermark {_ms_to_iso(s['watermark_ms']) or '-'}; "
                f"last finished {s['last_finished_at'] or '-'}"
                + (f"; error: {s['last_error']}" if s["last_error"] else "")
            )
        typer.echo(f"open conflicts: {data['conflicts_open']}")
        typer.echo(f"webhook queue: {data['webhooks']['queue_depth']} pending; {data['webhooks']['counts']}")
        for d in data["daemons"]:
            typer.echo(f"daemon {d['name']}: heartbeat {d['heartbeat_at']}")

    issues = typer.Typer(help="Read the local copy of issues.", no_args_is_help=True)
    app.add_typer(issues, name="issues")

    @issues.command("list")
    def issues_list(
        connection: str | None = CONN_OPT,
        search: str | None = typer.Option(None, "--search", "-s", help="Text in key or summary."),
        status_: str | None = typer.Option(None, "--status", help="Only this status."),
        dirty: bool = typer.Option(False, "--dirty", help="Only issues with unpushed local changes."),
        limit: int = typer.Option(100, "--limit", min=1, max=100000),
        offset: int = typer.Option(0, "--offset", min=0),
        as_json: bool = JSON_OPT,
    ) -> None:
        """List issues from the local database."""

        async def work(engine: Any) -> Any:
            extra: dict[str, Any] = {}
            if status_:
                extra["status"] = status_
            if dirty:
                extra["dirty"] = True
            return engine.list_issues(connection, search, limit, offset, **extra)

        rows = with_engine(work, attach=True)
        if as_json:
            emit_json([issue_view(i) for i in rows])
            return
        for i in rows:
            mark = "*" if i.local_dirty else " "
            typer.echo(f"{mark}{i.key:<12} {str(i.status or ''):<12} {i.summary or ''}")

    @issues.command("show")
    def issues_show(key: str, connection: str | None = CONN_OPT, as_json: bool = JSON_OPT) -> None:
        """One issue: core fields, mapped fields, sync state and mapping errors."""

        async def work(engine: Any) -> Any:
            issue = engine.get_issue(key, connection)
            return issue, (engine.field_errors(issue_id=issue.id) if issue else [])

        issue, errors = with_engine(work, attach=True)
        if issue is None:
            fail(f"no issue {key} in the local database", EXIT_NOT_FOUND)
        view = issue_view(issue, errors)
        if as_json:
            emit_json(view)
            return
        for k, v in view.items():
            typer.echo(f"{k:>13}: {json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v}")

    local = typer.Typer(help="Change issues locally (pushed on the next sync).", no_args_is_help=True)
    app.add_typer(local, name="local")

    @local.command("set")
    def local_set(
        key: str,
        assignments: list[str] = typer.Argument(
            ..., help="field=value; value is JSON when it parses, else text."
        ),
        connection: str | None = CONN_OPT,
        push: bool = typer.Option(False, "--push", help="Push right away instead of at the next sync."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Set synced fields of an issue, e.g. ``local set ENG-1 summary="New title" story_points=5``."""
        changes: dict[str, Any] = {}
        for item in assignments:
            name, sep, raw = item.partition("=")
            if not sep or not name:
                fail(f"expected field=value, got {item!r}", EXIT_USAGE)
            try:
                changes[name.strip()] = json.loads(raw)
            except json.JSONDecodeError:
                changes[name.strip()] = raw

        async def work(engine: Any) -> Any:
            try:
                issue = engine.set_local(key, changes, connection=connection)
            except LookupError as exc:
                fail(str(exc), EXIT_NOT_FOUND)
            except ValueError as exc:
                fail(str(exc), EXIT_USAGE)
            if push:
                await engine.push(issue.connection)
                issue = engine.get_issue(key, issue.connection)
            return issue

        issue = with_engine(work, attach=None if not push else False)
        if as_json:
            emit_json(issue_view(issue))
        else:
            typer.echo(
                f"{issue.key}: {', '.join(changes)} set locally" + ("; pushed" if push else "; queued")
            )

    conflicts = typer.Typer(help="The conflict queue.", no_args_is_help=True)
    app.add_typer(conflicts, name="conflicts")

    @conflicts.command("list")
    def conflicts_list(
        connection: str | None = CONN_OPT,
        field: str | None = typer.Option(None, "--field"),
        key: str | None = typer.Option(None, "--key"),
        all_: bool = typer.Option(False, "--all", help="Resolved ones too."),
        limit: int = typer.Option(200, "--limit", min=1),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Open conflicts (fields both sides changed differently)."""

        async def work(engine: Any) -> Any:
            return engine.list_conflicts(None if all_ else "open", connection, field, key, limit)

        rows = with_engine(work, attach=True)
        if as_json:
            emit_json([asdict(c) for c in rows])
            return
        if not rows:
            typer.echo("no conflicts")
        for c in rows:
            typer.echo(
                f"#{c.id} {c.issue_key} {c.field}: local={json.dumps(c.local, ensure_ascii=False)} "
                f"jira={json.dumps(c.jira, ensure_ascii=False)} [{c.status}]"
            )

    @conflicts.command("show")
    def conflicts_show(conflict_id: int, as_json: bool = JSON_OPT) -> None:
        """Base, local and Jira values of one conflict."""

        async def work(engine: Any) -> Any:
            return engine.get_conflict(conflict_id)

        c = with_engine(work, attach=True)
        if c is None:
            fail(f"no conflict with id {conflict_id}", EXIT_NOT_FOUND)
        if as_json:
            emit_json(asdict(c))
            return
        for k, v in asdict(c).items():
            typer.echo(f"{k:>14}: {json.dumps(v, ensure_ascii=False, default=str)}")

    @conflicts.command("resolve")
    def conflicts_resolve(
        conflict_id: int,
        take: str | None = typer.Option(None, "--take", help="jira or local"),
        value: str | None = typer.Option(None, "--value", help="A JSON value to set on both sides."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Settle a conflict: --take jira, --take local, or --value JSON. The result is pushed and audited."""
        from jira_console.sync.conflicts import ConflictNotFound, ResolutionError, parse_value

        if (take is None) == (value is None):
            fail("give exactly one of --take jira|local or --value JSON", EXIT_USAGE)
        if take is not None and take not in ("jira", "local"):
            fail(f"--take must be jira or local, not {take!r}", EXIT_USAGE)
        parsed = None
        if value is not None:
            try:
                parsed = parse_value(value)
            except ResolutionError as exc:
                fail(str(exc), EXIT_USAGE)

        async def work(engine: Any) -> Any:
            try:
                return await engine.resolve_conflict(conflict_id, take or "value", parsed, actor="cli")
            except ConflictNotFound as exc:
                fail(str(exc), EXIT_NOT_FOUND)
            except ResolutionError as exc:
                fail(str(exc), EXIT_USAGE)

        record = with_engine(work, attach=None)
        if as_json:
            emit_json(asdict(record))
        else:
            typer.echo(
                f"conflict #{record.id} ({record.issue_key} {record.field}) resolved: {record.resolution}"
            )

    @app.command("audit")
    def audit(
        key: str | None = typer.Option(None, "--key", help="Only this issue."),
        connection: str | None = CONN_OPT,
        limit: int = typer.Option(100, "--limit", min=1),
        as_json: bool = JSON_OPT,
    ) -> None:
        """The append-only log of changes applied to either side."""

        async def work(engine: Any) -> Any:
            return engine.audit(key, limit, connection)

        rows = with_engine(work, attach=True)
        if as_json:
            emit_json([asdict(a) for a in rows])
            return
        for a in rows:
            typer.echo(
                f"{a.at:%Y-%m-%d %H:%M:%S} {a.connection} {a.issue_key or '-'} -> {a.side}: {a.field or '*'} "
                f"{json.dumps(a.old, ensure_ascii=False, default=str)} -> "
                f"{json.dumps(a.new, ensure_ascii=False, default=str)} ({a.reason})"
            )
