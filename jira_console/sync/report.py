"""What a sync run reports: :class:`SyncReport` (the counts a run adds up), :class:`SyncBusy`, and the one
way a step's outcome is counted into a report and announced (conflicts become events)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jira_console import events as ev
from jira_console.logs import get_logger
from jira_console.sync.context import ISSUES_SCOPE

if TYPE_CHECKING:
    from jira_console.sync.apply import ApplyResult

log = get_logger(__name__)


class SyncInterrupted(Exception):
    """A sync asked to stop (the daemon's shutdown) stopped at the next safe point: after a committed page,
    or between steps. What it committed stays; the next sync goes on from the watermark it reached."""


class SyncBusy(Exception):
    """Another sync of the same connection holds the lease."""

    exit_code = 1


@dataclass(kw_only=True)
class Tally:
    """Issue versions read and what became of them: counted per batch, added up per run."""

    seen: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    pulled_fields: int = 0


@dataclass
class SyncReport(Tally):
    """What one sync run did."""

    connection: str
    status: str = "ok"
    full: bool = False
    backfill: bool = False
    """Every issue was read again because the mappings changed since the last sync."""
    backfilled: int = 0
    """How many distinct issues that back-fill read."""
    pages: int = 0
    issues_read: int = 0
    """Distinct issues the pull read (``seen`` counts versions: a key-set page reads the previous page's
    last issue again, and a tie group or an overlap reads some twice)."""
    pushed_fields: int = 0
    refused_fields: int = 0
    """Local changes not written: Jira refused them, or the mappings cannot write them. Each is parked as
    the issue's field error, its value kept locally (``status`` and ``issues show`` say why)."""
    conflicts: int = 0
    deleted: int = 0
    """Local issues marked deleted: Jira no longer has them."""
    left_scope: int = 0
    """Local issues marked deleted because the connection's JQL no longer selects them (Jira has them)."""
    created_in_jira: int = 0
    """Issues created in Jira from ``new_issues`` requests (see :mod:`jira_console.sync.create`)."""
    creations_refused: int = 0
    """``new_issues`` requests that failed: Jira refused them, or they could not be sent as they are."""
    quarantined: int = 0
    """Issue versions set aside because they could not be applied (see :mod:`jira_console.sync.page`)."""
    moved: int = 0
    """Issues found under a new key (moved to another project, project key renamed)."""
    unread: int = 0
    """Issues Jira could not return this time (``issueErrors`` in a bulk read): left as they are, nothing
    inferred (not deleted, their local changes still queued), read again at the next sync."""
    errors: list[str] = field(default_factory=list)
    api_calls: int = 0
    duration_ms: int = 0
    run_id: int | None = None
    """The ``sync_runs`` row of this run: its audit lines name it (``audit undo --run``)."""

    def __post_init__(self) -> None:
        # Not fields (reports go out through ``asdict``): the conflicts counted so far this run, and the
        # figures of the last progress event.
        self._conflict_ids: set[int] = set()
        self._last_read: int | None = None
        self._last_total: int | None = None
        self._last_elapsed_ms = 0

    def counts(self) -> dict[str, int]:
        return {
            k: getattr(self, k)
            for k in ("pages", "seen", "created", "updated", "skipped", "pulled_fields", "pushed_fields",
                      "refused_fields")
        } | {"conflicts": self.conflicts, "deleted": self.deleted, "left_scope": self.left_scope,
             "quarantined": self.quarantined,
             "moved": self.moved, "unread": self.unread, "backfilled": self.backfilled,
             "created_in_jira": self.created_in_jira,
             "creations_refused": self.creations_refused}  # fmt: skip

    def add_unread(self, ids: Iterable[str], step: str) -> None:
        """Count the issues Jira answered with ``issueErrors`` in ``step``, and log their ids."""
        ids = sorted(set(ids))
        if ids:
            self.unread += len(ids)
            log.warning("Jira could not return some issues this time (issueErrors); left as they are, read "
                        "again at the next sync", connection=self.connection, step=step, count=len(ids),
                        ids=ids[:20])  # fmt: skip

    def add_applied(self, result: ApplyResult, emit: Callable[[ev.EngineEvent], None]) -> None:
        """Count a batch of applied Jira versions and announce the conflicts it opened."""
        self.seen += result.seen
        self.created += result.created
        self.updated += result.updated
        self.skipped += result.skipped + result.stale
        self.pulled_fields += result.pulled_fields
        self.quarantined += result.quarantined
        self.moved += len(result.moved)
        self.add_conflicts(result.conflicts, emit)

    def add_conflicts(
        self, conflicts: Iterable[tuple[int, str, str]], emit: Callable[[ev.EngineEvent], None]
    ) -> None:
        """Count conflicts opened or refreshed ((id, issue key, field) each) and announce them, each once a
        run (the push's fresh compare meets again what the pull opened)."""
        for conflict_id, key, name in conflicts:
            if conflict_id in self._conflict_ids:
                continue
            self._conflict_ids.add(conflict_id)
            self.conflicts += 1
            emit(ev.ConflictDetected(self.connection, key, name, conflict_id))

    def progressed(
        self, *, read: int | None = None, total: int | None = None, elapsed_ms: int = 0
    ) -> ev.SyncProgressed:
        """The progress event for the console after a page: ``read`` is how many distinct issues the pull
        has read (versions re-read at a page boundary count once; default: every version seen), ``total``
        how many it expects (never below ``read``), ``elapsed_ms`` how long it has been reading."""
        # After the pull (creations, pushes), the pull's last figures stand: the bar stays where it was.
        if read is None:
            read = self.seen if self._last_read is None else self._last_read
        total = self._last_total if total is None else total
        elapsed_ms = elapsed_ms or self._last_elapsed_ms
        self._last_read, self._last_total, self._last_elapsed_ms = read, total, elapsed_ms
        return ev.SyncProgressed(
            self.connection,
            ISSUES_SCOPE,
            self.pages,
            read,
            self.pulled_fields + self.created,
            self.pushed_fields,
            self.conflicts,
            total=max(total, read) if total is not None else None,
            elapsed_ms=elapsed_ms,
            backfill=self.backfill,
            created=self.created_in_jira,
        )

    def finished(self) -> ev.SyncFinished:
        """The event announcing the end of the run."""
        return ev.SyncFinished(
            self.connection,
            ISSUES_SCOPE,
            self.status,
            self.counts(),
            self.duration_ms,
            self.errors[0] if self.errors else None,
        )
