"""The store behind :class:`jira_console.jira.shared.SharedGuard`: every request of every process reads the
connection's row first (one indexed select), so a ``Retry-After`` any process received holds the others, and
Basic credentials Jira denied are sent by none of them until the configuration changes or an operator runs
``config check``."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from jira_console.config import JiraConnection
from jira_console.jira.shared import SharedFacts
from jira_console.logs import get_logger
from jira_console.store import guard as sg
from jira_console.store import state as st
from jira_console.store.db import Database

log = get_logger(__name__)


def config_fingerprint(conn: JiraConnection) -> str:
    """What identifies the credentials in use, without the secret itself: a block recorded under another
    fingerprint belongs to a configuration that is no longer in force."""
    parts = [conn.url, conn.auth, conn.user, conn.token_env, conn.keyring_service]
    if conn.token_file:  # appended only when set: the fingerprints recorded before it existed still match
        parts.append(conn.token_file)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _epoch(value: datetime | None) -> float | None:
    """A stored time as epoch seconds (SQLite keeps naive UTC)."""
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


class StoreGuard:
    """One connection's shared facts in the database. A failing database never fails a request: the
    process then falls back to what it knows itself."""

    def __init__(self, db: Database, conn: JiraConnection, *, site_peers: Sequence[str] = ()) -> None:
        self.db = db
        self.name = conn.name
        self.fingerprint = config_fingerprint(conn)
        self.site_peers = tuple(site_peers)
        """Other connections to the same site (one JQL per team): a Retry-After is Jira's for the site, so
        it is stored for them too."""

    def _load(self) -> SharedFacts:
        with self.db.session() as s:
            row = sg.load(s, self.name)
        block = row.auth_blocked
        if block is not None and row.auth_blocked_config != self.fingerprint:
            with self.db.session(write=True) as s:
                if sg.clear_auth_block(s, self.name):
                    log.info("jira.credentials_unblocked", connection=self.name, why="configuration changed")
            block = None
        blocked_at = _epoch(row.auth_blocked_at) if block is not None else None
        return SharedFacts(_epoch(row.rate_limited_until), block, blocked_at)

    async def load(self) -> SharedFacts:
        try:
            return await asyncio.to_thread(self._load)
        except Exception as exc:  # noqa: BLE001 - the request goes on with the process's own view
            log.warning("shared state unreadable", connection=self.name, error=type(exc).__name__)
            return SharedFacts()

    def _store_until(self, until: float) -> None:
        with self.db.session(write=True) as s:
            for name in (self.name, *self.site_peers):
                st.store_not_before(s, name, datetime.fromtimestamp(until, UTC))

    async def rate_limited(self, until: float) -> None:
        try:
            await asyncio.to_thread(self._store_until, until)
        except Exception as exc:  # noqa: BLE001 - losing it risks only other processes calling early
            log.warning("Retry-After not stored", connection=self.name, error=type(exc).__name__)

    def _block(self, reason: str) -> None:
        with self.db.session(write=True) as s:
            sg.block_auth(s, self.name, reason, self.fingerprint)

    def _lift(self) -> None:
        with self.db.session(write=True) as s:
            if sg.clear_auth_block(s, self.name):
                log.info(
                    "jira.credentials_unblocked", connection=self.name,
                    why="its token file was written after Jira denied the token before",
                )  # fmt: skip

    async def credentials_replaced(self) -> None:
        try:
            await asyncio.to_thread(self._lift)
        except Exception as exc:  # noqa: BLE001 - this process tries its new token all the same
            log.warning("credentials block not lifted", connection=self.name, error=type(exc).__name__)

    async def auth_denied(self, reason: str) -> None:
        try:
            await asyncio.to_thread(self._block, reason)
        except Exception as exc:  # noqa: BLE001 - this process still holds back on its own
            log.warning("credentials block not stored", connection=self.name, error=type(exc).__name__)


def clear_auth_blocks(db: Database, names: list[str]) -> list[str]:
    """Lift the blocks of these connections (``config check``); returns those that had one."""
    lifted = []
    with db.session(write=True) as s:
        for name in names:
            if sg.clear_auth_block(s, name):
                lifted.append(name)
    return lifted


def auth_blocks(db: Database) -> dict[str, tuple[str, datetime | None]]:
    """Connection -> (Jira's reason, since when) for every connection holding back its credentials."""
    with db.session() as s:
        return sg.all_blocks(s)
