"""Absent is not empty (issue 11, item 2), against the simulator on both flavors and both databases: Jira
leaves out of an issue the fields it has no value for (no parent) and custom fields outside their context
(story points on a Bug). A local change to such a field is written when the issue's editmeta offers it, and
otherwise kept with a field error saying why; nothing is cleared without being written or explained."""

from __future__ import annotations

import pytest

from jira_console.simulator import FIELD_IDS
from jira_console.store import repo

FLAVORS = ["cloud", "server"]
BUGS_HAVE_NO_POINTS = (("story_points", "Bug"),)


def _of_type(sim, issuetype: str, **where) -> list[str]:
    with sim.site.lock:
        found = [
            i
            for i in sim.site.issues.values()
            if i.issuetype == issuetype and all(getattr(i, k) == v for k, v in where.items())
        ]
    return [i.key for i in sorted(found, key=lambda i: i.sort_key)]


def _errors(rig, key: str) -> dict[str, str]:
    with rig.db.session() as s:
        issue_id = repo.get_issue(s, rig.engine.conn.name, key).id
        return {e.field: e.message for e in repo.list_field_errors(s, issue_id=issue_id)}


def _puts(sim, key: str) -> int:
    return sum(1 for r in sim.requests if r["method"] == "PUT" and r["path"].endswith(f"/issue/{key}"))


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_field_outside_its_context_is_kept_with_a_reason(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, out_of_context=BUGS_HAVE_NO_POINTS)
    await rig.engine.run(full=True)
    bug = _of_type(rig.sim, "Bug")[0]
    raw = (await rig.client.get_issue(bug)).get("fields") or {}
    assert FIELD_IDS[flavor]["story_points"] not in raw  # absent, not null
    rig.sql("UPDATE issues SET story_points = 13 WHERE key = :k", k=bug)
    await rig.engine.run()
    assert _puts(rig.sim, bug) == 0  # editmeta said no: nothing sent to be refused
    message = _errors(rig, bug)["story_points"]
    assert "story_points" in message and "Bug" in message and "editmeta" in message
    assert rig.local(bug)["story_points"] == 13  # kept, visible
    # Later syncs (full ones too) leave it parked, explained and unsent; a new value is a new attempt.
    await rig.engine.run(full=True)
    assert _puts(rig.sim, bug) == 0 and "story_points" in _errors(rig, bug)
    assert rig.local(bug)["story_points"] == 13


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_change_kept_outside_its_context_keeps_its_reason_when_jira_edits_the_issue(
    rig_factory, flavor
) -> None:
    rig = await rig_factory(flavor, out_of_context=BUGS_HAVE_NO_POINTS)
    await rig.engine.run(full=True)
    bug = _of_type(rig.sim, "Bug")[0]
    rig.sql("UPDATE issues SET story_points = 13 WHERE key = :k", k=bug)
    await rig.engine.run()
    reason = _errors(rig, bug)
    assert list(reason) == ["story_points"]
    rig.sim.edit_issue(bug, {"summary": "edited in Jira"})  # the next incremental pull reads the bug again
    assert (await rig.engine.run()).updated == 1
    assert _errors(rig, bug) == reason and rig.local(bug)["story_points"] == 13


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_field_inside_its_context_on_another_type_is_written(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, out_of_context=BUGS_HAVE_NO_POINTS)
    await rig.engine.run(full=True)
    story = _of_type(rig.sim, "Story")[0]
    rig.sql("UPDATE issues SET story_points = 21 WHERE key = :k", k=story)
    await rig.engine.run()
    assert rig.sim.issue(story)["story_points"] == 21.0
    assert _errors(rig, story) == {}


async def test_setting_a_parent_jira_left_out_is_written(rig_factory) -> None:
    rig = await rig_factory("cloud")
    await rig.engine.run(full=True)
    epic = _of_type(rig.sim, "Epic")[0]
    orphan = _of_type(rig.sim, "Story", parent=None)[0]
    raw = (await rig.client.get_issue(orphan)).get("fields") or {}
    assert "parent" not in raw  # Jira omits a parent it does not have
    rig.sql("UPDATE issues SET parent_key = :p WHERE key = :k", p=epic, k=orphan)
    report = await rig.engine.run()
    assert rig.sim.issue(orphan)["parent"] == epic
    assert report.pushed_fields == 1
    assert rig.local(orphan)["local_dirty"] is False and _errors(rig, orphan) == {}
