"""An in-memory engine implementing the console's protocol (:class:`~jira_console.facade.ConsoleEngine`),
for console tests and ``bench/console_bench.py``.

It hands out the real records (the store's converters, the facade's views, the sync's reports, the mapping
preview's rows) and runs the real mapping code for the editor and its preview, so what the console is
tested against is what the engine gives it. It behaves like the real thing where the console can tell:
actions change state, counts follow, and events are delivered from a thread other than the caller's (the
real engine emits from its own loop or worker threads, so the console's bridge must marshal).
``tests/test_tui_fake.py`` holds it to the protocol; mypy does too (see the end of this module).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from jira_console import events as ev
from jira_console.facade import (
    ConnectionStatus,
    EngineState,
    FieldErrorView,
    KnownNames,
    ListenerStatus,
    Mode,
    NoLiveDaemon,
    QueueMarker,
    SyncReport,
    SyncStateView,
    WebhookStats,
)
from jira_console.facade.conflicts import ValueReading, read_value
from jira_console.facade.mappings import definition_from_toml, definition_to_toml, preview_over
from jira_console.facade.runner import PreviewInputs
from jira_console.facade.undo import AuditQuery, UndoResult, UndoSelection, UndoStep
from jira_console.mapping import PreviewRow, parse_definition
from jira_console.mapping.people import JiraPerson
from jira_console.store.converters import (
    AuditEntry,
    ConflictRecord,
    DaemonRecord,
    IdentityRecord,
    IssueRecord,
    MappingRecord,
    WebhookEventRecord,
)
from jira_console.store.creations import CreationRecord
from jira_console.sync.conflicts import ConflictNotFound, ResolutionError, Take
from jira_console.sync.fields import local_edit_problem
from jira_console.sync.merge import canonical
from jira_console.sync.undo import EntriesNotFound, UndoError
from tests.fakes import seed
from tests.fakes.seed import FIXED_NOW, INJECTION, PEOPLE

__all__ = ["FIXED_NOW", "INJECTION", "FakeEngine"]


class FakeEngine:
    """The console's view of the engine over in-memory data. ``sync_gate``, when set, holds a running sync
    after its first progress report until the test sets the event, so "running" can be observed."""

    def __init__(self, *, conflicts: int = 40, mode: Mode = "inprocess") -> None:
        self.mode: Mode = mode
        self.listening = True
        self.state = EngineState(mode, "syncd", FIXED_NOW) if mode == "attached" else EngineState(mode)
        self.sync_gate: asyncio.Event | None = None
        self._subscribers: list[Callable[[ev.EngineEvent], None]] = []
        self._lock = threading.Lock()
        self._conflicts = seed.conflicts(conflicts)
        self._next_conflict_id = conflicts + 1
        self._issues = seed.issues()
        self._mappings = seed.mappings()
        self._webhooks = seed.webhooks()
        self._connections = seed.connections()
        self._sync = seed.sync_states()
        self._people = {
            "cloud": [JiraPerson("acct-cy", INJECTION, None), JiraPerson("acct-di", "Di Ng", "di@x.example")]
        }
        self.identities_set: list[tuple[str, str, str | None, str | None]] = []
        self._audit = seed.audit()
        self.undos: list[tuple[UndoSelection, str]] = []
        self.pushes: list[str] = []
        """Connections ``push_resolved`` was called for (after it returned)."""
        self.push_gate: asyncio.Event | None = None
        """When set, ``push_resolved`` waits for it (so a test can see the console while a push waits)."""
        self.undo_gate: asyncio.Event | None = None
        """When set, an applied undo waits for it (so a test can see the console while it runs)."""
        self.sync_calls: list[tuple[str | None, bool]] = []
        self.retried: list[int] = []
        self.reads: dict[str, int] = {}
        """How often each read ran (tests tell a reload from an update in place)."""
        self.error_counts: dict[str, dict[str, int]] = {}
        """What ``field_error_counts`` answers: connection -> field -> failing issues."""
        self.creations: list[CreationRecord] = []
        """What ``creation_counts`` and ``list_creations`` answer (oldest first)."""
        self.local_edits: dict[str, int] = {}
        self.outbox: dict[str, dict[str, int]] = {}
        """What ``local_edit_counts`` and ``outbox_counts`` answer."""

    def _read(self, name: str) -> None:
        self.reads[name] = self.reads.get(name, 0) + 1

    # -- events -------------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[ev.EngineEvent], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def emit(self, event: ev.EngineEvent) -> None:
        """Deliver ``event`` from another thread, as the real engine may."""
        thread = threading.Thread(target=lambda: [cb(event) for cb in list(self._subscribers)])
        thread.start()
        thread.join()

    # -- where the engine runs ----------------------------------------------------------------------

    def engine_state(self) -> EngineState:
        self._read("engine_state")
        return self.state

    def daemon_died(self) -> None:
        """The daemon attached to stops beating (what the real engine sees as a stale heartbeat)."""
        self.state = replace(self.state, alive=False)

    async def run_here(self) -> None:
        await asyncio.sleep(0)
        self.mode, self.state = "inprocess", EngineState("inprocess")
        self.emit(ev.Notice("info", "the engine now runs in this console (in-process)"))

    def daemon_back(self, name: str = "syncd") -> None:
        """A daemon beats on the database while the engine runs here (it was restarted)."""
        self.state = replace(self.state, live_daemon=name)

    async def attach(self) -> str:
        await asyncio.sleep(0)
        if self.mode == "attached":
            return self.state.daemon or "?"
        daemon = self.state.live_daemon
        if daemon is None:
            raise NoLiveDaemon("no daemon is alive on this database to attach to")
        running = sorted({name for (name, _), s in self._sync.items() if s.running})
        if running:
            busy = ", ".join(f"a sync of {name}" for name in running)
            raise RuntimeError(f"{busy} runs in this console; attach once it has finished")
        self.mode, self.state = "attached", EngineState("attached", daemon, FIXED_NOW)
        self.emit(ev.Notice("info", f"attached to daemon {daemon}: it runs the engine again"))
        return daemon

    # -- health -------------------------------------------------------------------------------------

    def connections(self) -> list[ConnectionStatus]:
        return list(self._connections.values())

    def update_connection(self, name: str, **changes: Any) -> None:
        """Change what the next read of ``name``'s health returns (no event: only a re-read shows it)."""
        self._connections[name] = replace(self._connections[name], **changes)

    def set_breaker(self, connection: str, state: str, opens_in: float | None = None) -> None:
        old = self._connections[connection].breaker_state
        self.update_connection(connection, breaker_state=state, opens_in_seconds=opens_in)
        self.emit(ev.BreakerStateChanged(connection, old, state, at=FIXED_NOW))

    def listener_status(self) -> ListenerStatus:
        stats = self.webhook_stats()
        address = "0.0.0.0:8787/webhooks" if self.listening else None
        received, failed = sum(stats.counts.values()), stats.counts.get("failed", 0)
        return ListenerStatus(self.listening, address, received, failed, stats.queue_depth)

    def daemons(self) -> list[DaemonRecord]:
        if self.mode != "attached":
            return []
        started = FIXED_NOW - timedelta(hours=3)
        return [DaemonRecord("syncd", "ops-1", 4242, "0.1.0", started, FIXED_NOW, False, {"loop": "ok"})]

    # -- sync ---------------------------------------------------------------------------------------

    def sync_states(self) -> list[SyncStateView]:
        return list(self._sync.values())

    def recent_field_errors(self, connection: str | None = None, limit: int = 50) -> list[FieldErrorView]:
        return []

    def field_error_counts(self) -> dict[str, dict[str, int]]:
        return {conn: dict(fields) for conn, fields in self.error_counts.items()}

    def local_edit_counts(self) -> dict[str, int]:
        return dict(self.local_edits)

    def outbox_counts(self) -> dict[str, dict[str, int]]:
        return {conn: dict(n) for conn, n in self.outbox.items()}

    def creation_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for r in self.creations:
            bucket = (
                "failed" if r.state == "failed" else "waiting" if r.state in ("pending", "creating") else None
            )
            if bucket is not None:
                counts.setdefault(r.connection, {"waiting": 0, "failed": 0})[bucket] += 1
        return counts

    def list_creations(
        self, connection: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[CreationRecord]:
        rows = [r for r in reversed(self.creations) if connection in (None, r.connection)]
        return [r for r in rows if state in (None, r.state)][:limit]

    async def run_sync(self, connection: str | None = None, full: bool = False) -> list[SyncReport]:
        """One report per connection, as the facade returns (its scopes run one after another)."""
        if self.mode == "attached" and not self.state.alive:
            raise NoLiveDaemon(f"daemon {self.state.daemon} is not running (no fresh heartbeat)")
        self.sync_calls.append((connection, full))
        keys = [k for k in self._sync if connection in (None, k[0])]
        if not keys:
            raise ValueError(f"unknown connection {connection!r}")
        reports: dict[str, SyncReport] = {}
        for name, scope in keys:
            report = await self._run_scope(name, scope, full)
            total = reports.setdefault(name, SyncReport(name, full=full, duration_ms=900))
            for number in ("pages", "seen", "pulled_fields", "pushed_fields", "conflicts"):
                setattr(total, number, getattr(total, number) + getattr(report, number))
        return list(reports.values())

    async def _run_scope(self, name: str, scope: str, full: bool) -> SyncReport:
        self._sync[name, scope] = replace(self._sync[name, scope], running=True)
        self.emit(ev.SyncStarted(name, scope, full, at=FIXED_NOW))
        for page in range(1, 4):
            progress = ev.SyncProgressed(name, scope, page, page * 50, page * 4, page, 0, 600, page * 2000)
            self.emit(progress)
            if self.sync_gate is not None:
                await self.sync_gate.wait()
            await asyncio.sleep(0)
        report = SyncReport(
            name, full=full, pages=3, seen=150, pulled_fields=150 if full else 12, pushed_fields=3,
            duration_ms=900, api_calls=4,
        )  # fmt: skip
        state = self._sync[name, scope]
        self._sync[name, scope] = replace(
            state,
            running=False,
            counts=report.counts(),
            last_status="ok",
            watermark_ms=(state.watermark_ms or 0) + 60_000,
            last_finished_at=FIXED_NOW + timedelta(minutes=1),
        )
        self.emit(ev.SyncFinished(name, scope, "ok", report.counts(), 900, at=FIXED_NOW))
        return report

    # -- conflicts ----------------------------------------------------------------------------------

    def _matching(
        self,
        status: str | None,
        connection: str | None,
        field: str | None,
        issue_key: str | None,
        contains: bool = False,
    ) -> Iterator[ConflictRecord]:
        def match(wanted: str | None, value: str) -> bool:
            if wanted is None:
                return True
            return wanted.lower() in value.lower() if contains else wanted == value

        for c in self._conflicts.values():
            if status and c.status != status:
                continue
            if match(connection, c.connection) and match(field, c.field) and match(issue_key, c.issue_key):
                yield c

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
    ) -> list[ConflictRecord]:
        self._read("list_conflicts")
        with self._lock:
            rows = list(self._matching(status, connection, field, issue_key, contains))
        rows.sort(key=lambda c: c.id)
        rows.sort(key=_SORT_KEYS[sort.removeprefix("-")], reverse=sort.startswith("-"))
        return rows[offset : offset + limit]

    def count_conflicts(
        self,
        status: str | None = "open",
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        *,
        contains: bool = False,
    ) -> int:
        with self._lock:
            return sum(1 for _ in self._matching(status, connection, field, issue_key, contains))

    def conflict_marker(
        self,
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        *,
        contains: bool = False,
    ) -> QueueMarker:
        self._read("conflict_marker")
        with self._lock:
            rows = list(self._matching("open", connection, field, issue_key, contains))
        return QueueMarker(len(rows), sum(c.id for c in rows), sum(c.revision for c in rows))

    def known_names(
        self, connection: str, people: Collection[str] = (), sprints: Collection[int] = ()
    ) -> KnownNames:
        self._read("known_names")
        return KnownNames({p: PEOPLE[p] for p in people if p in PEOPLE}, {})

    def get_conflict(self, conflict_id: int) -> ConflictRecord | None:
        return self._conflicts.get(conflict_id)

    def add_conflict(self, **values: Any) -> ConflictRecord:
        """A conflict a sync just found (emits ``ConflictDetected``)."""
        record = seed.conflict(self._next_conflict_id, **values)
        self._next_conflict_id += 1
        self._conflicts[record.id] = record
        self.emit(ev.ConflictDetected(record.connection, record.issue_key, record.field, record.id))
        return record

    def update_conflict(self, conflict_id: int, **changes: Any) -> ConflictRecord:
        """A sync changed an open conflict (Jira's value edited again): no event says so."""
        with self._lock:
            record = self._conflicts[conflict_id]
            record = replace(record, **changes, revision=record.revision + 1)
            self._conflicts[conflict_id] = record
        return record

    def _settle(self, conflict_id: int, take: Take, value: Any, actor: str) -> ConflictRecord:
        with self._lock:
            record = self._conflicts.get(conflict_id)
            if record is None:
                raise ConflictNotFound(f"no conflict with id {conflict_id}")
            if record.status != "open":
                raise ResolutionError(f"conflict {conflict_id} is already {record.status}")
            problem = local_edit_problem(record.field, canonical(value)) if take == "value" else None
            if problem is not None:  # as the engine checks a value (see ``read_value``)
                raise ResolutionError(f"cannot resolve conflict {conflict_id} with that value: {problem}")
            chosen = {"jira": record.jira, "local": record.local, "value": value}[take]
            record = replace(
                record, status="resolved", resolution=take, resolved_value=chosen, resolved_by=actor,
                resolved_at=FIXED_NOW,
            )  # fmt: skip
            self._conflicts[conflict_id] = record
        self.emit(ev.ConflictResolved(record.id, record.issue_key, record.field, take))
        return record

    def resolve_elsewhere(self, conflict_id: int, take: Take = "jira") -> ConflictRecord:
        """Another console or the CLI resolved a conflict: the store changes and the event arrives."""
        return self._settle(conflict_id, take, None, "cli")

    async def resolve_conflict(
        self,
        conflict_id: int,
        take: Take,
        value: Any = None,
        actor: str = "operator",
        *,
        push: bool = True,
    ) -> ConflictRecord:
        await asyncio.sleep(0)
        record = self._settle(conflict_id, take, value, actor)
        if push:
            await self.push_resolved(record.connection)
        return record

    def read_value(self, field: str, text: str) -> ValueReading:
        return read_value(field, text)

    async def push_resolved(self, connection: str) -> None:
        if self.push_gate is not None:
            await self.push_gate.wait()
        self.pushes.append(connection)

    async def resolve_conflicts(
        self,
        take: Literal["jira", "local"],
        connection: str | None = None,
        field: str | None = None,
        issue_key: str | None = None,
        actor: str = "operator",
        *,
        contains: bool = False,
    ) -> int:
        await asyncio.sleep(0)
        with self._lock:
            targets = [c.id for c in self._matching("open", connection, field, issue_key, contains)]
        touched = {self._settle(conflict_id, take, None, actor).connection for conflict_id in targets}
        for name in sorted(touched):
            await self.push_resolved(name)
        return len(targets)

    # -- issues and mappings ------------------------------------------------------------------------

    def add_issue(self, issue: IssueRecord) -> None:
        self._issues.append(issue)

    def list_mappings(self, connection: str | None = None) -> list[MappingRecord]:
        return [m for m in self._mappings if connection is None or m.connection in (None, connection)]

    def mapping_to_toml(self, definition: dict[str, Any]) -> str:
        return definition_to_toml(definition)

    def mapping_from_toml(self, text: str) -> dict[str, Any]:
        return definition_from_toml(text)

    def preview_mapping(
        self,
        definition: dict[str, Any],
        issue_keys: list[str] | None = None,
        limit: int = 100,
        *,
        connection: str | None = None,
    ) -> list[PreviewRow]:
        defn = parse_definition(definition)
        where = connection or defn.connection or "cloud"
        issues = [
            i for i in self._issues if i.connection == where and (not issue_keys or i.key in issue_keys)
        ]
        return preview_over(defn, issues[:limit], PreviewInputs(flavor="cloud"))

    async def save_mapping(
        self,
        definition: dict[str, Any],
        actor: str = "operator",
        comment: str | None = None,
        *,
        connection: str | None = None,
    ) -> MappingRecord:
        await asyncio.sleep(0)
        defn = parse_definition(definition)
        where = connection if connection is not None else defn.connection
        for i, record in enumerate(self._mappings):
            if (record.name, record.connection) == (defn.name, where):
                saved = seed.mapping_record(
                    record.id, definition, version=record.version + 1, updated_by=actor
                )
                self._mappings[i] = saved
                break
        else:
            saved = seed.mapping_record(len(self._mappings) + 1, definition, updated_by=actor)
            self._mappings.append(saved)
        if saved.connection != where:  # saved where it was edited, as the engine does
            saved = dataclasses.replace(saved, connection=where)
            self._mappings[[m.id for m in self._mappings].index(saved.id)] = saved
        self.emit(ev.MappingChanged(saved.name, saved.version))
        return saved

    # -- people -------------------------------------------------------------------------------------

    def unresolved_people(self, connection: str) -> list[JiraPerson]:
        mapped = {jira_user for conn, jira_user, _e, _i in self.identities_set if conn == connection}
        return [p for p in self._people.get(connection, []) if p.jira_user not in mapped]

    async def set_identity(
        self,
        connection: str,
        jira_user: str,
        *,
        email: str | None = None,
        internal_id: str | None = None,
        display_name: str | None = None,
    ) -> IdentityRecord:
        await asyncio.sleep(0)
        self.identities_set.append((connection, jira_user, email, internal_id))
        return IdentityRecord(
            len(self.identities_set), connection, jira_user, email, internal_id, display_name
        )

    # -- audit log and undo -------------------------------------------------------------------------

    def audit_log(self, query: AuditQuery = AuditQuery()) -> list[AuditEntry]:
        self._read("audit_log")
        wanted = {"issue_key": query.issue_key, "run_id": query.run_id, "side": query.side,
                  "field": query.field, "connection": query.connection}  # fmt: skip
        with self._lock:
            rows = [
                a
                for a in reversed(self._audit)
                if all(v is None or getattr(a, k) == v for k, v in wanted.items())
                and (query.since is None or a.at >= query.since)
            ]
        return rows[query.offset : query.offset + query.limit]

    def add_audit(self, **values: Any) -> AuditEntry:
        """A line the engine wrote (a sync's or a webhook's change); ``values`` as ``seed.audit_entry``."""
        with self._lock:
            entry = seed.audit_entry(len(self._audit) + 1, **values)
            self._audit.append(entry)
        return entry

    def _chosen_lines(self, selection: UndoSelection) -> list[AuditEntry]:
        """The lines a selection names, as the engine chooses them (the same refusals)."""
        selection.check()
        rows = [
            a
            for a in self._audit
            if selection.connection in (None, a.connection)
            and (
                a.id in selection.entry_ids
                if selection.entry_ids
                else a.run_id == selection.run_id
                if selection.run_id is not None
                else a.issue_key == selection.issue_key and a.at >= (selection.since or a.at)
            )
        ]
        missing = sorted(set(selection.entry_ids) - {a.id for a in rows})
        if missing:
            raise EntriesNotFound("no audit entry " + ", ".join(f"#{i}" for i in missing))
        if not rows:
            raise UndoError(f"{selection.describe()}: no audit entries to undo")
        return rows

    async def undo(
        self, selection: UndoSelection, *, apply: bool = False, actor: str = "operator"
    ) -> UndoResult:
        """Plans one step per line (a line that wrote no field is refused); applied, each write is a new
        audit line of an undo run that names the line it reverses."""
        await asyncio.sleep(0)
        with self._lock:
            lines = self._chosen_lines(selection)
        steps = [
            UndoStep(a.connection, a.issue_key, a.field, a.side, (a.id,), a.new, a.old, a.new,
                     "write" if a.field else "refused", "" if a.field else "wrote no field value")
            for a in lines
        ]  # fmt: skip
        if not apply:
            return UndoResult(selection.describe(), tuple(steps), applied=False)
        if self.undo_gate is not None:
            await self.undo_gate.wait()
        run_id = max(a.run_id or 0 for a in self._audit) + 1
        done = []
        with self._lock:
            for step in steps:
                if step.action == "write":
                    self._audit.append(
                        seed.audit_entry(len(self._audit) + 1, connection=step.connection,
                                         issue_key=step.issue_key, side=step.side, field=step.field,
                                         old=step.current, new=step.value, actor=actor, cause="undo",
                                         run_id=run_id, undo_of=step.entries[-1],
                                         reason="undo of audit #" + str(step.entries[-1]))
                    )  # fmt: skip
                    step = replace(step, action="undone")
                done.append(step)
        self.undos.append((selection, actor))
        return UndoResult(selection.describe(), tuple(done), applied=True, run_ids=(run_id,))

    # -- webhooks -----------------------------------------------------------------------------------

    def list_webhook_events(
        self,
        status: str | None = None,
        limit: int = 200,
        offset: int = 0,
        *,
        connection: str | None = None,
        since: datetime | None = None,
    ) -> list[WebhookEventRecord]:
        self._read("list_webhook_events")
        rows = [
            w
            for w in reversed(self._webhooks)
            if status in (None, w.status)
            and connection in (None, w.connection)
            and (since is None or w.received_at >= since)
        ]
        return rows[offset : offset + limit]

    def get_webhook_event(self, event_id: int) -> WebhookEventRecord | None:
        self._read("get_webhook_event")
        return next((w for w in self._webhooks if w.id == event_id), None)

    def add_webhook(self, **values: Any) -> WebhookEventRecord:
        """A delivery the listener stored (emits ``WebhookReceived`` with its id)."""
        record = seed.webhook(len(self._webhooks) + 1, **values)
        self._webhooks.append(record)
        self.emit(ev.WebhookReceived(record.id, record.connection, record.event_type, record.issue_key))
        return record

    def process_webhook(self, event_id: int, status: str, error: str | None = None) -> None:
        """A worker finished an event (emits ``WebhookProcessed``)."""
        for i, record in enumerate(self._webhooks):
            if record.id == event_id:
                self._webhooks[i] = replace(
                    record, status=status, attempts=record.attempts + 1, last_error=error,
                    processed_at=FIXED_NOW,
                )  # fmt: skip
        self.emit(ev.WebhookProcessed(event_id, status, error))

    def webhook_stats(self) -> WebhookStats:
        counts: dict[str, int] = {}
        for w in self._webhooks:
            counts[w.status] = counts.get(w.status, 0) + 1
        depth = counts.get("received", 0) + counts.get("processing", 0)
        return WebhookStats(counts, queue_depth=depth, received_per_minute=3, processed_per_minute=2)

    async def retry_webhook_event(self, event_id: int) -> bool:
        """As the store does: due again now with a fresh attempt count (the last error stays on record)."""
        await asyncio.sleep(0)
        for i, record in enumerate(self._webhooks):
            if record.id == event_id and record.status != "processing":
                self._webhooks[i] = replace(record, status="received", attempts=0, processed_at=None)
                self.retried.append(event_id)
                return True
        return False


_SORT_KEYS: dict[str, Callable[[ConflictRecord], Any]] = {
    "id": lambda c: c.id,
    "connection": lambda c: c.connection,
    "key": lambda c: (c.issue_key.rstrip("0123456789"), len(c.issue_key), c.issue_key),
    "field": lambda c: c.field,
    "detected": lambda c: c.detected_at,
    "local_edited": lambda c: c.local_edited_at,
    "jira_edited": lambda c: c.jira_edited_at,
}
"""The store's orders (``conflict_queue.CONFLICT_SORTS``), over the fake's records."""

if TYPE_CHECKING:
    from jira_console.facade import ConsoleEngine

    def _fake_is_a_console_engine(engine: FakeEngine) -> ConsoleEngine:
        """mypy proves the fake is what the console needs (never called)."""
        return engine
