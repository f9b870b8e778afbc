"""What caused the changes being written right now, so that every audit line can name it (issue 18).

The cause is a context variable, set where a run or a delivery starts (a sync run, a push, an undo, a
webhook event, an operator's action) and read by :func:`jira_console.store.repo.append_audit`. Context
variables follow ``await`` and ``asyncio.to_thread``, so the steps of a run need not pass it along, and two
runs in one process (a sync and a webhook worker) each see their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

CauseKind = Literal["sync", "push", "undo", "webhook", "operator"]
CAUSE_KINDS: tuple[str, ...] = ("sync", "push", "undo", "webhook", "operator")


@dataclass(frozen=True)
class Cause:
    """Why the engine writes. ``run_id`` names a ``sync_runs`` row (sync, push, undo); ``event_id`` a
    webhook delivery, or ``event_ids`` one per issue key when deliveries are applied together; ``undo_of``
    says, per (issue key, field, side), which audit line an undo write reverses."""

    kind: CauseKind
    run_id: int | None = None
    event_id: int | None = None
    event_ids: Mapping[str, int] = field(default_factory=dict)
    undo_of: Mapping[tuple[str, str, str], int] = field(default_factory=dict)

    def columns(self, issue_key: str | None, field_name: str | None, side: str) -> dict[str, Any]:
        """The audit columns this cause fills for one line."""
        event = self.event_ids.get(issue_key or "", self.event_id)
        undo = self.undo_of.get((issue_key or "", field_name or "", side))
        return {"cause": self.kind, "run_id": self.run_id, "event_id": event, "undo_of": undo}


NO_CAUSE: dict[str, Any] = {"cause": None, "run_id": None, "event_id": None, "undo_of": None}

_CURRENT: ContextVar[Cause | None] = ContextVar("jira_console_audit_cause", default=None)


def current() -> Cause | None:
    """The cause in effect here, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def caused_by(cause: Cause | None) -> Iterator[Cause | None]:
    """Name ``cause`` on every audit line written inside the block (in this task and the threads it
    hands work to)."""
    token = _CURRENT.set(cause)
    try:
        yield cause
    finally:
        _CURRENT.reset(token)


def columns(issue_key: str | None, field_name: str | None, side: str) -> dict[str, Any]:
    """The audit columns of the cause in effect (all NULL when none is)."""
    cause = _CURRENT.get()
    return cause.columns(issue_key, field_name, side) if cause else dict(NO_CAUSE)
