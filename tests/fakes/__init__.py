"""In-memory stand-ins for the engine facade, and helpers for driving the console under ``run_test``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed

from tests.waiting import LIMIT_SECONDS


async def settle(pilot: Pilot[Any], rounds: int = 3, pause: float | None = None) -> None:
    """Let posted messages, workers and the messages workers post all finish. ``pause`` first waits out a
    debounce timer (not an assertion about time: only a wait before looking); on a busy machine the timer
    may fire later than the pause, so the screen's debounce timers are then waited for as well."""
    if pause is not None:
        await pilot.pause(pause)
        deadline = time.monotonic() + LIMIT_SECONDS
        while _debounce_pending(pilot.app.screen) and time.monotonic() < deadline:
            await pilot.pause(0.02)
    for _ in range(rounds):
        await pilot.pause()
        await _workers_done(pilot)
    await pilot.pause()


_DEBOUNCE_TIMERS = ("_timer", "_filter_timer", "_reload_timer")


def _debounce_pending(screen: Any) -> bool:
    """Whether one of the console screens' one-shot debounce timers is still to fire."""
    for name in _DEBOUNCE_TIMERS:
        timer = getattr(screen, name, None)
        task = getattr(timer, "_task", None)
        if task is not None and not task.done():
            return True
    return False


async def _workers_done(pilot: Pilot[Any]) -> None:
    # A superseded (cancelled) or failed worker is an outcome, not a test error: the App reports failures
    # itself, and tests assert on that.
    try:
        await pilot.app.workers.wait_for_complete()
    except (WorkerCancelled, WorkerFailed):
        pass


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], tries: int = 250, *, limit: float = LIMIT_SECONDS
) -> bool:
    """Pause briefly until ``condition()`` holds; ``False`` if it never does (assert on the result). It does
    not wait for workers, so it can observe a sync that is held mid-way. It gives up only after ``tries``
    looks and ``limit`` seconds both: on a busy machine a pause takes longer, so a count alone would be
    a wall-clock race."""
    deadline = time.monotonic() + limit
    looks = 0
    while looks < tries or time.monotonic() < deadline:
        if condition():
            return True
        await pilot.pause(0.02)
        looks += 1
    return condition()


def screen_text(app: Any) -> str:
    """What the terminal shows right now, as plain lines (the compositor's rendering, so markup that
    leaked would show up here already interpreted)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def scroll_to_the_end(widget: Any) -> None:
    """Scroll whatever holds ``widget`` as far down as it goes (as the operator would, to read the rest)."""
    from textual.widget import Widget

    for node in (widget, *widget.ancestors):
        if isinstance(node, Widget):
            node.scroll_end(animate=False, immediate=True)
