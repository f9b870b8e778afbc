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
