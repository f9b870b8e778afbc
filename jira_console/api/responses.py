"""The error answers a route declares in the OpenAPI document, so clients (and schemathesis) know every
status it may send and that each one carries an ``{"error": ...}`` body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jira_console.api.models import ErrorBody

_WHY = {
    400: "The body is not valid JSON, or Jira refused the request.",
    401: "Missing or invalid bearer token.",
    404: "Nothing stored under that id or name (or no such connection).",
    409: "The request contradicts the stored state.",
    413: "The body is larger than the configured limit.",
    422: "Invalid values (each is named in `details`).",
    502: "Jira could not be reached or refused the credentials.",
    503: "The database is unreachable, or busy (another writer held its lock for longer than the wait for "
    "it), or the daemon is shutting down; retry later.",
}


def errors(*statuses: int, why: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the error body; 401, 413 and 503 are on every route.
    ``why`` says what a status means on this route, where the general words above would be vague."""
    chosen = sorted({*statuses, 401, 413, 503})
    said = {**_WHY, **(why or {})}
    return {status: {"model": ErrorBody, "description": said[status]} for status in chosen}
