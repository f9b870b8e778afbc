"""The facade's audit log and undo (issue 18): the log filtered for the console, and undo planned here
(a dry run reads the store only) and applied by whichever process runs the engine (this one, or the daemon
through a queued command), through :mod:`jira_console.sync.undo`. CLI, console and API all come here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from jira_console.facade.runner import Runner
from jira_console.store import catalog, identity, repo, runs
from jira_console.store import converters as cv
from jira_console.store.db import Database
from jira_console.sync.undo import (
    UndoResult,
    UndoSelection,
    UndoStep,
    plan_undo,
    refuse_pull_only,
    select_entries,
)

__all__ = ["AuditQuery", "UndoMethods", "UndoResult", "UndoSelection", "UndoStep"]


@dataclass(frozen=True)
class AuditQuery:
    """Which audit lines to list (every given filter must match), newest first."""

    issue_key: str | None = None
    run_id: int | None = None
    side: str | None = None
    field: str | None = None
    connection: str | None = None
    since: datetime | None = None
    limit: int = 200
    offset: int = 0


class UndoMethods:
    """Mixed into :class:`~jira_console.facade.engine.Engine`."""

    db: Database
    runner: Runner

    def audit_log(self, query: AuditQuery = AuditQuery()) -> list[cv.AuditEntry]:
        """Audit lines matching ``query``, newest first; an issue's lines under every key it has had."""
        with self.db.session() as s:
            keys = identity.keys_of(s, query.issue_key, query.connection) if query.issue_key else [None]
            lines = [
                line
                for key in keys
                for line in repo.list_audit(
                    s,
                    connection=query.connection,
                    issue_key=key,
                    field=query.field,
                    side=query.side,
                    since=query.since,
                    limit=query.limit + query.offset,
                    run_id=query.run_id,
                )  # fmt: skip
            ]
        lines.sort(key=lambda line: line.id, reverse=True)
        return lines[query.offset : query.offset + query.limit]

    def sync_runs(
        self, connection: str | None = None, limit: int = 50, *, changed_only: bool = True
    ) -> list[tuple[cv.SyncRunRecord, int]]:
        """Runs (syncs, pushes, undos) with how many audit lines each wrote, newest first; by default only
        those that changed something."""
        with self.db.session() as s:
            found = runs.list_runs(s, connection=connection, limit=limit, changed_only=changed_only)
            counts = runs.changes_of(s, [r.id for r in found])
        return [(r, counts.get(r.id, 0)) for r in found]

    def plan_undo(self, selection: UndoSelection) -> UndoResult:
        """What undoing ``selection`` would write where (a dry run: nothing is written, Jira is not read;
        Jira's values are as last synced). UndoError when the selection names nothing."""
        with self.db.session() as s:
            steps = plan_undo(s, select_entries(s, selection))
            # Refused as the apply refuses them (the stored mappings say which fields only follow Jira).
            pull_only = {
                conn: {m.internal_field or m.name for m in catalog.list_mappings(s, conn, enabled_only=True)
                       if m.direction == "pull"}
                for conn in {step.connection for step in steps}
            }  # fmt: skip
        steps = [refuse_pull_only(step, pull_only[step.connection]) or step for step in steps]
        return UndoResult(selection.describe(), tuple(steps), applied=False)

    async def undo(
        self, selection: UndoSelection, *, apply: bool = False, actor: str = "operator"
    ) -> UndoResult:
        """Plan the undo of ``selection``; with ``apply`` carry it out (per connection, as a run of its own)
        and return what became of each step."""
        planned = await asyncio.to_thread(self.plan_undo, selection)
        if not apply:
            return planned
        by_conn: dict[str, list[int]] = {}
        for step in planned.steps:
            by_conn.setdefault(step.connection, []).extend(step.entries)
        steps: list[UndoStep] = []
        run_ids: list[int] = []
        for connection, ids in by_conn.items():
            run_id, done = await self.runner.undo(connection, ids, actor)
            run_ids.append(run_id)
            steps.extend(done)
        return UndoResult(planned.selection, tuple(steps), applied=True, run_ids=tuple(run_ids))
