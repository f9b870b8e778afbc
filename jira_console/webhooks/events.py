"""Classify a webhook body: what kind of event it is, which issue, when, and what to do with it.

Used twice: by the listener (to fill the indexed columns and decide the initial status) and by the
processor (to dispatch). Classification never raises: anything odd becomes a status plus a reason.

Decisions (documented here because they shape what is stored):

* Malformed JSON, or JSON that is not an object: stored as ``failed`` with the parser's reason. It is
  acknowledged 2xx all the same, because Jira retries non-2xx answers for ~30 minutes and a poison
  message would be resent again and again; the row keeps the evidence and ``retry_event`` can re-run it.
* No ``webhookEvent`` (the pre-2014 format, or not a Jira payload at all), ``comment_*``, ``worklog_*``,
  ``issuelink_*``, ``board_*``, ``project_*``, ``jira:version_*``, ``user_*`` and ``jira:issue_unknown``:
  stored as ``ignored`` with the reason. The periodic sync catches whatever they imply.
* ``jira:issue_created|updated|deleted`` and ``sprint_*``: stored as ``received`` for the processor.
* ``timestamp`` that is not epoch milliseconds (some Server plugins send local date strings with no
  zone): ``event_ts_ms`` is left null rather than guessed; staleness then rests on the issue's ``updated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

ISSUE_UPSERT_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated"})
ISSUE_DELETE_EVENT = "jira:issue_deleted"
SPRINT_PREFIX = "sprint_"

# Columns are bounded; over-long values from a hostile or broken sender must not fail a whole batch.
MAX_EVENT_TYPE = 128
MAX_ISSUE_KEY = 64


@dataclass(frozen=True, slots=True)
class Classified:
    """What the listener stores and the processor dispatches on."""

    status: str
    """``received`` (to be processed), ``ignored`` or ``failed``."""
    reason: str | None
    event_type: str | None
    issue_key: str | None
    event_ts_ms: int | None
    payload: dict[str, Any] | None
    """The parsed object (None when the body did not parse)."""


def parse_body(body: bytes | str) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object in ``body`` (the raw bytes, or the text stored from them), or None and the reason it
    is not one."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc}"[:500]
    if not isinstance(value, dict):
        return None, f"not a JSON object (got {type(value).__name__})"
    return value, None


# Year 9999 in epoch milliseconds: anything outside [0, this] is not a Jira timestamp (and would overflow a
# 64-bit column, turning a poison delivery into a database error and an endless redelivery).
MAX_EPOCH_MS = 253_402_300_799_999


def epoch_ms(value: Any) -> int | None:
    """``value`` as epoch milliseconds when it is one (int, float or digit string in range), else None."""
    if isinstance(value, bool):
        return None
    ms: int | None = None
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float) and value == value and abs(value) != float("inf"):
        ms = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 16:
        ms = int(value.strip())
    return ms if ms is not None and 0 <= ms <= MAX_EPOCH_MS else None


def _issue_key(payload: dict[str, Any]) -> str | None:
    issue = payload.get("issue")
    if isinstance(issue, dict):
        key = issue.get("key")
        if isinstance(key, str) and key:
            return key[:MAX_ISSUE_KEY]
    return None


def ignore_reason(event_type: str | None, payload: dict[str, Any]) -> str | None:
    """Why an event is not processed, or None when it is."""
    if event_type is None:
        if "issue" in payload and "transition" in payload:
            return "no webhookEvent: pre-2014 transition format, not processed (the sync catches it up)"
        return "no webhookEvent: not a Jira webhook payload"
    if event_type in ISSUE_UPSERT_EVENTS:
        issue = payload.get("issue")
        if not isinstance(issue, dict) or not (issue.get("key") or issue.get("id")):
            return f"{event_type} without an issue"
        return None
    if event_type == ISSUE_DELETE_EVENT:
        return None if _issue_key(payload) else f"{event_type} without an issue key"
    if event_type.startswith(SPRINT_PREFIX):
        return None
    family = event_type.removeprefix("jira:").split("_", 1)[0]
    return f"{family} events are not processed ({event_type}); the periodic sync covers them"


def classify(body: bytes) -> Classified:
    """Parse and classify a raw body. Never raises."""
    payload, error = parse_body(body)
    if payload is None:
        return Classified("failed", error, None, None, None, None)
    raw_type = payload.get("webhookEvent")
    event_type = raw_type[:MAX_EVENT_TYPE] if isinstance(raw_type, str) and raw_type else None
    reason = ignore_reason(event_type, payload)
    return Classified(
        status="ignored" if reason else "received",
        reason=reason,
        event_type=event_type,
        issue_key=_issue_key(payload),
        event_ts_ms=epoch_ms(payload.get("timestamp")),
        payload=payload,
    )


def payload_links(payload: dict[str, Any]) -> list[str]:
    """The ``self`` links of the payload's issue, user, sprint, comment and worklog objects."""
    links: list[str] = []
    for section in ("issue", "user", "sprint", "comment", "worklog"):
        node = payload.get(section)
        link = node.get("self") if isinstance(node, dict) else None
        if isinstance(link, str) and link and link not in links:
            links.append(link)
    return links


def sprint_reference(payload: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """The sprint id and object of a ``sprint_*`` event.

    The payload shape is undocumented: ``{"sprint": {...}}`` is expected, with ``sprintId``/``id`` at
    the top level as fallbacks. The id may be None, in which case the applier refreshes by other means.
    """
    sprint = payload.get("sprint")
    node: dict[str, Any] = sprint if isinstance(sprint, dict) else {}
    for candidate in (node.get("id"), payload.get("sprintId"), payload.get("sprint_id"), payload.get("id")):
        value = epoch_ms(candidate)  # same rule: an int or a digit string
        if value is not None:
            return value, node
    return None, node
