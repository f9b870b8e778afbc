"""Edit-preserving rich text through the whole sync, against the simulator on both flavors: a one-word local
edit of a description full of constructs Markdown cannot hold reaches Jira as that one word, and a local
edit that would drop such a construct keeps Jira's content and says so in a field error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jira_console.store import repo
from tests.richtext_corpus import ONE_ISSUE_WIKI, one_issue_adf

FLAVORS = ["cloud", "server"]


def _jira_value(flavor: str) -> Any:
    return one_issue_adf() if flavor == "cloud" else ONE_ISSUE_WIKI


async def _synced_issue(rig: Any, flavor: str) -> str:
    with rig.sim.site.lock:
        key = sorted(rig.sim.site.issues)[0]
    rig.sim.edit_issue(key, {"description": _jira_value(flavor)})
    report = await rig.engine.run(full=True)
    assert report.status == "ok"
    return str(key)


def _field_errors(rig: Any, key: str) -> dict[str, str]:
    with rig.db.session() as s:
        issue = repo.get_issue(s, rig.engine.conn.name, key)
        assert issue is not None
        return {e.field: e.message for e in repo.list_field_errors(s, issue_id=issue.id)}


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_one_word_local_edit_keeps_every_construct_in_jira(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=3)
    key = await _synced_issue(rig, flavor)
    local = rig.local(key)["description"]
    word, new = ("Second panel warns", "Second panel shouts") if flavor == "cloud" else ("Tail", "End")
    assert word in local
    rig.sql("UPDATE issues SET description = :d WHERE key = :k", d=local.replace(word, new, 1), k=key)
    report = await rig.engine.run()
    assert report.pushed_fields == 1 and report.status == "ok"
    stored = rig.sim.issue(key)["description"]
    if flavor == "cloud":
        expected = one_issue_adf()
        expected["content"][1]["content"][0]["content"][0]["text"] = "Second panel shouts loudly"
        assert stored == expected  # panels, expand, image, tasks (state kept), decision, card, status, date
    else:
        assert stored == ONE_ISSUE_WIKI.replace(word, new)  # every other byte of the wiki as it was
    assert rig.local(key)["description"] == local.replace(word, new, 1)
    assert _field_errors(rig, key) == {}
    again = await rig.engine.run()
    assert (again.pulled_fields, again.pushed_fields, again.conflicts) == (0, 0, 0)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_edit_that_would_drop_a_construct_keeps_it_and_records_why(rig_factory, flavor) -> None:
    rig = await rig_factory(flavor, issues=3)
    key = await _synced_issue(rig, flavor)
    local = rig.local(key)["description"]
    # the operator deletes a task item (Cloud) / rewrites the image's text (Server) and edits a word elsewhere
    gone = "Write the release notes\n\n" if flavor == "cloud" else "!screenshot.png\\|thumbnail! "
    assert gone in local
    edited = local.replace(gone, "").replace("Hidden body", "Secret body")
    rig.sql("UPDATE issues SET description = :d WHERE key = :k", d=edited, k=key)
    report = await rig.engine.run()
    assert report.pushed_fields == 1
    stored = rig.sim.issue(key)["description"]
    if flavor == "cloud":
        assert [i["attrs"]["state"] for i in stored["content"][4]["content"]] == ["DONE", "TODO"]
        assert stored["content"][2]["content"][0]["content"][0]["text"] == "Secret body of the expand"
        message = "task item 'Write the release notes'"
    else:
        assert "!screenshot.png|thumbnail!" in stored and "Secret body" in stored
        message = "image '!screenshot.png|thumbnail!'"
    errors = _field_errors(rig, key)
    assert message in errors["description"] and "kept Jira's content" in errors["description"]
    # the local text now reads what Jira holds: the kept construct is back, the other edit stays
    after = rig.local(key)["description"]
    assert gone in after and "Secret body" in after


async def test_markdown_wins_lets_the_local_edit_drop_the_construct(rig_factory) -> None:
    rig = await rig_factory("cloud", issues=3, conn={"rich_text_policy": "markdown_wins"})
    key = await _synced_issue(rig, "cloud")
    local = rig.local(key)["description"]
    rig.sql(
        "UPDATE issues SET description = :d WHERE key = :k",
        d=local.replace("Write the release notes\n\n", ""),
        k=key,
    )
    await rig.engine.run()
    stored = rig.sim.issue(key)["description"]
    assert [i["attrs"]["state"] for i in stored["content"][4]["content"]] == ["TODO"]
    assert stored["content"][:4] == one_issue_adf()["content"][:4]  # the rest is still Jira's own
    assert _field_errors(rig, key) == {}


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_environment_through_a_rich_text_mapping_keeps_its_constructs(rig_factory, flavor) -> None:
    from jira_console.mapping import repo as mrepo
    from jira_console.mapping.model import MappingDefinition

    rig = await rig_factory(flavor, issues=3)
    await rig.engine.prepare()
    defn = MappingDefinition(
        name="environment",
        jira_field="environment",
        internal_field="environment",
        steps=[{"op": "rich_text"}],
    )
    await asyncio.to_thread(mrepo.save, rig.db, defn, connection=rig.engine.conn.name, changed_by="test")
    assert await asyncio.to_thread(rig.engine.reload_mappings) == []
    with rig.sim.site.lock:
        key = sorted(rig.sim.site.issues)[0]
    rig.sim.edit_issue(key, {"environment": _jira_value(flavor)})
    await rig.engine.run(full=True)
    from jira_console.store import models as m

    with rig.db.session() as s:
        row = s.query(m.Issue).filter_by(key=key).one()
        local = row.fields["environment"]
        row.fields = {**row.fields, "environment": local.replace("Hidden body", "Secret body", 1)}
    report = await rig.engine.run()
    assert report.pushed_fields == 1, report
    stored = rig.sim.issue(key)["environment"]
    if flavor == "cloud":
        expected = one_issue_adf()
        expected["content"][2]["content"][0]["content"][0]["text"] = "Secret body of the expand"
        assert stored == expected
    else:
        assert stored == ONE_ISSUE_WIKI.replace("Hidden body", "Secret body")
    # and a write that would drop a construct keeps it, with the field error naming it
    with rig.db.session() as s:
        row = s.query(m.Issue).filter_by(key=key).one()
        current = row.fields["environment"]
        gone = "Write the release notes\n\n" if flavor == "cloud" else "!screenshot.png\\|thumbnail! "
        row.fields = {**row.fields, "environment": current.replace(gone, "").replace("Secret", "Hidden")}
    await rig.engine.run()
    assert "kept Jira's content" in _field_errors(rig, key)["environment"]
    assert rig.sim.issue(key)["environment"] == _jira_value(flavor)
