"""The daemon's signals: SIGTERM and SIGINT drain and stop it; SIGHUP reloads its configuration, unless
it says that the daemon's terminal closed.

SIGHUP has two senders. An operator (``kill -HUP``, systemd's ``ExecReload``) asks for a reload. The
kernel sends it to a program in a terminal when that terminal goes away (the window closed, the SSH
session dropped), which has always meant "stop": a daemon that reloaded then would run on unseen, writing
its log nowhere. So when the daemon started with a controlling terminal and that terminal is gone, SIGHUP
drains and stops it as SIGTERM does; under ``nohup`` (SIGHUP ignored when it started) it runs on, as
``nohup`` asks. Without a terminal (systemd, a container) SIGHUP always reloads.

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


_HUP_AT_START: list[object] = []
"""SIGHUP's disposition when the handlers were first installed (restored before a restart in place, so
that ``nohup``'s "ignored" carries over the ``exec``)."""


def install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None], reload: Callable[[], None]
) -> None:
    """SIGTERM and SIGINT call ``stop``; SIGHUP ``reload``, or ``stop`` when the daemon's terminal closed
    (see the module docstring). Where the platform has them."""
    sighup = getattr(signal, "SIGHUP", None)
    if sighup is not None and not _HUP_AT_START:
        _HUP_AT_START.append(signal.getsignal(sighup))
    hangup = Hangup(stop, reload, ignored=_hup_ignored_at_start())
    for sig, handler in ((signal.SIGTERM, stop), (signal.SIGINT, stop), (sighup, hangup)):
        if sig is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, handler)


def _hup_ignored_at_start() -> bool:
    """Whether SIGHUP was ignored when the daemon started (``nohup``)."""
    return bool(_HUP_AT_START) and _HUP_AT_START[0] == signal.SIG_IGN


def has_terminal() -> bool:
    """Whether this process has a controlling terminal (one that has not hung up)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


class Hangup:
    """What a SIGHUP means here: the terminal the daemon started in closed (stop, or nothing under
    ``nohup``), else a reload (see the module docstring)."""

    def __init__(
        self,
        stop: Callable[[], None],
        reload: Callable[[], None],
        *,
        ignored: bool,
        terminal: Callable[[], bool] = has_terminal,
    ) -> None:
        self.stop, self.reload, self.ignored, self.terminal = stop, reload, ignored, terminal
        self.had_terminal = terminal()

    def __call__(self) -> None:
        if not self.had_terminal or self.terminal():
            self.reload()
        elif self.ignored:
            log.info("the terminal closed; running on (SIGHUP was ignored when the daemon started: nohup)")
        else:
            self.stop()  # first: a log line to a closed terminal may fail
            log.warning(
                "the terminal closed: draining and stopping as for SIGTERM (under systemd, or with nohup, "
                "the daemon outlives its terminal)"
            )


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
    if _hup_ignored_at_start():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # kept across exec, as nohup set it
    script = sys.argv[0]
    if os.path.isfile(script) and os.access(script, os.X_OK) and not script.endswith(".py"):
        os.execv(script, sys.argv)  # noqa: S606 - the console script again: `ps` shows the same command
    os.execv(sys.executable, [sys.executable, "-m", "jira_console", *sys.argv[1:]])  # noqa: S606
