"""``local create`` and ``local creations``, ``status`` and ``audit undo`` on creations, through the CLI
against a simulated Cloud site."""

from __future__ import annotations

from tests.test_cli import cli_env  # noqa: F401 - the fixture


def test_local_create_queues_then_the_sync_creates_and_status_counts_refusals(cli_env) -> None:  # noqa: F811
    sim, cli, _ = cli_env
    cli.json("sync")
    queued = cli("local", "create", "ENG", "Task", "summary=Made by the CLI", 'labels=["cli"]')
    assert queued.exit_code == 0, queued.stderr
    assert queued.stdout.strip() == (
        "request #1 queued: sent to Jira at the next sync (jira-console sync, or --push)"
    )
    assert "creations: sim 1 issue to create in Jira" in cli("status").stdout

    [report] = cli.json("sync")
    assert report["created_in_jira"] == 1
    [made] = cli.json("local", "creations")
    assert made["state"] == "created" and "token" not in made
    assert sim.issue(made["issue_key"])["summary"] == "Made by the CLI"
    assert sim.issue(made["issue_key"])["labels"] == ["cli"]
    assert cli.json("issues", "show", made["issue_key"])["summary"] == "Made by the CLI"

    pushed = cli("local", "create", "ENG", "Task", "summary=Now", "status=Done", "--push")
    assert pushed.exit_code == 0, pushed.stderr
    key = pushed.stdout.split()[0]
    assert pushed.stdout.strip() == f"{key} created in Jira (request #2)"
    assert sim.issue(key)["status"] == "Done"

    refused = cli("local", "create", "NOPE", "Task", "summary=nowhere", "--push")
    assert refused.exit_code == 1
    assert (
        "error: request #3 not created: Jira refused the creation: project: Specify a valid project ID or key"
        in refused.stderr.splitlines()
    )
    assert (
        "creations: sim 1 request refused (jira-console local creations --state failed"
        in cli("status").stdout
    )
    [failed] = cli.json("local", "creations", "--state", "failed")
    assert failed["id"] == 3 and failed["error"].startswith("Jira refused the creation")
    assert '#3 sim NOPE Task "nowhere" [failed] Jira refused' in cli("local", "creations").stdout

    # Said before anything is queued.
    assert cli("local", "create", "ENG", "Task", 'labels=["x"]').exit_code == 2  # no summary
    assert cli("local", "create", "ENG", "Task", "summary=x", "colour=red").exit_code == 2
    assert cli("local", "create", "ENG", "Task", "summary=x", "-C", "nope").exit_code == 2  # as every -C
    assert cli("local", "creations", "--state", "lost").exit_code == 2
    assert len(cli.json("local", "creations")) == 3

    # The creation is audited, and undo says why it does not delete the issue.
    lines = cli.json("audit", "--key", key)
    assert [(a["field"], a["reason"]) for a in lines] == [
        ("status", "pushed local change"),  # what the create could not set, pushed after it
        (None, "imported from Jira"),
        (None, "created in Jira from new_issues #2"),
    ]
    line = lines[2]
    assert line["reason"] == "created in Jira from new_issues #2" and line["side"] == "jira"
    dry = cli.json("audit", "undo", str(line["id"]))
    assert [(s["action"], s["note"]) for s in dry["steps"]] == [
        ("refused", "a creation in Jira is not undone here: delete the issue in Jira if it should go")
    ]


def test_with_a_daemon_running_local_work_is_said_to_go_within_seconds(cli_env, heartbeat) -> None:  # noqa: F811
    from jira_console.store.db import Database

    sim, cli, url = cli_env
    cli.json("sync")
    with sim.site.lock:
        key = sorted(sim.site.issues)[0]
    beating = heartbeat(Database(url), "elsewhere:1")
    queued = cli("local", "create", "ENG", "Task", "summary=For the daemon")
    assert queued.stdout.strip() == "request #1 queued: the running daemon sends it to Jira within seconds"
    edited = cli("local", "set", key, "summary=For the daemon too")
    assert edited.stdout.strip() == (
        f"{key}: summary set locally; queued: the running daemon sends it to Jira within seconds"
    )
    beating.stop()
