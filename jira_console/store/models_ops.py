"""The daemons' bookkeeping tables: one heartbeat row per running daemon and the operator commands consoles
queue for them (re-exported by :mod:`jira_console.store.models`, which holds the data tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Mapped

from jira_console.store import tables
from jira_console.store.models import Base


class Daemon(Base):
    """Heartbeat and status of one running daemon."""

    __table__ = tables.daemons
    name: Mapped[str]
    host: Mapped[str | None]
    pid: Mapped[int | None]
    version: Mapped[str | None]
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    stopping: Mapped[bool]
    status: Mapped[dict[str, Any] | None]
    stopped_at: Mapped[datetime | None]


class Command(Base):
    """An operator action queued by a console for a running daemon."""

    __table__ = tables.commands
    id: Mapped[int]
    kind: Mapped[str]
    args: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str | None]
    claimed_by: Mapped[str | None]
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None]
