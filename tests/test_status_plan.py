"""Status writes plan before they move (issue 11, item 12), against the simulator on both flavors and both
databases: the whole path is read first; an unknown status, an unreachable one or a transition needing a
field the sync does not set moves nothing and leaves a field error; the path never detours through Done."""

from __future__ import annotations

import pytest

from jira_console.simulator import routes_workflow
from jira_console.store import repo

FLAVORS = ["cloud", "server"]
TO_IN_REVIEW = ("11", "21")  # Start Progress, Submit for Review


def _in_status(sim, status: str) -> list[str]:
    with sim.site.lock:
        found = [i for i in sim.site.issues.values() if i.status == status]
    return [i.key for i in sorted(found, key=lambda i: i.sort_key)]


def _moves(sim, key: str) -> list[str]:
    return [
        r["path"] for r in sim.requests if r["method"] == "POST" and r["path"].endswith(f"{key}/transitions")
    ]


def _errors(rig, key: str) -> dict[str, str]:
    with rig.db.session() as s:
        issue_id = repo.get_issue(s, rig.engine.conn.name, key).id
        return {e.field: e.message for e in repo.list_field_errors(s, issue_id=issue_id)}


def _statuses_seen(sim, key: str) -> list[str]:
    with sim.site.lock:
        history = list(sim.site.issues[key].changelog)
    return [str(i["toString"]) for h in history for i in h.items if i.get("field") == "status"]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_unknown_status_moves_nothing_and_lists_the_choices(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _in_status(rig.sim, "To Do")[0]
    rig.sql("UPDATE issues SET status = 'Teleported' WHERE key = :k", k=key)
    report = await rig.engine.run()
    assert _moves(rig.sim, key) == []
    assert rig.sim.issue(key)["status"] == "To Do"
    message = _errors(rig, key)["status"]
    assert "Teleported" in message and "In Review" in message and "Done" in message
    assert report.conflicts == 0
    assert rig.local(key)["status"] == "Teleported"  # kept, visible, not silently dropped


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_move_back_never_detours_through_done(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    key = _in_status(rig.sim, "To Do")[0]
    for tid in TO_IN_REVIEW:
        rig.sim.site.transition(key, tid, None, version="2", by="other")
    await rig.engine.run(full=True)
    before = len(_statuses_seen(rig.sim, key))
    rig.sql("UPDATE issues SET status = 'To Do' WHERE key = :k", k=key)
    report = await rig.engine.run()
    assert rig.sim.issue(key)["status"] == "To Do"
    assert _statuses_seen(rig.sim, key)[before:] == ["In Progress", "To Do"]
    assert report.conflicts == 0 and _errors(rig, key) == {}
    assert rig.local(key)["local_dirty"] is False


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_forward_move_walks_the_planned_path(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _in_status(rig.sim, "To Do")[0]
    rig.sql("UPDATE issues SET status = 'Done' WHERE key = :k", k=key)
    report = await rig.engine.run()
    assert _statuses_seen(rig.sim, key)[-3:] == ["In Progress", "In Review", "Done"]
    assert report.conflicts == 0 and _errors(rig, key) == {}


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_transition_needing_a_field_says_so_before_anything_moves(
    rig_factory, flavor, monkeypatch
) -> None:
    screen = {**routes_workflow.SCREENS["41"]["resolution"], "hasDefaultValue": False}
    monkeypatch.setitem(routes_workflow.SCREENS, "41", {"resolution": screen})
    rig = await rig_factory(flavor)
    await rig.engine.run(full=True)
    key = _in_status(rig.sim, "To Do")[0]
    rig.sql("UPDATE issues SET status = 'Done' WHERE key = :k", k=key)
    await rig.engine.run()
    assert _moves(rig.sim, key) == []  # not even the first hop of the three
    assert rig.sim.issue(key)["status"] == "To Do"
    message = _errors(rig, key)["status"]
    assert "Resolution" in message and "Approve" in message


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_many_issues_moved_at_once_read_the_workflow_once(rig_factory, flavor) -> None:
    """A host program moves twenty issues to Done: each walks its own path, but the project's statuses and
    the transitions out of the statuses on the way are read once for the push, not once per issue."""
    rig = await rig_factory(flavor, issues=300)
    await rig.engine.run(full=True)
    keys = [k for k in _in_status(rig.sim, "To Do") if k.startswith("ENG-")][:20]
    assert len(keys) == 20
    types = {rig.sim.issue(k)["issuetype"] for k in keys}
    api = f"/rest/api/{'3' if flavor == 'cloud' else '2'}"
    before = len(rig.sim.requests)
    rig.sql(f"UPDATE issues SET status = 'Done' WHERE key IN ({', '.join(repr(k) for k in keys)})")

    report = await rig.engine.run()

    assert report.conflicts == 0 and report.refused_fields == 0
    for key in keys:
        assert _statuses_seen(rig.sim, key)[-3:] == ["In Progress", "In Review", "Done"] and not _errors(
            rig, key
        )
    made = rig.sim.requests[before:]
    statuses = sum(1 for r in made if r["path"] == f"{api}/project/ENG/statuses")
    assert statuses == len(types) < len(keys)  # once per issue type, where it was once per issue
    reads = sum(1 for r in made if r["method"] == "GET" and r["path"].endswith("/transitions"))
    assert reads <= len(keys) + 3 * len(types)  # its own, and a sample or two per type on the way
