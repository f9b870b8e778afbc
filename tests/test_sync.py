"""Two-way sync against the simulator, both flavors, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from jira_console import events as ev
from jira_console.store import models as m
from jira_console.store import outbox
from jira_console.sync import conflicts as cf
from jira_console.sync import push as sync_push
from jira_console.sync.engine import SyncEngine
from jira_console.sync.jql import bounded_jql, scope_filter

FLAVORS = ["cloud", "server"]


def test_jql_bounds_use_epoch_ms_and_strip_order_by() -> None:
    assert scope_filter("project in (ENG) ORDER BY rank") == "project in (ENG)"
    assert bounded_jql("project = ENG order by created", 1738332300000) == (
        "(project = ENG) AND updated >= 1738332300000 ORDER BY updated ASC, key ASC"
    )
    assert bounded_jql("order by updated", None) == "updated >= 946684800000 ORDER BY updated ASC, key ASC"


def _all_sim_keys(sim) -> list[str]:
    with sim.site.lock:
        return sorted(sim.site.issues)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_full_sync_imports_everything_with_fields(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=120, max_page_size=25)
    report = await rig.engine.run(full=True)
    assert report.created == 120 and report.status == "ok"
    assert report.pages >= 120 // 25
    for key in _all_sim_keys(rig.sim)[:30]:
        canonical = rig.sim.issue(key)
        local = rig.local(key)
        assert local["summary"] == canonical["summary"]
        assert local["status"] == canonical["status"]
        assert local["story_points"] == canonical["story_points"]
        expected_sprint = canonical["sprints"][-1] if canonical["sprints"] else None
        if expected_sprint is None:
            assert local["sprint_id"] is None
        else:
            assert local["sprint_id"] is not None


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_incremental_pull_takes_remote_edit_and_audits(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _all_sim_keys(rig.sim)[3]
    rig.sim.edit_issue(key, {"summary": "Changed in Jira"})
    report = await rig.engine.run()
    assert report.pulled_fields >= 1
    assert rig.local(key)["summary"] == "Changed in Jira"
    from jira_console.store import repo

    with rig.db.session() as s:
        entries = repo.list_audit(s, issue_key=key)
    assert any(e.field == "summary" and e.new == "Changed in Jira" and e.side == "local" for e in entries)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_raw_sql_local_edit_is_pushed_without_echo(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _all_sim_keys(rig.sim)[5]
    rig.sql("UPDATE issues SET summary = :s WHERE key = :k", s="Edited by host program", k=key)
    assert rig.local(key)["local_dirty"] is True
    report = await rig.engine.run()
    assert report.pushed_fields == 1
    assert rig.sim.issue(key)["summary"] == "Edited by host program"
    assert rig.local(key)["local_dirty"] is False
    again = await rig.engine.run()
    assert (again.pulled_fields, again.pushed_fields, again.conflicts, again.updated) == (0, 0, 0, 0)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_concurrent_edits_converge_and_conflicts_only_where_both_changed(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    k1, k2 = _all_sim_keys(rig.sim)[7:9]
    before = rig.sim.issue(k1)["summary"]
    # k1: both sides change summary differently -> conflict; k1 labels only local -> pushed
    rig.sql("UPDATE issues SET summary = 'local summary', labels = :l WHERE key = :k", l='["x-local"]', k=k1)
    rig.sim.edit_issue(k1, {"summary": "jira summary"})
    # k2: different fields on each side -> both survive
    rig.sql("UPDATE issues SET story_points = 13 WHERE key = :k", k=k2)
    rig.sim.edit_issue(k2, {"summary": "k2 from jira"})
    seen: list[Any] = []
    report = await SyncEngine(rig.db, rig.engine.conn, rig.client, emit=seen.append).run()
    # The pull opens the conflict and the push's fresh compare meets it again: one conflict, counted and
    # announced once.
    assert report.conflicts == 1
    assert [(e.issue_key, e.field) for e in seen if isinstance(e, ev.ConflictDetected)] == [(k1, "summary")]
    with rig.db.session() as s:
        open_conflicts = s.query(m.Conflict).filter_by(status="open").all()
    assert [(c.issue_key, c.field) for c in open_conflicts] == [(k1, "summary")]
    assert rig.sim.issue(k1)["summary"] == "jira summary" != before  # not overwritten
    assert rig.local(k1)["summary"] == "local summary"  # not overwritten
    assert rig.sim.issue(k1)["labels"] == ["x-local"]
    assert rig.sim.issue(k2)["story_points"] == 13 and rig.local(k2)["summary"] == "k2 from jira"
    # Resolve: take local -> pushed and audited.
    with rig.db.session(write=True) as s:
        cf.resolve(s, open_conflicts[0].id, "local", actor="test")
    await rig.engine.run()
    assert rig.sim.issue(k1)["summary"] == "local summary"
    assert rig.local(k1)["local_dirty"] is False


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_status_through_transitions_and_sprint_moves(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = next(k for k in _all_sim_keys(rig.sim) if rig.sim.issue(k)["status"] == "To Do")
    with rig.sim.site.lock:
        open_sprints = [s.id for s in rig.sim.site.sprints.values() if s.state in ("active", "future")]
    target = open_sprints[0]
    rig.sql("UPDATE issues SET status = 'Done', sprint_id = :sp WHERE key = :k", sp=target, k=key)
    report = await rig.engine.run()
    assert report.pushed_fields == 2, report
    assert rig.sim.issue(key)["status"] == "Done"
    assert target in rig.sim.issue(key)["sprints"]
    rig.sql("UPDATE issues SET sprint_id = NULL WHERE key = :k", k=key)
    await rig.engine.run()
    assert target not in rig.sim.issue(key)["sprints"]
    assert rig.sim.violations == []


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_refused_write_is_parked_as_field_error_and_kept(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _all_sim_keys(rig.sim)[2]
    rig.sql("UPDATE issues SET priority = 'NoSuchPriority' WHERE key = :k", k=key)
    await rig.engine.run()
    assert rig.local(key)["priority"] == "NoSuchPriority"  # nothing lost
    from jira_console.store import repo

    with rig.db.session() as s:
        errors = repo.list_field_errors(s, connection=rig.engine.conn.name)
    assert any(e.field == "priority" for e in errors)


@pytest.mark.timing
@pytest.mark.parametrize("flavor", FLAVORS)
async def test_ties_and_edits_during_paging_are_not_missed(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=150, max_page_size=10, tie_fraction=0.8)
    rig.sim.start_activity(40)
    try:
        await rig.engine.run(full=True)
        await rig.engine.run()
    finally:
        rig.sim.stop_activity()
    await rig.engine.run()  # one quiet pass after the activity stops
    mismatched = [
        k
        for k in _all_sim_keys(rig.sim)
        if rig.sim.issue(k)["summary"] != rig.local(k)["summary"]
        or rig.sim.issue(k)["status"] != rig.local(k)["status"]
    ]
    assert mismatched == []


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_outbox_and_deletion_reconcile(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    keys = _all_sim_keys(rig.sim)
    rig.sql(
        "INSERT INTO local_changes (connection, issue_key, field, value, created_at) "
        "VALUES (:c, :k, 'summary', :v, CURRENT_TIMESTAMP)",
        c=rig.engine.conn.name,
        k=keys[0],
        v='"from the outbox"',
    )
    rig.sim.delete_issue(keys[1])
    report = await rig.engine.run(full=True)
    assert rig.sim.issue(keys[0])["summary"] == "from the outbox"
    assert report.deleted == 1 and rig.local(keys[1])["deleted"] is True


async def test_an_outbox_row_for_an_issue_deleted_in_jira_says_so_on_the_row(rig_factory) -> None:
    """A host program checks ``error`` on its rows: one for an issue Jira deleted was taken without an error,
    as if it would reach Jira, while nothing could ever be sent."""
    rig = await rig_factory("server")
    await rig.engine.run(full=True)
    gone, kept = _all_sim_keys(rig.sim)[:2]
    rig.sim.delete_issue(gone)
    await rig.engine.run(full=True)
    assert rig.local(gone)["deleted"] is True
    before = rig.local(gone)["summary"]
    for key in (gone, kept):
        rig.sql(
            "INSERT INTO local_changes (connection, issue_key, field, value) VALUES (:c, :k, 'summary', :v)",
            c=rig.engine.conn.name, k=key, v=f'"outbox {key}"',
        )  # fmt: skip
    report = await rig.engine.run()
    assert report.status == "ok", report.errors
    with rig.db.session() as s:
        errors = {c.issue_key: c.error for c in outbox.list_local_changes(s)}
    assert errors[kept] is None and rig.sim.issue(kept)["summary"] == f"outbox {kept}"
    assert errors[gone] == (
        f"issue {gone!r} is marked deleted (deleted in Jira, no longer visible to the connection's account, "
        "or outside its JQL): nothing is sent to it; `jira-console issues show KEY` says why"
    )
    assert (rig.local(gone)["summary"], rig.local(gone)["local_dirty"]) == (before, False)


async def test_an_outbox_row_the_column_cannot_hold_is_refused_on_its_own(rig_factory) -> None:
    """One host program's bad value must not stop the connection's sync (PostgreSQL refused the whole
    transaction) nor be kept as given (SQLite): the row says why, the good rows around it go through."""
    rig = await rig_factory("server")
    await rig.engine.run(full=True)
    first, second = _all_sim_keys(rig.sim)[:2]
    for key, name, value in (
        (first, "summary", '"good, before"'),
        (first, "story_points", '"abc"'),
        (second, "labels", '"not a list"'),
        (second, "status", '"%s"' % ("x" * 200)),
        # Values the columns hold but Jira refuses on every site: said at intake, not found at the push.
        (first, "summary", '"  "'),
        (second, "labels", '["two words"]'),
        (second, "summary", '"good, after"'),
    ):
        rig.sql(
            "INSERT INTO local_changes (connection, issue_key, field, value, created_at) "
            "VALUES (:c, :k, :f, :v, CURRENT_TIMESTAMP)",
            c=rig.engine.conn.name, k=key, f=name, v=value,
        )  # fmt: skip
    report = await rig.engine.run()
    assert report.status == "ok", report.errors
    assert rig.sim.issue(first)["summary"] == "good, before"
    assert rig.sim.issue(second)["summary"] == "good, after"
    assert rig.local(first)["story_points"] != "abc" and isinstance(rig.local(second)["labels"], list)
    with rig.db.session() as s:
        newest_first = outbox.list_local_changes(s)
        errors = [(c.field, c.error) for c in reversed(newest_first) if c.error]
    assert errors == [
        ("story_points", 'story_points takes a finite number, not "abc"'),
        ("labels", 'labels holds a list of texts (JSON: ["a", "b"]), not "not a list"'),
        ("status", "status holds at most 128 characters, not 200"),
        ("summary", "summary cannot be empty: Jira requires one"),
        ("labels", 'labels must each be a word without spaces (JSON: ["a", "b"]), not ["two words"]'),
    ]


async def test_an_outbox_row_the_engine_cannot_read_is_refused_on_its_own(rig_factory) -> None:
    """PostgreSQL's JSONB keeps 1e400 (beyond a float) and SQLite before the guards kept any text: reading
    such a row failed the read of every pending row, and every run of the connection, with a hint in SQLite's
    SQL about the issues table. Now that row says why and the others go through."""
    rig = await rig_factory("server")
    await rig.engine.run(full=True)
    if rig.db.dialect == "sqlite":  # the guards, as an older schema lacked them
        rig.sql("DROP TRIGGER local_changes_guard_value_insert")
    else:
        rig.sql("ALTER TABLE local_changes DISABLE TRIGGER USER")
    keys = _all_sim_keys(rig.sim)[:5]
    # SQLite stores 1e400 as an infinity, its text "Inf": not JSON either.
    rows = [(keys[0], "story_points", "1e400" if rig.db.dialect == "postgresql" else "not JSON")]
    rows += [(key, "summary", f'"outbox {n}"') for n, key in enumerate(keys[1:])]
    for key, name, value in rows:
        rig.sql(
            "INSERT INTO local_changes (connection, issue_key, field, value) VALUES (:c, :k, :f, :v)",
            c=rig.engine.conn.name, k=key, f=name, v=value,
        )  # fmt: skip
    report = await rig.engine.run()
    assert report.status == "ok", report.errors
    assert [rig.sim.issue(key)["summary"] for key in keys[1:]] == [f"outbox {n}" for n in range(4)]
    with rig.db.session() as s:
        taken = list(reversed(outbox.list_local_changes(s)))
    assert all(c.processed_at is not None for c in taken)
    [error] = [c.error for c in taken if c.error]
    assert error == (
        "story_points takes a finite number, not a number beyond ±1.8e308"  # read as a 400-digit integer
        if rig.db.dialect == "postgresql"
        else "local_changes.value is not JSON text (written before migration 0010?)"
    )
    assert rig.local(keys[0])["story_points"] == rig.sim.issue(keys[0])["story_points"]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_webhook_batch_keeps_the_newest_version_whatever_the_order(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _all_sim_keys(rig.sim)[6]
    versions = []
    for text in ("first webhook", "second webhook"):
        rig.sim.edit_issue(key, {"summary": text})
        # Webhook bodies carry the v2 representation, on Cloud too.
        versions.append((await rig.client.request("GET", f"/rest/api/2/issue/{key}")).json())
    changelog = {"items": [{"field": "summary", "fieldId": "summary"}]}
    newest_first = [(versions[1], changelog), (versions[0], changelog)]
    statuses = await rig.engine.apply_remote_issues(newest_first)
    assert statuses == ["applied", "stale"]
    assert rig.local(key)["summary"] == "second webhook"
    assert await rig.engine.apply_remote_issues([(versions[1], changelog)]) == ["ignored"]
    # A Cloud change to the description cannot be read from a v2 body: the issue is fetched instead.
    rig.sim.edit_issue(key, {"description": "new *text*"})
    body = (await rig.client.request("GET", f"/rest/api/2/issue/{key}")).json()
    before = rig.client.api_calls
    [status] = await rig.engine.apply_remote_issues(
        [(body, {"items": [{"field": "description", "fieldId": "description"}]})]
    )
    assert status == "applied"
    assert rig.local(key)["description"].startswith("new")
    assert (rig.client.api_calls - before) == (1 if flavor == "cloud" else 0)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_write_that_landed_before_a_crash_is_recognised_as_ours(
    rig_factory, flavor, monkeypatch
) -> None:
    """The process dies after Jira took the write but before the outcome was stored: the intent recorded
    before sending makes the next run see its own value, not a conflict, even after a newer local edit."""
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _all_sim_keys(rig.sim)[4]
    rig.sql("UPDATE issues SET summary = 'first local edit' WHERE key = :k", k=key)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for kill -9 between the write and its bookkeeping

    with monkeypatch.context() as patch:
        patch.setattr(sync_push, "record_push_outcome", crash)
        with pytest.raises(KeyboardInterrupt):
            await rig.engine.push()
    assert rig.sim.issue(key)["summary"] == "first local edit"  # Jira has it; the store does not know
    rig.sql("UPDATE issues SET summary = 'second local edit' WHERE key = :k", k=key)
    report = await rig.engine.run()
    assert report.conflicts == 0
    assert rig.sim.issue(key)["summary"] == "second local edit"
    assert rig.local(key)["local_dirty"] is False


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_field_error_goes_away_once_the_field_needs_no_write(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _all_sim_keys(rig.sim)[3]
    original = rig.local(key)["priority"]
    rig.sql("UPDATE issues SET priority = 'NoSuchPriority' WHERE key = :k", k=key)
    await rig.engine.run()
    from jira_console.store import repo

    with rig.db.session() as s:
        assert [e.field for e in repo.list_field_errors(s)] == ["priority"]
    rig.sql("UPDATE issues SET priority = :p WHERE key = :k", p=original, k=key)  # the operator gives up
    await rig.engine.run()
    with rig.db.session() as s:
        assert repo.list_field_errors(s) == []


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_conflicts_edit_times_stay_those_of_its_edits_after_a_push_of_another_field(
    rig_factory, flavor
) -> None:
    """Pushing another field of the issue moves its ``updated`` (and its local change time); the conflict's
    times, shown to judge whose edit is newer, must stay those of the conflicting edits."""
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _all_sim_keys(rig.sim)[4]
    rig.sql("UPDATE issues SET summary = 'local summary' WHERE key = :k", k=key)
    rig.sim.edit_issue(key, {"summary": "jira summary"})
    await rig.engine.run()

    def the_conflict() -> m.Conflict:
        with rig.db.session() as s:
            return s.query(m.Conflict).filter_by(issue_key=key, status="open").one()

    opened = the_conflict()
    rig.sim.site.lifecycle.step_clock(3_600_000)  # our push lands an hour after Jira's edit
    rig.sql("UPDATE issues SET labels = :l WHERE key = :k", l='["pushed-later"]', k=key)
    report = await rig.engine.run()
    assert report.pushed_fields == 1 and rig.sim.issue(key)["labels"] == ["pushed-later"]
    after = the_conflict()
    assert after.id == opened.id and after.jira == "jira summary"
    assert rig.local(key)["jira_updated_ms"] >= opened.jira_edited_at.timestamp() * 1000 + 3_600_000
    assert (after.jira_edited_at, after.local_edited_at) == (opened.jira_edited_at, opened.local_edited_at)
