"""Undo from the audit log against the simulator, both flavors, SQLite and PostgreSQL: a bad bulk update
pushed to Jira undone by run id, a field Jira changed meanwhile left as a conflict, undo of an undo, dry
runs that write nothing, status walked back through transitions, deletions refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from jira_console.facade.undo import AuditQuery, UndoSelection
from jira_console.store import models as m
from jira_console.sync.undo import UndoError
from tests.fixtures.mappings import pull_only_summary
from tests.fixtures.simulator import in_a_closed_sprint_only

FLAVORS = ["cloud", "server"]


def _sql(engine: Any, statement: str, **params: Any) -> None:
    with engine.db.engine.begin() as conn:
        conn.execute(text(statement), params)


def _count(engine: Any, model: Any) -> int:
    with engine.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


async def _bad_bulk_update(engine: Any, sim: Any, n: int) -> tuple[list[str], dict[str, str], int]:
    """A host program's bad UPDATE of ``n`` rows, pushed by a sync: (keys, Jira's summaries before, run)."""
    await engine.run_sync(full=True)
    keys = sorted(i.key for i in engine.list_issues(limit=1000))[:n]
    before = {k: sim.issue(k)["summary"] for k in keys}
    listed = ", ".join(f"'{k}'" for k in keys)  # simulator keys: letters, digits and a dash
    _sql(engine, f"UPDATE issues SET summary = 'BROKEN ' || key WHERE key IN ({listed})")
    [report] = await engine.run_sync()
    assert report.pushed_fields == n, report
    assert all(sim.issue(k)["summary"] == f"BROKEN {k}" for k in keys)
    assert report.run_id is not None
    return keys, before, report.run_id


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_bad_bulk_update_is_undone_by_run_id(engine_factory, flavor, db_url) -> None:
    # 600 writes to Jira in all: at the default 10 requests a second this test would spend 45 s waiting on
    # the client's own rate limit, which other tests cover.
    engine, sim = await engine_factory(flavor, issues=210, conn={"rate_limit_per_second": 200})
    keys, before, run_id = await _bad_bulk_update(engine, sim, 200)
    pushed = engine.audit_log(AuditQuery(run_id=run_id, side="jira", limit=1000))
    assert len(pushed) == 200 and {e.cause for e in pushed} == {"sync"}

    # A dry run shows every write and writes nothing: not Jira, not the rows, not the log, no run.
    audit_lines, runs = _count(engine, m.AuditLog), _count(engine, m.SyncRun)
    dry = await engine.undo(UndoSelection(run_id=run_id))
    assert not dry.applied and dry.count("write") == 200 and len(dry.steps) == 200
    step = next(s for s in dry.steps if s.issue_key == keys[0])
    assert (step.side, step.field, step.value, step.current) == (
        "jira",
        "summary",
        before[keys[0]],
        f"BROKEN {keys[0]}",
    )
    assert all(sim.issue(k)["summary"] == f"BROKEN {k}" for k in keys)
    assert all(
        engine.get_issue(k).summary == f"BROKEN {k}" and not engine.get_issue(k).local_dirty for k in keys
    )
    assert (_count(engine, m.AuditLog), _count(engine, m.SyncRun)) == (audit_lines, runs)

    done = await engine.undo(UndoSelection(run_id=run_id), apply=True, actor="tester")
    assert done.applied and done.count("undone") == 200, done.counts()
    assert all(sim.issue(k)["summary"] == before[k] for k in keys)
    assert all(engine.get_issue(k).summary == before[k] for k in keys)
    [undo_run] = done.run_ids
    audited = engine.audit_log(AuditQuery(run_id=undo_run, limit=1000))
    assert len(audited) == 200
    assert {(e.cause, e.side, e.field) for e in audited} == {("undo", "jira", "summary")}
    assert {e.undo_of for e in audited} == {e.id for e in pushed}
    assert all(e.new == before[e.issue_key] and e.old == f"BROKEN {e.issue_key}" for e in audited)
    # Both sides agree afterwards: the next sync has nothing to do.
    [again] = await engine.run_sync()
    assert (again.pushed_fields, again.pulled_fields, again.conflicts) == (0, 0, 0)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_field_changed_in_jira_meanwhile_becomes_a_conflict_and_the_rest_is_undone(
    engine_factory, flavor
) -> None:
    engine, sim = await engine_factory(flavor, issues=30)
    keys, before, run_id = await _bad_bulk_update(engine, sim, 12)
    sim.edit_issue(keys[4], {"summary": "fixed by hand in Jira"})
    done = await engine.undo(UndoSelection(run_id=run_id), apply=True)
    by_key = {s.issue_key: s for s in done.steps}
    assert by_key[keys[4]].action == "conflict", by_key[keys[4]]
    assert sum(1 for s in done.steps if s.action == "undone") == 11
    assert sim.issue(keys[4])["summary"] == "fixed by hand in Jira"  # never overwritten
    [conflict] = engine.list_conflicts()
    assert (conflict.issue_key, conflict.field, conflict.jira, conflict.local) == (
        keys[4],
        "summary",
        "fixed by hand in Jira",
        before[keys[4]],
    )
    assert all(sim.issue(k)["summary"] == before[k] for k in keys if k != keys[4])
    # Taking the local side of the conflict finishes the undo.
    await engine.resolve_conflict(conflict.id, "local")
    assert sim.issue(keys[4])["summary"] == before[keys[4]]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_undo_of_an_undo_restores_the_change(engine_factory, flavor) -> None:
    engine, sim = await engine_factory(flavor, issues=20)
    keys, before, run_id = await _bad_bulk_update(engine, sim, 5)
    done = await engine.undo(UndoSelection(run_id=run_id), apply=True)
    assert all(sim.issue(k)["summary"] == before[k] for k in keys)
    redo = await engine.undo(UndoSelection(run_id=done.run_ids[0]), apply=True)
    assert redo.count("undone") == 5, redo.counts()
    assert all(sim.issue(k)["summary"] == f"BROKEN {k}" for k in keys)
    assert all(engine.get_issue(k).summary == f"BROKEN {k}" for k in keys)
    # One entry at a time works too, and undoes the redo of that issue only.
    [line] = engine.audit_log(AuditQuery(run_id=redo.run_ids[0], issue_key=keys[0]))
    assert line.cause == "undo" and line.undo_of is not None
    one = await engine.undo(UndoSelection(entry_ids=(line.id,)), apply=True)
    assert [s.action for s in one.steps] == ["undone"]
    assert sim.issue(keys[0])["summary"] == before[keys[0]]
    assert sim.issue(keys[1])["summary"] == f"BROKEN {keys[1]}"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_status_undo_walks_transitions_back(engine_factory, flavor) -> None:
    engine, sim = await engine_factory(flavor, issues=20)
    await engine.run_sync(full=True)
    key = next(i.key for i in engine.list_issues(limit=100) if sim.issue(i.key)["status"] == "To Do")
    engine.set_local(key, {"status": "Done"})
    [report] = await engine.run_sync()
    assert sim.issue(key)["status"] == "Done"
    dry = await engine.undo(UndoSelection(run_id=report.run_id))
    assert [(s.field, s.value, s.action) for s in dry.steps] == [("status", "To Do", "write")]
    done = await engine.undo(UndoSelection(run_id=report.run_id), apply=True)
    assert [s.action for s in done.steps] == ["undone"], done.steps
    assert sim.issue(key)["status"] == "To Do"
    assert engine.get_issue(key).status == "To Do"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_local_side_change_is_undone_locally_and_pushed_by_the_next_sync(
    engine_factory, flavor
) -> None:
    engine, sim = await engine_factory(flavor, issues=20)
    await engine.run_sync(full=True)
    key = engine.list_issues(limit=5)[1].key
    before = sim.issue(key)["summary"]
    sim.edit_issue(key, {"summary": "pulled from Jira"})
    [report] = await engine.run_sync()
    [line] = engine.audit_log(AuditQuery(run_id=report.run_id, issue_key=key, field="summary"))
    assert (line.side, line.cause, line.new) == ("local", "sync", "pulled from Jira")
    done = await engine.undo(UndoSelection(issue_key=key, since=line.at), apply=True)
    assert [(s.side, s.action) for s in done.steps] == [("local", "undone")]
    issue = engine.get_issue(key)
    assert issue.summary == before and issue.local_dirty
    assert sim.issue(key)["summary"] == "pulled from Jira"  # written locally only, for now
    [undo_line] = engine.audit_log(AuditQuery(run_id=done.run_ids[0]))
    assert (undo_line.side, undo_line.undo_of, undo_line.new) == ("local", line.id, before)
    await engine.run_sync()
    assert sim.issue(key)["summary"] == before


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_pull_only_field_is_not_undone_locally_its_jira_source_is(engine_factory, flavor) -> None:
    engine, sim = await engine_factory(flavor, issues=10)
    await engine.save_mapping(pull_only_summary("shout", "upper"), actor="test")
    await engine.run_sync(full=True)
    key = engine.list_issues(limit=5)[1].key
    before = sim.issue(key)["summary"]
    sim.edit_issue(key, {"summary": "pulled from Jira"})
    [report] = await engine.run_sync()
    lines = engine.audit_log(AuditQuery(run_id=report.run_id, issue_key=key))
    assert {(line.field, line.new) for line in lines} == {
        ("summary", "pulled from Jira"),
        ("shout", "PULLED FROM JIRA"),
    }
    selection = UndoSelection(issue_key=key, since=min(line.at for line in lines))
    planned = {s.field: (s.action, s.note) for s in (await engine.undo(selection)).steps}  # the dry run
    assert planned["shout"][0] == "refused" and "shout is pull-only" in planned["shout"][1]
    assert planned["summary"][0] == "write"
    done = await engine.undo(selection, apply=True)
    by_field = {s.field: s for s in done.steps}
    # The derived field would keep a value Jira does not have, pushed by nothing and pulled back by nothing.
    assert by_field["shout"].action == "refused" and "shout is pull-only" in by_field["shout"].note
    assert by_field["summary"].action == "undone"
    await engine.run_sync()  # the summary goes back to Jira, and the derived field follows it
    assert sim.issue(key)["summary"] == before
    assert engine.get_issue(key).fields["shout"] == before.upper()


async def test_a_pull_only_value_a_mapping_change_wrote_is_refused_pointing_at_the_mapping(
    engine_factory,
) -> None:
    # Undoing the back-fill of a changed mapping said "undo the change in Jira it comes from": Jira did not
    # change, the mapping did.
    engine, _sim = await engine_factory("cloud", issues=5)
    await engine.run_sync()  # the import
    note = (
        "shout is pull-only, and a mapping change wrote this value (Jira did not change): fix the mapping"
        " and import it again instead (the next sync reads every issue again with it)"
    )
    # A new mapping's first read of its field, then a changed mapping's back-fill; dry runs and an apply.
    for op, applies in (("upper", (False,)), ("lower", (False, True))):
        await engine.save_mapping(pull_only_summary("shout", op), actor="test")
        [run] = await engine.run_sync()
        assert run.backfill
        for apply in applies:
            steps = (await engine.undo(UndoSelection(run_id=run.run_id), apply=apply)).steps
            assert steps and {(s.action, s.note) for s in steps} == {("refused", note)}


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_deleted_issues_and_imports_are_refused_with_a_reason(engine_factory, flavor) -> None:
    engine, sim = await engine_factory(flavor, issues=10)
    keys, _before, run_id = await _bad_bulk_update(engine, sim, 3)
    sim.delete_issue(keys[1])
    await engine.run_sync(full=True)
    assert engine.get_issue(keys[1]).deleted
    done = await engine.undo(UndoSelection(run_id=run_id), apply=True)
    refused = [s for s in done.steps if s.action == "refused"]
    assert [s.issue_key for s in refused] == [keys[1]]
    assert "deletions are final" in refused[0].note
    imports = engine.audit_log(AuditQuery(issue_key=keys[0], limit=1000))
    first = min(imports, key=lambda e: e.id)
    assert first.field is None
    plan = await engine.undo(UndoSelection(entry_ids=(first.id,)))
    assert [s.action for s in plan.steps] == ["refused"] and "nothing to undo" in plan.steps[0].note
    with pytest.raises(UndoError, match="no audit entry #999999"):
        await engine.undo(UndoSelection(entry_ids=(999999,)))
    with pytest.raises(UndoError, match="--since"):
        await engine.undo(UndoSelection(issue_key=keys[0]))


async def test_an_attached_console_has_the_daemon_carry_out_the_undo(api_factory) -> None:
    from jira_console.facade import Engine

    rig = await api_factory(issues=6)
    await rig.synced()
    key = sorted(rig.sim.site.issues)[1]
    before = rig.sim.issue(key)["summary"]
    rig.local_edit(key, summary="bad from a host program")
    command = (await rig.client.post("/api/v1/integration/jira/sync", json={})).json()["command"]
    [report] = (await rig.command_done(command["id"]))["result"]["reports"]
    assert rig.sim.issue(key)["summary"] == "bad from a host program"
    console = Engine(rig.daemon.settings, owner="attached-console")
    await console.start(attach=True)
    try:
        assert console.mode == "attached"
        dry = await console.undo(UndoSelection(run_id=report["run_id"]))
        assert [(s.issue_key, s.action) for s in dry.steps] == [(key, "write")]
        done = await console.undo(UndoSelection(run_id=report["run_id"]), apply=True, actor="tester")
        assert [(s.issue_key, s.action) for s in done.steps] == [(key, "undone")], done.steps
        assert rig.sim.issue(key)["summary"] == before
        [line] = console.audit_log(AuditQuery(run_id=done.run_ids[0]))
        assert (line.cause, line.actor, line.new) == ("undo", "tester", before)
    finally:
        await console.stop()


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_issue_moved_since_is_undone_under_its_new_key_and_the_move_is_not(
    engine_factory, flavor
) -> None:
    from jira_console.simulator import lifecycle

    engine, sim = await engine_factory(flavor, issues=20)
    await engine.run_sync(full=True)
    key = sorted(i.key for i in engine.list_issues(limit=100) if i.key.startswith("ENG-"))[0]
    before = sim.issue(key)["summary"]
    engine.set_local(key, {"summary": "bad"})
    [report] = await engine.run_sync()
    new_key = lifecycle.move_issue(sim.site, key, "OPS", "other")
    [moved_run] = await engine.run_sync(full=True)
    assert engine.get_issue(new_key) is not None and engine.get_issue(new_key).summary == "bad"
    done = await engine.undo(UndoSelection(run_id=report.run_id), apply=True)
    assert [(s.issue_key, s.action) for s in done.steps] == [(new_key, "undone")], done.steps
    assert sim.issue(new_key)["summary"] == before
    [move] = [
        a
        for a in engine.audit_log(AuditQuery(issue_key=new_key))
        if (a.reason or "").startswith("moved in Jira")
    ]
    refused = await engine.undo(UndoSelection(entry_ids=(move.id,)), apply=True)
    assert [s.action for s in refused.steps] == ["refused"] and "move the issue back" in refused.steps[0].note
    assert moved_run.run_id == move.run_id


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_local_edit_made_since_is_left_alone_and_not_pushed_by_the_undo(
    engine_factory, flavor
) -> None:
    engine, sim = await engine_factory(flavor, issues=10)
    keys, before, run_id = await _bad_bulk_update(engine, sim, 3)
    _sql(engine, "UPDATE issues SET summary = 'edited again by the host' WHERE key = :k", k=keys[0])
    done = await engine.undo(UndoSelection(run_id=run_id), apply=True)
    by_key = {s.issue_key: s for s in done.steps}
    assert by_key[keys[0]].action == "conflict" and "changed locally since" in by_key[keys[0]].note
    assert [by_key[k].action for k in keys[1:]] == ["undone", "undone"]
    assert sim.issue(keys[0])["summary"] == f"BROKEN {keys[0]}"  # the undo sent nothing for it
    assert engine.get_issue(keys[0]).summary == "edited again by the host"
    assert all(sim.issue(k)["summary"] == before[k] for k in keys[1:])


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_undo_jira_refuses_changes_nothing_and_is_not_taken_for_done_when_run_again(
    engine_factory, flavor
) -> None:
    # A user's report: an issue of a closed sprint moved to the active one and pushed; undoing that asks
    # Jira to move it back into the closed sprint, which Jira refuses. The local copy went to the closed
    # sprint anyway, and the second undo compared with that copy and said "Jira already holds the value
    # before" (exit 0). The summary is the same with an ordinary field: Jira's validator refuses the long
    # summary the issue held (written behind the REST API's back, as an import would).
    engine, sim = await engine_factory(flavor, issues=40)
    key, active = in_a_closed_sprint_only(sim)
    long_summary = "x" * 300
    sim.site.commit(sim.site.find(key), {"summary": long_summary}, "importer")
    await engine.run_sync(full=True)
    closed = engine.get_issue(key).sprint_id
    engine.set_local(key, {"sprint_id": active, "summary": "short"})
    [pushed] = await engine.run_sync()
    assert pushed.pushed_fields == 2 and sim.issue(key)["summary"] == "short"
    in_jira = sim.issue(key)["sprints"]
    assert in_jira == [closed, active]
    before = engine.get_issue(key)

    for attempt in (1, 2):
        done = await engine.undo(UndoSelection(run_id=pushed.run_id), apply=True)
        by_field = {s.field: s for s in done.steps}
        assert {f: s.action for f, s in by_field.items()} == {"sprint_id": "failed", "summary": "failed"}, (
            attempt,
            done.steps,
        )
        # Jira, the local copy and its bookkeeping are as they were: no refused value parked on the issue.
        assert (sim.issue(key)["sprints"], sim.issue(key)["summary"]) == (in_jira, "short")
        now = engine.get_issue(key)
        assert (now.sprint_id, now.summary, now.local_dirty) == (active, "short", False), attempt
        assert now.local_changed_at == before.local_changed_at
        assert engine.field_errors(issue_id=now.id) == []
        assert engine.audit_log(AuditQuery(run_id=done.run_ids[0])) == []
        assert (
            "closed sprint" in by_field["sprint_id"].note
            and "nothing was changed" in by_field["sprint_id"].note
        )
        assert "255" in by_field["summary"].note
        [run] = [r for r, _n in engine.sync_runs(changed_only=False) if r.id == done.run_ids[0]]
        assert run.status == "partial"
    [after] = await engine.run_sync()
    assert (after.pushed_fields, after.pulled_fields, after.conflicts) == (0, 0, 0)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_already_as_before_is_read_from_jira_not_from_the_last_sync(engine_factory, flavor) -> None:
    engine, sim = await engine_factory(flavor, issues=10)
    keys, before, run_id = await _bad_bulk_update(engine, sim, 1)
    sim.edit_issue(keys[0], {"summary": before[keys[0]]})  # put back by hand in Jira, and synced
    await engine.run_sync()
    assert engine.get_issue(keys[0]).summary == before[keys[0]]
    sim.edit_issue(keys[0], {"summary": "changed again in Jira"})  # not synced yet
    dry = await engine.undo(UndoSelection(run_id=run_id))
    assert [s.action for s in dry.steps] == ["skip"]  # as last synced (a dry run does not read Jira)
    done = await engine.undo(UndoSelection(run_id=run_id), apply=True)
    [step] = done.steps
    assert (step.action, step.current) == ("conflict", "changed again in Jira"), step
    assert "sync, then undo again" in step.note
    assert sim.issue(keys[0])["summary"] == "changed again in Jira"
    assert engine.get_issue(keys[0]).summary == before[keys[0]] and not engine.get_issue(keys[0]).local_dirty


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_value_jira_refused_before_is_asked_for_again_not_taken_for_done(
    engine_factory, flavor
) -> None:
    # The state the user's first undo left behind: the local copy holds the closed sprint, parked as a value
    # Jira refused, while Jira holds the active one. The undo sent nothing (parked) and, not having written,
    # called the step "Jira already holds the value before".
    engine, sim = await engine_factory(flavor, issues=40)
    key, active = in_a_closed_sprint_only(sim)
    await engine.run_sync(full=True)
    closed = engine.get_issue(key).sprint_id
    engine.set_local(key, {"sprint_id": active})
    [pushed] = await engine.run_sync()
    engine.set_local(key, {"sprint_id": closed})
    [refused] = await engine.run_sync()
    assert refused.refused_fields == 1 and engine.get_issue(key).sprint_id == closed
    [parked] = engine.field_errors(issue_id=engine.get_issue(key).id)
    done = await engine.undo(UndoSelection(run_id=pushed.run_id), apply=True)
    [step] = done.steps
    assert step.action == "failed" and "closed sprint" in step.note, step
    assert sim.issue(key)["sprints"] == [closed, active]
    assert engine.get_issue(key).sprint_id == closed  # as it was before this undo
    assert engine.field_errors(issue_id=engine.get_issue(key).id) == [parked]


def _writes_time_out(sim: Any, monkeypatch: Any, keys: set[str]) -> None:
    """Jira does not answer the edits of ``keys`` in time (the simulator's timeout fault, a 504 after the
    wait, for those requests only), until ``keys`` is emptied."""
    from jira_console.jira import JiraClient

    edit_issue = JiraClient.edit_issue

    async def edit(client: Any, key: str, **kwargs: Any) -> None:
        if key in keys:
            sim.faults.set(timeout_rate=1.0, timeout_seconds=0.1)
        try:
            await edit_issue(client, key, **kwargs)
        finally:
            sim.faults.clear()

    monkeypatch.setattr(JiraClient, "edit_issue", edit)


@pytest.mark.parametrize(
    ("flavor", "strategy"), [("cloud", "local_wins"), ("server", "local_wins"), ("cloud", "jira_wins")]
)
async def test_an_undo_jira_did_not_answer_is_retried_by_the_next_sync_without_overwriting(
    engine_factory, flavor, strategy, monkeypatch
) -> None:
    # The undo's write waits for the next sync, which used to push it under the connection's strategy: with
    # local_wins it overwrote what someone wrote in Jira meanwhile, with jira_wins it dropped the undo unsaid.
    conn = {"conflict_strategy": strategy, "max_attempts": 2, "backoff_base_seconds": 0.01}
    engine, sim = await engine_factory(flavor, issues=10, conn=conn)
    # The bad update is pushed ten minutes before the undo (by Jira's clock): older than the slack the crash
    # window gives our own writes, so a later edit in Jira is not taken for one made after a write of ours.
    sim.site.lifecycle.step_clock(-600_000)
    keys, before, run_id = await _bad_bulk_update(engine, sim, 2)
    sim.site.lifecycle.step_clock(600_000)
    timing_out = set(keys)
    _writes_time_out(sim, monkeypatch, timing_out)
    done = await engine.undo(UndoSelection(run_id=run_id), apply=True)
    assert [s.action for s in done.steps] == ["failed", "failed"], done.steps
    assert all("the next sync retries" in s.note for s in done.steps), done.steps
    assert all(sim.issue(k)["summary"] == f"BROKEN {k}" for k in keys)
    timing_out.clear()
    edited, untouched = keys
    sim.edit_issue(edited, {"summary": "fixed by hand in Jira"})
    [report] = await engine.run_sync()
    assert report.conflicts == 1, report
    assert sim.issue(edited)["summary"] == "fixed by hand in Jira"  # never overwritten
    [conflict] = engine.list_conflicts()
    assert (conflict.issue_key, conflict.field, conflict.jira, conflict.local) == (
        edited,
        "summary",
        "fixed by hand in Jira",
        before[edited],
    )
    await engine.run_sync()  # each sync finds the conflict again, and leaves Jira's value alone
    assert sim.issue(edited)["summary"] == "fixed by hand in Jira" and len(engine.list_conflicts()) == 1
    await engine.resolve_conflict(conflict.id, "local")  # taking the local side finishes the undo
    assert sim.issue(edited)["summary"] == before[edited]
    assert sim.issue(untouched)["summary"] == before[untouched]  # nothing changed in Jira: the retry lands
    assert not engine.get_issue(untouched).local_dirty
    # Once the undo is written, the issue's later changes follow the connection's strategy again.
    engine.set_local(untouched, {"summary": "mine"})
    sim.edit_issue(untouched, {"summary": "theirs"})
    await engine.run_sync()
    wins = "mine" if strategy == "local_wins" else "theirs"
    assert (sim.issue(untouched)["summary"], engine.get_issue(untouched).summary) == (wins, wins)


def test_an_undo_by_key_that_names_issues_of_two_sites_asks_which(db) -> None:
    # A Cloud and a Server site both have an OPS-101: `audit undo --key OPS-101 --since 1h` reversed both
    # issues' changes, the other site's too.
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from jira_console.sync.undo import select_entries

    now = datetime.now(UTC)
    with db.session(write=True) as s:
        for connection in ("cld", "srv"):
            line = {"at": now, "connection": connection, "issue_key": "OPS-101", "side": "jira"}
            s.execute(insert(m.AuditLog).values(**line, field="summary", old="a", new="b", reason="push"))
    since = now - timedelta(hours=1)
    with db.session() as s:
        with pytest.raises(UndoError) as info:
            select_entries(s, UndoSelection(issue_key="OPS-101", since=since))
        assert str(info.value) == (
            "OPS-101 names an issue of each of several connections (cld, srv): "
            'say which one (--connection; "connection" in the API)'
        )
        one = select_entries(s, UndoSelection(issue_key="OPS-101", since=since, connection="srv"))
    assert [e.connection for e in one] == ["srv"]
