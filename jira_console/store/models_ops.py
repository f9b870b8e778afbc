"""The daemons' bookkeeping tables: one heartbeat row per running daemon and the operator commands consoles
queue for them (re-exported by :mod:`jira_console.store.models`, which holds the data tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from jira_console.store.models import Base, _now_column


class Daemon(Base):
    """Heartbeat and status of one running daemon."""

    __tablename__ = "daemons"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    stopping: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[dict[str, Any] | None]
    stopped_at: Mapped[datetime | None]


class Command(Base):
    """An operator action queued by a console for a running daemon."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_claimed_by", "claimed_by"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = _now_column()
    created_by: Mapped[str | None] = mapped_column(String(255))
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
