"""``sprints list`` and ``issues list --sprint``, end to end against a served Server
simulator, on SQLite and PostgreSQL: the counts are checked against the stored issues and the sprints
against the simulator's own."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from jira_console.simulator.model import STATUS_BY_NAME
from jira_console.store import Database
from tests.test_cli import Cli, write_config


@pytest.fixture
def synced(sim_factory, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sim = sim_factory("server", issues=80)
    monkeypatch.setenv("JIRA_SIM_TOKEN", sim.credentials["basic"][1])
    monkeypatch.delenv("JIRA_CONSOLE_CONFIG", raising=False)
    cli = Cli(write_config(tmp_path, sim, db_url, name="dc"))
    assert cli.json("sync")[0]["status"] == "ok"
    return sim, cli, db_url


def _stored(db_url: str) -> list[dict[str, Any]]:
    with Database(db_url) as db, db.session() as s:
        rows = s.execute(text("SELECT key, sprint_id, story_points, status, deleted FROM issues"))
        return [dict(r._mapping) for r in rows]


def test_sprints_list_counts_each_sprints_issues_done_issues_and_points(synced) -> None:
    sim, cli, db_url = synced
    listed = cli.json("sprints", "list")
    with sim.site.lock:
        site_sprints = {sp.id: (sp.name, sp.state, sp.board_id) for sp in sim.site.sprints.values()}
        done_keys = {
            i.key for i in sim.site.issues.values() if STATUS_BY_NAME[i.status].category_key == "done"
        }
    assert {x["id"]: (x["name"], x["state"], x["board"]) for x in listed} == site_sprints
    expected: dict[int, list[Any]] = defaultdict(lambda: [0, 0, None])
    for row in _stored(db_url):
        if row["sprint_id"] is None or row["deleted"]:
            continue
        entry = expected[row["sprint_id"]]
        entry[0] += 1
        entry[1] += row["key"] in done_keys
        if row["story_points"] is not None:
            entry[2] = (entry[2] or 0) + row["story_points"]
    got = {x["id"]: [x["issues"], x["done"], x["points"]] for x in listed}
    assert got == {sid: expected.get(sid, [0, 0, None]) for sid in site_sprints}
    assert sum(x["issues"] for x in listed) > 0 and sum(x["done"] for x in listed) > 0
    # Started sprints by start date, those not started after them.
    starts = [x["start"] for x in listed]
    started = [s for s in starts if s is not None]
    assert started == sorted(started) and starts == started + [None] * (len(starts) - len(started))

    active = cli.json("sprints", "list", "--state", "active")
    assert active and {x["state"] for x in active} == {"active"}
    board = listed[0]["board"]
    assert {x["board"] for x in cli.json("sprints", "list", "--board", str(board))} == {board}
    bad = cli("sprints", "list", "--state", "running")
    assert bad.exit_code == 2 and "active, future, closed" in bad.stderr


def test_a_deleted_issue_leaves_its_sprints_counts_and_a_sprint_without_points_has_none(synced) -> None:
    _sim, cli, db_url = synced
    before = {x["id"]: x for x in cli.json("sprints", "list")}
    sprint = next(x for x in before.values() if x["issues"] >= 2)
    with Database(db_url) as db, db.session(write=True) as s:
        key = s.execute(
            text("SELECT key FROM issues WHERE sprint_id = :s ORDER BY key LIMIT 1"), {"s": sprint["id"]}
        ).scalar_one()
        s.execute(text("UPDATE issues SET deleted = true WHERE key = :k"), {"k": key})
        s.execute(text("UPDATE issues SET story_points = NULL WHERE sprint_id = :s"), {"s": sprint["id"]})
    after = {x["id"]: x for x in cli.json("sprints", "list")}
    assert after[sprint["id"]]["issues"] == sprint["issues"] - 1
    assert after[sprint["id"]]["points"] is None
    assert {k: v for k, v in after.items() if k != sprint["id"]} == {
        k: v for k, v in before.items() if k != sprint["id"]
    }


def test_sprints_list_in_text_names_each_sprint_with_its_dates(synced) -> None:
    sim, cli, _ = synced
    lines = cli("sprints", "list").stdout.splitlines()
    assert lines[0].split() == ["id", "state", "name", "start", "end", "issues", "done", "points", "board"]
    with sim.site.lock:
        active = next(sp for sp in sim.site.sprints.values() if sp.state == "active")
    line = next(line for line in lines[1:] if line.split()[0] == str(active.id))
    assert active.name in line and "active" in line
    typo = cli("sprints", "list", "--connection", "nope", "--json")
    assert (
        typo.exit_code == 2 and "no connection named 'nope'; configured: " in json.loads(typo.stdout)["error"]
    )
    assert cli("sprints", "list", "--board", "999").stdout.strip() == "no sprints match"


def test_issues_list_by_sprint_id_or_name(synced) -> None:
    sim, cli, db_url = synced
    stored = [r for r in _stored(db_url) if not r["deleted"]]
    listed = cli.json("sprints", "list")
    sprint = max(listed, key=lambda x: x["issues"])
    members = sorted(r["key"] for r in stored if r["sprint_id"] == sprint["id"])
    by_id = [i["key"] for i in cli.json("issues", "list", "--sprint", str(sprint["id"]), "--limit", "1000")]
    assert sorted(by_id) == members and len(members) == sprint["issues"]
    by_name = cli.json("issues", "list", "--sprint", sprint["name"].upper(), "--limit", "1000")
    assert sorted(i["key"] for i in by_name) == members
    assert {i["sprint"] for i in by_name} == {sprint["id"]}

    missing = cli("issues", "list", "--sprint", "No Such Sprint")
    assert missing.exit_code == 3 and "no sprint 'No Such Sprint'" in missing.stderr


def test_a_sprint_name_two_sprints_share_asks_for_the_id(synced) -> None:
    _sim, cli, db_url = synced
    first, second = cli.json("sprints", "list")[:2]
    with Database(db_url) as db, db.session(write=True) as s:
        s.execute(
            text("UPDATE sprints SET name = 'Shared' WHERE jira_id IN (:a, :b)"),
            {"a": first["id"], "b": second["id"]},
        )
    result = cli("issues", "list", "--sprint", "shared")
    assert result.exit_code == 2
    assert f"dc {first['id']}" in result.stderr and f"dc {second['id']}" in result.stderr
    assert "give its id" in result.stderr


def test_a_sprint_several_sprints_answer_to_is_refused_naming_each_with_its_board_and_connection(
    synced,
) -> None:
    # Two boards with a sprint of the same name, and another connection whose sprint has that name and the
    # same Jira id (a board not read yet): no guess, and no hint that would not pick one.
    _sim, cli, db_url = synced
    listed = cli.json("sprints", "list")
    eng = listed[0]
    ops = next(x for x in listed if x["board"] != eng["board"])
    with Database(db_url) as db, db.session(write=True) as s:
        s.execute(
            text("UPDATE sprints SET name = 'Shared' WHERE jira_id IN (:a, :b)"),
            {"a": eng["id"], "b": ops["id"]},
        )
        s.execute(
            text(
                "INSERT INTO sprints (connection, jira_id, board_jira_id, name, state)"
                " VALUES ('cloud', :a, 77, 'Shared', 'active')"
            ),
            {"a": eng["id"]},
        )
    in_dc = [
        f"  dc {eng['id']}: board {eng['board']} (ENG board), {eng['state']}",
        f"  dc {ops['id']}: board {ops['board']} (OPS board), {ops['state']}",
    ]
    in_cloud = f"  cloud {eng['id']}: board 77, active"
    by_name = cli("issues", "list", "--sprint", "shared")
    assert (by_name.exit_code, by_name.stdout) == (2, "")
    assert by_name.stderr.splitlines() == [
        "error: 'shared' names 3 sprints (give its id and pass --connection):",
        in_cloud,
        *in_dc,
    ]
    by_id = cli("issues", "list", "--sprint", str(eng["id"]))
    assert by_id.exit_code == 2
    assert by_id.stderr.splitlines() == [
        f"error: '{eng['id']}' names 2 sprints (pass --connection):",
        in_cloud,
        in_dc[0],
    ]
    one_connection = cli("issues", "list", "--sprint", "Shared", "--connection", "dc")
    assert one_connection.exit_code == 2
    assert one_connection.stderr.splitlines() == ["error: 'Shared' names 2 sprints (give its id):", *in_dc]
    as_json = cli("issues", "list", "--sprint", "shared", "--json")
    assert as_json.exit_code == 2 and json.loads(as_json.stdout)["exit_code"] == 2
    assert as_json.stdout.count("board 77") == 1
    picked = cli.json("issues", "list", "--sprint", str(eng["id"]), "--connection", "dc")
    assert picked and {i["sprint"] for i in picked} == {eng["id"]}


def test_local_set_takes_a_sprint_by_name_and_the_push_moves_the_issue_there(synced) -> None:
    sim, cli, db_url = synced
    with sim.site.lock:
        target = next(sp for sp in sim.site.sprints.values() if sp.state == "future")
        key = next(i.key for i in sim.site.issues.values() if target.id not in i.sprints)
    done = cli("local", "set", key, f"sprint_id={target.name.lower()}", "--push")
    assert done.exit_code == 0, done.stderr
    assert cli.json("issues", "show", key)["sprint"] == target.id
    with sim.site.lock:
        assert target.id in sim.site.issues[key].sprints  # Jira has it in that sprint now

    unknown = cli("local", "set", key, "sprint_id=No Such Sprint")
    assert unknown.exit_code == 2 and "no sprint named 'No Such Sprint' in dc" in unknown.stderr
    first, second = cli.json("sprints", "list")[:2]
    with Database(db_url) as db, db.session(write=True) as s:
        s.execute(
            text("UPDATE sprints SET name = 'Twice' WHERE jira_id IN (:a, :b)"),
            {"a": first["id"], "b": second["id"]},
        )
    twice = cli("local", "set", key, "sprint_id=Twice")
    assert twice.exit_code == 2 and "names 2 sprints of dc" in twice.stderr and "give the id" in twice.stderr
    assert cli.json("issues", "show", key)["sprint"] == target.id  # nothing was written by the refusals


def test_a_host_programs_outbox_row_may_name_its_sprint(synced) -> None:
    sim, cli, db_url = synced
    with sim.site.lock:
        target = next(sp for sp in sim.site.sprints.values() if sp.state == "future")
        first, second = sorted(i.key for i in sim.site.issues.values() if target.id not in i.sprints)[:2]
    with Database(db_url) as db, db.engine.begin() as conn:
        for key, value in ((first, json.dumps(target.name)), (second, '"No Such Sprint"')):
            conn.execute(
                text(
                    "INSERT INTO local_changes (connection, issue_key, field, value) "
                    "VALUES ('dc', :k, 'sprint_id', :v)"
                ),
                {"k": key, "v": value},
            )
    assert cli.json("sync")[0]["status"] == "ok"
    with sim.site.lock:
        assert target.id in sim.site.issues[first].sprints
        assert target.id not in sim.site.issues[second].sprints
    with Database(db_url) as db, db.session() as s:
        errors = dict(s.execute(text("SELECT issue_key, error FROM local_changes")).all())
    assert errors[first] is None
    assert errors[second] == "no sprint named 'No Such Sprint' in dc (sprints list shows them)"


def test_audit_names_the_sprints_and_people_its_values_are(synced) -> None:
    sim, cli, _ = synced
    with sim.site.lock:
        target = next(sp for sp in sim.site.sprints.values() if sp.state == "future")
        issue = next(i for i in sim.site.issues.values() if target.id not in i.sprints and i.assignee)
        key, before = issue.key, cli.json("issues", "show", issue.key)
        person = next(u for u in sim.site.users if u.name != issue.assignee and u.active)
    assert (
        cli("local", "set", key, f"sprint_id={target.id}", f"assignee={person.name}", "--push").exit_code == 0
    )
    lines = cli("audit", "--key", key, "--side", "jira").stdout.splitlines()
    sprint_line = next(line for line in lines if " sprint_id " in line)
    old = f'{before["sprint"]} ("{before["sprint_name"]}")' if before["sprint"] is not None else "null"
    assert f'sprint_id {old} -> {target.id} ("{target.name}")' in sprint_line, sprint_line
    person_line = next(line for line in lines if " assignee " in line)
    assert f'-> "{person.name}" ("{person.display_name}")' in person_line, person_line
    assert all("(" not in json.dumps(a["new"]) for a in cli.json("audit", "--key", key))  # JSON: values only
