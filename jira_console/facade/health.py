"""The facade's health methods (mixed into :class:`~jira_console.facade.engine.Engine`): where the engine
runs and whether it is alive (and moving it: here, or back to a daemon), every connection's health (the
client's view, the syncs' truth, the last minutes of traffic), the listener, the daemons, and the snapshot
a daemon writes into its heartbeat."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from jira_console import events as ev
from jira_console.config import Settings
from jira_console.facade.attached import AttachedRunner, NoLiveDaemon, live_daemons
from jira_console.facade.inprocess import InProcessRunner
from jira_console.facade.runner import Runner, RunnerContext
from jira_console.facade.views import ConnectionStatus, EngineState, ListenerStatus, WebhookStats
from jira_console.health import SyncHealth, held_back_credentials, sync_health
from jira_console.jira.shared import blocked_message
from jira_console.store import converters as cv
from jira_console.store import guard as sg
from jira_console.store import identity
from jira_console.store import queue as q
from jira_console.store import state as st
from jira_console.store.db import Database


class HealthMethods:
    """Health, as the console, ``status``, ``/healthz`` and the operations API read it."""

    settings: Settings
    db: Database
    runner: Runner
    _context: RunnerContext
    _transports: dict[str, httpx.AsyncBaseTransport]
    follows_daemons: bool

    def webhook_stats(self) -> WebhookStats:
        raise NotImplementedError

    def live_daemons(self, *, within: float | None = None) -> list[cv.DaemonRecord]:
        """Daemons whose heartbeat is recent (three heartbeat intervals by default)."""
        return live_daemons(self._context, within)

    def daemons(self) -> list[cv.DaemonRecord]:
        """Every daemon's last heartbeat."""
        with self.db.session() as s:
            return st.list_daemons(s)

    def emit(self, event: ev.EngineEvent) -> None:
        raise NotImplementedError

    async def run_here(self) -> None:
        """Stop relying on a daemon and run the engine in this process (the daemon attached to is gone)."""
        if self.runner.mode == "inprocess":
            return
        await self.runner.stop()
        self.runner = InProcessRunner(self._context, self._transports)
        await self.runner.start()
        self.emit(ev.Notice("info", "the engine now runs in this console (in-process)"))

    async def attach(self) -> str:
        """Hand the engine back to a live daemon on the same database (the reverse of :meth:`run_here`):
        this process stops its Jira clients and sync engines, and what it is asked to sync or push is queued
        for the daemon again. Returns the daemon's name. Refused while a sync, push or undo runs here (never
        two engines on one connection; the caller asks again once it finished), by a process that runs the
        engine for good (a daemon), and with NoLiveDaemon when no daemon is alive."""
        if self.runner.mode == "attached":
            return self.runner.engine_state().daemon or "?"
        if not self.follows_daemons:
            raise RuntimeError("this process is a daemon: it runs the engine itself and attaches to none")
        attached = AttachedRunner(self._context)
        await attached.start()
        if attached.daemon is None:
            raise NoLiveDaemon("no daemon is alive on this database to attach to")
        # No await between this look and the switch: nothing new can start here in between.
        busy = self.runner.busy()
        if busy:
            raise RuntimeError(f"{busy} runs in this console; attach once it has finished")
        running_here, self.runner = self.runner, attached
        await running_here.stop()
        self.emit(ev.Notice("info", f"attached to daemon {attached.daemon}: it runs the engine again"))
        return attached.daemon

    def engine_state(self) -> EngineState:
        """Where the engine runs and whether it is alive (attached: the daemon's heartbeat is fresh). Run
        here by a process that may attach (a console, not a daemon): which daemon, if any, is alive to hand
        the engine back to."""
        state = self.runner.engine_state()
        if state.mode == "inprocess" and self.follows_daemons:
            live = self.live_daemons()
            if live:
                return replace(state, live_daemon=live[0].name)
        return state

    def sync_health(self) -> dict[str, SyncHealth]:
        """How each configured connection's syncs are going (last success, failing streak, degraded), read
        from the store: the same in both modes, and what ``/healthz`` and ``/metrics`` report."""
        now = datetime.now(UTC)
        with self.db.session() as s:
            # The scopes of sync runs (the Retry-After row of each connection never started one).
            states = {r.connection: r for r in st.list_sync_states(s) if r.last_started_at is not None}
            set_aside = identity.quarantine_counts(s)
        return {
            conn.name: replace(
                sync_health(states.get(conn.name), conn.sync_interval_seconds, now),
                quarantined=set_aside.get(conn.name, 0),
            )
            for conn in self.settings.jira
        }

    def connections(self) -> list[ConnectionStatus]:
        """Per connection: the client's health (flavor, version, breaker, latency, budget, auth, errors,
        traffic), the syncs' health and, when attached, which daemon reported it and when."""
        with self.db.session() as s:
            last_events = q.last_received_by_connection(s)
            blocks = sg.all_blocks(s)
        syncs = self.sync_health()
        out = []
        for c in self.runner.connections(last_events):
            c = replace(c, sync=syncs.get(c.name, c.sync))
            if c.name in blocks and c.auth == "basic":
                # Recorded by whichever process was denied: every process holds back, so every view says so.
                c = replace(c, auth_state="blocked", auth_note=blocked_message(c.name, blocks[c.name][0]))
            out.append(c)
        return out

    def auth_blocks(self) -> dict[str, str]:
        """Connection -> plain words, for every connection holding back its Basic credentials."""
        with self.db.session() as s:
            blocks = sg.all_blocks(s)
        return held_back_credentials(self.settings.jira, blocks)

    def health_snapshot(self) -> list[dict[str, Any]]:
        """JSON-friendly connection health, written into the daemon heartbeat for attached consoles."""
        return [_jsonable(asdict(c)) for c in self.connections()]

    def listener_status(self) -> ListenerStatus:
        """Where the webhook listener listens (here, or in the daemon) and the stored events' figures."""
        stats = self.webhook_stats()
        address = self.runner.listener_address()
        return ListenerStatus(
            listening=address is not None,
            address=address,
            received=sum(stats.counts.values()),
            failed=stats.counts.get("failed", 0),
            queue_depth=stats.queue_depth,
        )


def _jsonable(value: Any) -> Any:
    """``asdict`` output made JSON-safe (times as ISO text, tuples as lists), for the heartbeat row."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
