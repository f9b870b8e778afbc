"""The facade's operator commands: syncs and pushes queued in the ``commands`` table for whichever daemon
claims them first (each command is claimed once, also with several daemons on one PostgreSQL database),
and what became of them."""

from __future__ import annotations

from jira_console.config import Settings
from jira_console.facade.attached import daemon_alive
from jira_console.facade.errors import NotFound
from jira_console.store import converters as cv
from jira_console.store import state as st
from jira_console.store.db import Database


class CommandMethods:
    """Mixed into :class:`~jira_console.facade.engine.Engine`."""

    settings: Settings
    db: Database
    owner: str

    def trigger_sync(
        self, connection: str | None = None, full: bool = False
    ) -> tuple[cv.CommandRecord, bool]:
        """Queue a sync for the daemons, unless one already queued or running covers it (same connection or
        all of them; a full one covers an incremental request). Returns the command and whether it was
        already there. A command claimed by a daemon that stopped beating is not counted as running."""
        with self.db.session(write=True) as s:
            alive = self._alive_daemons(st.list_daemons(s))
            for command in st.list_commands(s, pending_only=True):
                if self._covers(command, connection, full, alive):
                    return command, True
            command_id = st.enqueue_command(
                s, "sync", {"connection": connection, "full": full}, created_by=self.owner
            )
            found = st.get_command(s, command_id)
        assert found is not None  # just written in this transaction
        return found, False

    def get_command(self, command_id: int) -> cv.CommandRecord:
        """One queued command and its outcome so far; NotFound when there is no such id."""
        with self.db.session() as s:
            found = st.get_command(s, command_id)
        if found is None:
            raise NotFound(f"no command with id {command_id}")
        return found

    def pending_commands(self) -> list[cv.CommandRecord]:
        """Commands not finished yet (queued, or being carried out by a daemon), newest first."""
        with self.db.session() as s:
            return st.list_commands(s, pending_only=True)

    def _alive_daemons(self, daemons: list[cv.DaemonRecord]) -> set[str]:
        return {d.name for d in daemons if daemon_alive(d, self.settings.daemon.heartbeat_seconds)}

    @staticmethod
    def _covers(command: cv.CommandRecord, connection: str | None, full: bool, alive: set[str]) -> bool:
        if command.kind != "sync" or (command.claimed_by is not None and command.claimed_by not in alive):
            return False
        args = command.args or {}
        target = args.get("connection")
        return (target is None or target == connection) and (bool(args.get("full")) or not full)
