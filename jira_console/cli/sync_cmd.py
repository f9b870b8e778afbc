"""``sync``, ``local`` and ``conflicts``: running syncs and changing the local copy, through the engine facade
(``status`` and ``issues`` read the store directly: :mod:`.read_cmd`; ``audit`` is in :mod:`.audit_cmd`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import typer

from jira_console.cli import create_cmd
from jira_console.cli import output as out
from jira_console.cli.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    configured_connection,
    emit_json,
    fail,
    issue_key,
    no_connections,
    none_found,
    state,
    stored_connection,
    with_engine,
)
from jira_console.cli.read_cmd import issue_view
from jira_console.cli.safe_text import echo

if TYPE_CHECKING:
    from jira_console.facade import Engine, SyncReport
    from jira_console.store.converters import IssueRecord
    from jira_console.sync.conflicts import Take

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CONN_OPT = typer.Option(None, "--connection", "-C", help="Connection name (default: all / the only one).")


# ------------------------------------------------------------------------------------- sync, status


def sync(
    connection: str | None = CONN_OPT,
    full: bool = typer.Option(False, "--full", help="Re-read everything and reconcile deletions."),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Progress bars on stderr (default: when it is a terminal)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Run one two-way sync now (pull, then push; --full adds the reconciliation sweep) on every
    connection, or one; every connection's result is printed, and the exit code is 1 if any failed. While a
    daemon is alive it runs the sync (one client per site, one rate-limit budget) and this waits for it (and
    runs it itself if the daemon dies meanwhile)."""
    import asyncio
    import sys

    from jira_console.cli.progress import SyncProgress
    from jira_console.store.outbox import purge_outbox

    settings = state.config().settings
    if not settings.jira:
        fail(no_connections(), EXIT_USAGE)
    configured_connection(connection)
    names = [connection] if connection else [c.name for c in settings.jira]
    show = progress if progress is not None else sys.stderr.isatty() and not as_json

    async def work(engine: Engine) -> list[SyncReport]:
        if engine.mode == "attached" and not as_json:  # a daemon is alive: it runs the sync, this waits
            # Queued for the daemons: the first live one to claim it runs it (not always the one named).
            echo(f"daemon {engine.engine_state().daemon} is running: the sync is queued for the daemons...")
        reports: list[SyncReport] = []
        with SyncProgress(show) as bars:
            unsubscribe = engine.subscribe(bars.on_event)
            try:
                for name in names:
                    reports.extend(await _sync_one(engine, name, full))
            finally:
                unsubscribe()
        if engine.mode != "attached":  # without a daemon, its outbox retention is this command's to do
            await asyncio.to_thread(purge_outbox, engine.db, settings.daemon.outbox_retention_days)
        return reports

    reports = with_engine(work, attach=None)
    state.leave_quickly = True  # the engine is stopped: everything is stored; what is left is output
    if as_json:
        emit_json([asdict(r) for r in reports])
    else:
        for r in reports:
            echo(_report_line(r))
            if r.backfill:
                echo(f"  back-fill: the mappings had changed, so all {r.backfilled} issue(s) were read again")
            for err in r.errors:
                echo(f"  error: {err}")
    if any(r.status != "ok" for r in reports):
        raise typer.Exit(EXIT_FAILURE)


async def _sync_one(engine: Engine, name: str, full: bool) -> list[SyncReport]:
    """One connection's sync; a failure becomes that connection's failed report (the others still run)."""
    from jira_console import redact
    from jira_console.facade import NoLiveDaemon
    from jira_console.health import one_line
    from jira_console.sync.report import SyncReport

    try:
        return await engine.run_sync(name, full=full)
    except NoLiveDaemon as exc:
        # The daemon this waited for is gone: the sync is this command's to run. (Its queued command stays
        # for the next daemon to start, where it is one more sync.)
        echo(f"{exc}; running the sync here", err=True)
        await engine.run_here()
        return await _sync_one(engine, name, full)
    except Exception as exc:  # noqa: BLE001 - reported per connection; the next one still syncs
        message = one_line(redact.scrub(str(exc)), 2000) or type(exc).__name__  # whole: the advice ends it
        return [SyncReport(connection=name, status="failed", full=full, errors=[message])]


def _report_line(r: SyncReport) -> str:
    if r.status == "failed" and not r.api_calls and not r.seen:
        return f"{r.connection}: failed"
    refused = f", not pushed {r.refused_fields} (status says why)" if r.refused_fields else ""
    created = f", created in Jira {r.created_in_jira}" if r.created_in_jira else ""
    if r.creations_refused:
        created += f", not created {r.creations_refused} (local creations --state failed says why)"
    run = f" (run {r.run_id})" if r.run_id is not None else ""
    return (
        f"{r.connection}: {r.status}{run} in {r.duration_ms / 1000:.1f} s, {r.api_calls} API calls; "
        f"read {r.issues_read or r.seen}, new {r.created}, pulled {r.pulled_fields} field(s), "
        f"pushed {r.pushed_fields}{refused}{created}, conflicts {r.conflicts}, deleted {r.deleted}"
        + (f", outside the JQL now {r.left_scope}" if r.left_scope else "")
        + (
            f", unread {r.unread} (Jira could not return them this time; read again next sync)"
            if r.unread
            else ""
        )
    )


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``field=value`` pairs; a value is JSON when it parses, else text. A text field (summary, status...)
    takes the text as typed (``summary=2024`` is "2024"), except ``null`` and a quoted JSON string."""
    from jira_console.store.issues import typed_input

    changes: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            fail(f"expected field=value, got {item!r}", EXIT_USAGE)
        changes[name] = typed_input(name, raw)[0]
    return changes


def _unknown_field_hint(message: str, assignments: list[str]) -> str:
    """The facade's refusal of an unknown field, with the spelling that sets it among the issue's mapped
    fields (``team=fe`` -> ``fields.team=fe``)."""
    for item in assignments:
        name = item.partition("=")[0].strip()
        if message.startswith("unknown field") and not name.startswith("fields.") and repr(name) in message:
            return f"{message}; to set {name!r} among the issue's fields, write fields.{item.strip()}"
    return message


def local_set(
    key: str = typer.Argument(..., callback=issue_key),
    assignments: list[str] = typer.Argument(
        ..., help="field=value; value is JSON when it parses, else text."
    ),
    connection: str | None = CONN_OPT,
    push: bool = typer.Option(False, "--push", help="Push right away instead of at the next sync."),
    as_json: bool = JSON_OPT,
) -> None:
    """Set synced fields of an issue, e.g. local set ENG-1 summary="New title" fields.team=fe (pushed at
    the next sync, or now with --push)."""
    configured_connection(connection)  # a removed connection's issues are read-only: nothing would push
    changes = parse_assignments(assignments)

    async def work(engine: Engine) -> IssueRecord | None:
        try:
            issue = engine.set_local(key, changes, connection=connection)
        except LookupError as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        except ValueError as exc:
            fail(_unknown_field_hint(str(exc), assignments), EXIT_USAGE)
        if push:
            await engine.push(issue.connection)
            return engine.get_issue(key, issue.connection)
        queued.append(create_cmd.when_sent(engine))
        return issue

    queued: list[str] = []
    issue = with_engine(work, attach=None if not push else False)
    assert issue is not None  # set_local returned it; a push does not delete it
    if as_json:
        emit_json(issue_view(issue))
    else:
        then = "pushed" if push else f"queued: {queued[0]}"
        echo(f"{issue.key}: {', '.join(changes)} set locally; {then}")


# ------------------------------------------------------------------------------------ conflicts


def conflicts_list(
    connection: str | None = CONN_OPT,
    field: str | None = typer.Option(None, "--field"),
    key: str | None = typer.Option(None, "--key", callback=issue_key),
    all_: bool = typer.Option(False, "--all", help="Resolved ones too."),
    limit: int = typer.Option(200, "--limit", min=1),
    as_json: bool = JSON_OPT,
) -> None:
    """Open conflicts (fields both sides changed differently)."""

    from jira_console.store.conflict_queue import conflict_connections

    status = None if all_ else "open"

    async def work(engine: Engine) -> Any:
        stored_connection(connection, engine.db)
        rows = engine.list_conflicts(status, connection, field, key, limit)
        if as_json:
            return rows, len(rows), False
        total = engine.count_conflicts(status, connection, field, key)
        with engine.db.session() as s:  # the whole queue's connections, not only this page's
            several = connection is None and len(conflict_connections(s, status, field, key, limit=2)) > 1
        return rows, total, several

    rows, total, several = with_engine(work, attach=True, read_only=True)
    if as_json:
        emit_json([asdict(c) for c in rows])
        return
    if not rows:
        echo(none_found("conflicts" if all_ else "open conflicts", connection, bool(field or key), ""))
    # The same key can name issues of two sites: every line names its connection when the queue spans several.
    for c in rows:
        echo(
            f"#{c.id} {f'{c.connection}:' if several else ''}{c.issue_key} {c.field}: "
            f"local={json.dumps(c.local, ensure_ascii=False)} jira={json.dumps(c.jira, ensure_ascii=False)} "
            f"[{c.status}]"
        )
    if total > len(rows):
        echo(f"showing {len(rows)} of {total} (--limit to see more)")


def conflicts_show(conflict_id: int, as_json: bool = JSON_OPT) -> None:
    """Base, local and Jira values of one conflict."""

    async def work(engine: Engine) -> Any:
        return engine.get_conflict(conflict_id)

    c = with_engine(work, attach=True, read_only=True)
    if c is None:
        fail(f"no conflict with id {conflict_id}", EXIT_NOT_FOUND)
    if as_json:
        emit_json(asdict(c))
        return
    values = {"base", "local", "jira", "resolved_value"}  # as JSON: "5" and 5 are different values
    for k, v in asdict(c).items():
        shown = json.dumps(v, ensure_ascii=False, default=str) if k in values else out.text(v)
        echo(f"{k:>14}: {shown}")


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

    async def work(engine: Engine) -> Any:
        try:
            choice: Take = "jira" if take == "jira" else "local" if take == "local" else "value"
            return await engine.resolve_conflict(conflict_id, choice, parsed, actor="cli")
        except ConflictNotFound as exc:
            fail(str(exc), EXIT_NOT_FOUND)
        except ResolutionError as exc:
            fail(str(exc), EXIT_USAGE)

    record = with_engine(work, attach=None)
    if as_json:
        emit_json(asdict(record))
    else:
        echo(f"conflict #{record.id} ({record.issue_key} {record.field}) resolved: {record.resolution}")


def register(app: typer.Typer) -> None:
    """Add these commands (and the ``local`` and ``conflicts`` groups) to the root app."""
    app.command("sync")(sync)
    local = typer.Typer(
        help="Change issues locally, or ask for new ones (sent to Jira at the next sync).",
        no_args_is_help=True,
    )
    local.command("set")(local_set)
    create_cmd.add_to(local)
    app.add_typer(local, name="local")
    conflicts = typer.Typer(help="The conflict queue.", no_args_is_help=True)
    conflicts.command("list")(conflicts_list)
    conflicts.command("show")(conflicts_show)
    conflicts.command("resolve")(conflicts_resolve)
    app.add_typer(conflicts, name="conflicts")
