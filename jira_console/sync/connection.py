"""Opening a connection for syncing: its Jira client and its sync engine, with the facts every process must
share kept in the store (:mod:`jira_console.sync.guard`): Jira's ``Retry-After``, honoured by every process
and by the next one to open the connection, and Basic credentials Jira denied."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from jira_console import events as ev
from jira_console.config import JiraConnection
from jira_console.jira import JiraClient
from jira_console.store import state as st
from jira_console.store.db import Database
from jira_console.sync.engine import SyncEngine
from jira_console.sync.guard import StoreGuard


def stored_not_before(db: Database, connection: str) -> float | None:
    """The Retry-After deadline last stored for a connection, in epoch seconds (None when none)."""
    with db.session() as s:
        until = st.not_before(s, connection)
    return until.timestamp() if until is not None else None


def open_connection(
    db: Database,
    conn: JiraConnection,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_event: Callable[[Any], None] | None = None,
    emit: Callable[[ev.EngineEvent], None] | None = None,
    owner: str = "local",
    lease_seconds: float = 60.0,
    site_peers: Sequence[str] = (),
    share_with: JiraClient | None = None,
) -> SyncEngine:
    """The connection's sync engine over a new client (``engine.client``). ``on_event`` receives the client's
    events (breaker, rate limits, health), ``emit`` the engine's. ``site_peers`` names the other connections
    to the same site, and ``share_with`` is the client of one of them in this process: the site's rate
    budget and ``Retry-After`` waits are one for all of them."""

    client = JiraClient(conn, transport=transport, on_event=on_event)
    if share_with is not None:
        client.limiter, client.gate = share_with.limiter, share_with.gate
    # Every request consults the store first: a Retry-After another process received, or credentials Jira
    # denied, hold this one too (and what this one learns is stored for the others).
    client.shared = StoreGuard(db, conn, site_peers=site_peers)
    until = stored_not_before(db, conn.name)
    if until is not None and until > time.time():
        client.gate.push(until - time.time())  # shown in health from the start, before any request
    return SyncEngine(db, conn, client, emit=emit, owner=owner, lease_seconds=lease_seconds)
