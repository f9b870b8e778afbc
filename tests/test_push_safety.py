"""The push side of issue 11 against the simulator (both flavors, SQLite and PostgreSQL): a refused value is
not sent again until it changes, and a sprint move Jira refuses for one issue still moves the others."""

from __future__ import annotations

import pytest

from jira_console import events as ev
from jira_console.store import repo
from jira_console.sync import push as push_step
from jira_console.sync.engine import SyncEngine

FLAVORS = ["cloud", "server"]


def _keys(sim) -> list[str]:
    with sim.site.lock:
        return sorted(sim.site.issues, key=lambda k: sim.site.issues[k].sort_key)


def _field_errors(rig) -> dict[tuple[int, str], str]:
    with rig.db.session() as s:
        return {
            (e.issue_id, e.field): e.message
            for e in repo.list_field_errors(s, connection=rig.engine.conn.name)
        }


def _edits_of(sim, key: str) -> int:
    return sum(
        1 for r in sim.requests if r["method"] == "PUT" and r["path"].rstrip("/").endswith(f"/issue/{key}")
    )


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_refused_value_is_not_sent_again_until_it_changes(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[2]
    rig.sql("UPDATE issues SET priority = 'NoSuchPriority' WHERE key = :k", k=key)
    report = await rig.engine.run()
    assert _edits_of(rig.sim, key) == 1
    assert len(_field_errors(rig)) == 1
    # The run says a change did not go through: an operator reading `pushed 0` alone would think none was due.
    assert (report.pushed_fields, report.refused_fields) == (0, 1)
    assert report.counts()["refused_fields"] == 1
    # Full syncs re-check every diverged issue: the refused value stays parked, visible, and unsent.
    assert (await rig.engine.run(full=True)).refused_fields == 0  # parked, not refused again
    await rig.engine.run(full=True)
    assert _edits_of(rig.sim, key) == 1
    assert rig.local(key)["priority"] == "NoSuchPriority"
    [(_, name)] = _field_errors(rig)
    assert name == "priority"
    # Another value is another attempt, and this one Jira takes.
    other = "Lowest" if rig.sim.issue(key)["priority"] != "Lowest" else "Highest"
    rig.sql("UPDATE issues SET priority = :p WHERE key = :k", p=other, k=key)
    await rig.engine.run()
    assert _edits_of(rig.sim, key) == 2
    assert rig.sim.issue(key)["priority"] == other
    assert _field_errors(rig) == {}


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_refused_value_keeps_its_error_when_jira_changes_the_issue(rig_factory, flavor) -> None:
    """An edit of another field in Jira brings the issue into an incremental pull: the refused value stays
    parked, and its field error -- all that says the local value is not Jira's -- stays with it."""
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[2]
    rig.sql("UPDATE issues SET priority = 'NoSuchPriority' WHERE key = :k", k=key)
    await rig.engine.run()
    refused = _field_errors(rig)
    assert [name for (_, name) in refused] == ["priority"]
    rig.sim.edit_issue(key, {"summary": "edited in Jira"})
    report = await rig.engine.run()
    assert report.updated == 1 and rig.local(key)["summary"] == "edited in Jira"
    assert _field_errors(rig) == refused
    assert rig.local(key)["priority"] == "NoSuchPriority" and rig.local(key)["local_dirty"] is False
    assert (await rig.engine.run(full=True)).refused_fields == 0 and _edits_of(rig.sim, key) == 1


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_email_as_a_cloud_assignee_is_refused_with_what_cloud_takes(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[3]
    rig.sql("UPDATE issues SET assignee = 'dave@example.com' WHERE key = :k", k=key)
    assert (await rig.engine.run()).refused_fields == 1
    [message] = _field_errors(rig).values()
    hint = "(on Cloud, assignee takes an accountId, not an e-mail address)"
    assert message.endswith(hint) if flavor == "cloud" else hint not in message  # Server: user names


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_sprint_batch_refused_for_one_issue_moves_the_others(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    with rig.sim.site.lock:
        target = next(s.id for s in rig.sim.site.sprints.values() if s.state in ("active", "future"))
    keys = [k for k in _keys(rig.sim) if target not in rig.sim.issue(k)["sprints"]][:4]
    doomed = keys[1]
    for key in keys:
        rig.sql("UPDATE issues SET sprint_id = :sp WHERE key = :k", sp=target, k=key)
    original = rig.client.move_to_sprint

    async def deleted_meanwhile(sprint_id, batch):
        # Someone deletes one of the issues between the fresh compare and the move: Jira refuses the batch.
        if doomed in batch and doomed in rig.sim.site.issues:
            rig.sim.delete_issue(doomed)
        await original(sprint_id, batch)

    rig.client.move_to_sprint = deleted_meanwhile
    report = await rig.engine.run()
    moved = [k for k in keys if k != doomed]
    assert all(target in rig.sim.issue(k)["sprints"] for k in moved)
    assert report.pushed_fields == len(moved)
    assert {name for (_, name) in _field_errors(rig)} == {"sprint_id"}
    assert all(rig.local(k)["local_dirty"] is False for k in moved)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_notify_watchers_false_asks_for_silence_and_falls_back_once(
    rig_factory, flavor, caplog
) -> None:
    rig = await rig_factory(flavor, conn={"notify_watchers": False})
    await rig.engine.run(full=True)
    first, second, third = _keys(rig.sim)[:3]
    rig.sql("UPDATE issues SET summary = 'quietly' WHERE key = :k", k=first)
    await rig.engine.run()
    assert rig.sim.issue(first)["summary"] == "quietly"
    assert rig.sim.notifications.silent == [first] and rig.sim.notifications.notified == []
    # Without admin rights Jira refuses the silence: said once, and the edits still go through.
    rig.sim.notifications.admin = False
    for key in (second, third):
        rig.sql("UPDATE issues SET summary = 'not quietly' WHERE key = :k", k=key)
        await rig.engine.run()
        assert rig.sim.issue(key)["summary"] == "not quietly"
    assert rig.sim.notifications.notified == [second, third]
    assert rig.client.notify_refused is not None and "admin" in rig.client.notify_refused
    refusals = [r for r in rig.sim.requests if r["method"] == "PUT" and r["status"] == 403]
    assert len(refusals) == 1
    assert rig.engine.conn.notify_watchers is False


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_notify_watchers_defaults_to_notifying(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[0]
    rig.sql("UPDATE issues SET summary = 'loudly' WHERE key = :k", k=key)
    await rig.engine.run()
    assert rig.sim.notifications.notified == [key] and rig.sim.notifications.silent == []


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_conflict_the_version_read_back_after_a_write_opens_is_counted_and_announced(
    rig_factory, flavor, monkeypatch
) -> None:
    read_back = push_step._read_back
    edits: list[tuple[str, dict[str, str]]] = []

    async def while_writing(io, ctx, keys):  # noqa: ANN001, ANN202 - the module's own signature
        # Between the write and its read-back, a colleague changes the priority in Jira and a host program
        # changes it here: the version read back meets a field both sides changed and the push did not write.
        for key, fields in edits:
            rig.sim.edit_issue(key, fields)
            rig.sql("UPDATE issues SET priority = 'Lowest' WHERE key = :k", k=key)
        return await read_back(io, ctx, keys)

    monkeypatch.setattr(push_step, "_read_back", while_writing)
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[3]
    edits.append((key, {"priority": "Highest"}))
    rig.sql("UPDATE issues SET summary = 'pushed summary' WHERE key = :k", k=key)
    seen: list[ev.EngineEvent] = []
    report = await SyncEngine(rig.db, rig.engine.conn, rig.client, emit=seen.append).push()
    assert report.pushed_fields == 1 and rig.sim.issue(key)["summary"] == "pushed summary"
    assert report.conflicts == 1
    assert [(e.issue_key, e.field) for e in seen if isinstance(e, ev.ConflictDetected)] == [(key, "priority")]
    assert rig.local(key)["priority"] == "Lowest" and rig.sim.issue(key)["priority"] == "Highest"


def _pushed_audit(rig, key: str) -> list[tuple[str, object]]:
    with rig.db.session() as s:
        lines = repo.list_audit(s, issue_key=key, side="jira")
    return [(line.field, line.new) for line in lines if line.reason == "pushed local change"]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_write_failing_on_this_side_keeps_the_records_of_the_writes_jira_took(
    rig_factory, flavor, monkeypatch
) -> None:
    """A write that fails before it reaches Jira (here a stand-in for a body the client cannot encode) used
    to end the run: the writes of the batch that Jira had taken already were never audited nor made the base.
    Now that write is parked with a field error and the others are recorded as usual."""
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    good, bad = _keys(rig.sim)[2:4]
    edit_issue = rig.client.edit_issue

    async def failing(key, **kwargs):  # noqa: ANN001, ANN003, ANN202 - the client's own signature
        if key == bad:
            raise ValueError("Out of range float values are not JSON compliant")
        return await edit_issue(key, **kwargs)

    monkeypatch.setattr(rig.client, "edit_issue", failing)
    rig.sql("UPDATE issues SET summary = 'pushed before the failure' WHERE key = :k", k=good)
    rig.sql("UPDATE issues SET summary = 'cannot be sent' WHERE key = :k", k=bad)
    report = await rig.engine.run()
    assert report.status == "ok" and (report.pushed_fields, report.refused_fields) == (1, 1)
    assert rig.sim.issue(good)["summary"] == "pushed before the failure"
    assert _pushed_audit(rig, good) == [("summary", "pushed before the failure")]
    assert rig.local(good)["base"]["summary"] == "pushed before the failure"
    assert not rig.local(good)["local_dirty"]
    [(_, name)] = _field_errors(rig)
    assert name == "summary"
    [message] = _field_errors(rig).values()
    assert message.startswith("not sent to Jira: ValueError")
    assert rig.local(bad)["summary"] == "cannot be sent" and _pushed_audit(rig, bad) == []
    await rig.engine.run(full=True)  # parked like a value Jira refused: not tried again until it changes
    assert rig.sim.issue(bad)["summary"] != "cannot be sent" and len(_field_errors(rig)) == 1


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_issue_whose_record_fails_does_not_take_the_records_of_the_others_with_it(
    rig_factory, flavor, monkeypatch
) -> None:
    """The outcome of a batch was recorded in one transaction: one issue failing there rolled back the audit
    lines and new base of every issue written with it. Now each is recorded on its own then, and the one
    that fails still gets the audit line of what Jira took."""
    from jira_console.sync import push_record

    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    good, bad = _keys(rig.sim)[2:4]
    record_field_errors = push_record.record_field_errors

    def failing(session, row, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if row.key == bad:
            raise RuntimeError("cannot record this one")
        return record_field_errors(session, row, *args, **kwargs)

    monkeypatch.setattr(push_record, "record_field_errors", failing)
    rig.sql("UPDATE issues SET summary = 'recorded' WHERE key = :k", k=good)
    rig.sql("UPDATE issues SET summary = 'written, not recorded' WHERE key = :k", k=bad)
    report = await rig.engine.run()
    assert report.status == "ok" and report.pushed_fields == 2
    assert rig.sim.issue(bad)["summary"] == "written, not recorded"
    assert _pushed_audit(rig, good) == [("summary", "recorded")]
    assert rig.local(good)["base"]["summary"] == "recorded" and not rig.local(good)["local_dirty"]
    assert _pushed_audit(rig, bad) == [("summary", "written, not recorded")]
    [message] = _field_errors(rig).values()
    assert message.startswith("written to Jira, but the sync could not record it (RuntimeError")
    monkeypatch.undo()
    await rig.engine.run()  # the next compare with Jira settles it, without writing or auditing it again
    assert rig.local(bad)["base"]["summary"] == "written, not recorded" and not rig.local(bad)["local_dirty"]
    assert _field_errors(rig) == {} and len(_pushed_audit(rig, bad)) == 1
    assert _edits_of(rig.sim, bad) == 1


def _without_host_guards(rig) -> None:
    """The database as an older schema left it: no guards on host programs' values (a value they would
    refuse is then in the store, as the engine must expect)."""
    if rig.db.dialect == "sqlite":
        rig.sql("DROP TRIGGER issues_guard_host_values")
    else:
        rig.sql("ALTER TABLE issues DISABLE TRIGGER issues_guard_host_values")


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_story_points_that_are_not_a_finite_number_park_that_field_and_the_rest_syncs(
    rig_factory, flavor
) -> None:
    """NaN or an infinity in story_points (PostgreSQL's float takes 'NaN', SQLite 1e999) failed the JSON body
    of the write and with it every run of the connection, naming no issue. Now that field gets a field error,
    and the issue's other edits and the other issues' go to Jira."""
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    _without_host_guards(rig)
    keys = _keys(rig.sim)
    bad = ["1e999", "-1e999"] if rig.db.dialect == "sqlite" else ["'NaN'", "'Infinity'"]
    rig.sql("UPDATE issues SET story_points = 3 WHERE key IN (:a, :b)", a=keys[2], b=keys[3])
    assert (await rig.engine.run()).pushed_fields == 2
    for key, value in zip(keys[2:4], bad, strict=True):
        rig.sql(f"UPDATE issues SET story_points = {value}, summary = 'sent' WHERE key = :k", k=key)
    rig.sql("UPDATE issues SET summary = 'sent too' WHERE key = :k", k=keys[4])
    report = await rig.engine.run()
    assert report.status == "ok", report.errors
    assert (report.pushed_fields, report.refused_fields) == (3, 2)
    assert [rig.sim.issue(k)["summary"] for k in keys[2:5]] == ["sent", "sent", "sent too"]
    assert [rig.sim.issue(k)["story_points"] for k in keys[2:4]] == [3, 3]
    messages = sorted(_field_errors(rig).values())
    assert messages == [
        f"not pushed: story_points takes a finite number, not {name}"
        for name in (["-Infinity", "Infinity"] if rig.db.dialect == "sqlite" else ["Infinity", "NaN"])
    ]
    assert not any(rig.local(k)["local_dirty"] for k in keys[2:5])
    assert (await rig.engine.run(full=True)).status == "ok"


async def test_a_read_back_failing_on_this_side_still_records_the_writes(rig_factory, monkeypatch) -> None:
    """After the writes the issues are read again; a failure there other than Jira's ended the run before
    the writes Jira had taken were audited. They are now recorded as sent."""
    rig = await rig_factory("cloud")
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[2]

    async def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise TypeError("cannot decode the answer")

    monkeypatch.setattr(rig.client, "bulk_fetch", broken)  # the push's fresh read uses bulk_fetch_report
    rig.sql("UPDATE issues SET summary = 'read back failed' WHERE key = :k", k=key)
    report = await rig.engine.run()
    assert report.status == "ok" and report.pushed_fields == 1
    assert _pushed_audit(rig, key) == [("summary", "read back failed")]
    assert rig.local(key)["base"]["summary"] == "read back failed" and not rig.local(key)["local_dirty"]
