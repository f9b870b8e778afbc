"""Textual messages carrying engine events. One class per event, named like the event (past tense); each
holds the engine's frozen event as ``event``. High-rate ones say when a newer one supersedes a queued one
(``can_replace``), so a burst of progress or health updates collapses into the latest."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from jira_console import events as ev


class EngineMessage(Message, bubble=False):
    """Base of every engine-event message. They do not bubble: the App forwards them to each screen, and a
    screen's copy must not climb back up to the App (it would be forwarded again, forever)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Textual resets ``bubble`` to True for every subclass unless told otherwise.
        kwargs.setdefault("bubble", False)
        super().__init_subclass__(**kwargs)

    def __init__(self, event: ev.EngineEvent) -> None:
        self.event = event
        super().__init__()


class BreakerStateChanged(EngineMessage):
    event: ev.BreakerStateChanged


class HealthChanged(EngineMessage):
    event: ev.HealthChanged

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HealthChanged) and message.event.connection == self.event.connection


class SyncStarted(EngineMessage):
    event: ev.SyncStarted


class SyncProgressed(EngineMessage):
    event: ev.SyncProgressed

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SyncProgressed) and (message.event.connection, message.event.scope) == (
            self.event.connection,
            self.event.scope,
        )


class SyncFinished(EngineMessage):
    event: ev.SyncFinished


class ConflictDetected(EngineMessage):
    """Screens only use this as "the queue grew; recount", so a burst during a sync collapses to one."""

    event: ev.ConflictDetected

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ConflictDetected)


class ConflictResolved(EngineMessage):
    event: ev.ConflictResolved


class WebhookReceived(EngineMessage):
    """Not collapsed: the webhooks screen re-reads each named event (in batches of its own)."""

    event: ev.WebhookReceived


class WebhookProcessed(EngineMessage):
    """Not collapsed, like :class:`WebhookReceived`: each names the event whose row changed."""

    event: ev.WebhookProcessed


class MappingChanged(EngineMessage):
    event: ev.MappingChanged


class NoticePosted(EngineMessage):
    event: ev.Notice


MESSAGE_FOR_EVENT: dict[type[ev.EngineEvent], type[EngineMessage]] = {
    ev.BreakerStateChanged: BreakerStateChanged,
    ev.HealthChanged: HealthChanged,
    ev.SyncStarted: SyncStarted,
    ev.SyncProgressed: SyncProgressed,
    ev.SyncFinished: SyncFinished,
    ev.ConflictDetected: ConflictDetected,
    ev.ConflictResolved: ConflictResolved,
    ev.WebhookReceived: WebhookReceived,
    ev.WebhookProcessed: WebhookProcessed,
    ev.MappingChanged: MappingChanged,
    ev.Notice: NoticePosted,
}


def message_for(event: ev.EngineEvent) -> EngineMessage | None:
    """The message that carries ``event``, or ``None`` for an event type this console does not know."""
    for kind in type(event).__mro__:
        message_class = MESSAGE_FOR_EVENT.get(kind)  # type: ignore[arg-type]
        if message_class is not None:
            return message_class(event)
    return None
