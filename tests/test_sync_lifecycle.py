"""Real lifecycles against the simulator, both flavors, SQLite and PostgreSQL (issue 11, the pull side):
moved and re-keyed issues, a bad issue quarantined, tombstones, partial webhook versions, issueErrors,
webhook scope, and Jira's clock taken as evidence."""

from __future__ import annotations

import time
from typing import Any

import pytest
import structlog
from sqlalchemy import func, select

from jira_console.simulator import lifecycle
from jira_console.store import conflict_queue, identity, repo
from jira_console.store import models as m
from jira_console.store import state as st
from jira_console.sync.remote import IssueReadLater

FLAVORS = ["cloud", "server"]
CANARY = "canary-summary-5e1f-do-not-print"


def _keys(sim, project: str | None = None) -> list[str]:
    with sim.site.lock:
        return sorted(k for k, i in sim.site.issues.items() if project is None or i.project == project)


async def _v2(rig, key: str) -> dict:
    """The issue as a webhook body carries it (REST v2, on Cloud too)."""
    return (await rig.client.request("GET", f"/rest/api/2/issue/{key}")).json()


def _row(rig, **where) -> m.Issue:
    with rig.db.session() as s:
        row = s.scalars(select(m.Issue).where(*[getattr(m.Issue, k) == v for k, v in where.items()])).one()
        s.expunge(row)
        return row


def _count(rig, **where) -> int:
    with rig.db.session() as s:
        stmt = select(func.count()).select_from(m.Issue)
        for k, v in where.items():
            stmt = stmt.where(getattr(m.Issue, k) == v)
        return int(s.scalar(stmt) or 0)


SUMMARY = [{"field": "summary", "fieldId": "summary"}]


# --------------------------------------------------------------------------------------- identity


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_moved_issue_keeps_its_row_history_and_errors_and_takes_its_new_key(
    rig_factory, flavor
) -> None:
    rig = await rig_factory(flavor, issues=30)
    await rig.engine.run(full=True)
    key = _keys(rig.sim, "ENG")[2]
    before = _row(rig, key=key)
    rig.sql("UPDATE issues SET priority = 'NoSuchPriority' WHERE key = :k", k=key)
    await rig.engine.run()  # Jira refuses the priority: a field error on the row
    rig.sql("UPDATE issues SET summary = 'edited here before the move' WHERE key = :k", k=key)
    new_key = lifecycle.move_issue(rig.sim.site, key, "OPS", "other")
    assert new_key.startswith("OPS-") and rig.sim.issue(key)["key"] == new_key  # the old key still resolves
    moved_at = rig.sim.issue(new_key)["updated"]

    report = await rig.engine.run()
    assert report.status == "ok" and report.moved == 1 and report.created == 0
    after = _row(rig, jira_id=before.jira_id)
    assert (after.id, after.key, after.project_key, after.deleted) == (before.id, new_key, "OPS", False)
    assert _count(rig, jira_id=before.jira_id) == 1
    assert rig.sim.issue(new_key)["summary"] == "edited here before the move"  # the local edit followed
    with rig.db.session() as s:
        assert [e.field for e in repo.list_field_errors(s, issue_id=before.id)] == ["priority"]
        alias = identity.resolve_alias(s, rig.engine.conn.name, key)
        assert alias is not None and alias.current_key == new_key
        moved = [
            a for a in repo.list_audit(s, issue_key=new_key) if a.reason and a.reason.startswith("moved")
        ]
        assert [(a.field, a.old, a.new) for a in moved] == [(None, key, new_key)]
        assert st.watermark(s, rig.engine.conn.name, "issues") >= moved_at
    # The next runs go on as usual.
    rig.sim.edit_issue(new_key, {"summary": "after the move"})
    assert (await rig.engine.run()).status == "ok" and rig.local(new_key)["summary"] == "after the move"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_push_to_a_moved_issue_follows_it_instead_of_calling_it_deleted(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=20)
    await rig.engine.run(full=True)
    key = _keys(rig.sim, "ENG")[1]
    new_key = lifecycle.move_issue(rig.sim.site, key, "OPS", "other")
    rig.sql("UPDATE issues SET summary = 'pushed to the old key' WHERE key = :k", k=key)
    await rig.engine.push()  # the push's fresh read comes back under the new key
    assert rig.sim.issue(new_key)["summary"] == "pushed to the old key"
    assert rig.local(new_key)["deleted"] is False and rig.local(new_key)["local_dirty"] is False
    # A host program that still writes the old key into the outbox reaches the moved issue.
    rig.sql(
        "INSERT INTO local_changes (connection, issue_key, field, value, created_at) "
        "VALUES (:c, :k, 'summary', :v, CURRENT_TIMESTAMP)",
        c=rig.engine.conn.name,
        k=key,
        v='"from the outbox, by the old key"',
    )
    assert (await rig.engine.run()).status == "ok"
    assert rig.sim.issue(new_key)["summary"] == "from the outbox, by the old key"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_project_key_rename_rekeys_every_row_and_deletes_nothing(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=24)
    await rig.engine.run(full=True)
    eng = _keys(rig.sim, "ENG")
    late = await _v2(rig, eng[1])  # a delivery from before the rename, arriving after it
    renamed = lifecycle.rename_project(rig.sim.site, "ENG", "CORE")
    # An edit that comes under the new key before any full sync: the row follows it.
    first_new = renamed[eng[0]]
    rig.sim.edit_issue(first_new, {"summary": "edited after the rename"})
    report = await rig.engine.run()
    # (Issues read again at the watermark's edge came under their new keys as well.)
    assert report.moved >= 1 and rig.local(first_new)["summary"] == "edited after the rename"
    report = await rig.engine.run(full=True)  # the rename changed no `updated`: the full sync sees it
    assert report.status == "ok" and report.deleted == 0 and report.created == 0
    assert _count(rig) == 24 and _count(rig, deleted=True) == 0
    # The late body names the old key for the same version: it does not move the row back.
    [answer] = await rig.engine.apply_remote_issues([(late, {"items": SUMMARY})])
    assert answer == "ignored" and answer.note.startswith("the stored version is the same")
    assert _row(rig, jira_id=str(late["id"])).key == renamed[eng[1]]
    with rig.db.session() as s:
        for old, new in renamed.items():
            assert repo.get_issue(s, rig.engine.conn.name, new) is not None
            assert identity.resolve_alias(s, rig.engine.conn.name, old).current_key == new


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_key_freed_by_a_rename_and_taken_again_is_quarantined_until_a_full_sync_heals_it(
    rig_factory, flavor
) -> None:
    rig = await rig_factory(flavor, issues=10)
    await rig.engine.run(full=True)
    renamed = lifecycle.rename_project(rig.sim.site, "ENG", "CORE")
    lifecycle.add_project(rig.sim.site, "ENG")
    newcomer = rig.sim.create_issue("ENG", {"summary": "a new ENG-1", "issuetype": "Task"})
    assert newcomer == "ENG-1" and renamed["ENG-1"] == "CORE-1"
    # The incremental pull reads only the newcomer: its key is still held by the renamed issue's row.
    report = await rig.engine.run()
    assert report.status == "ok" and report.quarantined >= 1
    with rig.db.session() as s:
        assert [q.issue_key for q in identity.list_quarantined(s)] == ["ENG-1"]
    # The full sync reads the renamed issue under its new key first (oldest first), freeing the old one.
    report = await rig.engine.run(full=True)
    assert report.status == "ok" and report.deleted == 0
    with rig.db.session() as s:
        assert identity.list_quarantined(s) == []
    assert rig.local("ENG-1")["summary"] == "a new ENG-1"
    with rig.db.session() as s:  # ENG-1 is the newcomer's key now, no alias of CORE-1
        assert identity.resolve_alias(s, rig.engine.conn.name, "ENG-1") is None
    assert rig.local("CORE-1")["summary"] == rig.sim.issue("CORE-1")["summary"]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_webhook_under_a_new_key_moves_the_row_and_an_older_one_under_the_old_key_is_stale(
    rig_factory, flavor
) -> None:
    rig = await rig_factory(flavor, issues=20)
    await rig.engine.run(full=True)
    key = _keys(rig.sim, "ENG")[3]
    rig.sim.edit_issue(key, {"summary": "old-key version"})
    old_body = await _v2(rig, key)
    new_key = lifecycle.move_issue(rig.sim.site, key, "OPS", "other")
    moved_body = await _v2(rig, new_key)
    changelog = {
        "items": [{"field": "Key", "fieldId": "issuekey"}, {"field": "project", "fieldId": "project"}]
    }
    # Delivered out of order: the move first, then the older version under the old key.
    assert await rig.engine.apply_remote_issues([(moved_body, changelog)]) == ["applied"]
    assert await rig.engine.apply_remote_issues([(old_body, {"items": SUMMARY})]) == ["stale"]
    assert rig.local(new_key)["summary"] == "old-key version"
    assert _count(rig, jira_id=str(moved_body["id"])) == 1


# -------------------------------------------------------------------------------------- quarantine


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_issue_that_cannot_be_applied_is_quarantined_and_the_rest_syncs(
    rig_factory, flavor, caplog, capfd
) -> None:
    """The issue's key is held by a stale row of another issue: its insert breaks a unique rule. It is set
    aside with the key and the rule (never the row: its summary is a canary), the page and the watermark
    move on, and once the obstacle is gone the next sync applies it."""
    rig = await rig_factory(flavor, issues=30)
    key = _keys(rig.sim, "ENG")[4]
    rig.sim.edit_issue(key, {"summary": CANARY, "description": CANARY})
    rig.sql(
        "INSERT INTO issues (connection, key, jira_id, deleted, local_dirty, sync_stamp, created_at, "
        "updated_at) VALUES (:c, :k, '999999', false, false, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        c=rig.engine.conn.name,
        k=key,
    )
    with structlog.testing.capture_logs() as logged:
        report = await rig.engine.run(full=True)
        # (The reconciliation of the same full sync tries it once more.)
        assert report.status == "ok" and report.quarantined >= 1 and report.created == 29
        with rig.db.session() as s:
            [item] = identity.list_quarantined(s, rig.engine.conn.name)
            state = st.get_sync_state(s, rig.engine.conn.name, "issues")
        assert item.issue_key == key and item.kind and "unique" in item.cause.lower()
        assert state.watermark_ms is not None and state.last_error is None
        # Tried again at the next sync, still refused: still quarantined, more attempts.
        report = await rig.engine.run()
        with rig.db.session() as s:
            assert [q.attempts > item.attempts for q in identity.list_quarantined(s)] == [True]
    out, err = capfd.readouterr()
    seen = "\n".join([item.cause, item.kind, str(logged), caplog.text, out, err, *report.errors])
    assert CANARY not in seen
    rig.sql("DELETE FROM issues WHERE jira_id = '999999'")
    report = await rig.engine.run()
    assert report.status == "ok" and rig.local(key)["summary"] == CANARY
    with rig.db.session() as s:
        assert identity.list_quarantined(s) == []


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_issue_whose_row_the_engine_cannot_read_is_set_aside_naming_the_column(
    rig_factory, flavor
) -> None:
    """``base`` is the engine's; a host program wrote it anyway (SQLite keeps any text, PostgreSQL's JSONB a
    number beyond a float). Every sync that read the row failed, pull and push alike, with a hint in SQLite's
    SQL about other columns. Now the issue is set aside, the cause naming the column and what to write, and
    the rest syncs; repaired, it syncs again."""
    rig = await rig_factory(flavor, issues=20)
    await rig.engine.run(full=True)
    bad, edited, other = _keys(rig.sim, "ENG")[3:6]
    garbage = "'garbage'" if rig.db.dialect == "sqlite" else """'{"summary": 1e400}'"""
    rig.sql(f"UPDATE issues SET base = {garbage} WHERE key = :k", k=bad)
    rig.sql(f"UPDATE issues SET base = {garbage}, summary = 'waits' WHERE key = :k", k=edited)
    rig.sql("UPDATE issues SET summary = 'pushed' WHERE key = :k", k=other)
    rig.sim.edit_issue(bad, {"summary": "changed in Jira"})
    for full in (False, True):
        report = await rig.engine.run(full=full)
        assert report.status == "ok", report.errors
        with rig.db.session() as s:
            aside = {q.issue_key: q for q in identity.list_quarantined(s, rig.engine.conn.name)}
        assert sorted(aside) == sorted([bad, edited])
    assert aside[bad].kind == "UnreadableJson" and aside[bad].cause.startswith("issues.base not readable")
    assert "set it to NULL" in aside[bad].cause and "garbage" not in aside[bad].cause
    assert rig.sim.issue(other)["summary"] == "pushed" and rig.sim.issue(edited)["summary"] != "waits"
    rig.sql("UPDATE issues SET base = NULL WHERE key IN (:a, :b)", a=bad, b=edited)
    report = await rig.engine.run()
    assert report.status == "ok", report.errors
    with rig.db.session() as s:
        assert identity.list_quarantined(s) == []
    # With no base, a field the two sides hold differently is a conflict, as the cause said: the change in
    # Jira and the local edit both wait for a person instead of one overwriting the other.
    with rig.db.session() as s:
        conflicts = sorted((c.issue_key, c.field) for c in conflict_queue.list_conflicts(s))
    assert conflicts == sorted([(bad, "summary"), (edited, "summary")])
    assert rig.local(edited)["summary"] == "waits" and rig.sim.issue(edited)["summary"] != "waits"


async def test_quarantine_shows_in_status_health_and_the_sync_view(engine_factory, db_url) -> None:
    engine, sim = await engine_factory("cloud", issues=12)
    name = engine.settings.jira[0].name
    key = _keys(sim, "OPS")[0]
    from sqlalchemy import text

    with engine.db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO issues (connection, key, jira_id, deleted, local_dirty, sync_stamp, created_at, "
                "updated_at) VALUES (:c, :k, '999999', false, false, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"c": name, "k": key},
        )
    await engine.run_sync(name, full=True)
    assert engine.sync_health()[name].quarantined == 1
    [view] = [v for v in engine.sync_states() if v.connection == name and v.scope == "issues"]
    assert len(view.quarantined) == 1 and view.quarantined[0].startswith(f"{key}: ")


# -------------------------------------------------------------------------------------- tombstones


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_webhook_body_never_brings_a_deleted_issue_back(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=20)
    await rig.engine.run(full=True)
    key, other = _keys(rig.sim, "ENG")[5:7]
    rig.sim.edit_issue(key, {"summary": "an update delivered after the delete"})
    late = await _v2(rig, key)
    rig.sim.delete_issue(key)
    now = int(time.time() * 1000)
    # Jira delivers late, twice and out of order: delete, update, delete again, update again.
    assert await rig.engine.apply_remote_deletion(key, event_ts_ms=now, issue_id=str(late["id"])) == "applied"
    for _ in range(2):
        [update] = await rig.engine.apply_remote_issues([(late, {"items": SUMMARY})])
        assert update == "ignored" and update.note.startswith("the issue is deleted here")
        again = await rig.engine.apply_remote_deletion(key, event_ts_ms=now)
        assert again == "ignored" and again.note == "already deleted here"
    row = _row(rig, key=key)
    assert row.deleted is True and row.deleted_at is not None
    assert (await rig.engine.run(full=True)).status == "ok" and _row(rig, key=key).deleted is True
    # Only a fresh read brings an issue back: a deletion that Jira's own listing contradicts is undone.
    body = await _v2(rig, other)
    assert await rig.engine.apply_remote_deletion(other, event_ts_ms=now + 1) == "applied"
    assert await rig.engine.apply_remote_issues([(body, {"items": SUMMARY})]) == ["ignored"]
    assert _row(rig, key=other).deleted is True
    await rig.engine.run(full=True)
    assert _row(rig, key=other).deleted is False


async def _cloud_rich_text_change(rig_factory, index: int, text: str) -> tuple[Any, str, dict[str, Any]]:
    """A Cloud site synced, then one issue's description changed: its v2 body, which is read afresh."""
    rig = await rig_factory("cloud", issues=12)
    await rig.engine.run(full=True)
    key = _keys(rig.sim, "ENG")[index]
    rig.sim.edit_issue(key, {"description": text})
    return rig, key, await _v2(rig, key)


async def test_a_body_read_afresh_and_found_deleted_says_why_it_was_ignored(rig_factory) -> None:
    """Cloud reads a rich-text change afresh; the issue is gone in Jira and already gone here."""
    rig, key, body = await _cloud_rich_text_change(rig_factory, 2, "changed just before the delete")
    rig.sim.delete_issue(key)
    assert (
        await rig.engine.apply_remote_deletion(key, event_ts_ms=None, issue_id=str(body["id"])) == "applied"
    )
    [answer] = await rig.engine.apply_remote_issues([(body, {"items": [{"field": "description"}]})])
    assert answer == "ignored" and answer.note == "already deleted here"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_late_deletion_older_than_the_stored_version_is_checked_with_jira(
    rig_factory, flavor
) -> None:
    rig = await rig_factory(flavor, issues=12)
    await rig.engine.run(full=True)
    key = _keys(rig.sim, "ENG")[1]
    stored = rig.local(key)["jira_updated_ms"]
    # A delete event older than what is stored while the issue still exists: stale, nothing changes.
    assert await rig.engine.apply_remote_deletion(key, event_ts_ms=stored - 1) == "stale"
    rig.sim.delete_issue(key)
    assert await rig.engine.apply_remote_deletion(key, event_ts_ms=stored - 1) == "applied"


# ------------------------------------------------------------------------------------ partial data


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_what_a_webhook_body_lacks_is_filled_by_the_next_poll(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=12)
    await rig.engine.run(full=True)
    key = _keys(rig.sim, "ENG")[2]
    rig.sim.edit_issue(key, {"description": "changed while its delivery was lost"})
    rig.sim.edit_issue(key, {"summary": "delivered"})
    assert await rig.engine.apply_remote_issues([(await _v2(rig, key), {"items": SUMMARY})]) == ["applied"]
    row = _row(rig, key=key)
    assert row.summary == "delivered"
    if flavor == "cloud":  # the v2 body's rich text is not taken on Cloud: marked as not current
        assert row.stale_fields == ["description"] and "lost" not in (row.description or "")
    else:
        assert not row.stale_fields and row.description.startswith("changed while")
    await rig.engine.run()
    row = _row(rig, key=key)
    assert row.description.startswith("changed while") and not row.stale_fields
    # An issue first seen through a webhook body gets its description from the next poll too.
    new_key = rig.sim.create_issue(
        "ENG", {"summary": "new", "issuetype": "Task", "description": "first words"}
    )
    assert await rig.engine.apply_remote_issues([(await _v2(rig, new_key), {"items": SUMMARY})]) == [
        "applied"
    ]
    await rig.engine.run()
    assert rig.local(new_key)["description"].startswith("first words")


# ------------------------------------------------------------------------------------- issueErrors


async def test_issue_errors_are_retried_not_taken_for_deletions(rig_factory) -> None:
    """Cloud's bulkfetch (Server has none: its bulk reads are searches)."""
    rig, key, body = await _cloud_rich_text_change(rig_factory, 3, "needs a v3 read")
    rig.sim.site.lifecycle.set_issue_errors({str(body["id"])})
    with pytest.raises(IssueReadLater):
        await rig.engine.apply_remote_issues([(body, {"items": [{"field": "description"}]})])
    assert rig.local(key)["deleted"] is False
    # The event is tried again (the processor's backoff): once Jira can read the issue, it is applied.
    rig.sim.site.lifecycle.set_issue_errors(set())
    [answer] = await rig.engine.apply_remote_issues([(body, {"items": [{"field": "description"}]})])
    assert answer == "applied" and rig.local(key)["description"].startswith("needs a v3 read")
    # Nor does a full sync take an issue Jira cannot bulk-read for a deleted one.
    rig.sim.site.lifecycle.set_issue_errors({str(body["id"])})
    report = await rig.engine.run(full=True)
    assert report.deleted == 0 and rig.local(key)["deleted"] is False


# ------------------------------------------------------------------------------------------- scope


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_webhook_issues_outside_the_jql_are_not_imported(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=12, conn={"jql": "project = ENG ORDER BY updated"})
    await rig.engine.run(full=True)
    assert _count(rig, project_key="OPS") == 0
    ops = rig.sim.create_issue("OPS", {"summary": "not ours", "issuetype": "Task"})
    eng = rig.sim.create_issue("ENG", {"summary": "ours", "issuetype": "Task"})
    items = [(await _v2(rig, ops), {"items": SUMMARY}), (await _v2(rig, eng), {"items": SUMMARY})]
    assert await rig.engine.apply_remote_issues(items) == ["ignored", "applied"]
    assert _count(rig, key=ops) == 0 and rig.local(eng)["summary"] == "ours"


# -------------------------------------------------------------------------------------------- time


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_updated_in_the_future_is_not_trusted_and_does_not_freeze_the_issue(
    rig_factory, flavor
) -> None:
    rig = await rig_factory(flavor, issues=12)
    await rig.engine.run(full=True)
    key, other = _keys(rig.sim, "ENG")[4:6]
    rig.sim.edit_issue(key, {"summary": "the current version"})
    body = await _v2(rig, key)
    # A signed delivery of an older version, dated 2099: its date cannot order it, so Jira is read instead.
    body["fields"]["updated"] = "2099-01-01T00:00:00.000+0000"
    body["fields"]["summary"] = "an old version"
    assert await rig.engine.apply_remote_issues([(body, {"items": SUMMARY})]) == ["applied"]
    assert rig.local(key)["summary"] == "the current version"
    assert rig.local(key)["jira_updated_ms"] == rig.sim.issue(key)["updated"]
    rig.sim.edit_issue(key, {"summary": "a later real edit"})
    await rig.engine.run()
    assert rig.local(key)["summary"] == "a later real edit"
    # A fresh read dated ahead of Jira's clock (as after Jira's clock stepped back) is applied, its time
    # clamped to Jira's and flagged, and the watermark stays behind Jira's clock.
    from jira_console.sync.page import apply_page

    fresh = (
        await rig.client.request("GET", f"/rest/api/{'3' if flavor == 'cloud' else '2'}/issue/{other}")
    ).json()
    fresh["fields"]["updated"] = "2099-01-01T00:00:00.000+0000"
    result = apply_page(rig.engine.io, rig.engine.context, [fresh])
    assert result.statuses == {other: "applied"}
    assert rig.local(other)["jira_updated_ms"] <= rig.sim.site.lifecycle.now_ms()
    with rig.db.session() as s:
        assert any("ahead of its clock" in (a.reason or "") for a in repo.list_audit(s, issue_key=other))
        assert st.watermark(s, rig.engine.conn.name, "issues") <= rig.sim.site.lifecycle.now_ms()


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_clock_step_back_is_detected_and_later_edits_are_read(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=12)
    await rig.engine.run(full=True)
    key, other = _keys(rig.sim, "ENG")[1:3]
    rig.sim.edit_issue(key, {"summary": "before the step"})
    await rig.engine.run()
    assert rig.local(key)["summary"] == "before the step"
    rig.sim.site.lifecycle.step_clock(-30 * 60 * 1000)  # NTP sets Jira's clock back half an hour
    rig.sim.edit_issue(key, {"summary": "after the step"})
    rig.sim.edit_issue(other, {"summary": "also after the step"})
    assert rig.sim.issue(key)["updated"] < rig.local(key)["jira_updated_ms"]
    await rig.engine.run()
    assert rig.local(key)["summary"] == "after the step"
    assert rig.local(other)["summary"] == "also after the step"
    with rig.db.session() as s:
        assert st.watermark(s, rig.engine.conn.name, "issues") <= rig.sim.site.lifecycle.now_ms()
