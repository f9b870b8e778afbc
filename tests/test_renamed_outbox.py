"""A project key renamed in Jira (every issue takes a new key, ``updated`` does not move, no event is sent),
then a host program's ``local_changes`` row naming an issue by its new key, before any full sync has met the
rename: the incremental sync asks Jira about the key, the row follows, and the change is pushed instead of
being refused for an issue the store "does not have". Both flavors, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from jira_console.simulator import lifecycle
from jira_console.store import identity, repo

FLAVORS = ["cloud", "server"]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_outbox_row_under_the_key_a_rename_gave_is_pushed_to_that_issue(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=12)
    await rig.engine.run(full=True)
    renamed = lifecycle.rename_project(rig.sim.site, "ENG", "CORE")
    old, new = sorted(renamed.items())[0]
    name = rig.engine.conn.name
    rig.sql(
        "INSERT INTO local_changes (connection, issue_key, field, value) VALUES (:c, :k, 'summary', :v)",
        c=name, k=new, v='"written by the host under the new key"',
    )  # fmt: skip

    report = await rig.engine.run()

    assert (report.status, report.pushed_fields, report.moved) == ("ok", 1, 1)
    [(processed, error)] = rig.sql("SELECT processed_at IS NOT NULL, error FROM local_changes").all()
    assert (bool(processed), error) == (True, None)
    assert rig.sim.issue(new)["summary"] == "written by the host under the new key"
    with rig.db.session() as s:
        assert repo.get_issue(s, name, new).summary == "written by the host under the new key"
        assert identity.resolve_alias(s, name, old).current_key == new
        # The audit says what happened to the row: the move, then the push.
        reasons = [e.reason for e in repo.list_audit(s, connection=name, issue_key=new)]
    assert any(r.startswith("moved in Jira") for r in reasons), reasons
