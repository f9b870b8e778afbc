"""The daemon's signals: SIGTERM and SIGINT drain and stop it; SIGHUP reloads its configuration.

A reload reads the configuration file again. When it is valid, the daemon drains as for SIGTERM and the
``daemon`` command starts it again in the same process (same pid, same arguments, the file as it is
now: :func:`restart_in_place`). When it is not, the reason is logged and the daemon runs on as it was, so a
typo in the file never takes a running daemon down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable

from jira_console.logs import get_logger

log = get_logger(__name__)

ReloadCheck = Callable[[], str | None]
"""Reads the configuration file again: None when a restart can start with it, else why not."""


def install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None], reload: Callable[[], None]
) -> None:
    """SIGTERM and SIGINT call ``stop``, SIGHUP ``reload`` (where the platform has them)."""
    for sig, handler in ((signal.SIGTERM, stop), (signal.SIGINT, stop), (signal.SIGHUP, reload)):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)


def reload_wanted(check: ReloadCheck | None) -> bool:
    """Whether a SIGHUP should drain the daemon for a restart: only with a configuration that reads as
    valid (logged either way)."""
    if check is None:
        log.warning("SIGHUP ignored: this daemon cannot read its configuration again; restart it")
        return False
    try:
        problem = check()
    except Exception as exc:  # noqa: BLE001 - whatever the check meets, the daemon runs on
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        log.error("SIGHUP: configuration not reloaded; running on as before", reason=problem)
        return False
    log.info("SIGHUP: the configuration is valid; draining, then starting again with it")
    return True


def restart_in_place() -> None:
    """Replace this process with the same command (same pid, arguments, environment and directory)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    script = sys.argv[0]
    if os.path.isfile(script) and os.access(script, os.X_OK) and not script.endswith(".py"):
        os.execv(script, sys.argv)  # noqa: S606 - the console script again: `ps` shows the same command
    os.execv(sys.executable, [sys.executable, "-m", "jira_console", *sys.argv[1:]])  # noqa: S606
