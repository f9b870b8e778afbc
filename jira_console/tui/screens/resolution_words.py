"""What the Conflicts screen says once a resolution is stored: which conflict, the side or value taken,
and what becomes of the push that sends it to Jira (sent from this console now, queued for the daemon,
or queued while that daemon is gone), so a push that waits is never silence."""

from __future__ import annotations

import json
from datetime import datetime

from jira_console.facade import EngineState
from jira_console.store.converters import ConflictRecord
from jira_console.tui.format import clip
from jira_console.tui.screens.daemon_gone import describe_gone

SIDES = {"jira": "Jira's value", "local": "the local value"}


def taken(record: ConflictRecord) -> str:
    """``Jira's value``, ``the local value`` or the value typed (as JSON, cut short)."""
    side = SIDES.get(record.resolution or "")
    return side or clip(json.dumps(record.resolved_value, ensure_ascii=False, default=str), 40)


def push_words(state: EngineState, now: datetime) -> str:
    """Where the push goes: this console sends it, or the daemon's queue (which waits while it is gone)."""
    if state.mode != "attached":
        return "sending it to Jira now"
    if state.alive:
        return f"the push is queued for daemon {state.daemon}"
    return (
        f"the push is queued, but {describe_gone(state, now)}: it waits for a daemon "
        "(press i to run the engine here)"
    )


def resolution_words(record: ConflictRecord, sends: bool, state: EngineState, now: datetime) -> str:
    """The toast for one stored resolution; ``sends``: the value differs from Jira's, so it is pushed."""
    what = f"Resolved #{record.id} {record.issue_key} {record.field} with {taken(record)}"
    if not sends:
        return f"{what}: the local copy now matches Jira, nothing to send"
    return f"{what}; {push_words(state, now)}"
