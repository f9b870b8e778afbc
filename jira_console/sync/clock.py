"""Jira's clock, as evidence: the ``updated`` of a version is what Jira says, not the truth. The engine keeps
an estimate of Jira's current time (``serverTime`` against this host's clock); a version whose ``updated`` is
ahead of it is clamped to it and flagged, the watermark never passes it, and a clock that stepped back (the
offset to this host shrank, or ``serverTime`` went backwards) widens the next pull's window by the step and
brings stored times from the future back to the present, so later edits are not taken for stale ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from jira_console.store import models as m
from jira_console.sync.fields import parse_jira_time

TOLERANCE_MS = 2_000
"""How far ahead of the estimated Jira time an ``updated`` may be before it is clamped (the estimate is
off by a request's latency)."""
STEP_MS = 5_000
"""A shrinking of Jira's offset to this host by more than this is a clock step back."""


def _local_ms() -> int:
    return int(time.time() * 1000)


class JiraClock:
    """The estimate of Jira's current time, kept per connection (thread-safe)."""

    def __init__(self) -> None:
        self._offset_ms: int | None = None
        self._lock = threading.Lock()
        self._flagged: set[tuple[str, int]] = set()

    def first_sighting(self, key: str, said_ms: int) -> bool:
        """Whether this ``updated`` of this issue is flagged for the first time (after a clock step back,
        every read repeats the same future times until Jira's clock catches up: flagged once each)."""
        with self._lock:
            if (key, said_ms) in self._flagged:
                return False
            if len(self._flagged) > 10_000:
                self._flagged.clear()
            self._flagged.add((key, said_ms))
            return True

    @property
    def known(self) -> bool:
        return self._offset_ms is not None

    @property
    def offset_ms(self) -> int | None:
        return self._offset_ms

    def observe(self, server_time: Any) -> int | None:
        """Take Jira's ``serverTime``; returns the new offset to this host's clock (None: unreadable)."""
        jira_ms = parse_jira_time(server_time)
        if jira_ms is None:
            return None
        with self._lock:
            self._offset_ms = jira_ms - _local_ms()
            return self._offset_ms

    def now_ms(self) -> int:
        """Jira's current time as far as is known (this host's clock until Jira has told its own)."""
        return _local_ms() + (self._offset_ms or 0)

    def limit_ms(self) -> int:
        """The latest ``updated`` taken as it is; anything later is clamped to :meth:`now_ms`."""
        return self.now_ms() + TOLERANCE_MS


@dataclass(frozen=True)
class Clamped:
    """A version whose ``updated`` was ahead of Jira's clock: its key, what it said, what was kept."""

    key: str
    said_ms: int
    kept_ms: int


def clamp_versions(
    raws: Sequence[Mapping[str, Any]], clock: JiraClock
) -> tuple[list[Mapping[str, Any]], list[Clamped]]:
    """The versions with every ``updated`` ahead of Jira's clock brought back to it (copies; the others
    untouched), and what was clamped."""
    limit = clock.limit_ms()
    out: list[Mapping[str, Any]] = []
    clamped: list[Clamped] = []
    for raw in raws:
        fields = raw.get("fields") or {}
        said = parse_jira_time(fields.get("updated"))
        if said is None or said <= limit:
            out.append(raw)
            continue
        kept = clock.now_ms()
        out.append({**raw, "fields": {**fields, "updated": kept}})
        clamped.append(Clamped(str(raw.get("key") or raw.get("id") or "?"), said, kept))
    return out, clamped


def step_back(previous: Mapping[str, Any] | None, offset_ms: int) -> int:
    """How far Jira's clock stepped back since ``previous`` (the stored ``{"offset_ms": ...}``), 0 if not."""
    if not previous or not isinstance(previous.get("offset_ms"), int):
        return 0
    shrink = int(previous["offset_ms"]) - offset_ms
    return shrink if shrink > STEP_MS else 0


def bring_back(session: Session, connection: str, above_ms: int, to_ms: int) -> int:
    """Stored versions dated after ``above_ms`` are dated ``to_ms``, so that later edits are not taken for
    stale ones. Returns how many."""
    result = session.execute(
        update(m.Issue)
        .where(m.Issue.connection == connection, m.Issue.jira_updated_ms > above_ms)
        .values(jira_updated_ms=to_ms)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Settled:
    """What checking Jira's clock at the start of a run found."""

    step_ms: int = 0
    """How far the clock stepped back since the last run (0: it did not)."""
    brought_back: int = 0
    """Stored versions that were dated in Jira's future."""


def settle(session: Session, connection: str, scope: str, clock: JiraClock) -> Settled:
    """At the start of a run, with Jira's clock just observed: detect a step back since the last run, bring
    stored times and the watermark back to Jira's present (back to the last run when the clock stepped, so
    edits made since under the new clock are read), and remember this observation."""
    offset = clock.offset_ms
    if offset is None:
        return Settled()
    row = session.get(m.SyncState, (connection, scope))
    cursor = dict(row.cursor or {}) if row else {}
    previous = cursor.get("clock") if isinstance(cursor.get("clock"), Mapping) else None
    step = step_back(previous, offset)
    now = clock.now_ms()
    above, to = now + TOLERANCE_MS, now
    if step and previous and isinstance(previous.get("local_ms"), int):
        # The step happened after the last run: everything stored since then may be dated ahead.
        above = to = int(previous["local_ms"]) + offset - 1
    brought = bring_back(session, connection, above, to)
    if row is not None:
        if row.watermark_ms is not None and row.watermark_ms > above:
            row.watermark_ms = to
        cursor["clock"] = {"offset_ms": offset, "local_ms": _local_ms()}
        row.cursor = cursor
    return Settled(step, brought)
