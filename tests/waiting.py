"""Waiting on conditions in tests: poll until a check holds, and fail naming what never happened.

The limits are generous on purpose: they bound a hung test, they are not a claim about speed, so a busy
machine only makes a passing test slower. Nothing here sleeps for a fixed time before looking.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

LIMIT_SECONDS = 60.0
"""How long a condition may take on a loaded machine before the test calls it a failure."""


async def until(
    check: Callable[[], Any | Awaitable[Any]],
    what: str,
    *,
    limit: float = LIMIT_SECONDS,
    interval: float = 0.02,
) -> Any:
    """Await ``check()`` (sync or async) until it returns something true, and return that value."""
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        await asyncio.sleep(interval)


def until_sync(
    check: Callable[[], Any], what: str, *, limit: float = LIMIT_SECONDS, interval: float = 0.02
) -> Any:
    """The blocking twin of :func:`until`, for tests that drive threads or processes."""
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        time.sleep(interval)
