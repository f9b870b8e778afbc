"""Webhook routing: the webhook processor's applier, handing each stored event to the sync engine of the
connection it was stored for (so an event goes processor -> router -> that connection's engine). A database
failure comes back without the statement and row it quoted (the processor stores and logs the error)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jira_console.sync.failures import told_without_data
from jira_console.webhooks.processor import IssueItem, PermanentEventError

if TYPE_CHECKING:
    from jira_console.sync.engine import SyncEngine


class ConnectionRouter:
    """Implements :class:`~jira_console.webhooks.processor.EventApplier` over the engines of a process.

    ``syncs`` is the live mapping of connection name -> engine (engines built later are seen). An event
    stored without a connection goes to the only engine when there is one; otherwise it can never be
    applied as stored and is parked with the reason."""

    def __init__(self, syncs: Mapping[str, SyncEngine]) -> None:
        self.syncs = syncs

    def engine_for(self, connection: str | None) -> SyncEngine:
        if connection is not None and connection in self.syncs:
            return self.syncs[connection]
        if connection is None and len(self.syncs) == 1:
            return next(iter(self.syncs.values()))
        if connection is not None:
            raise PermanentEventError(
                f"unknown connection {connection!r} (not in the configuration): add it, or register the "
                "webhook with ?connection= naming a configured one; then retry the event"
            )
        raise PermanentEventError(
            "cannot tell which connection this event is for; register the webhook with ?connection=NAME"
        )

    async def apply_remote_issues(self, connection: str | None, items: Sequence[IssueItem]) -> list[str]:
        with told_without_data():
            return await self.engine_for(connection).apply_remote_issues(items)

    async def apply_remote_deletion(
        self, connection: str | None, issue_key: str, *, event_ts_ms: int | None, issue_id: str | None = None
    ) -> str:
        with told_without_data():
            return await self.engine_for(connection).apply_remote_deletion(
                issue_key, event_ts_ms=event_ts_ms, issue_id=issue_id
            )

    async def refresh_sprint(
        self, connection: str | None, sprint_id: int | None, payload: Mapping[str, Any]
    ) -> str:
        return await self.engine_for(connection).refresh_sprint(sprint_id, payload)
