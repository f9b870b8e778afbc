"""The engine facade end to end against the simulator: what the console and CLI rely on."""

from __future__ import annotations

import pytest

from jira_console import events as ev
from jira_console.mapping import templates
from jira_console.mapping.compiled import field_dicts
from jira_console.sync import conflicts as cf
from tests.waiting import until


async def test_resolve_conflict_end_to_end_reaches_jira_and_is_audited(engine_factory) -> None:
    engine, sim = await engine_factory("cloud")
    seen: list[ev.EngineEvent] = []
    engine.subscribe(seen.append)
    await engine.run_sync(full=True)
    key = engine.list_issues(limit=5)[2].key
    engine.set_local(key, {"summary": "ours"})
    sim.edit_issue(key, {"summary": "theirs"})
    await engine.run_sync()
    [conflict] = engine.list_conflicts()
    assert (conflict.issue_key, conflict.field, conflict.local, conflict.jira) == (
        key,
        "summary",
        "ours",
        "theirs",
    )
    assert any(isinstance(e, ev.ConflictDetected) for e in seen)
    # A value Jira refuses on every site settles nothing: the conflict stays open.
    with pytest.raises(cf.ResolutionError, match="summary cannot be empty: Jira requires one"):
        await engine.resolve_conflict(conflict.id, "value", "", actor="tester")
    # Nor does a summary longer than Jira keeps (255): resolved, Jira refused it at the push and kept its own.
    with pytest.raises(cf.ResolutionError, match="at most 255 characters"):
        await engine.resolve_conflict(conflict.id, "value", "x" * 256, actor="tester")
    assert engine.count_conflicts() == 1
    resolved = await engine.resolve_conflict(conflict.id, "value", "agreed title", actor="tester")
    assert resolved.status == "resolved" and resolved.resolution == "value"
    assert sim.issue(key)["summary"] == "agreed title"
    assert engine.get_issue(key).summary == "agreed title"
    assert engine.count_conflicts() == 0
    trail = [(a.side, a.field, a.new, a.actor) for a in engine.audit(key)]
    assert ("local", "summary", "agreed title", "tester") in trail
    assert any(side == "jira" and f == "summary" for side, f, _n, _a in trail)


async def test_resolve_many_by_filter(engine_factory) -> None:
    engine, sim = await engine_factory("server")
    await engine.run_sync(full=True)
    keys = [i.key for i in engine.list_issues(limit=6)]
    for k in keys:
        engine.set_local(k, {"summary": f"local {k}"})
        sim.edit_issue(k, {"summary": f"jira {k}"})
    await engine.run_sync()
    assert engine.count_conflicts(field="summary") == len(keys)
    assert await engine.resolve_conflicts("jira", field="summary") == len(keys)
    assert engine.count_conflicts() == 0
    assert all(engine.get_issue(k).summary == f"jira {k}" for k in keys)


async def test_preview_follows_the_definition_being_edited(engine_factory) -> None:
    engine, _sim = await engine_factory("cloud")
    await engine.run_sync(full=True)
    sync = engine.syncs[engine.settings.jira[0].name]
    ids = templates.discover_field_ids("cloud", field_dicts(sync.field_list))
    defn = templates.story_points("cloud", ids).to_data()
    rows = engine.preview_mapping(defn, limit=20)
    assert len(rows) == 20
    with_points = [r for r in rows if r.jira_value is not None]
    assert with_points and all(r.internal_value == float(r.jira_value) for r in with_points)
    scaled = dict(defn, steps=[*defn["steps"], {"op": "scale", "factor": 2}], validate={})
    rows2 = engine.preview_mapping(scaled, limit=20)
    for before, after in zip(with_points, [r for r in rows2 if r.jira_value is not None], strict=True):
        assert after.internal_value == before.internal_value * 2
        assert after.back_to_jira.value == pytest.approx(before.jira_value)
    with pytest.raises(ValueError, match="story_points"):
        engine.preview_mapping(dict(defn, steps=[{"op": "round", "digits": "x"}]))


async def test_save_mapping_versions_and_resyncs(engine_factory) -> None:
    engine, _sim = await engine_factory("server")
    await engine.run_sync(full=True)
    sync = engine.syncs[engine.settings.jira[0].name]
    ids = templates.discover_field_ids("server", field_dicts(sync.field_list))
    text = engine.mapping_to_toml(templates.team("server", ids).to_data())
    defn = engine.mapping_from_toml(text)
    first = await engine.save_mapping(defn, actor="tester")
    second = await engine.save_mapping(dict(defn, description="changed"), actor="tester")
    assert (first.version, second.version) == (1, 2)
    assert [m.name for m in engine.list_mappings()] == ["team"]
    assert any(c.name == "team" for c in sync.codecs)
    await engine.run_sync(full=True)
    assert any(i.fields.get("team") for i in engine.list_issues(limit=50))
    with pytest.raises(ValueError):
        engine.mapping_from_toml("name = 'x'\njira_field = ")


async def test_attached_mode_queues_a_sync_and_waits_for_the_daemons_outcome(engine_factory) -> None:
    import asyncio
    from dataclasses import asdict

    from jira_console.facade import SyncReport
    from jira_console.store import state as st

    owner, _sim = await engine_factory("cloud")
    with owner.db.session() as s:
        st.heartbeat(s, "daemon-a", host="h", pid=1, version="x", status={"connections": []})
    attached, _ = await engine_factory("cloud", attach=None)
    assert attached.mode == "attached" and attached.clients == {}
    assert attached.engine_state().daemon == "daemon-a" and attached.engine_state().alive

    async def daemon_a() -> None:
        """What the daemon's command job does: claim, run, record the reports."""
        while True:
            with owner.db.session(write=True) as s:  # as the daemon's command job does
                st.heartbeat(s, "daemon-a", host="h", pid=1, version="x", status={"connections": []})
                command = st.claim_command(s, "daemon-a")
            if command is not None:
                report = SyncReport("sim", seen=7, duration_ms=12)
                with owner.db.session(write=True) as s:
                    st.finish_command(s, command.id, result={"reports": [asdict(report)]})
                return
            await asyncio.sleep(0.05)

    helper = asyncio.ensure_future(daemon_a())
    [report] = await attached.run_sync()
    await helper
    assert (report.connection, report.seen, report.status) == ("sim", 7, "ok")
    with attached.db.session() as s:
        [command] = st.list_commands(s)
    assert command.kind == "sync" and command.claimed_by == "daemon-a"


async def test_a_retry_after_outlives_a_restart(engine_factory) -> None:
    """A daemon killed while Jira asked it to wait must not call again early once restarted."""
    import asyncio

    from jira_console.facade import Engine
    from jira_console.sync.connection import stored_not_before

    engine, sim = await engine_factory("server")
    sim.faults.set(rate_limit_rate=1.0, retry_after=5.0)
    client = next(iter(engine.clients.values()))
    # The call waits out the Retry-After; it is written in the background. (A fixed 0.5 s timeout on the
    # call could end it before the first answer arrived on a busy machine: nothing was stored then.)
    call = asyncio.ensure_future(client.server_info())
    await until(lambda: stored_not_before(engine.db, client.conn.name), "the stored Retry-After")
    sim.faults.clear()
    call.cancel()
    with pytest.raises(BaseException):  # noqa: B017 - cancelled, or rate limited past the deadline
        await call
    restarted = Engine(engine.settings, owner="restarted")
    await restarted.start(attach=False)
    try:
        gate = next(iter(restarted.clients.values())).gate
        assert 3.0 < gate.remaining() <= 5.0
        assert all(s.scope != "rate_limit" for s in restarted.sync_states())
    finally:
        await restarted.stop()
