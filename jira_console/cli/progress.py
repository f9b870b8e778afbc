"""The progress of a sync on the terminal: one bar per connection with the issues read, the total (Server's
search total, Cloud's approximate count), the rate and the time left, from the engine's
:class:`~jira_console.events.SyncProgressed` events. Drawn with rich (installed with Textual) on stderr, so
stdout keeps only the result."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from jira_console import events as ev


def rate_and_eta(seen: int, total: int | None, elapsed_ms: int) -> tuple[float | None, float | None]:
    """Issues read per second so far and the seconds left at that rate (None while not known)."""
    if elapsed_ms <= 0 or seen <= 0:
        return None, None
    rate = seen / (elapsed_ms / 1000)
    return rate, (max(total - seen, 0) / rate if total is not None else None)


def figures(event: ev.SyncProgressed) -> str:
    """``310/s · ETA 12 s``, or what of it is known."""
    rate, eta = rate_and_eta(event.seen, event.total, event.elapsed_ms)
    parts = [] if rate is None else [f"{rate:,.0f}/s"]
    if eta is not None:
        parts.append(f"ETA {int(eta + 0.999)} s" if eta < 120 else f"ETA {int(eta // 60)} min")
    if event.total is None:
        parts.append("total unknown")
    if event.created:
        parts.append(f"{event.created:,} created in Jira")
    return " · ".join(parts)


class SyncProgress:
    """A context manager drawing a bar per connection while syncs run; ``on_event`` is the engine
    subscriber (called from whichever thread emits). Does nothing when ``enabled`` is false."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self._console = console
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._read: dict[str, int] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> SyncProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[figures]}"),
                console=self._console or Console(stderr=True),
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def on_event(self, event: Any) -> None:
        from jira_console import events as ev

        if self._progress is None:
            return
        with self._lock:
            if isinstance(event, ev.SyncProgressed):
                task = self._task(event.connection)
                total = max(event.total, event.seen) if event.total is not None else None
                self._read[event.connection] = event.seen
                self._progress.update(task, completed=event.seen, total=total, figures=figures(event))
            elif isinstance(event, ev.SyncFinished) and event.connection in self._tasks:
                read = self._read.get(event.connection, 0)
                done = f"{event.status} in {event.duration_ms / 1000:.1f} s"
                self._progress.update(
                    self._tasks[event.connection], completed=read, total=read or 1, figures=done
                )

    def _task(self, connection: str) -> TaskID:
        assert self._progress is not None
        if connection not in self._tasks:
            self._tasks[connection] = self._progress.add_task(connection, total=None, figures="")
        return self._tasks[connection]
