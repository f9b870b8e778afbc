"""Registering webhooks with Jira, and keeping Cloud dynamic webhooks alive.

* Admin webhooks (Server/DC and Cloud): ``POST /rest/webhooks/1.0/webhook`` with a name, the URL, the
  events, a JQL filter and optionally the HMAC secret Jira signs deliveries with. They do not expire.
* Dynamic webhooks (Cloud, OAuth 2.0/Connect apps): ``POST /rest/api/3/webhook``. Jira signs them with the
  app's own secret, so ``secret`` is refused for them. They **expire 30 days** after registration or the
  last refresh, silently: the daemon must call :func:`refresh_dynamic_webhooks` well before that
  (:func:`needs_refresh`, default: when fewer than 10 days remain).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import httpx

ADMIN_PATH = "/rest/webhooks/1.0/webhook"
DYNAMIC_PATH = "/rest/api/3/webhook"
REFRESH_PATH = "/rest/api/3/webhook/refresh"
DYNAMIC_LIFETIME_MS = 30 * 86_400_000
REFRESH_MARGIN_DAYS = 10.0


class WebhookClient(Protocol):
    """The part of :class:`jira_console.jira.JiraClient` this module uses."""

    @property
    def flavor(self) -> str: ...

    async def ensure_flavor(self) -> str: ...

    async def request(
        self, method: str, path: str, *, params: Any = None, json: Any = None, idempotent: bool | None = None
    ) -> httpx.Response: ...


class RegistrationError(Exception):
    """Jira refused (part of) a registration; the message says what and why."""


@dataclass(frozen=True, slots=True)
class RegisteredWebhook:
    """A webhook Jira now knows about."""

    kind: Literal["admin", "dynamic"]
    id: int
    url: str
    expires_at_ms: int | None = None
    """Dynamic webhooks only: when Jira drops it unless refreshed."""
    existing: bool = False
    """Found already registered for the same URL and events (nothing was created)."""
    jql: str | None = None
    """The filter Jira holds for it (as listed; for an existing dynamic webhook it may differ from the one
    asked)."""
    filter_was: str | None = None
    """The filter this registration replaced (``""``: none): an existing admin webhook's, changed in place,
    or that of the dynamic webhook in ``replaced``."""
    replaced: int | None = None
    """The dynamic webhook deleted because its filter differed (dynamic webhooks cannot be updated)."""


def _admin_id(body: dict[str, Any]) -> int:
    link = str(body.get("self", ""))
    tail = link.rstrip("/").rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise RegistrationError(f"Jira answered without a webhook id: {body!r:.300}")
    return int(tail)


async def register_webhook(
    client: WebhookClient,
    *,
    url: str,
    events: Sequence[str],
    jql: str | None,
    secret: str | None = None,
    name: str = "jira-console",
    kind: Literal["admin", "dynamic"] = "admin",
) -> RegisteredWebhook:
    """Register one webhook delivering ``events`` for issues matching ``jql`` to ``url``.

    ``kind="admin"`` (default) works on both flavors and needs Jira administrator rights;
    ``kind="dynamic"`` is Cloud only (an OAuth/Connect app) and expires after 30 days.
    """
    if not events:
        raise ValueError("register at least one event, e.g. jira:issue_updated")
    found = await find_webhook(client, url=url, events=events, kind=kind)
    body: dict[str, Any] = {"name": name, "url": url, "events": list(events), "excludeBody": False}
    if jql or found is not None:  # an update to no filter sends an empty one
        body["filters"] = {"issue-related-events-section": jql or ""}
    if secret:
        body["secret"] = secret
    if found is not None:  # registering twice would deliver every event twice
        if (found.jql or None) == (jql or None):
            return found
        if kind == "admin":
            # The connection's JQL changed since: the same webhook, its filter brought up to date.
            await client.request("PUT", f"{ADMIN_PATH}/{found.id}", json=body, idempotent=True)
            return replace(found, jql=jql, filter_was=found.jql or "")
        # A dynamic webhook has no update: one with the new filter is created below, then the old one is
        # deleted (in that order, so that for a moment both deliver, and the applier ignores the second copy
        # of a version, rather than neither).
    if kind == "admin":
        response = await client.request("POST", ADMIN_PATH, json=body, idempotent=False)
        return RegisteredWebhook("admin", _admin_id(response.json()), url)
    if secret:
        raise ValueError("dynamic webhooks are signed with the app's secret; do not pass one")
    if await client.ensure_flavor() != "cloud":
        raise RegistrationError("dynamic webhooks exist on Jira Cloud only; use kind='admin' on Server/DC")
    spec: dict[str, Any] = {"events": list(events)}
    if jql:
        spec["jqlFilter"] = jql
    response = await client.request(
        "POST", DYNAMIC_PATH, json={"url": url, "webhooks": [spec]}, idempotent=False
    )
    results = response.json().get("webhookRegistrationResult") or []
    if not results or "createdWebhookId" not in results[0]:
        errors = results[0].get("errors") if results else None
        raise RegistrationError(f"Jira did not create the dynamic webhook: {errors or results!r:.300}")
    created = RegisteredWebhook(
        "dynamic", int(results[0]["createdWebhookId"]), url, int(time.time() * 1000) + DYNAMIC_LIFETIME_MS,
        jql=jql,
    )  # fmt: skip
    if found is None:
        return created
    try:
        await client.request("DELETE", DYNAMIC_PATH, json={"webhookIds": [found.id]}, idempotent=True)
    except Exception as exc:  # noqa: BLE001 - said with what was done: the new webhook exists
        raise RegistrationError(
            f"registered dynamic webhook #{created.id} with the new filter, but Jira did not delete "
            f"#{found.id} (filter {found.jql or '(none)'}): {exc}; both deliver until it is deleted"
        ) from None
    return replace(created, replaced=found.id, filter_was=found.jql or "")


async def list_admin_webhooks(client: WebhookClient) -> list[tuple[RegisteredWebhook, set[str]]]:
    """Every admin webhook of the site with its events (``GET /rest/webhooks/1.0/webhook``)."""
    body = (await client.request("GET", ADMIN_PATH)).json()
    found: list[tuple[RegisteredWebhook, set[str]]] = []
    for item in body if isinstance(body, list) else []:
        try:
            hook_id = _admin_id(item)
        except RegistrationError:
            continue
        jql = ((item.get("filters") or {}).get("issue-related-events-section")) or None
        found.append(
            (
                RegisteredWebhook("admin", hook_id, str(item.get("url", "")), jql=jql),
                set(item.get("events") or []),
            )
        )
    return found


async def stale_filters(client: WebhookClient, connection: str, jql: str | None) -> list[RegisteredWebhook]:
    """The admin webhooks registered for ``connection`` (their URL names it: ``?connection=NAME``) whose
    filter is not ``jql``: Jira delivers another scope's events to them. Empty when the account may not list
    webhooks (only administrators may) or the site has no such list."""
    from urllib.parse import parse_qs, urlsplit

    try:
        hooks = await list_admin_webhooks(client)
    except Exception as exc:  # noqa: BLE001 - not an administrator, or no such list: nothing known
        if getattr(exc, "status", None) not in (401, 403, 404):
            raise
        return []
    return [
        hook
        for hook, _events in hooks
        if parse_qs(urlsplit(hook.url).query).get("connection") == [connection]
        and (hook.jql or None) != (jql or None)
    ]


async def find_webhook(
    client: WebhookClient, *, url: str, events: Sequence[str], kind: Literal["admin", "dynamic"] = "admin"
) -> RegisteredWebhook | None:
    """The webhook already registered for ``url`` with the same ``events`` (marked ``existing``), or None."""
    wanted = set(events)
    if kind == "admin":
        for hook, hook_events in await list_admin_webhooks(client):
            if hook.url == url and hook_events == wanted:
                return RegisteredWebhook("admin", hook.id, hook.url, existing=True, jql=hook.jql)
        return None
    if await client.ensure_flavor() != "cloud":
        return None
    for hook, hook_events in await _dynamic_with_events(client):
        if hook.url == url and hook_events == wanted:
            return RegisteredWebhook(
                "dynamic", hook.id, hook.url, hook.expires_at_ms, existing=True, jql=hook.jql
            )
    return None


async def refresh_dynamic_webhooks(client: WebhookClient, ids: Sequence[int]) -> int | None:
    """Extend dynamic webhooks ``ids`` by 30 days; returns the new expiry (epoch ms) Jira reports."""
    if not ids:
        return None
    response = await client.request(
        "PUT", REFRESH_PATH, json={"webhookIds": [int(i) for i in ids]}, idempotent=True
    )
    value = response.json().get("expirationDate")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None  # other formats exist in the wild; the caller re-lists to learn the expiry


async def _dynamic_with_events(client: WebhookClient) -> list[tuple[RegisteredWebhook, set[str]]]:
    found: list[tuple[RegisteredWebhook, set[str]]] = []
    start = 0
    while True:
        page = (
            await client.request("GET", DYNAMIC_PATH, params={"startAt": start, "maxResults": 100})
        ).json()
        values = page.get("values") or []
        for item in values:
            expiry = item.get("expirationDate")
            hook = RegisteredWebhook(
                "dynamic", int(item["id"]), str(item.get("url", "")), int(expiry) if expiry else None,
                jql=item.get("jqlFilter") or None,
            )  # fmt: skip
            found.append((hook, set(item.get("events") or [])))
        start += len(values)
        if page.get("isLast", True) or not values:
            return found


async def list_dynamic_webhooks(client: WebhookClient) -> list[RegisteredWebhook]:
    """Every dynamic webhook of the app, with its expiry (paged ``GET /rest/api/3/webhook``)."""
    return [hook for hook, _ in await _dynamic_with_events(client)]


def needs_refresh(
    expires_at_ms: int | None, *, now_ms: int | None = None, margin_days: float = REFRESH_MARGIN_DAYS
) -> bool:
    """True when a dynamic webhook should be refreshed now: fewer than ``margin_days`` left, already
    expired, or the expiry is unknown (refreshing is cheap; a silent expiry is not)."""
    if expires_at_ms is None:
        return True
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return expires_at_ms - now_ms < margin_days * 86_400_000


async def refresh_due_webhooks(
    client: WebhookClient, *, now_ms: int | None = None, margin_days: float = REFRESH_MARGIN_DAYS
) -> list[int]:
    """The daemon's daily job: refresh every dynamic webhook of this Cloud client that expires within
    ``margin_days`` (or whose expiry is unknown). Returns the ids refreshed.

    Server/DC has no dynamic webhooks (nothing to do). On Cloud, a caller that is not an OAuth/Connect app
    (plain API-token auth) is refused the listing with 400/401/403/404: it cannot own dynamic webhooks
    either, so that is not an error. Any other failure raises, to be logged and retried the next day.
    """
    from jira_console.jira.errors import JiraAuthError, JiraBadRequest, JiraNotFound

    if await client.ensure_flavor() != "cloud":
        return []
    try:
        hooks = await list_dynamic_webhooks(client)
    except (JiraAuthError, JiraBadRequest, JiraNotFound):
        return []
    due = sorted(
        h.id for h in hooks if needs_refresh(h.expires_at_ms, now_ms=now_ms, margin_days=margin_days)
    )
    if due:
        await refresh_dynamic_webhooks(client, due)
    return due
