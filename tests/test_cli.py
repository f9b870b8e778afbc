"""The command line end to end (typer's CliRunner, in process) against a served simulator: JSON shapes and
exit codes (0 ok, 1 operational failure, 2 bad usage, 3 not found)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from jira_console.cli import app
from jira_console.simulator import Simulator
from jira_console.store import queue as q
from jira_console.store.db import Database
from jira_console.store.models import WebhookEvent
from tests.fixtures.simulator import in_a_closed_sprint_only

SECRET_ENV = "JC_CLI_TEST_WEBHOOK_SECRET"
SECRET = "cli-test-secret-42"


def write_config(tmp_path: Path, sim: Simulator, db_url: str, *, name: str = "sim", extra: str = "") -> Path:
    user, _ = sim.credentials["basic"]
    path = tmp_path / "cli.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[[jira]]
name = "{name}"
url = "{sim.url}"
auth = "basic"
user = "{user}"
token_env = "JIRA_SIM_TOKEN"
overlap_seconds = 0
jql = "project in (ENG, OPS) order by updated"
[webhooks]
listen = "127.0.0.1:18765"
secret_env = "{SECRET_ENV}"
previous_secret_env = "JC_CLI_TEST_NOPE"
[logging]
level = "WARNING"
{extra}
"""
    )
    path.chmod(0o600)
    return path


class Cli:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Any:
        return self.runner.invoke(app, ["--config", str(self.config), *args])

    def json(self, *args: str, code: int = 0) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)


@pytest.fixture
def cli_env(sim_factory, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sim = sim_factory("cloud", issues=30)
    monkeypatch.setenv("JIRA_SIM_TOKEN", sim.credentials["basic"][1])
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv("JIRA_CONSOLE_CONFIG", raising=False)
    return sim, Cli(write_config(tmp_path, sim, sqlite_url)), sqlite_url


def test_sync_status_issues_local_audit(cli_env) -> None:
    sim, cli, _ = cli_env
    reports = cli.json("sync")
    assert len(reports) == 1
    report = reports[0]
    assert report["connection"] == "sim" and report["status"] == "ok"
    with sim.site.lock:
        keys = sorted(sim.site.issues)
    assert report["seen"] == len(keys) == 30

    status = cli.json("status")
    assert set(status) >= {"sync", "conflicts_open", "webhooks", "daemons", "connections"}
    assert status["connections"] == ["sim"]
    assert status["conflicts_open"] == 0 and status["daemons"] == []
    assert any(s["connection"] == "sim" and s["last_status"] == "ok" for s in status["sync"])
    assert status["webhooks"]["queue_depth"] == 0

    listed = cli.json("issues", "list", "--limit", "5")
    assert len(listed) == 5
    assert set(listed[0]) >= {"connection", "key", "summary", "status", "local_dirty", "fields", "errors"}
    everything = cli.json("issues", "list", "--limit", "1000")
    assert sorted(i["key"] for i in everything) == keys
    one_site = cli("issues", "list", "--limit", "2").stdout.splitlines()
    assert one_site[0].split()[0] == keys[0]  # one connection: bare keys

    key = keys[3]
    shown = cli.json("issues", "show", key)
    assert shown["key"] == key and shown["summary"] == sim.issue(key)["summary"]
    assert shown["local_dirty"] is False

    # A connection no configuration names (a typo) is refused, not shown as an empty store.
    for command in (("issues", "list"), ("sprints", "list"), ("conflicts", "list"), ("audit",)):
        said = cli(*command, "-C", "nope")
        assert said.exit_code == 2 and "no connection named 'nope'; configured: sim" in said.stderr, command
    assert cli("audit", "--key", "NOPE-1").stdout.strip() == "no audit lines match"  # it printed nothing
    assert cli("conflicts", "list").stdout.strip() == "no open conflicts"
    missing = cli("issues", "show", "NOPE-9999")
    assert missing.exit_code == 3 and "NOPE-9999" in missing.stderr
    assert cli("issues", "list", "--limit", "0").exit_code == 2
    past = cli("issues", "list", "--offset", "1000").stdout.strip()
    assert past == "none at --offset 1000: 30 issues in all"  # it said "no issues in the local database"
    assert cli("issues", "show").exit_code == 2

    changed = cli.json("local", "set", key, 'summary="Changed from the CLI"', "story_points=5")
    assert changed["key"] == key and changed["summary"] == "Changed from the CLI"
    assert changed["local_dirty"] is True
    assert cli.json("issues", "list", "--dirty", "--limit", "100")[0]["key"] == key
    assert cli("local", "set", "NOPE-1", "summary=x").exit_code == 3
    assert cli("local", "set", key, "no-equals-sign").exit_code == 2
    assert cli("local", "set", key, "not_a_field=1").exit_code == 2

    pushed = cli.json("sync")
    assert pushed[0]["pushed_fields"] >= 1
    assert sim.issue(key)["summary"] == "Changed from the CLI"
    audit = cli.json("audit", "--key", key)
    assert audit and all(a["issue_key"] == key for a in audit)
    assert any(a["side"] == "jira" and a["field"] == "summary" for a in audit)
    text = cli("audit", "--key", key)
    assert text.exit_code == 0 and key in text.stdout
    lines = text.stdout.splitlines()
    # The import is about the whole issue: its reason, no "* null -> null"; a field's change shows its values.
    [imported] = [line for line in lines if "imported from Jira" in line]
    assert "null" not in imported and " * " not in imported
    assert any("summary" in line and '-> "Changed from the CLI"' in line for line in lines)

    # A value the column cannot hold is refused, saying what it takes, and nothing is written.
    for bad, says in (
        ("story_points=abc", 'story_points takes a finite number, not "abc"'),
        ("story_points=1e999", "story_points takes a finite number, not Infinity"),
        ("fields.team=[1e999]", "team holds Infinity: JSON numbers must be finite"),
        ("labels=x", 'labels holds a list of texts (JSON: ["a", "b"]), not "x"'),
        ("sprint_id=1.5", "sprint_id holds whole numbers, not 1.5"),
        # Held by the column, refused by Jira on every site: said now, not found at the push.
        ("summary=", "summary cannot be empty: Jira requires one"),
        (
            'labels=["two words"]',
            'labels must each be a word without spaces (JSON: ["a", "b"]), not ["two words"]',
        ),
    ):
        refused = cli("local", "set", key, bad)
        assert refused.exit_code == 2 and says in refused.stderr, refused.stderr
    assert cli.json("issues", "show", key)["story_points"] == 5 and not cli.json("issues", "list", "--dirty")
    assert cli.json("local", "set", key, "summary=2024")["summary"] == "2024"  # a text field: the text typed
    typo = cli("local", "set", key, "team=fe")
    assert (
        typo.exit_code == 2
        and "; to set 'team' among the issue's fields, write fields.team=fe" in typo.stderr
    )
    # A change Jira refuses: the sync's line says it was not pushed, and where to read why.
    cli.json("local", "set", key, "priority=NoSuchPriority")
    ran = cli("sync")
    assert ran.exit_code == 0 and "pushed 1, not pushed 1 (status says why)," in ran.stdout, ran.stdout
    said = cli("status").stdout
    assert (
        "field errors: sim priority on 1 issue "
        "(not synced; issues list --errors --field priority, then issues show KEY)"
    ) in said
    # Which issues: the list the status line names.
    assert [i["key"] for i in cli.json("issues", "list", "--errors", "--field", "priority")] == [key]
    [failing] = cli.json("issues", "list", "--errors")
    assert failing["key"] == key
    # Each listed issue carries its errors, as `issues show` does (the list had them empty).
    assert failing["errors"] == cli.json("issues", "show", key)["errors"]
    assert [e["field"] for e in failing["errors"]] == ["priority"] and "NoSuchPriority" in str(failing)
    assert cli.json("issues", "list", "--errors", "--field", "summary") == []
    assert "no issues match" in cli("issues", "list", "--errors", "--field", "summary").stdout
    assert cli("issues", "list", "--field", "priority").exit_code == 2


def test_keys_and_statuses_are_read_in_any_case_as_jira_reads_them(cli_env) -> None:
    sim, cli, _ = cli_env
    cli.json("sync")
    with sim.site.lock:
        key = sorted(sim.site.issues)[2]
    typed = key.lower()
    shown = cli.json("issues", "show", typed)
    assert shown["key"] == key and "moved_from" not in shown
    assert "moved" not in cli("issues", "show", typed).stdout
    assert cli.json("local", "set", typed, 'summary="Typed in lower case"')["key"] == key
    cli.json("sync")  # pushed: the audit line of the push names the issue by its key
    assert [a["issue_key"] for a in cli.json("audit", "--key", typed, "--field", "summary")] == [key]
    status = shown["status"]
    exact = cli.json("issues", "list", "--status", status, "--limit", "1000")
    assert exact and all(i["status"] == status for i in exact)
    for spelled in (status.lower(), status.upper()):
        assert cli.json("issues", "list", "--status", spelled, "--limit", "1000") == exact


def test_conflicts_list_show_resolve(cli_env) -> None:
    sim, cli, _ = cli_env
    cli.json("sync")
    with sim.site.lock:
        key = sorted(sim.site.issues)[5]
    cli.json("local", "set", key, "summary=local wording")
    sim.edit_issue(key, {"summary": "remote wording"})
    cli.json("sync")

    open_ = cli.json("conflicts", "list")
    assert [(c["issue_key"], c["field"], c["status"]) for c in open_] == [(key, "summary", "open")]
    conflict = open_[0]
    assert conflict["local"] == "local wording" and conflict["jira"] == "remote wording"
    assert cli.json("status")["conflicts_open"] == 1

    shown = cli.json("conflicts", "show", str(conflict["id"]))
    assert shown["id"] == conflict["id"] and shown["field"] == "summary"
    text = cli("conflicts", "show", str(conflict["id"])).stdout
    assert '   local: "local wording"' in text and " UTC (" in text  # values as JSON, times for people
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", text)
    assert cli("conflicts", "show", "999999").exit_code == 3
    assert cli("conflicts", "resolve", str(conflict["id"])).exit_code == 2
    assert cli("conflicts", "resolve", str(conflict["id"]), "--take", "mine").exit_code == 2
    assert (
        cli("conflicts", "resolve", str(conflict["id"]), "--take", "local", "--value", '"x"').exit_code == 2
    )
    assert cli("conflicts", "resolve", "999999", "--take", "jira").exit_code == 3

    resolved = cli.json("conflicts", "resolve", str(conflict["id"]), "--take", "local")
    assert resolved["id"] == conflict["id"] and resolved["status"] != "open"
    assert cli.json("conflicts", "list") == []
    assert len(cli.json("conflicts", "list", "--all")) == 1
    assert sim.issue(key)["summary"] == "local wording"


def test_conflicts_list_names_the_connection_when_the_queue_spans_several_and_says_what_it_left_out(
    cli_env,
) -> None:
    from sqlalchemy import text

    sim, cli, url = cli_env
    cli.json("sync")
    with sim.site.lock:
        keys = sorted(sim.site.issues)[5:8]
    for key in keys:
        cli.json("local", "set", key, f"summary=local {key}")
        sim.edit_issue(key, {"summary": f"remote {key}"})
    cli.json("sync")
    with Database(url) as db, db.session(write=True) as s:  # the last one as a second site's conflict
        s.execute(text("UPDATE conflicts SET connection = 'zz-dc' WHERE issue_key = :k"), {"k": keys[-1]})
    ids = [c["id"] for c in cli.json("conflicts", "list")]
    # The same key can name issues of two sites: each line says which, even on a page of one site only.
    first = cli("conflicts", "list", "--limit", "2").stdout.splitlines()
    assert first[:2] == [
        f'#{ids[0]} sim:{keys[0]} summary: local="local {keys[0]}" jira="remote {keys[0]}" [open]',
        f'#{ids[1]} sim:{keys[1]} summary: local="local {keys[1]}" jira="remote {keys[1]}" [open]',
    ]
    assert first[2:] == ["showing 2 of 3 (--limit to see more)"]
    one_site = cli("conflicts", "list", "-C", "sim").stdout.splitlines()
    assert one_site[0].split()[1] == keys[0]  # one connection asked: bare keys


def _seed_events(db_url: str) -> dict[str, int]:
    db = Database(db_url)
    db.migrate()
    body = {"webhookEvent": "jira:issue_updated", "issue": {"key": "ENG-1", "fields": {"summary": "é"}}}
    ids: dict[str, int] = {}
    with db.session(write=True) as s:
        for name, status in (("a", "failed"), ("b", "applied"), ("c", "failed"), ("d", "received")):
            inserted = q.insert_event(
                s,
                identifier=f"sim:{name}",
                payload=json.dumps(body),
                connection="sim",
                event_type="jira:issue_updated",
                issue_key="ENG-1",
                headers={"x-atlassian-webhook-identifier": name},
                status=status,
            )
            assert inserted.id is not None
            ids[name] = inserted.id
    db.close()
    return ids


def test_webhooks_list_show_retry_stats(cli_env) -> None:
    _, cli, db_url = cli_env
    missing = cli.json("webhooks", "list", code=2)  # reading never creates the database
    assert "no store at" in missing["error"] and not Path(db_url.removeprefix("sqlite:///")).exists()
    ids = _seed_events(db_url)

    listed = cli.json("webhooks", "list")
    assert [e["id"] for e in listed] == sorted(ids.values(), reverse=True)
    assert set(listed[0]) >= {
        "id",
        "connection",
        "identifier",
        "event_type",
        "issue_key",
        "status",
        "attempts",
    }
    failed = cli.json("webhooks", "list", "--status", "failed")
    assert sorted(e["id"] for e in failed) == sorted([ids["a"], ids["c"]])
    assert len(cli.json("webhooks", "list", "--limit", "1")) == 1
    assert cli.json("webhooks", "list", "-C", "sim") == listed  # -C, as every other list takes it
    other = cli("webhooks", "list", "-C", "nope")
    assert (
        other.exit_code == 2 and other.stderr.strip() == "error: no connection named 'nope'; configured: sim"
    )
    bad = cli("webhooks", "list", "--status", "bogus")
    assert bad.exit_code == 2 and "bogus" in bad.stderr

    shown = cli.json("webhooks", "show", str(ids["a"]))
    assert shown["payload"]["issue"]["key"] == "ENG-1" and shown["status"] == "failed"
    text = cli("webhooks", "show", str(ids["a"]))
    assert text.exit_code == 0 and not re.search(r"\d\d:\d\d:\d\d\.\d", text.stdout)
    assert '  "webhookEvent": "jira:issue_updated"' in text.stdout  # pretty-printed, plain text
    assert "é" in text.stdout
    assert cli("webhooks", "show", "987654").exit_code == 3
    with Database(db_url) as db, db.session(write=True) as s:
        s.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_([ids["a"], ids["b"]]))
            .values(last_error="the reason")
        )
    assert "\n      last_error: the reason\n" in cli("webhooks", "show", str(ids["a"])).stdout  # failed
    assert "\n            note: the reason\n" in cli("webhooks", "show", str(ids["b"])).stdout  # settled
    assert cli.json("webhooks", "show", str(ids["b"]))["last_error"] == "the reason"

    stats = cli.json("webhooks", "stats")
    assert stats["counts"]["failed"] == 2 and stats["queue_depth"] == 1
    assert stats["received_per_minute"] == 4 and stats["oldest_pending_seconds"] >= 0
    assert "queue: 1 pending" in cli("webhooks", "stats").stdout

    assert cli("webhooks", "retry").exit_code == 2
    assert cli("webhooks", "retry", str(ids["a"]), "--all-failed").exit_code == 2
    assert cli("webhooks", "retry", "987654").exit_code == 3
    assert cli.json("webhooks", "retry", str(ids["b"])) == {"retried": [ids["b"]], "count": 1}
    again = cli.json("webhooks", "retry", "--all-failed")
    assert sorted(again["retried"]) == sorted([ids["a"], ids["c"]])
    assert cli.json("webhooks", "list", "--status", "failed") == []
    assert cli.json("webhooks", "stats")["queue_depth"] == 4
    assert "no failed webhook events" in cli("webhooks", "retry", "--all-failed").stdout


def test_webhooks_register_admin_and_dynamic(cli_env, monkeypatch: pytest.MonkeyPatch) -> None:
    sim, cli, _ = cli_env
    hook = cli.json("webhooks", "register", "--url", "https://sync.example.com/webhooks/jira?x=1")
    assert hook["kind"] == "admin" and hook["signed"] is True
    target = sim.hooks.targets[hook["id"]]
    assert target.url == "https://sync.example.com/webhooks/jira?x=1&connection=sim" == hook["url"]
    assert target.secret == SECRET
    assert target.jql == "project in (ENG, OPS)"
    assert "jira:issue_updated" in target.events and "sprint_started" in target.events

    custom = cli.json(
        "webhooks", "register", "--events", "jira:issue_updated,jira:issue_deleted", "--jql", "project = ENG"
    )
    target = sim.hooks.targets[custom["id"]]
    assert target.url == "http://127.0.0.1:18765/webhooks/jira?connection=sim"
    assert sorted(target.events) == ["jira:issue_deleted", "jira:issue_updated"]
    assert target.jql == "project = ENG"

    dynamic = cli.json("webhooks", "register", "--dynamic", "--jql", "project = OPS")
    assert dynamic["kind"] == "dynamic" and dynamic["expires_at_ms"] and dynamic["signed"] is False
    assert sim.hooks.targets[dynamic["id"]].secret is None

    assert cli("webhooks", "register", "--url", "not a url").exit_code == 2
    assert cli("webhooks", "register", "--connection", "nope").exit_code == 2
    monkeypatch.delenv(SECRET_ENV)
    unsigned = cli("webhooks", "register")
    assert unsigned.exit_code == 2 and SECRET_ENV in unsigned.stderr


def test_webhooks_register_dynamic_refused_on_server(
    server_sim: Simulator, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_SIM_TOKEN", server_sim.credentials["basic"][1])
    cli = Cli(write_config(tmp_path, server_sim, sqlite_url, name="dc"))
    result = cli("webhooks", "register", "--dynamic", "--jql", "project = ENG")
    assert result.exit_code == 1
    assert "Cloud only" in result.stderr
    assert not server_sim.hooks.targets


def test_usage_errors_in_plain_words(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["--config", str(tmp_path / "absent.toml"), "webhooks", "stats"])
    assert missing.exit_code == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "e.db"}"\n')
    empty.chmod(0o600)
    for command in (["sync"], ["webhooks", "register"], ["daemon"]):
        said = runner.invoke(app, ["--config", str(empty), *command])
        # Which file was read, that it configures no site, and what to run.
        assert (
            said.exit_code == 2 and f"{empty} configures none. `jira-console init` writes one" in said.stderr
        )
    assert runner.invoke(app, ["--config", str(empty), "webhooks", "nope"]).exit_code == 2
    # A group named without its command: its help, and no "error:" line with nothing after it.
    bare = runner.invoke(app, ["--config", str(empty), "issues"])
    assert bare.exit_code == 2 and "list" in bare.stdout and "show" in bare.stdout
    assert "error:" not in bare.stderr, bare.stderr


def test_issues_show_an_old_key_finds_the_moved_issue_and_status_lists_quarantine(cli_env) -> None:
    from jira_console.simulator import lifecycle

    sim, cli, db_url = cli_env
    cli.json("sync")
    with sim.site.lock:
        key = sorted(k for k, i in sim.site.issues.items() if i.project == "ENG")[0]
    new_key = lifecycle.move_issue(sim.site, key, "OPS", "other")
    cli.json("sync")
    shown = cli.json("issues", "show", key)
    assert shown["key"] == new_key and shown["moved_from"] == key
    text = cli("issues", "show", key)
    assert text.exit_code == 0 and f"{key} moved: it is now {new_key}" in text.stdout
    # The history is one, whichever key asks: the import under the old key, the move under the new one.
    for asked in (key, new_key):
        history = cli.json("audit", "--key", asked)
        assert {(h["issue_key"], h["reason"].split(":")[0]) for h in history} >= {
            (key, "imported from Jira"),
            (new_key, "moved in Jira"),
        }
    # An issue set aside is listed by `status` with its key and cause.
    database = Database(db_url)
    try:
        with database.session(write=True) as s:
            from jira_console.store import identity

            identity.quarantine(
                s, "sim", "OPS-77", jira_id="77", kind="UniqueViolation", cause="a rule broke"
            )
    finally:
        database.close()
    out = cli("status")
    assert "quarantined issues (1)" in out.stdout and "OPS-77: UniqueViolation: a rule broke" in out.stdout


def test_cli_sync_while_a_daemon_is_alive_is_run_by_the_daemon(cli_env) -> None:
    import threading
    from dataclasses import asdict

    from jira_console.facade import SyncReport
    from jira_console.store import state as st

    sim, cli, url = cli_env
    db = Database(url)
    db.migrate()
    with db.session(write=True) as s:
        st.heartbeat(s, "daemon-a", host="h", pid=1, version="x", status={"connections": []})
    stop = threading.Event()
    claimed: list[str] = []

    def daemon_a() -> None:
        """What the daemon's command job does: claim the sync, run it (here: pretend), record the reports."""
        while not stop.is_set():
            with db.session(write=True) as s:
                st.heartbeat(s, "daemon-a", host="h", pid=1, version="x", status={"connections": []})
                command = st.claim_command(s, "daemon-a")
            if command is not None:
                claimed.append(command.kind)
                report = SyncReport("sim", seen=7, duration_ms=12)
                with db.session(write=True) as s:
                    st.finish_command(s, command.id, result={"reports": [asdict(report)]})
                return
            stop.wait(0.05)

    worker = threading.Thread(target=daemon_a, daemon=True)
    worker.start()
    calls_before = len(sim.requests)
    try:
        [report] = cli.json("sync")
    finally:
        stop.set()
        worker.join(10)
        db.close()
    assert claimed == ["sync"]
    assert (report["connection"], report["seen"]) == ("sim", 7)
    assert len(sim.requests) == calls_before  # the CLI itself sent nothing to Jira


def test_denied_credentials_are_held_back_and_said_by_status_and_config_check(cli_env, monkeypatch) -> None:
    sim, cli, _ = cli_env
    monkeypatch.setenv("JIRA_SIM_TOKEN", "not-the-token")
    assert cli("sync").exit_code != 0
    denied = sum(1 for r in sim.requests if r["status"] == 401)
    assert cli("sync").exit_code != 0
    assert sum(1 for r in sim.requests if r["status"] == 401) == denied  # nothing sent the second time
    out = cli("status").stdout
    assert "credentials: connection 'sim' stopped sending its Basic credentials" in out
    assert "config check" in out
    monkeypatch.setenv("JIRA_SIM_TOKEN", sim.credentials["basic"][1])  # the operator fixes the token
    checked = cli("config", "check")
    assert checked.exit_code == 0, checked.stdout
    assert "tried again now" in checked.stdout
    assert "credentials:" not in cli("status").stdout
    assert cli("sync").exit_code == 0


def test_audit_undo_dry_run_then_apply(cli_env) -> None:
    sim, cli, _ = cli_env
    cli.json("sync")
    with sim.site.lock:
        key = sorted(sim.site.issues)[4]
    before = sim.issue(key)["summary"]
    cli.json("local", "set", key, 'summary="a bad value"')
    [report] = cli.json("sync")
    run = str(report["run_id"])
    [line] = cli.json("audit", "--run", run, "--side", "jira")
    assert (line["issue_key"], line["field"], line["cause"]) == (key, "summary", "sync")
    listed = cli("audit", "--run", run)
    assert listed.exit_code == 0 and f"#{line['id']}" in listed.stdout and f"sync {run}" in listed.stdout

    dry = cli("audit", "undo", "--run", run)
    assert dry.exit_code == 0, dry.stderr
    assert "dry run" in dry.stdout and "-> Jira" in dry.stdout and "[write]" in dry.stdout
    assert "add --apply" in dry.stdout
    assert sim.issue(key)["summary"] == "a bad value"

    done = cli.json("audit", "undo", str(line["id"]), "--apply")
    assert done["applied"] and [s["action"] for s in done["steps"]] == ["undone"]
    assert sim.issue(key)["summary"] == before
    [undo_line] = cli.json("audit", "--run", str(done["run_ids"][0]))
    assert (undo_line["cause"], undo_line["undo_of"]) == ("undo", line["id"])
    quiet = cli.json("sync")[0]["run_id"]  # nothing left to change: a run without audit lines
    listed_runs = cli.json("audit", "runs")
    assert [(r["id"], r["kind"], r["status"], r["changes"]) for r in listed_runs[:2]] == [
        (done["run_ids"][0], "undo", "ok", 1),
        (int(run), "sync", "ok", 1),
    ]
    # Runs that changed nothing (most of a daemon's scheduled syncs) are left out unless asked for.
    assert quiet not in [r["id"] for r in listed_runs]
    assert [(r["id"], r["changes"]) for r in cli.json("audit", "runs", "--all")][0] == (quiet, 0)
    assert f"run {run} " in cli("audit", "runs").stdout and ": ok, 1 change" in cli("audit", "runs").stdout

    assert cli("audit", "undo").exit_code == 2
    assert cli("audit", "undo", "--key", key).exit_code == 2  # --since missing
    assert cli("audit", "undo", "--key", key, "--since", "yesterday-ish").exit_code == 2
    assert cli("audit", "undo", "999999").exit_code == 3
    spans = cli.json("audit", "undo", "--key", key, "--since", "1h")
    assert spans["applied"] is False and spans["steps"]


def test_an_undo_jira_refuses_says_so_and_changes_nothing_each_time(cli_env) -> None:
    sim, cli, _ = cli_env
    # Undoing a move out of a closed sprint asks Jira to move the issue back there, which Jira refuses.
    key, active = in_a_closed_sprint_only(sim)
    cli.json("sync")
    cli.json("local", "set", key, f"sprint_id={active}")
    run = str(cli.json("sync")[0]["run_id"])
    for _attempt in (1, 2):
        done = cli("audit", "undo", "--run", run, "--apply")
        assert done.exit_code == 1, done.stdout
        assert done.stdout.startswith(f"not undone: run {run} as run "), done.stdout
        assert "[failed] -- Jira refused the write: " in done.stdout and "closed sprint" in done.stdout
        assert "nothing was changed" in done.stdout and "already holds" not in done.stdout
        shown = cli.json("issues", "show", key)
        assert (shown["sprint"], shown["local_dirty"], shown["errors"]) == (active, False, [])
        assert sim.issue(key)["sprints"][-1] == active


def test_issues_list_names_the_connection_on_every_line_when_the_list_spans_several(cli_env) -> None:
    from sqlalchemy import text

    from jira_console.store import Database

    sim, cli, url = cli_env
    cli.json("sync")
    with sim.site.lock:
        last = sorted(sim.site.issues)[-1]
    with Database(url) as db, db.session(write=True) as s:  # the same key at a second site, listed after
        s.execute(text("UPDATE issues SET connection = 'zz-dc' WHERE key = :k"), {"k": last})
    first_page = cli("issues", "list", "--limit", "2").stdout.splitlines()[:2]
    # Only this connection's issues on the page, yet the list spans two: each line says which site.
    assert [line.split()[0].split(":")[0] for line in first_page] == ["sim", "sim"]
    assert cli("issues", "list", "-C", "zz-dc").stdout.split()[0] == last  # one connection asked: bare key


def test_status_sums_up_the_outbox_refused_rows_and_rows_no_connection_takes(cli_env) -> None:
    sim, cli, db_url = cli_env
    cli.json("sync")
    with sim.site.lock:
        key = sorted(sim.site.issues)[0]
    database = Database(db_url)
    try:
        with database.engine.begin() as conn:
            for connection, field, value in (
                ("sim", "summary", '"from a host program"'),
                ("sim", "story_points", '"abc"'),
                ("simm", "summary", '"a typo in the connection"'),
            ):
                conn.exec_driver_sql(
                    "INSERT INTO local_changes (connection, issue_key, field, value, created_at) "
                    "VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP)",
                    (connection, key, field, value),
                )
    finally:
        database.close()
    assert "outbox: sim 2 rows waiting for the next sync" in cli("status").stdout
    assert cli.json("sync")[0]["status"] == "ok" and sim.issue(key)["summary"] == "from a host program"
    said = cli("status").stdout
    assert "outbox: sim 1 row refused (SELECT * FROM local_changes WHERE error IS NOT NULL says why)" in said
    assert "outbox: 1 row for connection 'simm', which is not configured: never taken" in said
    assert cli.json("status")["outbox"] == {
        "sim": {"pending": 0, "refused": 1},
        "simm": {"pending": 1, "refused": 0},
    }
    # Without a daemon, `sync` does the outbox's retention: rows taken long ago go, a pending one stays.
    database = Database(db_url)
    try:
        with database.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE local_changes SET processed_at = '2020-01-01 00:00:00.000000' "
                "WHERE processed_at IS NOT NULL"
            )
    finally:
        database.close()
    cli.json("sync")
    assert cli.json("status")["outbox"] == {"simm": {"pending": 1, "refused": 0}}


def test_every_command_taking_a_connection_refuses_one_no_configuration_names(cli_env, tmp_path) -> None:
    """A mistyped --connection is said (exit 2, with the configured names, as `sync` says it), never answered
    as an empty store or as "no issue ENG-7"; nothing is written."""
    sim, cli, _ = cli_env
    cli.json("sync")
    with sim.site.lock:
        key = sorted(sim.site.issues)[0]
    mapping = tmp_path / "m.toml"
    mapping.write_text('[[mapping]]\nname = "lab"\njira_field = "labels"\ninternal_field = "lab"\n')
    said = "no connection named 'nope'; configured: sim"
    commands: list[tuple[str, ...]] = [
        ("sync",), ("issues", "list"), ("issues", "show", key), ("sprints", "list"), ("conflicts", "list"),
        ("audit",), ("audit", "runs"), ("audit", "undo", "--key", key, "--since", "1h"),
        ("webhooks", "list"), ("local", "set", key, "summary=x"), ("local", "creations"),
        ("local", "create", "ENG", "Task", "summary=x"), ("identities", "list"), ("mapping", "list"),
        ("mapping", "show", "lab"),
        ("mapping", "export"), ("mapping", "import", str(mapping)), ("mapping", "disable", "lab"),
        ("mapping", "delete", "lab"),
    ]  # fmt: skip
    for command in commands:
        result = cli(*command, "-C", "nope")
        assert (result.exit_code, said in result.stderr) == (2, True), (command, result.output)
    for command in commands[1:6]:
        result = cli(*command, "--json", "-C", "nope")
        assert result.exit_code == 2 and json.loads(result.stdout) == {"error": said, "exit_code": 2}
    assert cli.json("issues", "list", "--dirty") == [] and cli.json("local", "creations") == []
    assert cli.json("mapping", "list") == []


def test_a_connection_no_longer_configured_stays_readable_with_what_it_synced(cli_env, tmp_path) -> None:
    """Read-only commands take a connection whose [[jira]] table was removed while the database holds its
    rows; commands that write (or ask Jira) take only configured ones."""
    sim, cli, url = cli_env
    cli.json("sync")
    with sim.site.lock:
        key = sorted(sim.site.issues)[0]
    write_config(tmp_path, sim, url, name="site")  # the connection renamed: "sim" is configured no more
    assert len(cli.json("issues", "list", "-C", "sim", "--limit", "1000")) == 30
    assert cli.json("issues", "show", key, "-C", "sim")["connection"] == "sim"
    assert cli.json("sprints", "list", "-C", "sim") and cli.json("audit", "-C", "sim", "--limit", "3")
    assert cli.json("conflicts", "list", "-C", "sim") == []
    refused = cli("local", "set", key, "summary=x", "-C", "sim")
    assert refused.exit_code == 2 and "no connection named 'sim'; configured: site" in refused.stderr
    assert cli.json("issues", "show", key, "-C", "sim")["local_dirty"] is False
    typo = cli("issues", "list", "-C", "nope")
    assert typo.exit_code == 2
    assert "no connection named 'nope'; configured: site (the database also holds sim)" in typo.stderr
