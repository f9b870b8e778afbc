"""What the processes using one Jira site share (through the store, see :mod:`jira_console.sync.guard`):
Jira's ``Retry-After`` deadline, so one 429 holds every process back, and a block on Basic credentials Jira
denied, so no process keeps sending credentials that count towards locking the account. The client only knows
this protocol; the connection's opener plugs the store in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from jira_console.jira.errors import JiraAuthError


@dataclass(frozen=True)
class SharedFacts:
    """As last recorded by any process."""

    not_before: float | None = None
    """Epoch seconds before which no request may reach Jira."""
    auth_block: str | None = None
    """Why the Basic credentials must not be sent (None: they may be)."""
    auth_blocked_at: float | None = None
    """Epoch seconds when that block was recorded."""


class SharedGuard(Protocol):
    """Cross-process facts of one connection; each method is a short database round trip."""

    async def load(self) -> SharedFacts: ...

    async def rate_limited(self, until: float) -> None: ...

    async def auth_denied(self, reason: str) -> None: ...

    async def credentials_replaced(self) -> None:
        """Lift the block: the token in use was written after Jira denied the one before."""


class CredentialsBlocked(JiraAuthError):
    """The connection's Basic credentials are held back: Jira denied them, and every further attempt counts
    towards (or keeps) the account locked. ``status`` is Jira's (401, 403) when this very request was denied,
    0 when nothing was sent."""

    def __init__(self, connection: str, method: str, path: str, reason: str, status: int = 0) -> None:
        self.connection = connection
        self.reason = reason
        self.local = True  # never retried
        super().__init__(status, method, path, [blocked_message(connection, reason)])


def blocked_message(connection: str, reason: str) -> str:
    """The plain words shown by the console, ``status`` and ``config check``."""
    return (
        f"connection {connection!r} stopped sending its Basic credentials because Jira denied them "
        f"({reason}); trying again could lock the account. Fix the user or token (and, if Jira asks for a "
        "CAPTCHA, log in once in a browser), then run `jira-console config check` to resume."
    )


def auth_denial(status: int, headers: Mapping[str, str], body: str) -> str | None:
    """Jira's reason when a response denies the credentials themselves (not a missing permission): a 401,
    or a 403 carrying ``X-Authentication-Denied-Reason``, asking for a CAPTCHA, or whose
    ``X-Seraph-LoginReason`` refuses the login. None otherwise."""
    if status not in (401, 403):
        return None
    denied = (headers.get("X-Authentication-Denied-Reason") or "").strip()
    if denied:
        return denied.split(";", 1)[0].strip() or "authentication denied"
    seraph = (headers.get("X-Seraph-LoginReason") or "").strip()
    if "captcha" in body.lower() or "CAPTCHA" in seraph.upper():
        return "CAPTCHA_CHALLENGE"
    if status == 401:
        return f"401 {seraph}".strip() if seraph else "401: credentials rejected"
    if seraph.upper() in _SERAPH_DENIALS:  # a 403 about the login itself, not a missing permission
        return seraph.upper()
    return None


_SERAPH_DENIALS = frozenset({"AUTHENTICATED_FAILED", "AUTHENTICATION_DENIED"})
"""Server/DC's login outcomes that refuse the credentials (``AUTHORISATION_FAILED`` is a permission the user
lacks, and ``OK`` or ``OUT`` are no refusal)."""
