"""Outgoing webhooks: registered targets, payloads in Jira's shape, signed delivery from a background thread.

Payloads are built when the event happens (under the site lock, so they show the state of that moment) and
delivered later by one worker thread with httpx, so request handling never waits on a slow receiver.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from jira_console.simulator import render

if TYPE_CHECKING:
    from jira_console.simulator.state import Site

RETRY_STATUSES = {408, 409, 425, 429} | set(range(500, 600))
THIRTY_DAYS_MS = 30 * 86_400_000


@dataclass
class WebhookTarget:
    """One registered receiver."""

    id: int
    url: str
    secret: str | None = None
    events: list[str] = field(default_factory=list)  # empty: every event
    jql: str | None = None
    name: str = ""
    kind: str = "admin"  # admin | dynamic | python
    duplicate_rate: float = 0.0
    reorder: bool = False
    expiration: int | None = None  # epoch ms (dynamic webhooks expire after 30 days)
    enabled: bool = True

    def wants(self, event: str) -> bool:
        if not self.enabled:
            return False
        if self.expiration is not None and self.expiration < int(time.time() * 1000):
            return False
        return not self.events or event in self.events


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class _Delivery:
    target: WebhookTarget
    event: str
    body: bytes
    identifier: str
    attempt: int = 0


class WebhookHub:
    """Targets, payload building and the delivery worker."""

    def __init__(
        self, site: Site, base_url: Any, retry_delays: tuple[float, ...], timeout: float, seed: int = 0
    ) -> None:
        self.site = site
        self._base_url = base_url  # callable returning the public base URL
        self.retry_delays = retry_delays
        self.timeout = timeout
        self._rng = random.Random(seed ^ 0xB00C)
        self._lock = threading.Lock()
        self.targets: dict[int, WebhookTarget] = {}
        self._next_id = 1
        self.deliveries: list[dict[str, Any]] = []
        self._queue: queue.Queue[_Delivery | None] = queue.Queue()
        self._held: dict[int, _Delivery] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        site.listeners.append(self._on_event)

    # --------------------------------------------------------------- targets
    def add(self, url: str, **kwargs: Any) -> WebhookTarget:
        with self._lock:
            target = WebhookTarget(self._next_id, url, **kwargs)
            if target.jql:
                from jira_console.simulator import jql

                jql.parse(target.jql)  # refuse a bad filter at registration, as Jira does
            self.targets[target.id] = target
            self._next_id += 1
            return target

    def update(self, target_id: int, **changes: Any) -> WebhookTarget:
        """Replace some settings of a registered target (KeyError when there is none)."""
        if changes.get("jql"):
            from jira_console.simulator import jql

            jql.parse(changes["jql"])  # refused as at registration
        with self._lock:
            target = dataclasses.replace(self.targets[target_id], **changes)
            self.targets[target_id] = target
            return target

    def remove(self, target_id: int) -> bool:
        with self._lock:
            return self.targets.pop(target_id, None) is not None

    def refresh(self, ids: list[int]) -> int:
        """Extend dynamic webhooks by 30 days; returns the new expiration (epoch ms)."""
        expiration = int(time.time() * 1000) + THIRTY_DAYS_MS
        with self._lock:
            for tid in ids:
                if tid in self.targets:
                    self.targets[tid].expiration = expiration
        return expiration

    # -------------------------------------------------------------- payloads
    def _on_event(self, event: str, data: dict[str, Any]) -> None:
        base = self._base_url()
        now = int(time.time() * 1000)
        user = render.user_json(self.site, self.site.user(data.get("user")), base)
        payload: dict[str, Any] = {"timestamp": now, "webhookEvent": event}
        issue = data.get("issue")
        if issue is not None:
            payload["issue_event_type_name"] = data["event_type"]
            payload["user"] = user
            # The v2 representation even on Cloud, as real webhooks carry.
            payload["issue"] = render.issue_json(
                self.site, issue, base, "2", None, set(), navigable_default=True
            )
            history = data.get("history")
            if history is not None:
                payload["changelog"] = {"id": str(history.id), "items": list(history.items)}
        sprint = data.get("sprint")
        if sprint is not None:
            payload["sprint"] = render.sprint_json(self.site, sprint, base)
        body = json.dumps(payload).encode()
        with self._lock:
            targets = [t for t in self.targets.values() if t.wants(event)]
        for target in targets:
            if issue is not None and target.jql:
                try:
                    if not self.site.matches(target.jql, issue):
                        continue
                except ValueError:
                    continue
            self._queue.put(_Delivery(target, event, body, str(uuid.uuid4())))

    # -------------------------------------------------------------- delivery
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sim-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued has been attempted (retries included). For tests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0 and not self._held:
                return True
            time.sleep(0.02)
        return False

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=0.3)
                except queue.Empty:
                    self._flush_held(client)
                    continue
                if item is None:
                    self._queue.task_done()
                    break
                try:
                    target = item.target
                    if target.reorder and item.attempt == 0 and target.id not in self._held:
                        self._held[target.id] = item  # sent after the next event, or when things go quiet
                        continue
                    self._send(client, item)
                    held = self._held.pop(target.id, None) if target.reorder else None
                    if held is not None:
                        self._send(client, held)
                finally:
                    self._queue.task_done()

    def _flush_held(self, client: httpx.Client) -> None:
        # Released from ``_held`` only once sent, so :meth:`drain` cannot see a quiet hub mid-delivery.
        for tid in list(self._held):
            item = self._held.get(tid)
            if item is not None:
                self._send(client, item)
                self._held.pop(tid, None)

    def _send(self, client: httpx.Client, item: _Delivery) -> None:
        copies = 2 if self._rng.random() < item.target.duplicate_rate else 1
        for _ in range(copies):
            self._send_with_retries(client, item)

    def _send_with_retries(self, client: httpx.Client, item: _Delivery) -> None:
        for attempt in range(len(self.retry_delays) + 1):
            if not item.target.enabled:
                return
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Atlassian Webhook HTTP Client",
                "X-Atlassian-Webhook-Identifier": item.identifier,
                "X-Atlassian-Webhook-Retry": str(attempt),
                "X-Atlassian-Webhook-Flow": "Primary",
            }
            if item.target.secret:
                headers["X-Hub-Signature"] = sign(item.target.secret, item.body)
            record: dict[str, Any] = {
                "target_id": item.target.id,
                "url": item.target.url,
                "event": item.event,
                "identifier": item.identifier,
                "attempt": attempt,
                "status": None,
                "error": None,
                "headers": headers,
                "body": item.body,
                "at": time.time(),
            }
            try:
                resp = client.post(item.target.url, content=item.body, headers=headers)
                record["status"] = resp.status_code
            except httpx.HTTPError as exc:
                record["error"] = type(exc).__name__
            with self._lock:
                self.deliveries.append(record)
            if record["status"] is not None and record["status"] not in RETRY_STATUSES:
                return
            if attempt < len(self.retry_delays):
                if self._stop.wait(self.retry_delays[attempt]):
                    return

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.deliveries)
