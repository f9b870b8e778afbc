"""Watcher notifications of issue edits. ``PUT /issue/{key}?notifyUsers=false`` skips them, which Jira
allows only to administrators (Jira or project admin); for anyone else it refuses the request with a 403
(recent Cloud versions ignore the parameter instead; refusing is the case a client must handle)."""

from __future__ import annotations

import threading

from jira_console.simulator.http import JiraHTTPError

REFUSED = "To discard the user notification either admin or project admin permissions are required."


class Notifications:
    """Which edits notified the watchers, and whether the API user may ask for silence."""

    def __init__(self) -> None:
        self.admin = True
        """Whether the API user administers the projects (may send ``notifyUsers=false``)."""
        self._lock = threading.Lock()
        self.notified: list[str] = []
        self.silent: list[str] = []

    def check(self, notify_param: str | None) -> bool:
        """Whether this edit notifies; raises Jira's 403 when silence is asked without permission."""
        quiet = notify_param is not None and notify_param.strip().lower() == "false"
        if quiet and not self.admin:
            raise JiraHTTPError(403, [REFUSED])
        return not quiet

    def record(self, key: str, notified: bool) -> None:
        with self._lock:
            (self.notified if notified else self.silent).append(key)
