"""The demo in a real terminal: tmux runs `jira-console demo`, the test types keys and reads the screen,
visits every screen, resolves a conflict and quits. Skipped only where tmux is not installed (.ci/run
installs it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
ROOT = Path(__file__).resolve().parents[1]


class Tmux:
    def __init__(self, command: str, width: int = 100, height: int = 30) -> None:
        self.socket = f"jc-e2e-{uuid.uuid4().hex[:8]}"
        self.run("new-session", "-d", "-s", "demo", "-x", str(width), "-y", str(height), command)

    def run(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False)
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "demo")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "demo", *keys)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} did not appear; screen:\n{screen}")

    def alive(self) -> bool:
        return "demo" in self.run("list-sessions")

    def close(self) -> None:
        self.run("kill-server")


def test_demo_every_screen_and_a_conflict_resolved(tmp_path: Path) -> None:
    cmd = f"cd {ROOT} && {sys.executable} -m jira_console demo --issues 120 --workdir {tmp_path} ; sleep 0.5"
    term = Tmux(cmd)
    try:
        term.wait_for("Health")
        term.wait_for("breaker CLOSED")
        term.keys("2")
        term.wait_for("Sync —")
        term.keys("3")
        screen = term.wait_for("Conflicts —")
        screen = term.wait_for("open")
        before = _open_count(screen)
        assert before > 0, screen
        term.keys("j")  # take Jira for the highlighted conflict
        deadline = time.monotonic() + 30
        while _open_count(term.screen()) != before - 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _open_count(term.screen()) == before - 1, term.screen()
        term.keys("4")
        term.wait_for("Mappings —")
        term.wait_for("issues previewed")
        term.keys("5")
        term.wait_for("Webhooks —")
        term.wait_for("jira:issue_")
        term.keys("C-q")
        deadline = time.monotonic() + 30
        while term.alive() and "$" not in term.screen() and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        term.close()
    from jira_console.store import models as m
    from jira_console.store.db import Database

    db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    with db.session() as s:
        resolved = s.scalars(select(m.Conflict).where(m.Conflict.status == "resolved")).all()
        assert [c.resolution for c in resolved] == ["jira"]
        audit = s.scalars(select(m.AuditLog).where(m.AuditLog.issue_key == resolved[0].issue_key)).all()
        assert any("resolved" in (a.reason or "") for a in audit)
    db.close()


def _open_count(screen: str) -> int:
    for line in screen.splitlines():
        if "showing" in line and "open" in line:
            parts = line.split()
            return int(parts[parts.index("of") + 1])
    return -1
