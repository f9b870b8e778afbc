"""``webhooks`` commands: inspect the stored deliveries, retry failed ones, see queue figures, and register
the listener's URL with Jira (admin webhooks on Server/DC and Cloud, dynamic webhooks on Cloud)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import typer

from jira_console.cli.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    emit_json,
    fail,
    no_connections,
    none_found,
    state,
    stored_connection,
    with_engine,
)
from jira_console.cli.safe_text import echo, one_line

if TYPE_CHECKING:
    from jira_console.config import JiraConnection, Settings
    from jira_console.facade import Engine
    from jira_console.store.converters import WebhookEventRecord
    from jira_console.webhooks.registration import RegisteredWebhook

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
STATUSES = ("received", "processing", "applied", "ignored", "stale", "failed")
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")
SPRINT_EVENTS = ("sprint_created", "sprint_updated", "sprint_started", "sprint_closed", "sprint_deleted")


def event_view(event: WebhookEventRecord, *, with_payload: bool = False) -> dict[str, Any]:
    """The stable JSON shape of one stored delivery."""
    view: dict[str, Any] = {
        "id": event.id,
        "connection": event.connection,
        "identifier": event.identifier,
        "event_type": event.event_type,
        "issue_key": event.issue_key,
        "status": event.status,
        "attempts": event.attempts,
        "received_at": event.received_at,
        "processed_at": event.processed_at,
        "next_attempt_at": event.next_attempt_at,
        "claimed_by": event.claimed_by,
        "last_error": event.last_error,
    }
    if with_payload:
        view["event_ts_ms"] = event.event_ts_ms
        view["headers"] = event.headers
        try:
            view["payload"] = json.loads(event.payload)
        except ValueError:
            view["payload"] = event.payload
    return view


def pretty_payload(raw: str) -> str:
    """The body indented for reading; left as stored when it is not JSON."""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return raw


def listener_url(settings: Settings, conn: JiraConnection, url: str | None) -> str:
    """The URL Jira should call: ``--url``, else ``webhooks.public_url``, else the listen address and path;
    always with ``?connection=NAME`` so the listener knows which site an event comes from. Refused when it
    names this machine's loopback (or any-address) and the site is elsewhere: Jira could never call it."""
    wh = settings.webhooks
    base = url or wh.public_url or f"http://{wh.listen}{wh.path}"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"the webhook URL must be an absolute http(s) URL, got {base!r}", EXIT_USAGE)
    if _only_here(parts.hostname or "") and not _only_here(urlsplit(conn.url).hostname or ""):
        fail(
            f"Jira at {conn.url} cannot call {base}, an address of this machine only: pass --url with the "
            "address Jira reaches (e.g. your TLS proxy's), or set [webhooks] public_url",
            EXIT_USAGE,
        )
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "connection"]
    query.append(("connection", conn.name))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or wh.path, urlencode(query), ""))


def _only_here(host: str) -> bool:
    """Whether ``host`` names this machine alone: loopback, or the any-address a listener binds."""
    from jira_console.webhooks.exposure import is_loopback

    return is_loopback(host) or host in ("0.0.0.0", "::", "")


def filter_jql(connection_jql: str) -> str | None:
    """The connection's JQL without its ORDER BY (a webhook filter selects, it does not sort)."""
    from jira_console.sync.jql import scope_filter

    return scope_filter(connection_jql) or None


def split_events(values: Sequence[str] | None, dynamic: bool) -> list[str]:
    events: list[str] = []
    for value in values or []:
        events.extend(part.strip() for part in value.split(",") if part.strip())
    if not events:
        events = list(ISSUE_EVENTS) if dynamic else [*ISSUE_EVENTS, *SPRINT_EVENTS]
    return list(dict.fromkeys(events))


def webhooks_list(
    status: str | None = typer.Option(None, "--status", help=f"Only this status ({', '.join(STATUSES)})."),
    connection: str | None = typer.Option(None, "--connection", "-C", help="Only this connection's."),
    limit: int = typer.Option(50, "--limit", min=1, max=100000),
    as_json: bool = JSON_OPT,
) -> None:
    """Stored deliveries, newest first."""
    if status is not None and status not in STATUSES:
        fail(f"unknown status {status!r}; use one of {', '.join(STATUSES)}", EXIT_USAGE)

    async def work(engine: Engine) -> list[WebhookEventRecord]:
        stored_connection(connection, engine.db)
        return engine.list_webhook_events(status, limit, connection=connection)

    rows = with_engine(work, attach=True, read_only=True)
    if as_json:
        emit_json([event_view(e) for e in rows])
        return
    if not rows:
        what = "webhook events" + (f" with status {status}" if status else "")
        echo(none_found(what, connection, False, ""))
    for e in rows:
        echo(
            f"#{e.id} {e.received_at:%Y-%m-%d %H:%M:%S} {e.connection or '-'} "
            f"{e.event_type or '?'} {e.issue_key or '-'} [{e.status}, {e.attempts} attempt(s)]"
            + (f" {e.last_error}" if e.last_error else "")
        )


def webhooks_show(event_id: int, as_json: bool = JSON_OPT) -> None:
    """One delivery: its state, the headers kept, and the payload."""

    async def work(engine: Engine) -> WebhookEventRecord | None:
        return engine.get_webhook_event(event_id)

    event = with_engine(work, attach=True, read_only=True)
    if event is None:
        fail(f"no webhook event with id {event_id}", EXIT_NOT_FOUND)
    if as_json:
        emit_json(event_view(event, with_payload=True))
        return
    from jira_console.cli import output as out

    for k, v in event_view(event).items():
        if k == "last_error" and event.status in ("applied", "ignored", "stale"):
            k = "note"  # why it was ignored or stale: not an error (the JSON keeps its one name)
        echo(f"{k:>16}: {out.text(v)}")
    for k, v in sorted(event.headers.items()):
        echo(f"{'header':>16}: {k}: {v}")
    echo("payload:")
    echo(pretty_payload(event.payload))


async def _retry(engine: Engine, event_id: int | None) -> dict[str, Any]:
    """Retry one event, or (``event_id`` None) every failed one until none is left."""
    if event_id is not None:
        event = engine.get_webhook_event(event_id)
        if event is None:
            return {"missing": True}
        if event.status == "processing":
            return {"busy": True}
        done = await engine.retry_webhook_event(event_id)
        return {"retried": [event_id] if done else []}
    retried: list[int] = []
    while True:
        batch = [e.id for e in engine.list_webhook_events("failed", 500)]
        if not batch:
            break
        for one in batch:
            if await engine.retry_webhook_event(one):
                retried.append(one)
    return {"retried": retried}


def webhooks_retry(
    event_id: int | None = typer.Argument(None, help="The event to process again."),
    all_failed: bool = typer.Option(False, "--all-failed", help="Every event parked as failed."),
    as_json: bool = JSON_OPT,
) -> None:
    """Queue an event (or every failed one) for processing again, with a fresh attempt budget."""
    if (event_id is None) == (not all_failed):
        fail("give an event id or --all-failed (not both)", EXIT_USAGE)
    outcome = with_engine(lambda engine: _retry(engine, event_id), attach=True)
    if outcome.get("missing"):
        fail(f"no webhook event with id {event_id}", EXIT_NOT_FOUND)
    if outcome.get("busy"):
        fail(f"webhook event {event_id} is being processed right now; try again shortly", EXIT_FAILURE)
    retried = outcome["retried"]
    if as_json:
        emit_json({"retried": retried, "count": len(retried)})
        return
    if not retried:
        echo("no failed webhook events to retry")
    else:
        echo(
            f"queued {len(retried)} event(s) again: "
            + ", ".join(f"#{i}" for i in retried[:20])
            + (" ..." if len(retried) > 20 else "")
            + "; a running daemon processes them"
        )


def webhooks_stats(as_json: bool = JSON_OPT) -> None:
    """Counts by status, queue depth, age of the oldest pending event, last-minute rates."""

    async def work(engine: Engine) -> dict[str, Any]:
        data = asdict(engine.webhook_stats())
        data["oldest_pending_seconds"] = round(data["oldest_pending_seconds"], 3)
        return data

    data = with_engine(work, attach=True, read_only=True)
    if as_json:
        emit_json(data)
        return
    counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
    echo(f"events: {counts}")
    echo(
        f"queue: {data['queue_depth']} pending, oldest {data['oldest_pending_seconds']:.1f} s; "
        f"last minute: {data['received_per_minute']} received, {data['processed_per_minute']} processed"
    )


def _registration_secret(settings: Settings, dynamic: bool) -> str | None:
    """The secret Jira signs deliveries with (admin webhooks); refuses to register unsigned ones the
    listener would turn away."""
    secrets = settings.webhooks.secrets()
    secret = secrets[0].decode() if secrets and not dynamic else None
    if not dynamic and secret is None and settings.webhooks.require_signature:
        fail(
            f"no webhook secret: {settings.webhooks.secret_hint()} so Jira signs deliveries (the listener "
            "refuses unsigned ones while webhooks.require_signature is on)",
            EXIT_USAGE,
        )
    return secret


def _registered(hook: RegisteredWebhook, conn: JiraConnection, data: dict[str, Any]) -> None:
    if hook.existing:
        echo(
            f"already registered: {hook.kind} webhook #{hook.id} on {conn.name}: {hook.url} (nothing created)"
        )
        if hook.filter_was is not None:
            echo(
                f"  its filter updated to {one_line(data['jql'] or '(none)')} "
                f"(was {one_line(hook.filter_was or '(none)')})"
            )
        elif (hook.jql or None) != (data["jql"] or None):
            echo(
                f"  note: its filter is {one_line(hook.jql or '(none)')}, "
                f"not {one_line(data['jql'] or '(none)')}; delete it in Jira and register again to change it"
            )
        return
    echo(f"registered {hook.kind} webhook #{hook.id} on {conn.name}: {hook.url}")
    echo(f"  events: {', '.join(data['events'])}; filter: {data['jql'] or '(none)'}")
    if hook.replaced is not None:
        echo(
            f"  replaces dynamic webhook #{hook.replaced}, now deleted, whose filter was "
            f"{one_line(hook.filter_was or '(none)')} (a dynamic webhook cannot be updated in place)"
        )
    if hook.expires_at_ms:
        echo("  expires in 30 days unless refreshed (the daemon refreshes it daily)")
    elif not data["signed"]:
        echo("  unsigned: deliveries carry no X-Hub-Signature")


def webhooks_register(
    *,
    connection: str | None = typer.Option(
        None, "--connection", "-C", help="Connection (default: the only one)."
    ),
    url: str | None = typer.Option(
        None, "--url", help="URL Jira calls (default: webhooks.public_url, else the listen address)."
    ),
    events: list[str] | None = typer.Option(
        None, "--events", help="Event names, repeatable or comma-separated (default: issue and sprint)."
    ),
    jql: str | None = typer.Option(None, "--jql", help="Issue filter (default: the connection's JQL)."),
    dynamic: bool = typer.Option(
        False, "--dynamic", help="A dynamic (OAuth/Connect app) webhook: Cloud only, expires in 30 days."
    ),
    name: str = typer.Option("jira-console", "--name", help="Webhook name shown in Jira (admin)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Register the listener with Jira, signed with the configured secret (admin webhooks)."""
    from jira_console.config import ConfigError
    from jira_console.webhooks.registration import RegistrationError

    settings = state.config().settings
    if not settings.jira:
        fail(no_connections(), EXIT_USAGE)
    try:
        conn = settings.connection(connection)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    target = listener_url(settings, conn, url)
    chosen = split_events(events, dynamic)
    filter_ = jql if jql is not None else filter_jql(conn.jql)
    secret = _registration_secret(settings, dynamic)
    if dynamic and not filter_:
        fail("dynamic webhooks need a JQL filter: pass --jql", EXIT_USAGE)

    async def work(engine: Engine) -> RegisteredWebhook:
        try:
            return await engine.register_webhook(
                conn.name, url=target, events=chosen, jql=filter_, secret=secret, name=name,
                kind="dynamic" if dynamic else "admin",
            )  # fmt: skip
        except (RegistrationError, ValueError) as exc:
            fail(f"Jira did not register the webhook: {exc}", EXIT_FAILURE)

    hook = with_engine(work, attach=False)
    data = asdict(hook) | {
        "connection": conn.name,
        "events": chosen,
        "jql": filter_,
        "signed": secret is not None,
    }
    if as_json:
        emit_json(data)
    else:
        _registered(hook, conn, data)


def register(app: typer.Typer) -> None:
    """Add the ``webhooks`` group to the root app."""
    hooks = typer.Typer(help="Webhook deliveries: inspect, retry, register with Jira.", no_args_is_help=True)
    hooks.command("list")(webhooks_list)
    hooks.command("show")(webhooks_show)
    hooks.command("retry")(webhooks_retry)
    hooks.command("stats")(webhooks_stats)
    hooks.command("register")(webhooks_register)
    app.add_typer(hooks, name="webhooks")
