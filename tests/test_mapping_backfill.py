"""Issue 13: a mapping change reaches every issue. Import after the first import back-fills every issue in
one sync, in a fresh process (the CLI's way) as well as in the one that imported; the run says so and
reports progress; the next sync reads incrementally again. Both flavors, both databases."""

from __future__ import annotations

from typing import Any

import pytest

from jira_console import events as ev
from jira_console.facade import Engine
from jira_console.simulator.model import FIELD_IDS, TEAM_OPTIONS
from jira_console.store import models as m
from jira_console.store import repo
from jira_console.store import state as st
from jira_console.sync import base_from

FLAVORS = ["cloud", "server"]

TEAM_TOML = """
[[mapping]]
name = "team"
jira_field = { schema_custom = "com.atlassian.jira.plugin.system.customfieldtypes:select", name = "Team" }
internal_field = "team"
steps = [{ op = "option" }]
"""

TEAM_CODES_TOML = """
[[mapping]]
name = "team"
jira_field = { schema_custom = "com.atlassian.jira.plugin.system.customfieldtypes:select", name = "Team" }
internal_field = "team"
steps = [
  { op = "option" },
  { op = "value_map", table = { Backend = "be", Frontend = "fe", Platform = "pl" } },
]
"""


def _local_fields(engine: Engine, connection: str) -> dict[str, dict[str, Any]]:
    with engine.db.session() as s:
        rows = s.query(m.Issue).filter_by(connection=connection, deleted=False).all()
        return {r.key: dict(r.fields or {}) for r in rows}


def _expected_team(sim: Any, key: str) -> str | None:
    option = sim.issue(key)["team"]
    return dict(TEAM_OPTIONS)[option] if option else None


async def _fresh(engine: Engine, owner: str) -> Engine:
    """A second engine on the same settings and database: what a new CLI invocation is."""
    other = Engine(engine.settings, owner=owner)
    await other.start(attach=False)
    return other


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_import_after_first_import_back_fills_every_issue_in_one_sync(engine_factory, flavor) -> None:
    engine, sim = await engine_factory(flavor, issues=45, conn={"page_size": 10})
    name = engine.settings.jira[0].name
    (first,) = await engine.run_sync()
    assert first.created == 45 and not first.backfill
    assert all("team" not in f for f in _local_fields(engine, name).values())

    cli = await _fresh(engine, "cli-import")
    try:
        await cli.import_mappings(TEAM_TOML, connection=name, actor="cli")
    finally:
        await cli.stop()

    cli = await _fresh(engine, "cli-sync")
    progress: list[ev.SyncProgressed] = []
    notices: list[str] = []

    def seen(event: ev.EngineEvent) -> None:
        if isinstance(event, ev.SyncProgressed):
            progress.append(event)
        elif isinstance(event, ev.Notice):
            notices.append(event.message)

    cli.subscribe(seen)
    try:
        (report,) = await cli.run_sync()  # incremental: nothing changed in Jira since the first import
    finally:
        await cli.stop()
    assert report.backfill and report.backfilled == 45, report
    local = _local_fields(engine, name)
    assert len(local) == 45
    assert {k: f.get("team") for k, f in local.items()} == {k: _expected_team(sim, k) for k in local}
    assert any(_expected_team(sim, k) for k in local)  # the site has teams set: the check is not vacuous
    assert progress and all(p.backfill for p in progress) and progress[-1].seen == 45
    assert len(progress) >= 5  # page by page (page size 10)
    assert any("back-fill" in n for n in notices)
    with engine.db.session() as s:
        state = st.get_sync_state(s, name, "issues")
        assert state is not None and (state.counts or {}).get("backfilled") == 45
        # The audit says why each issue gained the field: not "changed in Jira", nothing changed there.
        reasons = {a.reason for a in repo.list_audit(s, field="team", limit=1000)}
    assert reasons == {"first read of this field"}

    # The back-fill is done once: the next sync reads only what changed.
    key = sorted(local)[3]
    sim.edit_issue(key, {FIELD_IDS[flavor]["team"]: {"id": TEAM_OPTIONS[2][0]}})
    (after,) = await engine.run_sync()
    assert not after.backfill and after.updated == 1 and after.seen < 45, after
    assert _local_fields(engine, name)[key]["team"] == "Platform"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_new_version_of_a_mapping_back_fills_in_the_process_that_runs_the_syncs(
    engine_factory, flavor
) -> None:
    engine, sim = await engine_factory(flavor, issues=30)
    name = engine.settings.jira[0].name
    await engine.import_mappings(TEAM_TOML, connection=name)
    (first,) = await engine.run_sync()
    assert not first.backfill  # a first import reads everything with the mappings it has
    assert {f.get("team") for f in _local_fields(engine, name).values()} <= {
        "Backend",
        "Frontend",
        "Platform",
        None,
    }

    await engine.import_mappings(TEAM_CODES_TOML, connection=name)
    (second,) = await engine.run_sync()
    assert second.backfill and second.backfilled == 30
    local = _local_fields(engine, name)
    codes = {"Backend": "be", "Frontend": "fe", "Platform": "pl", None: None}
    assert {k: f.get("team") for k, f in local.items()} == {k: codes[_expected_team(sim, k)] for k in local}
    with engine.db.session() as s:  # the audit says the mappings changed the values, not Jira
        recoded = {
            a.reason for a in repo.list_audit(s, field="team", limit=1000) if a.new in ("be", "fe", "pl")
        }
    assert recoded == {"the mappings changed (same Jira version, read again)"}

    # Re-importing the same text changes nothing: no new version, no back-fill.
    await engine.import_mappings(TEAM_CODES_TOML, connection=name)
    (third,) = await engine.run_sync()
    assert not third.backfill and third.updated == 0 and third.seen < 30


@pytest.mark.parametrize("flavor", ["cloud"])
async def test_disable_enable_and_delete_each_change_the_generation(engine_factory, flavor) -> None:
    engine, _sim = await engine_factory(flavor, issues=5)
    name = engine.settings.jira[0].name
    from jira_console.mapping import repo as mrepo

    await engine.import_mappings(TEAM_TOML, connection=name)
    seen = [mrepo.generation(engine.db, name)]
    for change in ("disable", "disable", "enable", "delete"):
        if change == "delete":
            assert mrepo.delete(engine.db, "team", name)
        else:
            assert mrepo.set_enabled(engine.db, "team", name, change == "enable") is not None
        seen.append(mrepo.generation(engine.db, name))
    # Disabling twice changes nothing the second time; every real change bumps.
    assert seen[0] < seen[1] == seen[2] < seen[3] < seen[4], seen
    # A global mapping counts for every connection.
    before = mrepo.generation(engine.db, name)
    mrepo.save(engine.db, {"name": "g", "jira_field": "labels", "internal_field": "g"})
    assert mrepo.generation(engine.db, name) == before + 1


def _parked(engine: Engine, key: str) -> tuple[Any, bool, list[tuple[str, str | None, Any]]]:
    """An issue's priority, whether it waits for the push, and its field errors (field, step, value)."""
    issue = engine.get_issue(key)
    assert issue is not None
    errors = [(e.field, e.step, e.value) for e in engine.field_errors(issue_id=issue.id)]
    return issue.priority, issue.local_dirty, errors


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("change", ["added", "changed"])
async def test_a_back_fill_keeps_a_refused_local_change_parked_with_its_error(
    engine_factory, flavor, change
) -> None:
    """A user's report: a local value Jira refused, then a mapping import. The back-fill read the issue again
    and dropped its field error, leaving the refused value in the store as if it were Jira's, with nothing
    to say otherwise (only a full sync sent it again, to be refused again)."""
    engine, sim = await engine_factory(flavor, issues=20)
    name = engine.settings.jira[0].name
    if change == "changed":
        await engine.import_mappings(TEAM_TOML, connection=name)
    await engine.run_sync()
    key = sorted(sim.site.issues)[4]
    in_jira = sim.issue(key)["priority"]
    engine.set_local(key, {"priority": "Ultra"})
    (refused,) = await engine.run_sync()
    assert refused.refused_fields == 1
    parked = _parked(engine, key)
    assert parked == ("Ultra", False, [("priority", "refused by Jira", "Ultra")])

    await engine.import_mappings(TEAM_CODES_TOML if change == "changed" else TEAM_TOML, connection=name)
    (report,) = await engine.run_sync()
    assert report.backfill and report.backfilled == 20, report
    codes = {"Backend": "be", "Frontend": "fe", "Platform": "pl", None: None}
    team = _expected_team(sim, key)
    assert _local_fields(engine, name)[key].get("team") == (codes[team] if change == "changed" else team)
    # The issue was read again, and its refused change is still what it was: kept, explained, not sent.
    assert _parked(engine, key) == parked
    for full in (False, True):
        (after,) = await engine.run_sync(full=full)
        assert after.refused_fields == 0 and _parked(engine, key) == parked
    assert sim.issue(key)["priority"] == in_jira


CODES = {"Backend": "be", "Frontend": "fe", "Platform": "pl", None: None}


async def _team_refused(engine_factory, flavor: str) -> tuple[Engine, Any, str, str | None]:
    """A synced site with the ``team`` mapping and one issue whose local team Jira refused ("Nope"): the
    engine, the simulator, the issue's key and its team in Jira."""
    engine, sim = await engine_factory(flavor, issues=12)
    name = engine.settings.jira[0].name
    await engine.import_mappings(TEAM_TOML, connection=name)
    await engine.run_sync()
    key = next(k for k in sorted(sim.site.issues) if _expected_team(sim, k))
    engine.set_local(key, {"fields.team": "Nope"})
    (refused,) = await engine.run_sync()
    assert refused.refused_fields == 1
    return engine, sim, key, _expected_team(sim, key)


async def _recode(engine: Engine) -> None:
    """The ``team`` mapping changes: Jira's "Platform" now reads "pl"."""
    await engine.import_mappings(TEAM_CODES_TOML, connection=engine.settings.jira[0].name)


def _team_parked(engine: Engine, key: str) -> tuple[Any, Any, bool, list[tuple[str, str | None, Any]]]:
    """An issue's local team, its base, whether it waits for the push, and its field errors."""
    issue = engine.get_issue(key)
    assert issue is not None
    errors = [(e.field, e.step, e.value) for e in engine.field_errors(issue_id=issue.id)]
    return issue.fields.get("team"), issue.base.get("team"), issue.local_dirty, errors


REFUSED = [("team", "refused by Jira", "Nope")]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_refused_value_of_a_field_whose_mapping_changed_stays_parked_without_a_conflict(
    engine_factory, flavor
) -> None:
    """The base of a field is kept in its mapping's terms. A value Jira refused waits locally; the mapping
    then changes (Jira's "Platform" now reads "pl"), and the back-fill compared Jira's new reading with the
    old base: both sides moved, a conflict, though nobody had touched Jira."""
    engine, sim, key, team = await _team_refused(engine_factory, flavor)
    assert _team_parked(engine, key) == ("Nope", team, False, REFUSED)

    await _recode(engine)
    (report,) = await engine.run_sync()
    assert report.backfill and report.conflicts == 0, report
    assert engine.list_conflicts() == []
    # The base is Jira's value in the new mapping's terms; the refused value still waits, explained.
    assert _team_parked(engine, key) == ("Nope", CODES[team], False, REFUSED)
    for full in (False, True):
        (after,) = await engine.run_sync(full=full)
        assert after.refused_fields == 0 and after.conflicts == 0
        assert _team_parked(engine, key) == ("Nope", CODES[team], False, REFUSED)
    assert _expected_team(sim, key) == team  # nothing was written over Jira's value


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_field_changed_in_jira_during_the_back_fill_of_its_new_mapping_is_still_a_conflict(
    engine_factory, flavor
) -> None:
    engine, sim, key, team = await _team_refused(engine_factory, flavor)
    other_id, other = next((i, v) for i, v in TEAM_OPTIONS if v != team)
    sim.edit_issue(key, {FIELD_IDS[flavor]["team"]: {"id": other_id}}, by="other")

    await _recode(engine)
    (report,) = await engine.run_sync()
    assert report.backfill and report.conflicts == 1, report
    [conflict] = engine.list_conflicts()
    assert (conflict.issue_key, conflict.field, conflict.local, conflict.jira) == (
        key,
        "team",
        "Nope",
        CODES[other],
    )
    assert _expected_team(sim, key) == other  # the colleague's edit is not overwritten


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_push_before_the_back_fill_reads_the_base_under_the_new_mapping_too(
    engine_factory, flavor
) -> None:
    """The push's own compare with Jira meets the old base first when the issue waits for another field."""
    engine, sim, key, team = await _team_refused(engine_factory, flavor)
    await _recode(engine)
    engine.set_local(key, {"summary": "pushed before the back-fill"})
    await engine.push()
    assert sim.issue(key)["summary"] == "pushed before the back-fill"
    assert engine.list_conflicts() == []
    assert _team_parked(engine, key) == ("Nope", CODES[team], False, REFUSED)
    (report,) = await engine.run_sync()
    assert report.backfill and report.conflicts == 0 and report.refused_fields == 0, report
    assert _expected_team(sim, key) == team


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_edit_waiting_over_our_own_write_when_the_mapping_changes_is_not_a_conflict(
    engine_factory, flavor
) -> None:
    """The base a push records is Jira's reading of our write; an edit made after it and not pushed yet
    meets the new mapping at the back-fill, which must know Jira still holds what we wrote."""
    engine, sim = await engine_factory(flavor, issues=12)
    name = engine.settings.jira[0].name
    await engine.import_mappings(TEAM_TOML, connection=name)
    await engine.run_sync()
    key = next(k for k in sorted(sim.site.issues) if _expected_team(sim, k) != "Frontend")
    engine.set_local(key, {"fields.team": "Frontend"})
    (pushed,) = await engine.run_sync()
    assert pushed.pushed_fields == 1 and _expected_team(sim, key) == "Frontend"

    engine.set_local(key, {"fields.team": "Web"})  # waits: the mapping changes before the next sync
    await _recode(engine)
    (report,) = await engine.run_sync()
    assert report.backfill and report.conflicts == 0, report
    team, base, dirty, errors = _team_parked(engine, key)
    assert (team, base, dirty) == ("Web", "fe", False)
    assert errors == [("team", None, None)]  # written in the old mapping's terms: the codes cannot write it
    issue = engine.get_issue(key)
    assert issue is not None
    assert "'Web' is not an internal value" in engine.field_errors(issue_id=issue.id)[0].message
    assert _expected_team(sim, key) == "Frontend"


def test_where_a_base_came_from_ignores_the_links_a_representation_carries() -> None:
    """A webhook's v2 body and a v3 read of one option differ in their ``self`` links only."""
    v2 = {"self": "https://x/rest/api/2/customFieldOption/10300", "value": "Backend", "id": "10300"}
    v3 = {**v2, "self": "https://x/rest/api/3/customFieldOption/10300"}
    assert base_from.digest(v2, "Backend") == base_from.digest(v3, "Backend")
    assert base_from.digest(v2, "Backend") != base_from.digest(v2, "be")  # the base is part of it
    assert base_from.digest({**v2, "id": "10301"}, "Backend") != base_from.digest(v2, "Backend")
    assert base_from.digest(2**70, 1.0) is None  # not serialisable: never taken as unchanged
