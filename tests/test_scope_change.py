"""A connection's JQL changed between two syncs: the next run reads everything the JQL now selects (the
issues it takes in arrive without waiting for the next full sync), and the issues it leaves out are told
apart from issues deleted in Jira. Both flavors, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from jira_console import events as ev
from jira_console.store import models as m
from jira_console.sync.engine import SyncEngine

FLAVORS = ["cloud", "server"]


def _engine(rig: Any, jql: str, heard: list[Any] | None = None) -> SyncEngine:
    conn = rig.engine.conn.model_copy(update={"jql": jql})
    return SyncEngine(rig.db, conn, rig.client, emit=(heard.append if heard is not None else lambda _e: None))


def _stored(rig: Any, project: str, *, deleted: bool = False) -> set[str]:
    with rig.db.session() as s:
        rows = s.scalars(
            select(m.Issue.key).where(m.Issue.project_key == project, m.Issue.deleted.is_(deleted))
        )
        return set(rows)


def _in_jira(rig: Any, project: str) -> set[str]:
    with rig.sim.site.lock:
        return {k for k, i in rig.sim.site.issues.items() if i.key == k and k.startswith(f"{project}-")}


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_widened_jql_brings_in_the_issues_it_now_selects_at_the_next_sync(rig_factory, flavor):
    rig = await rig_factory(flavor, issues=40, conn={"jql": "project = ENG"})
    await rig.engine.run(full=True)
    assert _stored(rig, "ENG") == _in_jira(rig, "ENG") and not _stored(rig, "OPS")
    again = await rig.engine.run()
    assert not again.full  # the same JQL: an incremental run

    heard: list[Any] = []
    report = await _engine(rig, "project in (ENG, OPS) ORDER BY key", heard).run()

    assert report.full and report.created == len(_in_jira(rig, "OPS")) > 0
    assert _stored(rig, "OPS") == _in_jira(rig, "OPS")
    said = [e.message for e in heard if isinstance(e, ev.Notice)]
    assert any("the JQL changed since the last sync" in t for t in said), said
    # Remembered: the run after is incremental again, and so is one whose JQL differs only in spacing.
    assert not (await _engine(rig, "project  in (ENG, OPS)").run()).full


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_issues_a_narrowed_jql_leaves_out_are_told_apart_from_issues_deleted_in_jira(
    rig_factory, flavor
):
    rig = await rig_factory(flavor, issues=40, conn={"jql": "project in (ENG, OPS)"})
    await rig.engine.run(full=True)
    ops = _stored(rig, "OPS")
    gone = sorted(_in_jira(rig, "ENG"))[0]
    rig.sim.delete_issue(gone)

    report = await _engine(rig, "project = ENG").run()

    assert report.full
    assert (report.deleted, report.left_scope) == (1, len(ops))
    assert _stored(rig, "OPS", deleted=True) == ops and _stored(rig, "ENG", deleted=True) == {gone}
    with rig.db.session() as s:
        reasons = {
            a.issue_key: a.reason
            for a in s.scalars(select(m.AuditLog).where(m.AuditLog.reason.like("%(reconciliation)")))
        }
    said = "deleted in Jira, or no longer visible to the connection's account (reconciliation)"
    assert reasons[gone] == said
    assert {reasons[k] for k in ops} == {"outside the connection's JQL, still in Jira (reconciliation)"}


async def test_a_store_synced_before_the_jql_was_remembered_takes_the_current_one(rig_factory):
    rig = await rig_factory("cloud", issues=20)
    await rig.engine.run(full=True)
    with rig.db.session(write=True) as s:
        row = s.get(m.SyncState, (rig.engine.conn.name, "issues"))
        assert row is not None and "jql" in (row.cursor or {})
        row.cursor = {k: v for k, v in (row.cursor or {}).items() if k != "jql"}
    assert not (await rig.engine.run()).full
    assert not (await _engine(rig, rig.engine.conn.jql + " ").run()).full
