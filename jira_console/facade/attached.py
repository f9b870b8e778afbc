"""The attached runner: a daemon with a fresh heartbeat runs the engine, and this process only reads the
shared database. Health, next runs and the listener address come from the daemon's heartbeat; operator
actions that need Jira (a sync, a push) are queued as commands the daemon carries out. Never two engines
competing for the same connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jira_console.facade.combined import combine
from jira_console.facade.runner import Runner, RunnerContext, enqueue
from jira_console.facade.views import ConnectionStatus, EngineState, Flavor, SyncReport
from jira_console.health import daemon_alive as daemon_alive  # re-exported: the rule lives in health
from jira_console.store import converters as cv
from jira_console.store import state as st
from jira_console.sync.undo import UndoStep

if TYPE_CHECKING:
    from jira_console.jira import JiraClient


class NoLiveDaemon(RuntimeError):
    """Attached, but no daemon is alive to carry out what was asked."""


def live_daemons(context: RunnerContext, within: float | None = None) -> list[cv.DaemonRecord]:
    """Other daemons whose heartbeat is recent (three heartbeat intervals by default) and who are neither
    stopping nor stopped."""
    with context.db.session() as s:
        return [d for d in st.list_daemons(s) if d.name != context.owner and _alive(context, d, within)]


def _alive(context: RunnerContext, daemon: cv.DaemonRecord, within: float | None = None) -> bool:
    return daemon_alive(daemon, context.settings.daemon.heartbeat_seconds, within)


class AttachedRunner(Runner):
    """Reads what the daemon reports; queues what only the daemon may do, and waits for its outcome."""

    mode = "attached"
    POLL_SECONDS = 0.25
    """How often a queued command is looked at while waiting for its outcome."""

    def __init__(self, context: RunnerContext) -> None:
        super().__init__(context)
        self.daemon: str | None = None
        """The daemon attached to: the freshest live one at start, followed to another if it goes."""

    def _refuse(self, what: str) -> RuntimeError:
        return RuntimeError(f"attached to a daemon: {what} runs there (stop the daemon to run it here)")

    async def start(self) -> None:
        """Nothing to build: the daemon owns the clients and sync engines."""
        live = await asyncio.to_thread(live_daemons, self.context)
        self.daemon = live[0].name if live else None

    async def stop(self) -> None:
        """Nothing to release."""

    async def reload_mappings(self, connection: str | None) -> None:
        """Nothing runs here to recompile: the save bumped the mappings' generation in the database, and
        the daemon compiles them again before its next sync (and within a heartbeat for webhooks)."""

    def engine_state(self) -> EngineState:
        with self.context.db.session() as s:
            daemons = [d for d in st.list_daemons(s) if d.name != self.context.owner]
        live = [d for d in daemons if _alive(self.context, d)]
        if live and self.daemon not in {d.name for d in live}:
            self.daemon = live[0].name  # ours went; another daemon on the same database carries on
        ours = next((d for d in daemons if d.name == self.daemon), None)
        if ours is None:
            return EngineState("attached", self.daemon, alive=False)
        return EngineState(
            "attached",
            ours.name,
            ours.heartbeat_at,
            alive=_alive(self.context, ours),
            stopped_at=ours.stopped_at,
        )

    def _live_or_refuse(self, what: str) -> str:
        state = self.engine_state()
        if not state.alive or state.daemon is None:
            gone = "stopped" if state.stopped_at else "is not running (no fresh heartbeat)"
            raise NoLiveDaemon(f"daemon {state.daemon or '?'} {gone}: nobody would run {what}")
        return state.daemon

    async def run_sync(self, connection: str | None, full: bool) -> list[SyncReport]:
        """Queue the sync for the daemon and wait for its outcome (the daemon's reports)."""
        what = f"{'a full' if full else 'a'} sync of {connection or 'every connection'}"
        daemon = await asyncio.to_thread(self._live_or_refuse, what)
        command_id = await asyncio.to_thread(
            enqueue, self.context, "sync", {"connection": connection, "full": full}
        )
        command = await self._outcome(command_id, daemon, what)
        if command.error:
            raise RuntimeError(f"daemon {command.claimed_by or daemon}: {command.error}")
        return [_report(r) for r in (command.result or {}).get("reports", [])]

    async def _outcome(self, command_id: int, daemon: str, what: str) -> cv.CommandRecord:
        """Wait until the command is finished; NoLiveDaemon when no daemon is left to finish it."""
        while True:
            command = await asyncio.to_thread(self._command, command_id)
            if command is None:
                raise RuntimeError(f"command #{command_id} ({what}) disappeared")
            if command.finished_at is not None:
                return command
            if not (await asyncio.to_thread(self.engine_state)).alive:
                raise NoLiveDaemon(f"daemon {daemon} stopped before finishing {what} (command #{command_id})")
            await asyncio.sleep(self.POLL_SECONDS)

    def _command(self, command_id: int) -> cv.CommandRecord | None:
        with self.context.db.session() as s:
            return st.get_command(s, command_id)

    async def push(self, connection: str | None) -> None:
        await asyncio.to_thread(enqueue, self.context, "push", {"connection": connection})

    async def undo(self, connection: str, entry_ids: list[int], actor: str) -> tuple[int, list[UndoStep]]:
        """Queue the undo for the daemon (it owns the Jira client) and wait for what became of it."""
        what = f"an undo of {len(entry_ids)} audit lines of {connection}"
        daemon = await asyncio.to_thread(self._live_or_refuse, what)
        args = {"connection": connection, "entries": list(entry_ids), "actor": actor}
        command_id = await asyncio.to_thread(enqueue, self.context, "undo", args)
        command = await self._outcome(command_id, daemon, what)
        if command.error:
            raise RuntimeError(f"daemon {command.claimed_by or daemon}: {command.error}")
        result = command.result or {}
        return int(result["run_id"]), [UndoStep.from_json(s) for s in result.get("steps", [])]

    def _reporting(self) -> list[cv.DaemonRecord]:
        return live_daemons(self.context)

    def connections(self, last_webhooks: Mapping[str, datetime]) -> list[ConnectionStatus]:
        """As the live daemons last reported them, combined (several daemons share a connection's work:
        see :mod:`~jira_console.facade.combined`), the attached one first; with none alive, as the one that
        reported last did (its figures may be stale: ``reported_at`` says)."""
        with self.context.db.session() as s:
            daemons = [d for d in st.list_daemons(s) if d.name != self.context.owner]
        alive = {d.name for d in daemons if _alive(self.context, d)}
        # The daemon attached to first, then live ones, then whatever reported last.
        daemons.sort(key=lambda d: (d.name != self.daemon, d.name not in alive))
        live = [d for d in daemons if d.name in alive]
        reported: dict[str, list[tuple[cv.DaemonRecord, dict[str, Any]]]] = {}
        for d in live or daemons:
            for c in (d.status or {}).get("connections", []):
                reported.setdefault(c.get("name"), []).append((d, c))
        out = []
        for conn in self.context.settings.jira:
            ours = {"name": conn.name, "url": conn.url, "auth": conn.auth}
            reports = [
                replace(
                    ConnectionStatus.from_json({**data, **ours}),
                    reported_by=daemon.name,
                    reported_at=daemon.heartbeat_at,
                )
                for daemon, data in reported.get(conn.name, [])[: None if live else 1]
            ]
            status = combine(reports) if reports else ConnectionStatus(conn.name, conn.url, conn.auth)
            out.append(replace(status, last_webhook_at=last_webhooks.get(conn.name)))
        return out

    def upcoming_runs(self) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for d in self._reporting():
            for name, when in ((d.status or {}).get("next_runs") or {}).items():
                with contextlib.suppress(TypeError, ValueError):
                    at = datetime.fromisoformat(when)
                    out[name] = min(out.get(name, at), at)
        return out

    def listener_address(self) -> str | None:
        """Where the live daemons listen (several daemons each have a listener: all of them, the attached
        daemon's first)."""
        daemons = sorted(self._reporting(), key=lambda d: d.name != self.daemon)
        addresses = [str(a) for d in daemons if (a := (d.status or {}).get("listener"))]
        return ", ".join(dict.fromkeys(addresses)) or None

    def client(self, connection: str) -> JiraClient:
        raise self._refuse(f"the Jira client of {connection!r}")

    async def site_fields(self, connection: str) -> tuple[Flavor, list[dict[str, Any]]]:
        raise self._refuse(f"reading {connection!r}'s fields from Jira")


def _report(data: Mapping[str, Any]) -> SyncReport:
    """A sync report the daemon recorded as a command's result (``dataclasses.asdict``)."""
    known = {k: v for k, v in data.items() if k in SyncReport.__dataclass_fields__}
    return SyncReport(**known)
