"""Mapping templates applied to the simulator's fields and synced both ways, on both flavors."""

from __future__ import annotations

import asyncio

import pytest

from jira_console.mapping import repo as mrepo
from jira_console.mapping import templates
from jira_console.mapping.compiled import field_dicts
from jira_console.store import catalog
from tests.fixtures.mappings import pull_only_summary

FLAVORS = ["cloud", "server"]


async def _install(rig, names: list[str]) -> None:
    await rig.engine.prepare()
    ids = templates.discover_field_ids(rig.engine.flavor, field_dicts(rig.engine.field_list))
    for name in names:
        defn = templates.TEMPLATES[name](rig.engine.flavor, ids)
        await asyncio.to_thread(mrepo.save, rig.db, defn, connection=rig.engine.conn.name, changed_by="test")
    problems = await asyncio.to_thread(rig.engine.reload_mappings)
    assert problems == []


def _keys(sim) -> list[str]:
    with sim.site.lock:
        return sorted(sim.site.issues)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_templates_pull_and_push(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=40)
    await _install(rig, ["story_points", "sprint", "team", "epic", "labels", "components", "priority"])
    await rig.engine.run(full=True)
    # The "Team" select the template maps (on Cloud the native Team field is another one).
    team_field = templates.discover_field_ids(rig.engine.flavor, field_dicts(rig.engine.field_list))["team"]
    component_names: set[str] = set()
    for key in _keys(rig.sim)[:15]:
        raw = (await rig.client.get_issue(key))["fields"]
        local = rig.local(key)
        expected_team = (raw.get(team_field) or {}).get("value")
        assert local["fields"].get("team") == expected_team
        assert local["fields"].get("components") == [c["name"] for c in raw.get("components") or []]
        component_names.update(c["name"] for c in raw.get("components") or [])
        assert local["priority"] == (raw.get("priority") or {}).get("name")
        assert local["story_points"] == rig.sim.issue(key)["story_points"]
        assert local["fields"].get("epic_key") == rig.sim.issue(key)["parent"]

    key = _keys(rig.sim)[4]
    current = rig.local(key)["fields"].get("team")
    new_team = "Platform" if current != "Platform" else "Backend"
    component = sorted(component_names - set(rig.local(key)["fields"].get("components") or []))[0]
    from jira_console.store import models as m

    with rig.db.session() as s:
        row = s.query(m.Issue).filter_by(key=key).one()
        row.fields = {**(row.fields or {}), "team": new_team, "components": [component]}
        row.story_points = 21
    report = await rig.engine.run()
    assert report.pushed_fields == 3, report
    raw = (await rig.client.get_issue(key))["fields"]
    assert raw[team_field]["value"] == new_team
    assert [c["name"] for c in raw["components"]] == [component]
    assert rig.sim.issue(key)["story_points"] == 21
    assert rig.sim.violations == []


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_assignee_through_the_identity_table(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=30)
    users = rig.sim.site.users
    first_assignee = next(a for k in _keys(rig.sim) if (a := rig.sim.issue(k)["assignee"]))
    unknown = next(u for u in users if first_assignee in (u.account_id, u.name))
    with rig.db.session() as s:
        for u in users:
            if u is unknown:  # stays out of the identity table on purpose
                continue
            jira_user = u.account_id if flavor == "cloud" else u.name
            catalog.upsert_identity(
                s, rig.engine.conn.name, jira_user, email=u.email or f"{u.name}@x", internal_id=u.name
            )
    await _install(rig, ["assignee"])
    await rig.engine.run(full=True)
    from jira_console.store import repo

    with rig.db.session() as s:
        errors = {(e.issue_id, e.field) for e in repo.list_field_errors(s)}
    seen_unknown = 0
    for key in _keys(rig.sim):
        assignee = rig.sim.issue(key)["assignee"]
        local = rig.local(key)
        user = next((u for u in users if assignee in (u.account_id, u.name)), None)
        if user is None:
            assert local["assignee"] is None
        elif user is unknown:
            seen_unknown += 1  # unresolved: reported as a field error, never guessed
            assert local["assignee"] is None and (local["id"], "assignee") in errors
        else:
            assert local["assignee"] == (user.email or f"{user.name}@x")
    assert seen_unknown > 0
    # Push: assign by e-mail, Jira receives the right accountId / name. (An issue whose current Jira value
    # cannot be mapped is not overwritten: there is nothing to compare with; its field error says why.)
    key = next(
        k for k in _keys(rig.sim) if rig.sim.issue(k)["assignee"] not in (unknown.account_id, unknown.name)
    )
    current = rig.sim.issue(key)["assignee"]
    target = next(u for u in users if u is not unknown and current not in (u.account_id, u.name))
    rig.sql("UPDATE issues SET assignee = :a WHERE key = :k", a=target.email or f"{target.name}@x", k=key)
    await rig.engine.run()
    assert rig.sim.issue(key)["assignee"] in (target.account_id, target.name)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_pull_only_mapping_of_a_pushed_field_follows_the_push(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=12)
    await rig.engine.prepare()
    shout = pull_only_summary("shout", "upper")
    await asyncio.to_thread(mrepo.save, rig.db, shout, connection=rig.engine.conn.name, changed_by="test")
    assert await asyncio.to_thread(rig.engine.reload_mappings) == []
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[4]
    rig.sql("UPDATE issues SET summary = 'edited here' WHERE key = :k", k=key)
    report = await rig.engine.run()
    assert report.pushed_fields == 1 and rig.sim.issue(key)["summary"] == "edited here"
    # Jira's version read back after the write is the stored one now: what a mapping derives from it is
    # taken at once, not left until Jira changes the issue again.
    assert rig.local(key)["fields"]["shout"] == "EDITED HERE" and rig.local(key)["local_dirty"] is False
    again = await rig.engine.run()
    assert (again.pulled_fields, again.pushed_fields, again.conflicts) == (0, 0, 0)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_key_of_issues_fields_no_mapping_pushes_is_a_field_error_not_ignored(
    rig_factory, flavor
) -> None:
    """The outbox refuses a field no mapping pushes, saying which are known; the same key written into
    ``issues.fields`` was dropped without a word (the row went clean, nothing said why). Now it gets the same
    field error, the issue's other changes are pushed, and the error goes when the key does."""
    from jira_console.store import models as m
    from jira_console.store import repo

    rig = await rig_factory(flavor, issues=20)
    await _install(rig, ["team"])
    await rig.engine.run(full=True)
    key = _keys(rig.sim)[4]
    new_team = "Platform" if rig.local(key)["fields"].get("team") != "Platform" else "Backend"

    def edit_fields(change) -> None:  # noqa: ANN001 - as a host program's ORM rewrites the column
        with rig.db.session(write=True) as s:
            row = s.query(m.Issue).filter_by(key=key).one()
            row.fields = change(dict(row.fields or {}))

    def errors() -> list[tuple[str, str]]:
        with rig.db.session() as s:
            return [(e.field, e.message) for e in repo.list_field_errors(s, connection=rig.engine.conn.name)]

    edit_fields(lambda f: {**f, "team": new_team, "nosuchfield": 1})
    report = await rig.engine.run()
    assert (report.pushed_fields, report.refused_fields) == (1, 1)
    assert rig.local(key)["fields"]["team"] == new_team and not rig.local(key)["local_dirty"]
    assert errors() == [
        ("nosuchfield", "unknown or pull-only field 'nosuchfield'; known: team (a key of issues.fields)")
    ]
    assert (await rig.engine.run(full=True)).refused_fields == 0 and len(errors()) == 1  # said once, kept
    edit_fields(lambda f: {k: v for k, v in f.items() if k != "nosuchfield"})
    await rig.engine.run()
    assert errors() == []
