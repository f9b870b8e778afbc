"""Issue 13: the field types real sites use, synced both ways against the simulator on both databases:
Cloud's native Team field (atlassian-team: the value is the team id), story points per board estimation
field (company-managed boards estimate with the classic "Story Points", team-managed ones with "Story point
estimate"), Server/DC's Epic Link, and the sprints of team-managed (``simple``) boards."""

from __future__ import annotations

import asyncio

import pytest

from jira_console.mapping import repo as mrepo
from jira_console.mapping import templates
from jira_console.mapping.compiled import field_dicts
from jira_console.simulator.model import ATLASSIAN_TEAMS, FIELD_IDS
from jira_console.store import models as m


def _keys(sim, project: str | None = None) -> list[str]:
    with sim.site.lock:
        return sorted(k for k in sim.site.issues if project is None or k.startswith(f"{project}-"))


async def test_cloud_team_field_syncs_both_ways_as_the_team_id(rig_factory) -> None:
    rig = await rig_factory("cloud", issues=24)
    await rig.engine.prepare()
    ids = templates.discover_field_ids("cloud", field_dicts(rig.engine.field_list))
    assert ids["atlassian_team"] == FIELD_IDS["cloud"]["atlassian_team"]  # found by its type, not its name
    defn = templates.atlassian_team("cloud", ids)
    await asyncio.to_thread(mrepo.save, rig.db, defn, connection=rig.engine.conn.name)
    await rig.engine.run(full=True)
    for key in _keys(rig.sim):
        assert rig.local(key)["fields"].get("team_id") == rig.sim.issue(key)["atlassian_team"], key
    assert {rig.local(k)["fields"].get("team_id") for k in _keys(rig.sim)} >= {t for t, _ in ATLASSIAN_TEAMS}

    key = next(k for k in _keys(rig.sim) if rig.sim.issue(k)["atlassian_team"] != ATLASSIAN_TEAMS[2][0])
    with rig.db.session() as s:
        row = s.query(m.Issue).filter_by(key=key).one()
        row.fields = {**(row.fields or {}), "team_id": ATLASSIAN_TEAMS[2][0]}
    report = await rig.engine.run()
    assert report.pushed_fields == 1, report
    assert rig.sim.issue(key)["atlassian_team"] == ATLASSIAN_TEAMS[2][0]  # Jira took the bare team id
    assert rig.sim.violations == []

    # Edited in Jira: the next sync reads the new team back.
    rig.sim.edit_issue(key, {FIELD_IDS["cloud"]["atlassian_team"]: ATLASSIAN_TEAMS[0][0]})
    await rig.engine.run()
    assert rig.local(key)["fields"]["team_id"] == ATLASSIAN_TEAMS[0][0]


async def test_story_points_follow_each_boards_estimation_field(rig_factory) -> None:
    rig = await rig_factory("cloud", issues=30, company_managed=("OPS",))
    await rig.engine.run(full=True)
    assert rig.engine.context is not None
    classic, estimate = FIELD_IDS["cloud"]["classic_story_points"], FIELD_IDS["cloud"]["story_points"]
    assert rig.engine.context.estimation == {"OPS": classic, "ENG": estimate}
    ops, eng = _keys(rig.sim, "OPS"), _keys(rig.sim, "ENG")
    for key in ops:  # company-managed: the classic "Story Points"
        assert rig.local(key)["story_points"] == rig.sim.issue(key)["classic_story_points"], key
    for key in eng:  # team-managed: "Story point estimate"
        assert rig.local(key)["story_points"] == rig.sim.issue(key)["story_points"], key
    assert any(rig.sim.issue(k)["classic_story_points"] for k in ops)
    assert any(rig.sim.issue(k)["story_points"] for k in eng)

    # Written back to the field of each issue's board.
    rig.sql("UPDATE issues SET story_points = 13 WHERE key IN (:a, :b)", a=ops[1], b=eng[1])
    report = await rig.engine.run()
    assert report.pushed_fields == 2, report
    assert (rig.sim.issue(ops[1])["classic_story_points"], rig.sim.issue(ops[1])["story_points"]) == (
        13,
        None,
    )
    assert rig.sim.issue(eng[1])["story_points"] == 13
    assert rig.sim.violations == []

    # Team-managed boards are ``simple``: their sprints are stored too.
    with rig.db.session() as s:
        kinds = {b.project_key: b.type for b in s.query(m.Board)}
        sprint_boards = {sp.board_jira_id for sp in s.query(m.Sprint)}
        board_of = {b.project_key: b.jira_id for b in s.query(m.Board)}
    assert kinds == {"OPS": "scrum", "ENG": "simple"}
    assert board_of["ENG"] in sprint_boards and board_of["OPS"] in sprint_boards
    with rig.sim.site.lock:
        eng_sprints = {sp.id for sp in rig.sim.site.sprints.values() if sp.board_id == board_of["ENG"]}
    with rig.db.session() as s:
        stored = {sp.jira_id for sp in s.query(m.Sprint).filter_by(board_jira_id=board_of["ENG"])}
    assert stored == eng_sprints and len(eng_sprints) == 6


async def test_a_board_that_changes_its_estimation_field_is_followed_after_a_full_sync(
    rig_factory, monkeypatch
) -> None:
    from jira_console.simulator import boards_config

    rig = await rig_factory("cloud", issues=10, company_managed=("OPS",))
    await rig.engine.run(full=True)
    classic, estimate = FIELD_IDS["cloud"]["classic_story_points"], FIELD_IDS["cloud"]["story_points"]
    assert rig.engine.context is not None and rig.engine.context.estimation["OPS"] == classic
    before = {k: rig.local(k)["story_points"] for k in _keys(rig.sim, "OPS")}
    assert any(v is not None for v in before.values())  # read from the classic field
    # The OPS board is reconfigured in Jira to estimate with "Story point estimate".
    monkeypatch.setattr(
        boards_config, "estimation_field", lambda site, board: (estimate, "Story point estimate")
    )
    await rig.engine.run(full=True)
    assert rig.engine.context.estimation == {"OPS": estimate, "ENG": estimate}
    report = await rig.engine.run()
    assert report.backfill  # the values now come from another field: every issue is read again
    after = {k: rig.local(k)["story_points"] for k in _keys(rig.sim, "OPS")}
    assert after == {k: rig.sim.issue(k)["story_points"] for k in after} != before


async def test_server_epic_link_syncs_both_ways(rig_factory) -> None:
    rig = await rig_factory("server", issues=40)
    await rig.engine.prepare()
    ids = templates.discover_field_ids("server", field_dicts(rig.engine.field_list))
    assert ids["epic_link"] == FIELD_IDS["server"]["epic_link"]
    await asyncio.to_thread(
        mrepo.save, rig.db, templates.epic("server", ids), connection=rig.engine.conn.name
    )
    await rig.engine.run(full=True)
    keys = _keys(rig.sim)
    linked = [k for k in keys if rig.sim.issue(k)["parent"]]
    assert linked
    for key in keys:
        expected = rig.sim.issue(key)["parent"]
        assert rig.local(key)["parent_key"] == expected, key  # the core column
        assert rig.local(key)["fields"].get("epic_key") == expected, key  # the template's mapping

    epics = [k for k in keys if rig.sim.issue(k)["issuetype"] == "Epic"]
    target = next(k for k in keys if k not in epics and rig.sim.issue(k)["parent"] != epics[0])
    with rig.db.session() as s:
        row = s.query(m.Issue).filter_by(key=target).one()
        row.fields = {**(row.fields or {}), "epic_key": epics[0]}
    report = await rig.engine.run()
    assert report.pushed_fields == 1, report
    assert rig.sim.issue(target)["parent"] == epics[0]
    # The core column writes the Epic Link too (a bare issue key on Server).
    other = next(k for k in keys if k not in epics and k != target and rig.sim.issue(k)["parent"] != epics[1])
    rig.sql("UPDATE issues SET parent_key = :e WHERE key = :k", e=epics[1], k=other)
    report = await rig.engine.run()
    assert report.pushed_fields >= 1, report
    assert rig.sim.issue(other)["parent"] == epics[1]
    # Edited in Jira: read back into both.
    rig.sim.edit_issue(target, {FIELD_IDS["server"]["epic_link"]: epics[1]})
    await rig.engine.run()
    assert rig.local(target)["fields"]["epic_key"] == epics[1]
    assert rig.sim.violations == []


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_templates_discover_the_site_fields(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=5)
    await rig.engine.prepare()
    ids = templates.discover_field_ids(flavor, field_dicts(rig.engine.field_list))
    assert ids == dict(FIELD_IDS[flavor])  # every role, by schema type (two fields are named "Team" on Cloud)
    built = {d.name for d in templates.all_templates(flavor, ids)}
    assert ("atlassian_team" in built) == (flavor == "cloud")
    assert "epic" in built and "story_points" in built
