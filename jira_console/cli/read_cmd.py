"""``status``, ``issues list`` and ``issues show``: what the local copy holds, read straight from the store
(:mod:`jira_console.cli.store_reader`), never starting the engine and never creating a database."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer

from jira_console.cli import output as out
from jira_console.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    emit_json,
    fail,
    issue_key,
    none_found,
    state,
    stored_connection,
)
from jira_console.cli.safe_text import echo
from jira_console.cli.store_reader import read_store

if TYPE_CHECKING:
    from jira_console.store.converters import FieldErrorRecord, IssueRecord
    from jira_console.store.db import Database

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
CONN_OPT = typer.Option(None, "--connection", "-C", help="Connection name (default: all / the only one).")


_ERROR_WHOLE = 2000
"""``status`` shows a stored error whole (on one line): what to do comes at its end, and the console's
200-character cut left "Fix the use…"."""


def _ms_to_iso(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms is not None else None


def issue_view(
    issue: IssueRecord,
    errors: list[FieldErrorRecord] | None = None,
    names: tuple[dict[str, str], dict[int, str]] | None = None,
) -> dict[str, Any]:
    """The stable JSON shape of an issue for scripts; with ``names`` (people, sprints the store knows by
    name), ``assignee_name`` and ``sprint_name`` beside the ids."""
    view = {
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
        "description": issue.description,
        "errors": [{"field": e.field, "message": e.message} for e in errors or []],
    }
    if names is not None:
        people, sprints = names
        view["assignee_name"] = people.get(issue.assignee) if issue.assignee else None
        view["sprint_name"] = sprints.get(issue.sprint_id) if issue.sprint_id is not None else None
    return view


# ----------------------------------------------------------------------------------------------- status


def _status_data(db: Database) -> dict[str, Any]:
    from jira_console.health import daemon_alive, held_back_credentials, one_line, sync_health
    from jira_console.store import conflict_queue, creations, identity, local_work, outbox, queue, repo
    from jira_console.store import guard as sg
    from jira_console.store import state as st
    from jira_console.store.liveness import shown_statuses

    settings = state.config().settings
    now = datetime.now(UTC)
    with db.session() as s:
        states = st.list_sync_states(s)
        daemons = st.list_daemons(s)
        conflicts = conflict_queue.count_conflicts(s, status="open")
        stats = queue.event_stats(s, window=timedelta(minutes=1))
        blocks = sg.all_blocks(s)
        field_errors = repo.field_error_counts(s)
        waiting = outbox.outbox_counts(s)
        edited = local_work.dirty_counts(s)
        to_create = creations.creation_counts(s)
        set_aside: dict[str, list[str]] = {}
        for item in identity.list_quarantined(s):
            set_aside.setdefault(item.connection, []).append(f"{item.issue_key}: {item.kind}: {item.cause}")
    # A sync recorded as running whose lease expired (its process was killed) is shown as interrupted.
    shown = shown_statuses(states, (), now)
    runs = {r.connection: r for r in states if r.last_started_at is not None}
    health = {
        c.name: sync_health(runs.get(c.name), c.sync_interval_seconds, now, error_limit=_ERROR_WHOLE)
        for c in settings.jira
    }
    return {
        "sync": [
            asdict(r)
            | {
                "last_error": one_line(r.last_error, _ERROR_WHOLE),
                "last_status": shown[(r.connection, r.scope)],
                "running": shown[(r.connection, r.scope)] == "running",
                "quarantined": set_aside.get(r.connection, []) if r.scope == "issues" else [],
            }
            for r in states
        ],
        "health": {
            name: asdict(h) | {"verdict": h.verdict, "quarantined": len(set_aside.get(name, []))}
            for name, h in health.items()
        },
        "conflicts_open": conflicts,
        "field_errors": field_errors,  # connection -> field -> issues failing it, as the API's sync overview
        "local_edits": edited,  # connection -> issues edited here, not pushed yet
        "outbox": waiting,  # connection -> pending / refused rows of local_changes
        "creations": to_create,  # connection -> waiting / failed rows of new_issues
        "webhooks": {
            "counts": stats.by_status,
            "queue_depth": stats.depth,
            "received_per_minute": stats.received_recently,
            "processed_per_minute": stats.processed_recently,
            "oldest_pending_seconds": stats.oldest_pending_seconds,
        },
        "daemons": [
            asdict(d) | {"alive": daemon_alive(d, settings.daemon.heartbeat_seconds, now=now)}
            for d in daemons
        ],
        "connections": [c.name for c in settings.jira],
        "credentials_held_back": held_back_credentials(settings.jira, blocks),
    }


def _outbox_lines(counts: dict[str, dict[str, int]], configured: list[str]) -> list[str]:
    lines: list[str] = []
    for conn, n in counts.items():
        if n["pending"] and conn not in configured:
            lines.append(
                f"outbox: {out.count(n['pending'], 'row')} for connection {conn!r}, which is not configured: "
                "never taken"
            )
        elif n["pending"]:
            lines.append(f"outbox: {conn} {out.count(n['pending'], 'row')} waiting for the next sync")
        if n["refused"]:
            lines.append(
                f"outbox: {conn} {out.count(n['refused'], 'row')} refused "
                "(SELECT * FROM local_changes WHERE error IS NOT NULL says why)"
            )
    return lines


def _creation_lines(counts: dict[str, dict[str, int]], configured: list[str]) -> list[str]:
    lines = []
    for conn, n in counts.items():
        if n["waiting"]:
            never = ", which is not configured: never taken" if conn not in configured else ""
            lines.append(f"creations: {conn} {out.count(n['waiting'], 'issue')} to create in Jira{never}")
        if n["failed"]:
            lines.append(
                f"creations: {conn} {out.count(n['failed'], 'request')} refused "
                "(jira-console local creations --state failed says why)"
            )
    return lines


def _lease_note(sync: dict[str, Any], alive: dict[str, bool]) -> str:
    """Who runs a running sync and until when its lease holds; a daemon that went silent holding it is said,
    with when another daemon can take over."""
    owner = sync["lease_owner"]
    if not sync["running"] or not owner:
        return ""
    note = f" on {owner} (lease until {out.when(sync['lease_expires_at'])}"
    if alive.get(owner) is False:
        note += f"; {owner} is not responding: another daemon takes the sync over when the lease expires"
    return note + ")"


def _status_lines(data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    table = []
    for name, h in data["health"].items():
        note = f"last success {out.when(h['last_success_at'])}"
        if h["failures"]:
            note = f"{out.count(h['failures'], 'failed run')} in a row; " + note
        table.append((name, h["verdict"], note))
    lines += out.rows(table) or ["no [[jira]] connections configured"]
    for name, h in data["health"].items():
        if h["last_error"]:
            lines.append(f"  {name}: last error: {h['last_error']}")
    alive = {d["name"]: d["alive"] for d in data["daemons"]}
    for s in data["sync"]:
        if s["scope"] != "issues" and s["last_started_at"] is None:
            continue  # bookkeeping rows (Retry-After) that never ran
        lines.append(
            f"{s['connection']}/{s['scope']}: {s['last_status'] or 'never run'}{_lease_note(s, alive)}, "
            f"last finished {out.when(s['last_finished_at'])}, watermark {out.when_ms(s['watermark_ms'])}"
        )
        if s["quarantined"]:
            lines.append(f"  quarantined issues ({len(s['quarantined'])}), tried again at each sync:")
            lines += [f"    {line}" for line in s["quarantined"]]
    lines += [f"credentials: {note}" for note in data["credentials_held_back"].values()]
    hooks = data["webhooks"]
    busy = ", ".join(f"{n} {k}" for k, n in hooks["counts"].items() if n) or "none stored"
    lines.append(f"open conflicts: {data['conflicts_open']}")
    for conn, fields in data["field_errors"].items():
        lines += [
            f"field errors: {conn} {field} on {out.count(n, 'issue')} "
            f"(not synced; issues list --errors --field {field}, then issues show KEY)"
            for field, n in fields.items()
        ]
    for conn, n in data["local_edits"].items():
        never = ", which is not configured: never pushed" if conn not in data["connections"] else ""
        lines.append(
            f"local edits: {conn} {out.count(n, 'issue')} waiting to be pushed{never} (issues list --dirty)"
        )
    lines += _outbox_lines(data["outbox"], data["connections"])
    lines += _creation_lines(data["creations"], data["connections"])
    lines.append(f"webhook events: {busy}; {hooks['queue_depth']} waiting")
    for d in data["daemons"]:
        state_ = "alive" if d["alive"] else "stopped" if d["stopped_at"] else "not responding"
        lines.append(f"daemon {d['name']}: {state_}, last heartbeat {out.when(d['heartbeat_at'])}")
    if not data["daemons"]:
        lines.append("no daemon has run on this database")
    return lines


def status(as_json: bool = JSON_OPT) -> None:
    """Health per connection, sync state, open conflicts, webhook queue and daemons (reads the database
    only; never creates one)."""
    data = read_store(_status_data)
    if as_json:
        emit_json(data)
        return
    for line in _status_lines(data):
        echo(line)


# ----------------------------------------------------------------------------------------------- issues


def issues_list(
    *,
    connection: str | None = CONN_OPT,
    search: str | None = typer.Option(None, "--search", "-s", help="Text in key or summary."),
    status_: str | None = typer.Option(None, "--status", help="Only this status."),
    dirty: bool = typer.Option(False, "--dirty", help="Only issues with unpushed local changes."),
    errors: bool = typer.Option(False, "--errors", help="Only issues with a field that does not sync."),
    field: str | None = typer.Option(None, "--field", help="With --errors: only errors of this field."),
    sprint: str | None = typer.Option(None, "--sprint", help="Only issues of this sprint (its id or name)."),
    limit: int = typer.Option(100, "--limit", min=1, max=100000),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JSON_OPT,
) -> None:
    """List issues from the local database, in key order (ENG-2 before ENG-10)."""
    from jira_console.store import repo

    if field is not None and not errors:
        fail("--field narrows --errors: give both", EXIT_USAGE)
    failing = (field or "") if errors else None
    query = repo.IssueQuery(
        connection, status=status_, dirty=True if dirty else None, text=search, failing=failing,
        limit=limit, offset=offset,
    )  # fmt: skip

    def work(db: Database) -> tuple[list[IssueRecord], int, bool, dict[int, list[FieldErrorRecord]]]:
        nonlocal query
        stored_connection(connection, db)
        if sprint is not None:
            from jira_console.cli.sprints_cmd import resolve_sprint

            where, sprint_id = resolve_sprint(db, sprint, connection)
            query = replace(query, connection=where, sprint_id=sprint_id)
        with db.session() as s:
            several = connection is None and len(repo.issue_connections(s, query, limit=2)) > 1
            rows = repo.list_issues(s, query)
            errors_of = repo.field_errors_of(s, [i.id for i in rows]) if as_json else {}
            return rows, repo.count_issues(s, query), several, errors_of

    rows, total, several, errors_of = read_store(work)
    if as_json:  # each issue's errors too, as `issues show` gives them
        emit_json([issue_view(i, errors_of.get(i.id)) for i in rows])
        return
    # The same key can name issues of two sites: every line names its connection when the list spans several
    # (not only on a page that happens to hold both).
    table = [
        (
            ("*" if i.local_dirty else " ") + (f"{i.connection}:" if several else "") + i.key,
            out.text(i.status),
            i.summary or "",
        )
        for i in rows
    ]
    for line in out.rows(table):
        echo(line)
    if not rows and total:  # a page past the end
        echo(f"none at --offset {offset}: {out.count(total, 'issue')} in all")
    elif not rows:
        filtered = bool(search or status_ or dirty or errors or sprint)
        echo(none_found("issues", connection, filtered))
    elif total > len(rows) or offset:
        more = f"; --offset {offset + len(rows)} for more" if offset + len(rows) < total else ""
        echo(f"showing {offset + 1}-{offset + len(rows)} of {total}{more}")
    else:
        echo(f"showing {len(rows)} of {total}")


def issues_show(
    key: str = typer.Argument(..., callback=issue_key),
    connection: str | None = CONN_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """One issue: core fields (people and sprints by name where known), mapped fields, sync state and
    mapping errors."""
    from jira_console.store import catalog, identity, repo

    names = [c.name for c in state.config().settings.jira]

    def work(db: Database) -> tuple[IssueRecord | None, list[FieldErrorRecord], Any]:
        stored_connection(connection, db)
        with db.session() as s:
            found = identity.find_issues(s, key, connection, names)
            if len(found) > 1:
                fail(f"{key} exists in several connections; pass --connection", 2)
            issue = found[0] if found else None
            if issue is None:
                return None, [], None
            errors = repo.list_field_errors(s, issue_id=issue.id)
            people = [issue.assignee] if issue.assignee else []
            sprints = [issue.sprint_id] if issue.sprint_id is not None else []
            return issue, errors, catalog.known_names(s, issue.connection, people, sprints)

    issue, errors, known = read_store(work)
    if issue is None:
        fail(f"no issue {key} in the local database", EXIT_NOT_FOUND)
    view = issue_view(issue, errors, known)
    if issue.key != key:
        view["moved_from"] = key  # an old key: Jira moved the issue (another project, a renamed key)
    if as_json:
        emit_json(view)
        return
    if issue.key != key:
        echo(f"{key} moved: it is now {issue.key}")
    for line in _issue_lines(view):
        echo(line)


def _named(name: str | None, ident: Any) -> str:
    if ident is None:
        return "-"
    return f"{name} ({ident})" if name else out.text(ident)


def _issue_lines(view: dict[str, Any]) -> list[str]:
    shown: list[tuple[str, str]] = [
        ("key", f"{view['key']} ({view['connection']})" + ("  [deleted in Jira]" if view["deleted"] else "")),
        ("summary", out.text(view["summary"])),
        ("type", out.text(view["issue_type"])),
        ("status", out.text(view["status"])),
        ("priority", out.text(view["priority"])),
        ("assignee", _named(view.get("assignee_name"), view["assignee"])),
        ("sprint", _named(view.get("sprint_name"), view["sprint"])),
        ("story points", out.text(view["story_points"])),
        ("labels", out.text(view["labels"])),
        ("parent", out.text(view["parent"])),
        ("updated", out.when(datetime.fromisoformat(view["updated"])) if view["updated"] else "-"),
        ("local changes", "waiting to be pushed" if view["local_dirty"] else "none"),
    ]
    shown += [(f"fields.{k}", out.text(v)) for k, v in sorted((view["fields"] or {}).items())]
    width = max(len(k) for k, _ in shown)
    lines = [f"{k:>{width}}: {v}" for k, v in shown]
    lines += [f"{'error':>{width}}: {e['field']}: {e['message']}" for e in view["errors"]]
    if view["description"]:
        # Markdown as stored (what a host program reads and writes), indented under its label.
        lines.append(f"{'description':>{width}}:")
        lines += [f"  {line}" for line in str(view["description"]).splitlines()]
    return lines


def register(app: typer.Typer) -> None:
    """Add ``status`` and the ``issues`` group to the root app."""
    app.command("status")(status)
    issues = typer.Typer(help="Read the local copy of issues.", no_args_is_help=True)
    issues.command("list")(issues_list)
    issues.command("show")(issues_show)
    app.add_typer(issues, name="issues")


__all__ = ["issue_view", "register"]
