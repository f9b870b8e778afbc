"""What the console needs from the engine, as a ``typing.Protocol``: the console is typed against it, the
facade's :class:`~jira_console.facade.engine.Engine` implements it, and so does the console tests' fake.
The records are the real ones: the store's converters, the facade's views, the mapping preview's rows and
the sync's reports."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Literal, Protocol

from jira_console import events as ev
from jira_console.facade.conflicts import ValueReading
from jira_console.facade.undo import AuditQuery, UndoResult, UndoSelection
from jira_console.facade.views import (
    ConnectionStatus,
    EngineState,
    FieldErrorView,
    KnownNames,
    ListenerStatus,
    Mode,
    SyncReport,
    SyncStateView,
    WebhookStats,
)
from jira_console.mapping import PreviewRow
from jira_console.mapping.people import JiraPerson
from jira_console.store.conflict_queue import QueueMarker
from jira_console.store.converters import (
    AuditEntry,
    ConflictRecord,
    DaemonRecord,
    IdentityRecord,
    MappingRecord,
    WebhookEventRecord,
)
from jira_console.store.creations import CreationRecord
from jira_console.sync.conflicts import Take

__all__ = ["ConsoleEngine"]


class ConsoleEngine(Protocol):
    """The engine as the console sees it. Blocking reads are called from thread workers; the ``async``
    methods from the console's own loop. Events may be delivered from any thread."""

    @property
    def mode(self) -> Mode:
        """``inprocess`` or ``attached`` (to a daemon, whose heartbeat the console then shows)."""
        ...

    def subscribe(self, callback: Callable[[ev.EngineEvent], None]) -> Callable[[], None]: ...

    def engine_state(self) -> EngineState:
        """Where the engine runs and whether it is alive (a dead daemon is shown, with the way out)."""
        ...

    async def run_here(self) -> None:
        """Run the engine in this process instead of relying on a daemon that is gone."""
        ...

    async def attach(self) -> str:
        """Hand the engine back to a live daemon (``engine_state().live_daemon``): the daemon's name. Raises
        when something still runs here or no daemon is alive (the message says which)."""
        ...

    # health
    def connections(self) -> list[ConnectionStatus]: ...

    def listener_status(self) -> ListenerStatus: ...

    def daemons(self) -> list[DaemonRecord]: ...

    # sync
    def sync_states(self) -> list[SyncStateView]: ...

    def recent_field_errors(self, connection: str | None = None, limit: int = 50) -> list[FieldErrorView]: ...

    def field_error_counts(self) -> dict[str, dict[str, int]]:
        """connection -> field -> how many issues fail to map or write it."""
        ...

    def creation_counts(self) -> dict[str, dict[str, int]]:
        """connection -> ``waiting`` and ``failed`` requests to create issues in Jira (``new_issues``)."""
        ...

    def local_edit_counts(self) -> dict[str, int]:
        """connection -> issues edited here that the push has not written to Jira yet."""
        ...

    def outbox_counts(self) -> dict[str, dict[str, int]]:
        """connection -> ``pending`` and ``refused`` rows of the ``local_changes`` outbox."""
        ...

    def list_creations(
        self, connection: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[CreationRecord]: ...

    async def run_sync(self, connection: str | None = None, full: bool = False) -> list[SyncReport]: ...

    # conflicts
    def list_conflicts(
        self,
        status: str | None = "open",
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        limit: int = 200,
        offset: int = 0,
        *,
        contains: bool = False,
        sort: str = "detected",
    ) -> list[ConflictRecord]: ...

    def conflict_marker(
        self,
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        *,
        contains: bool = False,
    ) -> QueueMarker:
        """Moves whenever the open conflicts matching the filters change (found, gone, refreshed)."""
        ...

    def known_names(
        self, connection: str, people: Collection[str] = (), sprints: Collection[int] = ()
    ) -> KnownNames: ...

    def read_value(self, field: str, text: str) -> ValueReading:
        """What ``text`` typed for ``field`` stands for and what is wrong with it (reads nothing: called
        as the operator types)."""
        ...

    async def resolve_conflict(
        self,
        conflict_id: int,
        take: Take,
        value: Any = None,
        actor: str = "operator",
        *,
        push: bool = True,
    ) -> ConflictRecord: ...

    async def push_resolved(self, connection: str) -> None:
        """Send resolutions to Jira (queued for the daemon when attached); a failure is a notice."""
        ...

    async def resolve_conflicts(
        self,
        take: Literal["jira", "local"],
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        actor: str = "operator",
        *,
        contains: bool = False,
    ) -> int: ...

    # mappings
    def list_mappings(self, connection: str | None = None) -> list[MappingRecord]: ...

    def mapping_to_toml(self, definition: dict[str, Any]) -> str: ...

    def mapping_from_toml(self, text: str) -> dict[str, Any]: ...

    def preview_mapping(
        self,
        definition: dict[str, Any],
        issue_keys: list[str] | None = None,
        limit: int = 100,
        *,
        connection: str | None = None,
    ) -> list[PreviewRow]: ...

    async def save_mapping(
        self,
        definition: dict[str, Any],
        actor: str = "operator",
        comment: str | None = None,
        *,
        connection: str | None = None,
    ) -> MappingRecord: ...

    # people (the identity table the ``user`` step reads)
    def unresolved_people(self, connection: str) -> list[JiraPerson]: ...

    async def set_identity(
        self,
        connection: str,
        jira_user: str,
        *,
        email: str | None = None,
        internal_id: str | None = None,
        display_name: str | None = None,
    ) -> IdentityRecord: ...

    # audit log and undo
    def audit_log(self, query: AuditQuery = AuditQuery()) -> list[AuditEntry]: ...

    async def undo(
        self, selection: UndoSelection, *, apply: bool = False, actor: str = "operator"
    ) -> UndoResult: ...

    # webhooks
    def list_webhook_events(
        self,
        status: str | None = None,
        limit: int = 200,
        offset: int = 0,
        *,
        connection: str | None = None,
        since: datetime | None = None,
    ) -> list[WebhookEventRecord]: ...

    def get_webhook_event(self, event_id: int) -> WebhookEventRecord | None: ...

    def webhook_stats(self) -> WebhookStats: ...

    async def retry_webhook_event(self, event_id: int) -> bool: ...
