"""What a SIGHUP means to the daemon: a reload, unless the terminal it started in is gone (then a stop, or
nothing under nohup). The real process, in a pseudo-terminal, is in test_daemon.py."""

from __future__ import annotations

import pytest

from jira_console.reload import Hangup


class Calls:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def stop(self) -> None:
        self.seen.append("stop")

    def reload(self) -> None:
        self.seen.append("reload")


@pytest.mark.parametrize(
    ("at_start", "at_signal", "ignored", "expected"),
    [
        (True, True, False, ["reload"]),  # kill -HUP from the same terminal
        (True, False, False, ["stop"]),  # the terminal window closed
        (True, False, True, []),  # closed, but started under nohup: it runs on
        (True, True, True, ["reload"]),  # nohup does not stop an operator's reload
        (False, False, False, ["reload"]),  # systemd, a container: no terminal ever
    ],
)
def test_sighup_reloads_unless_the_terminal_the_daemon_started_in_closed(
    at_start: bool, at_signal: bool, ignored: bool, expected: list[str]
) -> None:
    calls = Calls()
    answers = iter([at_start, at_signal])
    hangup = Hangup(calls.stop, calls.reload, ignored=ignored, terminal=lambda: next(answers))
    hangup()
    assert calls.seen == expected
