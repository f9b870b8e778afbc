"""In-memory stand-ins for the engine facade, and helpers for driving the console under ``run_test``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed


async def settle(pilot: Pilot[Any], rounds: int = 3, pause: float | None = None) -> None:
    """Let posted messages, workers and the messages workers post all finish. ``pause`` first waits out a
    debounce timer (not an assertion about time: only a wait before looking)."""
    if pause is not None:
        await pilot.pause(pause)
    for _ in range(rounds):
        await pilot.pause()
        await _workers_done(pilot)
    await pilot.pause()


async def _workers_done(pilot: Pilot[Any]) -> None:
    # A superseded (cancelled) or failed worker is an outcome, not a test error: the App reports failures
    # itself, and tests assert on that.
    try:
        await pilot.app.workers.wait_for_complete()
    except (WorkerCancelled, WorkerFailed):
        pass


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], tries: int = 250) -> bool:
    """Pause briefly until ``condition()`` holds; ``False`` if it never does (assert on the result). It does
    not wait for workers, so it can observe a sync that is held mid-way."""
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


def screen_text(app: Any) -> str:
    """What the terminal shows right now, as plain lines (the compositor's rendering, so markup that
    leaked would show up here already interpreted)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)
