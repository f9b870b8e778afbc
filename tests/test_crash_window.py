"""The crash window (issue 11, item 14), against the simulator on both flavors and both databases: killed
between a write reaching Jira and its recording, the next sync reads the changelog since the intent to tell
"Jira still holds our write" from "someone changed it after us" (back to the old value included), and opens
a conflict in the second case instead of writing again."""

from __future__ import annotations

import pytest

from jira_console.jira.workflow import WorkflowPlanner
from jira_console.store import conflict_queue
from jira_console.sync import push as sync_push
from jira_console.sync.crash_window import contested

FLAVORS = ["cloud", "server"]


def _keys(sim, status: str | None = None) -> list[str]:
    with sim.site.lock:
        found = [i for i in sim.site.issues.values() if status is None or i.status == status]
    return [i.key for i in sorted(found, key=lambda i: i.sort_key)]


def _crash(*args, **kwargs):
    raise KeyboardInterrupt  # stands in for kill -9 between the write and its bookkeeping


def _open_conflicts(rig) -> list:
    with rig.db.session() as s:
        return conflict_queue.list_conflicts(s, status="open")


def _puts(sim, key: str) -> int:
    return sum(1 for r in sim.requests if r["method"] == "PUT" and r["path"].endswith(f"/issue/{key}"))


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_revert_after_an_unrecorded_write_is_a_conflict(rig_factory, flavor, monkeypatch) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[4]
    old = rig.sim.issue(key)["summary"]
    rig.sql("UPDATE issues SET summary = 'our write' WHERE key = :k", k=key)
    with monkeypatch.context() as patch:
        patch.setattr(sync_push, "record_push_outcome", _crash)
        with pytest.raises(KeyboardInterrupt):
            await rig.engine.push()
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
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[5]
    rig.sql("UPDATE issues SET summary = 'landed' WHERE key = :k", k=key)
    with monkeypatch.context() as patch:
        patch.setattr(sync_push, "record_push_outcome", _crash)
        with pytest.raises(KeyboardInterrupt):
            await rig.engine.push()
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
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
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
