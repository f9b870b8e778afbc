"""``issueErrors`` (Jira Cloud's bulk fetch: issues it could not return this time, a retriable failure)
through the command line's ``sync`` on both databases: the run reports them, and nothing is inferred from
them, no deletion, no dropped local change; the next sync once Jira answers again does what was left."""

from __future__ import annotations

from pathlib import Path

import pytest

from jira_console.simulator import lifecycle
from tests.test_cli import Cli, write_config


@pytest.fixture
def cli(sim_factory, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sim = sim_factory("cloud", issues=30)
    monkeypatch.setenv("JIRA_SIM_TOKEN", sim.credentials["basic"][1])
    monkeypatch.delenv("JIRA_CONSOLE_CONFIG", raising=False)
    config = write_config(tmp_path, sim, db_url)
    config.write_text(
        config.read_text().replace('jql = "project in (ENG, OPS) order by updated"', 'jql = "project = ENG"')
    )
    return sim, Cli(config)


def _eng_keys(sim) -> list[str]:
    with sim.site.lock:
        return sorted((k for k, i in sim.site.issues.items() if i.project == "ENG"), key=lambda k: int(k[4:]))


def test_issues_jira_could_not_return_are_reported_and_nothing_is_inferred(cli) -> None:
    sim, run = cli
    assert run.json("sync", "--full")[0]["status"] == "ok"
    edited, moved = _eng_keys(sim)[:2]
    assert run("local", "set", edited, "summary=changed here").exit_code == 0
    moved_to = lifecycle.move_issue(sim.site, moved, "OPS", "other")  # out of the JQL: reconciliation asks
    ids = {key: str(sim.issue(key)["id"]) for key in (edited, moved_to)}
    sim.site.lifecycle.set_issue_errors(set(ids.values()))

    report = run.json("sync", "--full")[0]
    text = run("sync", "--full")

    assert (report["status"], report["unread"], report["deleted"], report["left_scope"]) == ("ok", 2, 0, 0)
    assert "unread 2 (Jira could not return them this time; read again next sync)" in text.stdout
    shown = run.json("issues", "show", edited)
    assert (shown["summary"], shown["local_dirty"], shown["deleted"]) == ("changed here", True, False)
    assert run.json("issues", "show", moved)["deleted"] is False
    assert sim.issue(edited)["summary"] != "changed here"

    sim.site.lifecycle.set_issue_errors(set())
    report = run.json("sync", "--full")[0]
    assert (report["unread"], report["pushed_fields"], report["left_scope"]) == (0, 1, 1)
    assert sim.issue(edited)["summary"] == "changed here"
