"""Bearer-token authentication for the operations API: one shared token from the environment (or the file
``[api] token_file``), compared in constant time, never echoed (registered with :mod:`jira_console.redact`,
so no log line can show it)."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jira_console import redact
from jira_console.api.errors import ApiError

_bearer = HTTPBearer(
    auto_error=False,
    description="The token in the environment variable named by `[api] token_env` "
    "(default `JIRA_CONSOLE_API_TOKEN`), or else in the file `[api] token_file`.",
)


def _digest(value: str) -> bytes:
    # Hashing first makes the comparison constant-time in the length too.
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class BearerToken:
    """A FastAPI dependency: 401 unless the request carries ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the API token is empty")
        redact.register(token)
        self._expected = _digest(token)

    async def __call__(self, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
        given = _digest(credentials.credentials) if credentials is not None else b""
        if not hmac.compare_digest(given, self._expected):
            raise ApiError(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
