"""Shared helpers for the webhook tests (no tests here): settings, signed posts, a fake applier."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from jira_console.config import JiraConnection, Settings, WebhookConfig
from jira_console.store import Database
from jira_console.store.models import WebhookEvent
from jira_console.webhooks.signature import sign
from tests.ports import free_port

SECRET = "test-webhook-secret-1"
PREVIOUS = "test-webhook-secret-0"
SECRET_ENV = "JC_TEST_WEBHOOK_SECRET"
PREVIOUS_ENV = "JC_TEST_WEBHOOK_SECRET_PREVIOUS"
PATH = "/webhooks/jira"


def make_settings(**webhook: Any) -> Settings:
    """Two connections (a Cloud site and a Server host) and a webhook section reading the test env vars."""
    options: dict[str, Any] = {"secret_env": SECRET_ENV, "previous_secret_env": PREVIOUS_ENV, "path": PATH}
    options.update(webhook)
    return Settings(
        jira=[
            JiraConnection(name="cloud", url="https://zulipp.atlassian.net", user="bot@example.com"),
            JiraConnection(name="server", url="https://jira.test-example.ru/", user="bot"),
        ],
        webhooks=WebhookConfig(**options),
    )


def listening_daemon_settings(db_url: str, conn: JiraConnection, name: str) -> Settings:
    """A daemon's settings over ``conn`` with its webhook listener on a free loopback port (path ``/hooks``,
    the test secret, which the caller puts in ``SECRET_ENV``)."""
    return Settings(
        database={"url": db_url},
        jira=[conn.model_dump()],
        webhooks={"listen": f"127.0.0.1:{free_port()}", "secret_env": SECRET_ENV, "path": "/hooks"},
        daemon={"heartbeat_seconds": 1, "name": name},
    )


def issue_event(key: str, updated_ms: int, *, event: str = "jira:issue_updated", summary: str = "s") -> dict:
    """A v2-shaped issue event whose ``timestamp`` and ``fields.updated`` are ``updated_ms``."""
    updated = datetime.fromtimestamp(updated_ms / 1000).astimezone().strftime("%Y-%m-%dT%H:%M:%S.000%z")
    return {
        "timestamp": updated_ms,
        "webhookEvent": event,
        "issue_event_type_name": "issue_generic",
        "user": {"self": "https://zulipp.atlassian.net/rest/api/2/user?accountId=1", "accountId": "1"},
        "issue": {
            "id": str(abs(hash(key)) % 100000),
            "key": key,
            "self": "https://zulipp.atlassian.net/rest/api/2/issue/10001",
            "fields": {"summary": summary, "updated": updated, "description": "x" * 400},
        },
    }


async def post(
    client: httpx.AsyncClient,
    body: bytes | dict,
    *,
    secret: str | None = SECRET,
    identifier: str | None = None,
    path: str = PATH,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    sent = {"Content-Type": "application/json"}
    if secret is not None:
        sent["X-Hub-Signature"] = sign(raw, secret)
    if identifier is not None:
        sent["X-Atlassian-Webhook-Identifier"] = identifier
    sent.update(headers or {})
    return await client.post(path, content=raw, headers=sent)


def rows(db: Database) -> list[WebhookEvent]:
    with db.session() as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


class FakeApplier:
    """Keeps the newest issue state per key by ``fields.updated``; counts every call.

    ``fail_times[key]`` makes the next N calls for that key raise; ``always_fail`` keys always raise.
    """

    def __init__(self) -> None:
        self.issues: dict[tuple[str | None, str], dict] = {}
        self.updated: dict[tuple[str | None, str], datetime] = {}
        self.deleted: list[tuple[str | None, str]] = []
        self.sprints: list[tuple[str | None, int | None]] = []
        self.calls: Counter[str] = Counter()
        self.effects = 0
        self.fail_times: dict[str, int] = {}
        self.always_fail: set[str] = set()
        self.delay = 0.0

    def _maybe_fail(self, key: str) -> None:
        if key in self.always_fail:
            raise RuntimeError(f"applier refuses {key}")
        if self.fail_times.get(key, 0) > 0:
            self.fail_times[key] -= 1
            raise ConnectionError(f"transient failure for {key}")

    async def apply_remote_issues(self, connection: str | None, items: list) -> list[str]:
        # Like a transaction: a batch holding an item that fails changes nothing and counts no call.
        if len(items) > 1 and any(self._fails(issue["key"]) for issue, _changelog in items):
            raise ConnectionError("a batch item failed")
        return [await self._apply_issue(connection, issue) for issue, _changelog in items]

    def _fails(self, key: str) -> bool:
        return key in self.always_fail or self.fail_times.get(key, 0) > 0

    async def _apply_issue(self, connection: str | None, issue: dict) -> str:
        key = issue["key"]
        self.calls[key] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        self._maybe_fail(key)
        updated = datetime.strptime(issue["fields"]["updated"], "%Y-%m-%dT%H:%M:%S.%f%z")
        slot = (connection, key)
        if slot in self.updated and updated <= self.updated[slot]:
            return "stale"
        self.updated[slot] = updated
        self.issues[slot] = issue
        self.effects += 1
        return "applied"

    async def apply_remote_deletion(
        self, connection: str | None, issue_key: str, *, event_ts_ms: int | None, issue_id: str | None = None
    ) -> str:
        self.calls[issue_key] += 1
        self._maybe_fail(issue_key)
        self.deleted.append((connection, issue_key))
        self.issues.pop((connection, issue_key), None)
        self.effects += 1
        return "applied"

    async def refresh_sprint(self, connection: str | None, sprint_id: int | None, payload: dict) -> str:
        self.sprints.append((connection, sprint_id))
        self.effects += 1
        return "applied"


class TrivialApplier:
    """Does nothing and says ``applied`` (for throughput and exactly-once counting)."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    async def apply_remote_issues(self, connection: str | None, items: list) -> list[str]:
        for issue, _changelog in items:
            self.seen[issue["key"]] += 1
        return ["applied"] * len(items)

    async def apply_remote_deletion(
        self, connection: str | None, issue_key: str, *, event_ts_ms: int | None, issue_id: str | None = None
    ) -> str:
        self.seen[issue_key] += 1
        return "applied"

    async def refresh_sprint(self, connection: str | None, sprint_id: int | None, payload: dict) -> str:
        return "applied"
