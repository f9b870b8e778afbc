"""What the CLI prints for people, through real commands against a served simulator: status without Python
reprs or microseconds, issues in natural key order with "showing N of M", names for people and sprints,
every connection's sync result, progress bars, the fields.NAME hint, and reading without creating."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jira_console.cli.progress import figures, rate_and_eta
from jira_console.events import SyncProgressed
from tests.test_cli import Cli, write_config

TIME_WITH_MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d")


@pytest.fixture
def env(sim_factory, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sim = sim_factory("cloud", issues=120)
    monkeypatch.setenv("JIRA_SIM_TOKEN", sim.credentials["basic"][1])
    monkeypatch.delenv("JIRA_CONSOLE_CONFIG", raising=False)
    return sim, Cli(write_config(tmp_path, sim, db_url)), db_url


def test_reading_commands_never_create_a_database(env, tmp_path: Path) -> None:
    _, cli, db_url = env
    for args in (["status"], ["issues", "list"], ["issues", "show", "ENG-1"], ["audit"],
                 ["conflicts", "list"], ["webhooks", "stats"], ["mapping", "list"]):  # fmt: skip
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "no store at" in result.stderr and "run `jira-console sync`" in result.stderr, args
    if db_url.startswith("sqlite"):
        assert not Path(db_url.removeprefix("sqlite:///")).exists()
    else:
        from sqlalchemy import create_engine, inspect

        engine = create_engine(db_url)
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        engine.dispose()
    assert cli("config", "show").exit_code == 0  # needs no database at all


def test_status_and_issues_for_people(env) -> None:
    sim, cli, _ = env
    assert cli("sync", "--no-progress").exit_code == 0
    status = cli("status")
    assert status.exit_code == 0
    assert "{" not in status.stdout and "'" not in status.stdout  # no dict or repr
    assert not TIME_WITH_MICROSECONDS.search(status.stdout)
    assert re.search(r"^sim\s+ok\s+last success \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(", status.stdout, re.M)
    assert "open conflicts: 0" in status.stdout and "no daemon has run" in status.stdout
    data = json.loads(cli("status", "--json").stdout)
    assert data["health"]["sim"]["verdict"] == "ok" and data["connections"] == ["sim"]

    listed = cli("issues", "list", "--limit", "15")
    lines = listed.stdout.splitlines()
    keys = [line.split()[0].lstrip("*") for line in lines[:-1]]
    assert keys[:12] == [f"ENG-{n}" for n in range(1, 13)]  # ENG-2 before ENG-10
    with sim.site.lock:
        total = len(sim.site.issues)
    assert lines[-1] == f"showing 1-15 of {total}; --offset 15 for more"
    tail = cli("issues", "list", "--offset", str(total - 3)).stdout.splitlines()
    assert tail[-1] == f"showing {total - 2}-{total} of {total}"
    everything = cli("issues", "list", "--limit", "1000").stdout.splitlines()
    assert everything[-1] == f"showing {total} of {total}"
    js = json.loads(cli("issues", "list", "--limit", "12", "--json").stdout)
    assert [i["key"] for i in js] == [f"ENG-{n}" for n in range(1, 13)]


def test_issues_show_names_people_and_sprints(env) -> None:
    _, cli, _ = env
    cli("sync", "--no-progress")
    rows = json.loads(cli("issues", "list", "--limit", "1000", "--json").stdout)
    chosen = next(i for i in rows if i["assignee"] and i["sprint"] and i.get("description"))
    shown = json.loads(cli("issues", "show", chosen["key"], "--json").stdout)
    assert shown["assignee_name"] and shown["assignee_name"] != shown["assignee"]
    assert shown["sprint_name"]
    text = cli("issues", "show", chosen["key"]).stdout
    assert f"assignee: {shown['assignee_name']} ({shown['assignee']})" in text
    assert f"sprint: {shown['sprint_name']} ({shown['sprint']})" in text
    # The description, as stored (Markdown), under its label: in the JSON for scripts, in the text too.
    assert "\n  description:\n" in text and f"\n  {shown['description'].splitlines()[0]}" in text
    assert not TIME_WITH_MICROSECONDS.search(text) and "None" not in text


def test_local_set_hints_at_mapped_fields(env) -> None:
    _, cli, _ = env
    cli("sync", "--no-progress")
    refused = cli("local", "set", "ENG-1", "team=fe")
    assert refused.exit_code == 2
    assert "unknown field 'team'" in refused.stderr and "fields.team=fe" in refused.stderr
    as_json = json.loads(cli("local", "set", "ENG-1", "team=fe", "--json").stdout)
    assert as_json["exit_code"] == 2 and "fields.team=fe" in as_json["error"]


def test_sync_reports_every_connection(sim_factory, sqlite_url, tmp_path, monkeypatch) -> None:
    sim = sim_factory("cloud", issues=20)
    monkeypatch.setenv("JIRA_SIM_TOKEN", sim.credentials["basic"][1])
    monkeypatch.delenv("JC_NO_SUCH_TOKEN", raising=False)
    extra = f"""
[[jira]]
name = "dc"
url = "{sim.url}"
auth = "bearer"
token_env = "JC_NO_SUCH_TOKEN"
jql = "project = OPS"
"""
    cli = Cli(write_config(tmp_path, sim, sqlite_url, extra=extra))  # a second [[jira]], without its token
    result = cli("sync", "--no-progress")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert re.match(r"sim: ok \(run \d+\) in ", lines[0]) and "read 20," in lines[0]  # the run id, issues
    assert lines[1] == "dc: failed" and "no token" in lines[2] and "JC_NO_SUCH_TOKEN" in lines[2]
    reports = json.loads(cli("sync", "--no-progress", "--json").stdout)
    assert [(r["connection"], r["status"]) for r in reports] == [("sim", "ok"), ("dc", "failed")]
    assert reports[0]["issues_read"] <= reports[0]["seen"]  # distinct issues; versions count re-reads
    only = cli("sync", "--connection", "nope")
    assert only.exit_code == 2 and "no connection named 'nope'" in only.stderr


def test_a_first_full_sync_draws_progress(env) -> None:
    _, cli, _ = env
    result = cli("sync", "--full", "--progress")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sim: ok")  # stdout keeps the result only
    drawn = result.stderr
    assert "sim" in drawn and re.search(r"\d+/\d+", drawn), drawn
    assert re.search(r"ok in \d+\.\d s", drawn)
    quiet = cli("sync")  # not a terminal: no bars
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_progress_figures() -> None:
    event = SyncProgressed("c", "issues", pages=2, seen=200, pulled=0, pushed=0, conflicts=0, total=1000,
                           elapsed_ms=2000)  # fmt: skip
    assert rate_and_eta(200, 1000, 2000) == (100.0, 8.0)
    assert figures(event) == "100/s · ETA 8 s"
    unknown = SyncProgressed("c", "issues", 1, 50, 0, 0, 0, None, 500)
    assert figures(unknown) == "100/s · total unknown"
    creating = SyncProgressed("c", "issues", 2, 200, 0, 0, 0, 1000, 2000, created=150)
    assert figures(creating) == "100/s · ETA 8 s · 150 created in Jira"
    assert rate_and_eta(0, None, 0) == (None, None)


def test_undo_output_counts_many_alike_steps_that_write_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # `audit undo --run 1` over a first import listed 5,000 refused lines, one per issue; they are now said
    # once after the first few. Steps that write, conflict or fail are always listed one by one.
    from jira_console.cli.audit_cmd import print_result
    from jira_console.sync.undo import UndoResult, UndoStep

    reason = "imported from Jira wrote no field value: nothing to undo"

    def step(n: int, action: str, note: str) -> UndoStep:
        return UndoStep("srv", f"ENG-{n}", None, "local", (n,), None, None, None, action, note)  # type: ignore[arg-type]

    steps = [step(n, "refused", reason) for n in range(1, 5001)]
    steps += [step(n, "write", "") for n in range(6000, 6005)]
    print_result(UndoResult("run 1", tuple(steps), applied=False))
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 + 3 + 5 + 1 + 1  # head, 3 refused, 5 writes, the count, the dry-run hint
    assert f"  ... and 4997 more [refused] -- {reason}" in out
    assert sum("[write]" in line for line in out) == 5


def test_status_shows_a_stored_error_whole(env) -> None:
    # The advice ends the message ("... Fix the user or token, then run config check"): status used to cut
    # it at 200 characters, in text and JSON alike.
    from sqlalchemy import create_engine, text

    _, cli, url = env
    assert cli("sync", "--no-progress").exit_code == 0
    long_error = "Jira denied the credentials " + "because of reasons " * 15 + "FIX THE USER OR TOKEN"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sync_state SET last_error = :e, failures = 1"), {"e": long_error})
    engine.dispose()
    status = cli.json("status")
    assert all(s["last_error"] == long_error for s in status["sync"])
    assert status["health"]["sim"]["last_error"] == long_error
    assert "FIX THE USER OR TOKEN" in cli("status").stdout


def test_status_names_who_holds_a_running_syncs_lease_and_a_killed_run_as_interrupted(env) -> None:
    # A second daemon's operator, after a kill -9, needs to see who holds the sync and until when: status
    # said "running" and nothing else, and kept saying it after the lease had expired.
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine, text

    _, cli, url = env
    assert cli("sync", "--no-progress").exit_code == 0
    now = datetime.now(UTC)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO daemons (name, heartbeat_at, started_at, stopping) VALUES ('d9', :t, :t, :f)"),
            {"t": now - timedelta(minutes=1), "f": False},
        )
        conn.execute(
            text("UPDATE sync_state SET last_status = 'running', lease_owner = 'd9', lease_expires_at = :t"),
            {"t": now + timedelta(seconds=50)},
        )
    line = next(x for x in cli("status").stdout.splitlines() if x.startswith("sim/issues:"))
    assert line.startswith("sim/issues: running on d9 (lease until "), line
    assert "d9 is not responding: another daemon takes the sync over when the lease expires)" in line
    assert cli.json("status")["sync"][0]["lease_owner"] == "d9"
    with engine.begin() as conn:
        conn.execute(text("UPDATE sync_state SET lease_expires_at = :t"), {"t": now - timedelta(seconds=1)})
    engine.dispose()
    line = next(x for x in cli("status").stdout.splitlines() if x.startswith("sim/issues:"))
    assert line.startswith("sim/issues: interrupted, last finished"), line
    assert [(s["last_status"], s["running"]) for s in cli.json("status")["sync"]] == [("interrupted", False)]
