"""Loopback ports and addresses for tests that need one nothing listens on."""

from __future__ import annotations

import socket

from jira_console.store.db import Database


def free_port() -> int:
    """A loopback port free now (the operating system's pick; nothing listens on it afterwards)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unreachable_postgres(password: str = "", *, query: str = "") -> Database:
    """A PostgreSQL database on a port nothing listens on, its URL carrying ``password`` when given."""
    user = f"root:{password}" if password else "root"
    return Database(f"postgresql+psycopg://{user}@127.0.0.1:{free_port()}/test{query}")
