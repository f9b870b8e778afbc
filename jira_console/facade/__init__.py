"""The one front door to the engine, used by the CLI, the console and the daemon.

:class:`Engine` returns plain records (dataclasses), never ORM rows or sessions, and runs in one of two
modes chosen once at start: ``inprocess`` (this process owns the Jira clients and sync engines,
:mod:`.inprocess`) or ``attached`` (a daemon with a fresh heartbeat runs the engine and this process reads
the shared database and queues commands, :mod:`.attached`). :class:`ConsoleEngine` is what the console
needs of it (:mod:`.protocol`); :mod:`.views` holds the records the facade builds itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jira_console.facade.attached import NoLiveDaemon
from jira_console.facade.check import check_connections
from jira_console.facade.conflicts import ValueReading
from jira_console.facade.creations import CreationRecord
from jira_console.facade.engine import Engine, default_owner
from jira_console.facade.protocol import ConsoleEngine
from jira_console.facade.views import (
    Activity,
    ConnectionStatus,
    EngineState,
    FieldErrorView,
    KnownNames,
    ListenerStatus,
    MappingTrial,
    Mode,
    SyncHealth,
    SyncReport,
    SyncStateView,
    WebhookStats,
    names_wanted,
)
from jira_console.store.conflict_queue import QueueMarker

__all__ = [
    "Activity",
    "ConnectionStatus",
    "ConsoleEngine",
    "CreationRecord",
    "Engine",
    "EngineState",
    "FieldErrorView",
    "KnownNames",
    "ListenerStatus",
    "MappingTrial",
    "Mode",
    "NoLiveDaemon",
    "QueueMarker",
    "SyncHealth",
    "SyncReport",
    "SyncStateView",
    "ValueReading",
    "WebhookStats",
    "check_connections",
    "default_owner",
    "names_wanted",
]

if TYPE_CHECKING:

    def _engine_is_a_console_engine(engine: Engine) -> ConsoleEngine:
        """mypy proves the facade is what the console needs (never called)."""
        return engine
