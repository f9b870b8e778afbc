"""``webhooks`` commands: inspect the stored deliveries, retry failed ones, see queue figures, and register
the listener's URL with Jira (admin webhooks on Server/DC and Cloud, dynamic webhooks on Cloud)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import typer

from jira_console.cli.common import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, emit_json, fail, state

JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
STATUSES = ("received", "processing", "applied", "ignored", "stale", "failed")
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")
SPRINT_EVENTS = ("sprint_created", "sprint_updated", "sprint_started", "sprint_closed", "sprint_deleted")


def event_view(event: Any, *, with_payload: bool = False) -> dict[str, Any]:
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


def listener_url(settings: Any, connection: str, url: str | None) -> str:
    """The URL Jira should call: ``--url``, else ``webhooks.public_url``, else the listen address and path;
    always with ``?connection=NAME`` so the listener knows which site an event comes from."""
    wh = settings.webhooks
    base = url or wh.public_url or f"http://{wh.listen}{wh.path}"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"the webhook URL must be an absolute http(s) URL, got {base!r}", EXIT_USAGE)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "connection"]
    query.append(("connection", connection))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or wh.path, urlencode(query), ""))


def filter_jql(connection_jql: str) -> str | None:
    """The connection's JQL without its ORDER BY (a webhook filter selects, it does not sort)."""
    lowered = connection_jql.lower()
    cut = lowered.rfind("order by")
    text = (connection_jql[:cut] if cut >= 0 else connection_jql).strip()
    return text or None


def split_events(values: Sequence[str] | None, dynamic: bool) -> list[str]:
    events: list[str] = []
    for value in values or []:
        events.extend(part.strip() for part in value.split(",") if part.strip())
    if not events:
        events = list(ISSUE_EVENTS) if dynamic else [*ISSUE_EVENTS, *SPRINT_EVENTS]
    return list(dict.fromkeys(events))


def register(app: typer.Typer) -> None:
    from jira_console.cli.sync_cmd import with_engine

    hooks = typer.Typer(help="Webhook deliveries: inspect, retry, register with Jira.", no_args_is_help=True)
    app.add_typer(hooks, name="webhooks")

    @hooks.command("list")
    def webhooks_list(
        status: str | None = typer.Option(
            None, "--status", help=f"Only this status ({', '.join(STATUSES)})."
        ),
        limit: int = typer.Option(50, "--limit", min=1, max=100000),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Stored deliveries, newest first."""
        if status is not None and status not in STATUSES:
            fail(f"unknown status {status!r}; use one of {', '.join(STATUSES)}", EXIT_USAGE)

        async def work(engine: Any) -> Any:
            return engine.list_webhook_events(status, limit)

        rows = with_engine(work, attach=True)
        if as_json:
            emit_json([event_view(e) for e in rows])
            return
        if not rows:
            typer.echo("no webhook events" + (f" with status {status}" if status else ""))
        for e in rows:
            typer.echo(
                f"#{e.id} {e.received_at:%Y-%m-%d %H:%M:%S} {e.connection or '-'} "
                f"{e.event_type or '?'} {e.issue_key or '-'} [{e.status}, {e.attempts} attempt(s)]"
                + (f" {e.last_error}" if e.last_error else "")
            )

    @hooks.command("show")
    def webhooks_show(event_id: int, as_json: bool = JSON_OPT) -> None:
        """One delivery: its state, the headers kept, and the payload."""

        async def work(engine: Any) -> Any:
            return engine.get_webhook_event(event_id)

        event = with_engine(work, attach=True)
        if event is None:
            fail(f"no webhook event with id {event_id}", EXIT_NOT_FOUND)
        if as_json:
            emit_json(event_view(event, with_payload=True))
            return
        for k, v in event_view(event).items():
            typer.echo(f"{k:>16}: {v if v is not None else '-'}")
        for k, v in sorted(event.headers.items()):
            typer.echo(f"{'header':>16}: {k}: {v}")
        typer.echo("payload:")
        typer.echo(pretty_payload(event.payload))

    @hooks.command("retry")
    def webhooks_retry(
        event_id: int | None = typer.Argument(None, help="The event to process again."),
        all_failed: bool = typer.Option(False, "--all-failed", help="Every event parked as failed."),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Queue an event (or every failed one) for processing again, with a fresh attempt budget."""
        if (event_id is None) == (not all_failed):
            fail("give an event id or --all-failed (not both)", EXIT_USAGE)

        async def work(engine: Any) -> dict[str, Any]:
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

        outcome = with_engine(work, attach=True)
        if outcome.get("missing"):
            fail(f"no webhook event with id {event_id}", EXIT_NOT_FOUND)
        if outcome.get("busy"):
            fail(f"webhook event {event_id} is being processed right now; try again shortly", EXIT_FAILURE)
        retried = outcome["retried"]
        if as_json:
            emit_json({"retried": retried, "count": len(retried)})
            return
        if not retried:
            typer.echo("no failed webhook events to retry")
        else:
            typer.echo(
                f"queued {len(retried)} event(s) again: "
                + ", ".join(f"#{i}" for i in retried[:20])
                + (" ..." if len(retried) > 20 else "")
                + "; a running daemon processes them"
            )

    @hooks.command("stats")
    def webhooks_stats(as_json: bool = JSON_OPT) -> None:
        """Counts by status, queue depth, age of the oldest pending event, last-minute rates."""

        async def work(engine: Any) -> dict[str, Any]:
            from jira_console.webhooks.queue import event_stats

            data = engine.webhook_stats()
            with engine.db.session() as s:
                data["oldest_pending_seconds"] = round(event_stats(s)["oldest_pending_seconds"], 3)
            return data

        data = with_engine(work, attach=True)
        if as_json:
            emit_json(data)
            return
        counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
        typer.echo(f"events: {counts}")
        typer.echo(
            f"queue: {data['queue_depth']} pending, oldest {data['oldest_pending_seconds']:.1f} s; "
            f"last minute: {data['received_per_minute']} received, {data['processed_per_minute']} processed"
        )

    @hooks.command("register")
    def webhooks_register(
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
        from jira_console.webhooks.registration import RegistrationError, register_webhook

        settings = state.config().settings
        if not settings.jira:
            fail("no [[jira]] connections configured", EXIT_USAGE)
        try:
            conn = settings.connection(connection)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        target = listener_url(settings, conn.name, url)
        chosen = split_events(events, dynamic)
        filter_ = jql if jql is not None else filter_jql(conn.jql)
        secrets = settings.webhooks.secrets()
        secret = secrets[0].decode() if secrets and not dynamic else None
        if not dynamic and secret is None and settings.webhooks.require_signature:
            fail(
                f"no webhook secret: set {settings.webhooks.secret_env or 'webhooks.secret_env'} so Jira "
                "signs deliveries (the listener refuses unsigned ones while webhooks.require_signature is "
                "on)",
                EXIT_USAGE,
            )
        if dynamic and not filter_:
            fail("dynamic webhooks need a JQL filter: pass --jql", EXIT_USAGE)

        async def work(engine: Any) -> Any:
            client = engine.clients[conn.name]
            try:
                return await register_webhook(
                    client,
                    url=target,
                    events=chosen,
                    jql=filter_,
                    secret=secret,
                    name=name,
                    kind="dynamic" if dynamic else "admin",
                )
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
            return
        typer.echo(f"registered {hook.kind} webhook #{hook.id} on {conn.name}: {hook.url}")
        typer.echo(f"  events: {', '.join(chosen)}; filter: {filter_ or '(none)'}")
        if hook.expires_at_ms:
            typer.echo("  expires in 30 days unless refreshed (the daemon refreshes it daily)")
        elif secret is None:
            typer.echo("  unsigned: deliveries carry no X-Hub-Signature")
