"""Two changes of one issue in one millisecond (issue 11: a version is not its timestamp alone), both
flavors, SQLite and PostgreSQL. Jira's ``updated`` has millisecond precision, so a move and an edit made
in the same millisecond carry the same time. The lifecycle campaign's PostgreSQL seed 132 lost such an
edit for good: its webhook body was taken for a duplicate of the move's, and every later read too."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jira_console.simulator import lifecycle

FLAVORS = ["cloud", "server"]
MOVE = {"items": [{"field": "Key", "fieldId": "issuekey"}, {"field": "project", "fieldId": "project"}]}
SUMMARY = {"items": [{"field": "summary", "fieldId": "summary"}]}


def _eng(sim) -> list[str]:
    with sim.site.lock:
        return sorted(k for k, i in sim.site.issues.items() if i.project == "ENG")


async def _v2(rig, key: str) -> dict:
    """The issue as a webhook body carries it (REST v2, on Cloud too)."""
    return (await rig.client.request("GET", f"/rest/api/2/issue/{key}")).json()


async def _synced_then_frozen(rig_factory, flavor: str, monkeypatch) -> tuple[Any, list[str]]:
    """A rig after a full sync, whose Jira's clock then stands still (every change from now on is dated
    the same millisecond), and the keys of project ENG."""
    rig = await rig_factory(flavor, issues=20)
    await rig.engine.run(full=True)
    frozen = int(time.time() * 1000)
    monkeypatch.setattr(rig.sim.site.lifecycle, "now_ms", lambda: frozen)
    return rig, _eng(rig.sim)


async def _move_then_edit(rig, key: str, summary: str) -> tuple[dict, dict]:
    """A move and an edit of ``key`` in one millisecond: the two webhook bodies (same ``updated``)."""
    new_key = lifecycle.move_issue(rig.sim.site, key, "OPS", "other")
    moved = await _v2(rig, new_key)
    rig.sim.edit_issue(new_key, {"summary": summary})
    edited = await _v2(rig, new_key)
    assert moved["fields"]["updated"] == edited["fields"]["updated"]
    assert moved["fields"]["summary"] != edited["fields"]["summary"]
    return moved, edited


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_edit_dated_like_the_stored_version_is_applied_whatever_the_delivery_order(
    rig_factory, flavor, monkeypatch
) -> None:
    rig, keys = await _synced_then_frozen(rig_factory, flavor, monkeypatch)
    first, second, third = keys[1:4]

    # The move's body first, then the edit's: the edit is not a duplicate of the move (Jira is asked).
    moved, edited = await _move_then_edit(rig, first, "edited in the move's millisecond")
    assert await rig.engine.apply_remote_issues([(moved, MOVE)]) == ["applied"]
    assert await rig.engine.apply_remote_issues([(edited, SUMMARY)]) == ["applied"]
    assert rig.local(moved["key"])["summary"] == "edited in the move's millisecond"

    # The edit's body first, then the move's (older, same time): the edit stays.
    moved, edited = await _move_then_edit(rig, second, "edited, delivered first")
    assert await rig.engine.apply_remote_issues([(edited, SUMMARY)]) == ["applied"]
    await rig.engine.apply_remote_issues([(moved, MOVE)])
    assert rig.local(moved["key"])["summary"] == "edited, delivered first"

    # Both in one batch, the older last: its time cannot say which is current, Jira can.
    moved, edited = await _move_then_edit(rig, third, "edited, one batch")
    await rig.engine.apply_remote_issues([(edited, SUMMARY), (moved, MOVE)])
    assert rig.local(moved["key"])["summary"] == "edited, one batch"

    # A body delivered twice is still a duplicate, and costs no read.
    before = len(rig.sim.requests)
    assert await rig.engine.apply_remote_issues([(edited, SUMMARY)]) == ["ignored"]
    assert [r for r in rig.sim.requests[before:] if "/issue" in r["path"] or "search" in r["path"]] == []


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_fresh_read_dated_like_the_stored_version_with_other_content_is_applied(
    rig_factory, flavor, monkeypatch
) -> None:
    rig, keys = await _synced_then_frozen(rig_factory, flavor, monkeypatch)
    new_key = lifecycle.move_issue(rig.sim.site, keys[2], "OPS", "other")
    assert (await rig.engine.run()).moved == 1  # a poll reads the moved version
    stored = rig.local(new_key)["jira_updated_ms"]
    rig.sim.edit_issue(new_key, {"summary": "edited in the millisecond its move was read"})
    assert rig.sim.issue(new_key)["updated"] == stored  # (its delivery lost)
    # The next poll and a full sync read the edit, dated like the stored version.
    assert (await rig.engine.run()).status == "ok"
    assert rig.local(new_key)["summary"] == "edited in the millisecond its move was read"
    # Read again, the same version is a duplicate: nothing is applied twice.
    assert (await rig.engine.run(full=True)).updated == 0
