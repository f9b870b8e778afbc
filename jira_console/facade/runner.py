"""The seam between the facade and where the engine runs: what a runner must do that differs between
running the engine in this process (:mod:`.inprocess`) and attaching to a daemon (:mod:`.attached`).

The facade chooses a runner once, when it starts; everything that reads or writes the store alone stays
in the facade and is the same in both modes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from jira_console import events as ev
from jira_console.config import Settings
from jira_console.facade.views import ConnectionStatus, EngineState, Flavor, Mode, SyncReport
from jira_console.mapping import MappingContext
from jira_console.store import state as st
from jira_console.store.db import Database
from jira_console.sync.undo import UndoStep

if TYPE_CHECKING:
    from jira_console.jira import JiraClient
    from jira_console.sync.engine import SyncEngine


class Addressed(Protocol):
    """Something listening somewhere (the daemon's webhook listener)."""

    @property
    def address(self) -> str: ...


@dataclass(frozen=True)
class RunnerContext:
    """What every runner is given: the settings, the database, who this process is, and where events go."""

    settings: Settings
    db: Database
    owner: str
    emit: Callable[[ev.EngineEvent], None]


@dataclass(frozen=True)
class PreviewInputs:
    """What the running engine knows that makes a mapping preview match a real sync: the mapping context
    (identities, sprints), the detected flavor and the site's field list. All None when it is not known."""

    ctx: MappingContext | None = None
    flavor: str | None = None
    field_list: list[dict[str, Any]] | None = None


def enqueue(context: RunnerContext, kind: str, args: dict[str, Any]) -> int:
    """Queue an operator command (``sync``, ``push``) for a daemon to carry out; returns its id."""
    with context.db.session() as s:
        return st.enqueue_command(s, kind, args, created_by=context.owner)


class Runner(ABC):
    """The mode-dependent half of the facade."""

    mode: ClassVar[Mode]

    def __init__(self, context: RunnerContext) -> None:
        self.context = context
        self.listener: Addressed | None = None
        """Where this process's webhook listener listens (set by the daemon that started one)."""
        self.next_runs: dict[str, datetime] = {}
        """When this process's scheduler runs each connection's sync next (set by the daemon)."""

    @property
    def syncs(self) -> dict[str, SyncEngine]:
        """The sync engines this process runs, by connection (none when attached)."""
        return {}

    @property
    def clients(self) -> dict[str, JiraClient]:
        """The Jira clients this process owns, by connection (none when attached)."""
        return {}

    @abstractmethod
    async def start(self) -> None:
        """Build what this mode needs (clients and sync engines, or nothing)."""

    @abstractmethod
    async def stop(self) -> None:
        """Release what :meth:`start` built."""

    @abstractmethod
    async def run_sync(self, connection: str | None, full: bool) -> list[SyncReport]:
        """Run (or have run) one sync per chosen connection; the reports of the runs made here."""

    @abstractmethod
    async def push(self, connection: str | None) -> None:
        """Send pending local changes (or have them sent)."""

    @abstractmethod
    async def undo(self, connection: str, entry_ids: list[int], actor: str) -> tuple[int, list[UndoStep]]:
        """Undo audit lines of ``connection`` (or have the daemon do it): the undo's run id and its steps."""

    @abstractmethod
    def connections(self, last_webhooks: Mapping[str, datetime]) -> list[ConnectionStatus]:
        """Health of every configured connection; ``last_webhooks`` says when each last got an event."""

    @abstractmethod
    def upcoming_runs(self) -> dict[str, datetime]:
        """When each connection syncs next, as far as this mode knows."""

    @abstractmethod
    def listener_address(self) -> str | None:
        """Where the webhook listener serving this database listens, if one does."""

    def engine_state(self) -> EngineState:
        """Where the engine runs and whether it is alive (in this process: always)."""
        return EngineState(self.mode)

    def observe(self, event: ev.EngineEvent) -> None:  # noqa: B027 - most modes keep nothing of events
        """See every event the engine emits (the in-process runner counts webhook deliveries)."""

    def running(self) -> set[str]:
        """Connections whose sync runs in this process right now."""
        return set()

    def busy(self) -> str | None:
        """What runs in this process right now that moving the engine elsewhere would cut short, in words
        (``a sync of cloud``); None when nothing does."""
        return None

    def writable_fields(self, connection: str) -> set[str]:
        """Names of the connection's fields a push writes, beyond the core ones (known once it ran)."""
        return set()

    def preview_inputs(self, connection: str) -> PreviewInputs:
        """What the running engine knows about ``connection`` for mapping previews."""
        return PreviewInputs()

    @abstractmethod
    async def reload_mappings(self, connection: str | None) -> None:
        """Recompile the mappings of the syncs a saved mapping of ``connection`` (None: global) affects."""

    @abstractmethod
    def client(self, connection: str) -> JiraClient:
        """The Jira client of ``connection`` (for a call the operator asked for, such as a registration)."""

    @abstractmethod
    async def site_fields(self, connection: str) -> tuple[Flavor, list[dict[str, Any]]]:
        """The detected flavor and the field list (``/field``) of ``connection``'s site."""
