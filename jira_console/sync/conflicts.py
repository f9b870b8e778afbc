"""Settling conflicts. A resolution is a local decision recorded in the database; the value then reaches
Jira through the normal push (with its compare-before-write), so a resolution made while Jira is down is
kept and sent when it is back, and a Jira edit made after the resolution is not silently overwritten."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from jira_console.store import models as m
from jira_console.store import repo
from jira_console.store.issues import as_engine_write, local_value, set_local_value
from jira_console.sync.fields import local_edit_problem
from jira_console.sync.merge import canonical, same

Take = Literal["jira", "local", "value"]


class ConflictNotFound(LookupError):
    exit_code = 3


class ResolutionError(ValueError):
    """A resolution that cannot be made: the conflict is no longer open, or (:class:`InvalidResolution`)
    the resolution itself is not valid."""

    exit_code = 2


class InvalidResolution(ResolutionError):
    """A resolution whose value (or choice) the field cannot take: the request is wrong, not the state."""


def parse_value(text: str) -> Any:
    """A resolution value given as JSON on the command line or in the console."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidResolution(
            f"value is not valid JSON ({exc.msg} at column {exc.colno}): {text!r}"
        ) from None


def resolve(
    session: Session, conflict_id: int, take: Take, value: Any = None, *, actor: str = "operator"
) -> m.Conflict:
    """Apply a resolution to the local side and queue it for Jira. Returns the resolved conflict row."""
    conflict = session.get(m.Conflict, conflict_id)
    if conflict is None:
        raise ConflictNotFound(f"no conflict with id {conflict_id}")
    if conflict.status != "open":
        raise ResolutionError(f"conflict {conflict_id} is already {conflict.status} ({conflict.resolution})")
    issue = session.get(m.Issue, conflict.issue_id)
    if issue is None:
        raise ConflictNotFound(f"the issue of conflict {conflict_id} no longer exists")
    if take == "jira":
        chosen = conflict.jira
    elif take == "local":
        chosen = local_value(issue, conflict.field)
    elif take == "value":
        chosen = canonical(value)
        problem = local_edit_problem(conflict.field, chosen)  # as a local edit is checked
        if problem is not None:
            raise InvalidResolution(f"cannot resolve conflict {conflict_id} with that value: {problem}")
    else:
        raise InvalidResolution(f"take must be jira, local or value, not {take!r}")
    old_local = local_value(issue, conflict.field)
    base = dict(issue.base or {})
    # Jira's value as last seen becomes the base: the chosen value then counts as a local change (pushed
    # unless it equals Jira's), and a newer Jira edit shows up as a fresh conflict instead of being lost.
    base[conflict.field] = conflict.jira
    as_engine_write(session)  # the row is flagged here, explicitly, not by the change capture
    issue.base = base
    set_local_value(issue, conflict.field, chosen)
    if not same(chosen, conflict.jira):
        issue.local_dirty = True
        issue.local_changed_at = datetime.now(UTC)
    if repo.resolve_conflict(session, conflict_id, take, resolved_value=chosen, resolved_by=actor) is None:
        raise ResolutionError(f"conflict {conflict_id} was resolved by someone else meanwhile")
    # Every resolution is on record, also "take local" (nothing changes locally; the push that follows is
    # audited as the write to Jira).
    repo.append_audit(
        session, conflict.connection, "local", conflict.field, old_local, chosen,
        issue_key=issue.key, reason=f"conflict {conflict_id} resolved: take {take}", actor=actor,
    )  # fmt: skip
    return conflict
