"""One undo from the keyboard, in a real terminal: tmux runs `jira-console demo`, a conflict is settled
with the local value (pushed to Jira), and the audit log (Sync screen, l) undoes that push after its
confirmation names what goes where. Skipped only where tmux is not installed (.ci/run installs it)."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from sqlalchemy import select

from tests.test_e2e_demo import ROOT, Tmux, _open_count, pytestmark

__all__ = ["pytestmark"]


def test_one_undo_from_the_keyboard(tmp_path: Path) -> None:
    cmd = f"cd {ROOT} && {sys.executable} -m jira_console demo --issues 60 --workdir {tmp_path} ; sleep 0.5"
    term = Tmux(cmd, 120, 40)
    try:
        term.wait_for("breaker CLOSED")
        term.keys("3")
        term.wait_for("showing")
        before = _open_count(term.wait_for("open"))
        assert before > 0
        term.keys("l")  # settle the highlighted conflict with the local value: pushed to Jira, audited
        deadline = time.monotonic() + 30
        while _open_count(term.screen()) != before - 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _open_count(term.screen()) == before - 1, term.screen()
        term.keys("2")
        term.wait_for("Audit log")  # the Sync screen's footer names the way in
        term.keys("l")
        term.wait_for("audit log: everything")
        term.keys("/")
        term.wait_for("typing · Esc leaves")
        for key in "side:jira":
            term.keys(key)
        term.keys("Enter")
        screen = term.wait_for("audit log: side jira")
        term.wait_for("push ")  # the resolution's push, the newest line written to Jira
        term.keys("u")
        screen = term.wait_for("Undo audit #")
        entry = int(re.search(r"Undo audit #(\d+)\?", screen).group(1))  # type: ignore[union-attr]
        assert "→ Jira:" in screen and "[write]" in screen, screen
        term.keys("y")
        screen = term.wait_for(f"Undo of audit #{entry} (run ")
        term.keys("C-q")
        deadline = time.monotonic() + 30
        while term.alive() and "$" not in term.screen() and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        term.close()
    from jira_console.store import models as m
    from jira_console.store.db import Database

    db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        with db.session() as s:
            undone = s.get(m.AuditLog, entry)
            assert undone is not None and undone.side == "jira"
            lines = s.scalars(select(m.AuditLog).where(m.AuditLog.undo_of == entry)).all()
            conflicts = s.scalars(
                select(m.Conflict).where(
                    m.Conflict.issue_key == undone.issue_key,
                    m.Conflict.field == undone.field,
                    m.Conflict.status == "open",
                )
            ).all()
            # Written back to Jira, audited as the undo; or, if the demo's other users edited that field
            # in Jira meanwhile, left as a conflict instead of being overwritten.
            assert [(a.cause, a.side, a.new) for a in lines] == [("undo", "jira", undone.old)] or conflicts
            if lines:
                assert lines[0].actor == "console" and lines[0].run_id is not None
    finally:
        db.close()
