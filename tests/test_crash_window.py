"""The crash window (issue 11, item 14), against the simulator on both flavors and both databases: killed
between a write reaching Jira and its recording, the next sync reads the changelog since the intent to tell
"Jira still holds our write" from "someone changed it after us" (back to the old value included), and opens
a conflict in the second case instead of writing again."""

from __future__ import annotations

import pytest

from jira_console.jira.workflow import WorkflowPlanner
from jira_console.store import conflict_queue
from jira_console.store import issues as si
from jira_console.sync import push as sync_push
from jira_console.sync.crash_window import contested

FLAVORS = ["cloud", "server"]


def _keys(sim, status: str | None = None) -> list[str]:
    with sim.site.lock:
        found = [i for i in sim.site.issues.values() if status is None or i.status == status]
    return [i.key for i in sorted(found, key=lambda i: i.sort_key)]


def _crash(*args, **kwargs):
    raise KeyboardInterrupt  # stands in for kill -9 between the write and its bookkeeping


async def _synced(rig_factory, flavor: str):
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    return rig


async def _push_and_die(rig, monkeypatch) -> None:
    """A push killed once Jira took its writes, before they are recorded."""
    with monkeypatch.context() as patch:
        patch.setattr(sync_push, "record_push_outcome", _crash)
        with pytest.raises(KeyboardInterrupt):
            await rig.engine.push()


def _open_conflicts(rig) -> list:
    with rig.db.session() as s:
        return conflict_queue.list_conflicts(s, status="open")


def _puts(sim, key: str) -> int:
    return sum(1 for r in sim.requests if r["method"] == "PUT" and r["path"].endswith(f"/issue/{key}"))


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_revert_after_an_unrecorded_write_is_a_conflict(rig_factory, flavor, monkeypatch) -> None:
    rig = await _synced(rig_factory, flavor)
    key = _keys(rig.sim)[4]
    old = rig.sim.issue(key)["summary"]
    rig.sql("UPDATE issues SET summary = 'our write' WHERE key = :k", k=key)
    await _push_and_die(rig, monkeypatch)
    assert rig.sim.issue(key)["summary"] == "our write"  # Jira took it; the store does not know
    rig.sim.edit_issue(key, {"summary": old}, by="other")  # a colleague puts the old value back
    report = await rig.engine.run()
    assert _puts(rig.sim, key) == 1  # not written again over the colleague's edit
    assert rig.sim.issue(key)["summary"] == old
    [conflict] = _open_conflicts(rig)
    assert (conflict.field, conflict.local, conflict.jira, conflict.base) == (
        "summary",
        "our write",
        old,
        "our write",
    )
    assert report.conflicts == 1
    assert rig.local(key)["summary"] == "our write"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_unrecorded_write_jira_still_holds_is_ours(rig_factory, flavor, monkeypatch) -> None:
    rig = await _synced(rig_factory, flavor)
    key = _keys(rig.sim)[5]
    rig.sql("UPDATE issues SET summary = 'landed' WHERE key = :k", k=key)
    await _push_and_die(rig, monkeypatch)
    rig.sim.edit_issue(key, {"labels": ["perf"]}, by="other")  # another field moves on meanwhile
    report = await rig.engine.run()
    assert report.conflicts == 0 and _open_conflicts(rig) == []
    assert _puts(rig.sim, key) == 1
    assert rig.local(key)["local_dirty"] is False
    assert rig.local(key)["labels"] == ["perf"]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_status_walk_killed_half_way_then_moved_remotely_is_a_conflict(
    rig_factory, flavor, monkeypatch
) -> None:
    rig = await _synced(rig_factory, flavor)
    key = _keys(rig.sim, "To Do")[0]
    rig.sql("UPDATE issues SET status = 'Done' WHERE key = :k", k=key)

    async def first_step_then_die(self, plan, on_step=None):
        await self.http.transition(plan.key, plan.steps[0].id)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(WorkflowPlanner, "walk", first_step_then_die)
        with pytest.raises(KeyboardInterrupt):
            await rig.engine.push()
    assert rig.sim.issue(key)["status"] == "In Progress"
    rig.sim.site.transition(key, "31", None, version="2", by="other")  # a colleague stops progress
    before = len([r for r in rig.sim.requests if r["method"] == "POST" and "transitions" in r["path"]])
    await rig.engine.run()
    after = len([r for r in rig.sim.requests if r["method"] == "POST" and "transitions" in r["path"]])
    assert after == before  # the walk does not resume over the colleague's move
    assert rig.sim.issue(key)["status"] == "To Do"
    [conflict] = _open_conflicts(rig)
    assert (conflict.field, conflict.local, conflict.jira) == ("status", "Done", "To Do")


def test_a_server_changelog_naming_a_custom_field_by_its_display_name_is_matched() -> None:
    """Real Server/DC changelogs give custom fields as ``"field": "<display name>"`` with no ``fieldId``
    (../shared/jira-samples/webhooks/server-jira-to-matrix, e.g. "Start date"); system fields by id."""
    me, other = {"svc"}, {"name": "ana", "displayName": "Ana"}

    def entry(author: dict, at: str, *items: dict) -> dict:
        return {"author": author, "created": at, "items": list(items)}

    points = {"field": "Story Points", "fieldtype": "custom", "from": None, "fromString": "3", "to": None}
    summary = {"field": "summary", "fieldtype": "jira", "fromString": "a", "toString": "b"}
    entries = [
        entry({"name": "svc"}, "2026-12-01T10:00:01.000+0000", points, summary),
        entry(other, "2026-12-01T10:00:05.000+0000", points, summary),
    ]
    fields = {"story_points": "customfield_10016", "summary": "summary"}
    intent_ms = 1_796_119_200_000  # 2026-12-01T10:00:00Z
    names = {"customfield_10016": "Story Points", "summary": "Summary"}
    found = contested(entries, intent_ms, fields, me, names)
    assert sorted(c.field for c in found) == ["story_points", "summary"]
    # without the site's field names only the system field can be recognised
    assert [c.field for c in contested(entries, intent_ms, fields, me)] == ["summary"]


def _labelled(sim) -> str:
    with sim.site.lock:
        return next(i.key for i in sorted(sim.site.issues.values(), key=lambda i: i.sort_key) if i.labels)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("cleared", ["NULL", "'null'"])
async def test_labels_cleared_with_null_and_killed_after_the_write_are_ours(
    rig_factory, flavor, cleared, monkeypatch
) -> None:
    """A host program clears labels with NULL (the guards take it: no labels). The push writes [] and dies
    before recording it. The intent said null, Jira says [], the changelog shows only our write: that was
    opened as a conflict (base the old labels, local null, Jira [])."""
    rig = await _synced(rig_factory, flavor)
    key = _labelled(rig.sim)
    rig.sql(f"UPDATE issues SET labels = {cleared} WHERE key = :k", k=key)
    await _push_and_die(rig, monkeypatch)
    assert rig.sim.issue(key)["labels"] == []  # Jira took it; the store does not know
    report = await rig.engine.run()
    assert report.conflicts == 0 and _open_conflicts(rig) == []
    assert _puts(rig.sim, key) == 1
    assert rig.local(key)["local_dirty"] is False and rig.local(key)["labels"] == []
    with rig.db.session() as s:
        assert si.issues_by_key(s, rig.engine.conn.name, [key])[key].pushing is None  # the intent is done


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_labels_cleared_with_null_then_changed_by_someone_after_our_write_are_a_conflict(
    rig_factory, flavor, monkeypatch
) -> None:
    rig = await _synced(rig_factory, flavor)
    key = _labelled(rig.sim)
    rig.sql("UPDATE issues SET labels = NULL WHERE key = :k", k=key)
    await _push_and_die(rig, monkeypatch)
    rig.sim.edit_issue(key, {"labels": ["theirs"]}, by="other")
    report = await rig.engine.run()
    assert _puts(rig.sim, key) == 1 and rig.sim.issue(key)["labels"] == ["theirs"]
    [conflict] = _open_conflicts(rig)
    assert (conflict.field, conflict.base, conflict.local, conflict.jira) == ("labels", [], [], ["theirs"])
    assert report.conflicts == 1


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_labels_null_where_jira_had_none_take_a_label_added_in_jira(rig_factory, flavor) -> None:
    """The same comparison without a crash: NULL over no labels is no change, so a label added in Jira
    meanwhile is pulled (it was a conflict: local null against Jira's ["x"], base [])."""
    rig = await _synced(rig_factory, flavor)
    with rig.sim.site.lock:
        key = next(i.key for i in rig.sim.site.issues.values() if not i.labels)
    rig.sql("UPDATE issues SET labels = NULL WHERE key = :k", k=key)
    rig.sim.edit_issue(key, {"labels": ["x"]}, by="other")
    report = await rig.engine.run()
    assert report.conflicts == 0 and _open_conflicts(rig) == []
    assert rig.local(key)["labels"] == ["x"] and rig.local(key)["local_dirty"] is False
    assert _puts(rig.sim, key) == 0
