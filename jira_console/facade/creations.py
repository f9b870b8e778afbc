"""The facade's issue creations: requests queued in ``new_issues`` (as a host program inserts them) and
listed with what became of them; the sync creates them (:mod:`jira_console.sync.create`). CLI and API come
here."""

from __future__ import annotations

from typing import Any

from jira_console.config import Settings
from jira_console.facade.runner import Runner
from jira_console.store import creations, issues, sprints
from jira_console.store.creations import CreationRecord
from jira_console.store.db import Database
from jira_console.sync.fields import checked_local_edits

__all__ = ["CreationMethods", "CreationRecord"]


class CreationMethods:
    """Mixed into :class:`~jira_console.facade.engine.Engine`."""

    db: Database
    runner: Runner
    settings: Settings
    owner: str

    def request_issue(
        self,
        project: str,
        issue_type: str,
        fields: dict[str, Any],
        *,
        connection: str | None = None,
        requested_by: str | None = None,
    ) -> CreationRecord:
        """Queue the creation of an issue in Jira (the next sync or push creates it); ValueError says what is
        wrong with the request before anything is queued."""
        name = self._creation_connection(connection)
        if not project.strip() or not issue_type.strip():
            raise ValueError("a creation needs a project key and an issue type")
        if fields.get("summary") in (None, ""):
            raise ValueError("a creation needs a summary (summary=...)")
        known = set(issues.CORE_FIELDS) | self.runner.writable_fields(name)
        with self.db.session() as s:  # a sprint may be named: sprint_id="ENG Sprint 5"
            fields = sprints.with_sprint_id(s, name, fields)
        plain = checked_local_edits(fields, known)
        with self.db.session(write=True) as s:
            request_id = creations.request_creation(
                s, name, project.strip(), issue_type.strip(), plain, requested_by or self.owner
            )
        found = self.get_creation(request_id)
        assert found is not None
        return found

    def get_creation(self, request_id: int) -> CreationRecord | None:
        with self.db.session() as s:
            return creations.get_request(s, request_id)

    def list_creations(
        self, connection: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[CreationRecord]:
        """Creation requests, newest first."""
        if state is not None and state not in creations.STATES:
            raise ValueError(f"state must be one of {', '.join(creations.STATES)}, not {state!r}")
        with self.db.session() as s:
            return creations.list_requests(s, connection=connection, state=state, limit=limit)

    def creation_counts(self) -> dict[str, dict[str, int]]:
        """connection -> ``waiting`` and ``failed`` creation requests (connections with any)."""
        with self.db.session() as s:
            return creations.creation_counts(s)

    def _creation_connection(self, connection: str | None) -> str:
        names = [c.name for c in self.settings.jira]
        if connection is None and len(names) == 1:
            return names[0]
        if connection is None:
            raise ValueError(f"give the connection to create in (--connection): {', '.join(names) or 'none'}")
        if connection not in names:
            raise LookupError(f"no connection named {connection!r}; configured: {', '.join(names) or 'none'}")
        return connection
