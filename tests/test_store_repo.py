"""Repositories: issues, audit, conflicts, sprints, field errors, mappings, identities."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from jira_console.store import catalog, conflict_queue, identity, repo
from jira_console.store import issues as si
from jira_console.store import sprints as store_sprints
from jira_console.store.converters import IssueRecord
from jira_console.store.db import Database
from jira_console.store.models import Issue
from jira_console.store.repo import IssueQuery

NESTED = {"a": [1, 2.5, None, True], "ü": {"deep": "ß ✓"}, "n": 2**53}


def _issue(db: Database, key: str = "ENG-1", **values: object) -> IssueRecord:
    """A new issue, inserted the way the sync inserts a first import."""
    with db.session() as s:
        si.insert_issues(
            s, [{"connection": "main", "key": key, "summary": "first", "project_key": "ENG", **values}]
        )
        found = repo.get_issue(s, "main", key)
    assert found is not None
    return found


def test_insert_and_get_issue_roundtrips_json(db: Database) -> None:
    created = _issue(db, labels=["a", "b"], fields=NESTED, raw={"key": "ENG-1"}, jira_id="10001",
                     jira_updated_ms=1_700_000_000_123)  # fmt: skip
    assert created.sync_stamp == 0
    with db.session() as s:
        got = repo.get_issue(s, "main", "ENG-1")
    assert got is not None
    assert got.labels == ["a", "b"] and got.fields == NESTED and got.raw == {"key": "ENG-1"}
    assert got.jira_updated_ms == 1_700_000_000_123
    assert got.created_at is not None and got.created_at.tzinfo is not None
    assert got.local_dirty is False


def test_engine_write_bumps_stamp_and_stays_clean(db: Database) -> None:
    _issue(db, jira_id="1")
    with si.engine_session(db) as s:
        si.issues_by_key(s, "main", ["ENG-1"])["ENG-1"].summary = "second"
    with db.session() as s:
        updated = repo.get_issue(s, "main", "ENG-1")
    assert updated is not None
    assert updated.summary == "second" and updated.sync_stamp == 1 and updated.local_dirty is False
    with db.session() as s:  # the same write outside an engine session is a local edit
        si.issues_by_key(s, "main", ["ENG-1"])["ENG-1"].summary = "third"
    with db.session() as s:
        edited = repo.get_issue(s, "main", "ENG-1")
    assert edited is not None and edited.sync_stamp == 1 and edited.local_dirty is True


def test_list_and_count_issue_filters(db: Database) -> None:
    for i in range(5):
        _issue(db, f"ENG-{i}", status="Done" if i % 2 else "To Do", summary=f"Fix Widget {i}")
    with si.engine_session(db) as s:
        assert si.mark_deleted(s, si.issues_by_key(s, "main", ["ENG-4"])["ENG-4"], reason="gone", actor="t")
    with db.session() as s:
        assert [i.key for i in repo.list_issues(s, IssueQuery("main", status="To Do"))] == ["ENG-0", "ENG-2"]
        assert repo.count_issues(s, IssueQuery("main")) == 4
        assert repo.count_issues(s, IssueQuery("main", include_deleted=True)) == 5
        assert len(repo.list_issues(s, IssueQuery("main", text="widget", limit=2, offset=1))) == 2
        assert repo.list_issues(s, IssueQuery("other")) == []
        s.execute(text("UPDATE issues SET priority = 'High' WHERE key = 'ENG-3'"))
        assert [i.key for i in repo.list_issues(s, IssueQuery("main", dirty=True))] == ["ENG-3"]
        assert [e.reason for e in repo.list_audit(s, issue_key="ENG-4")] == ["gone"]
        for key, name in (("ENG-1", "priority"), ("ENG-2", "team"), ("ENG-2", "priority")):
            issue = repo.get_issue(s, "main", key)
            assert issue is not None
            repo.record_field_error(s, issue.id, name, "refused")
        failing = {
            f: [i.key for i in repo.list_issues(s, IssueQuery("main", failing=f))] for f in ("", "team")
        }
        assert failing == {"": ["ENG-1", "ENG-2"], "team": ["ENG-2"]}  # each issue once
        assert repo.count_issues(s, IssueQuery("main", failing="summary")) == 0


def test_issue_unique_constraints(db: Database) -> None:
    _issue(db, jira_id="5")
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Issue(connection="main", key="ENG-1"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Issue(connection="main", key="ENG-2", jira_id="5"))
    with db.session() as s:
        s.add(Issue(connection="other", key="ENG-1", jira_id="5"))  # another connection is fine


def test_audit_append_and_query(db: Database) -> None:
    with db.session() as s:
        repo.append_audit(s, "main", "jira", "summary", "a", "b", issue_key="ENG-1", reason="push")
        repo.append_audit(s, "main", "local", "labels", ["x"], ["x", "y"], issue_key="ENG-1", actor="sync")
        repo.append_audit(s, "main", "local", "summary", None, "c", issue_key="ENG-2")
        with pytest.raises(ValueError):
            repo.append_audit(s, "main", "both", "x", 1, 2)  # type: ignore[arg-type]
    with db.session() as s:
        entries = repo.list_audit(s, connection="main", issue_key="ENG-1")
        assert [e.field for e in entries] == ["labels", "summary"]  # newest first
        assert entries[0].new == ["x", "y"] and entries[0].at.tzinfo is not None
        assert len(repo.list_audit(s, field="summary", side="local")) == 1


def test_conflicts_open_is_unique_per_issue_field(db: Database) -> None:
    issue = _issue(db)
    with db.session() as s:
        first = repo.open_conflict(s, issue.id, "summary", base="a", local="b", jira="c")
        again = repo.open_conflict(s, issue.id, "summary", base="a", local="b2", jira="c2")
        other = repo.open_conflict(s, issue.id, "labels", base=[], local=["x"], jira=["y"])
    assert again.id == first.id and again.local == "b2"
    assert other.id != first.id and other.jira == ["y"]
    with db.session() as s:
        assert conflict_queue.count_conflicts(s, connection="main") == 2
        assert [c.field for c in conflict_queue.list_conflicts(s, issue_key="ENG-1", field="labels")] == [
            "labels"
        ]
        done = repo.resolve_conflict(s, first.id, "value", resolved_value="merged", resolved_by="alice")
        assert done is not None and done.status == "resolved" and done.resolved_value == "merged"
        assert repo.resolve_conflict(s, first.id, "jira") is None  # already resolved
        reopened = repo.open_conflict(s, issue.id, "summary", base="b", local="x", jira="y")
        assert reopened.id != first.id
        assert conflict_queue.count_conflicts(s, status=None) == 3


def test_the_queue_marker_moves_with_every_change_a_reader_would_see(db: Database) -> None:
    """The console re-reads the queue only when the marker moved: a Jira value refreshed in place (same
    row, same id) and an issue's new key move it; one conflict resolved as another appears moves it too."""
    issue, other = _issue(db), _issue(db, "ENG-2")

    def marker(**filters: str) -> conflict_queue.QueueMarker:
        with db.session() as s:
            return conflict_queue.queue_marker(s, contains=True, **filters)

    with db.session() as s:
        first = repo.open_conflict(s, issue.id, "summary", base="a", local="b", jira="c")
    found = marker()
    assert (found.count, found.id_sum, found.revision_sum) == (1, first.id, 0)
    with db.session() as s:
        again = repo.open_conflict(s, issue.id, "summary", base="a", local="b", jira="edited again")
    assert again.id == first.id and again.revision == 1
    assert marker() == conflict_queue.QueueMarker(1, first.id, 1) != found
    assert marker(field="labels") == conflict_queue.QueueMarker()  # the filters apply
    with db.session() as s:
        identity.rekey(s, s.get(Issue, issue.id), "OPS-1", "OPS", actor="test")
    assert marker().revision_sum == 2 and marker(issue_key="ops").count == 1
    before = marker()
    with db.session() as s:
        repo.resolve_conflict(s, first.id, "jira")
        second = repo.open_conflict(s, other.id, "summary", base="a", local="b", jira="c")
    assert marker().count == before.count and marker() != before
    assert marker() == conflict_queue.QueueMarker(1, second.id, 0)
    assert before.without(again) == conflict_queue.QueueMarker(0, 0, 1)  # rekeyed since `again` was read


def test_open_conflict_index_rejects_second_open_row(db: Database) -> None:
    issue = _issue(db)
    insert = text(
        "INSERT INTO conflicts (issue_id, connection, issue_key, field, status) "
        "VALUES (:i, 'main', 'ENG-1', 'summary', :st)"
    )
    with db.session() as s:
        s.execute(insert, {"i": issue.id, "st": "resolved"})
        s.execute(insert, {"i": issue.id, "st": "resolved"})
        s.execute(insert, {"i": issue.id, "st": "open"})
    with pytest.raises(IntegrityError), db.session() as s:
        s.execute(insert, {"i": issue.id, "st": "open"})


def test_sprints_upsert_and_list(db: Database) -> None:
    with db.session() as s:
        store_sprints.upsert_sprint(
            s, "main", 10, {"name": "S1", "state": "active", "board_jira_id": 3, "raw": NESTED}
        )
        store_sprints.upsert_sprint(
            s, "main", 10, {"name": "S1 renamed", "state": "closed", "board_jira_id": 3}
        )
        store_sprints.upsert_sprint(s, "main", 11, {"name": "S2", "state": "future", "board_jira_id": 4})
        store_sprints.upsert_board(s, "main", 3, {"name": "Board", "type": "scrum"})
        repo.upsert_connection(s, "main", flavor="cloud", base_url="https://x", server_version="1001")
        repo.upsert_connection(s, "main", flavor="cloud", base_url="https://x", server_version="1002")
    with db.session() as s:
        sprints = store_sprints.list_sprints(s, "main", board_jira_id=3)
    assert [(sp.name, sp.state) for sp in sprints] == [("S1 renamed", "closed")]


def test_field_errors_replace_and_clear(db: Database) -> None:
    issue = _issue(db)
    with db.session() as s:
        repo.record_field_error(s, issue.id, "points", "not a number", mapping="sp", value="abc")
        repo.record_field_error(s, issue.id, "points", "still bad", value={"v": 1})
        errors = repo.list_field_errors(s, connection="main")
        assert [(e.field, e.message, e.value) for e in errors] == [("points", "still bad", {"v": 1})]
        assert repo.clear_field_error(s, issue.id, "points") == 1
        assert repo.list_field_errors(s, issue_id=issue.id) == []


def test_mappings_are_versioned(db: Database) -> None:
    with db.session() as s:
        first = catalog.save_mapping(s, "points", {"jira": "customfield_1"}, internal_field="story_points")
        same = catalog.save_mapping(s, "points", {"jira": "customfield_1"}, internal_field="story_points")
        second = catalog.save_mapping(s, "points", {"jira": "customfield_2"}, internal_field="story_points",
                                      changed_by="bob", comment="moved")  # fmt: skip
        catalog.save_mapping(s, "points", {"jira": "cf_main"}, connection="main")
    assert first.version == same.version == 1 and second.version == 2
    with db.session() as s:
        history = catalog.mapping_history(s, second.id)
        assert [(h.version, h.comment) for h in history] == [(2, "moved"), (1, None)]
        assert catalog.get_mapping(s, "points").definition == {"jira": "customfield_2"}  # type: ignore[union-attr]
        assert catalog.get_mapping(s, "points", "main").definition == {"jira": "cf_main"}  # type: ignore[union-attr]
        assert [mp.connection for mp in catalog.list_mappings(s, "main")] == ["main"]
        assert [mp.connection for mp in catalog.list_mappings(s, "other")] == [None]


def test_global_mapping_names_are_unique(db: Database) -> None:
    insert = text("INSERT INTO mappings (name, definition) VALUES ('dup', '{}')")
    with db.session() as s:
        s.execute(insert)
    with pytest.raises(IntegrityError), db.session() as s:
        s.execute(insert)


def test_identities(db: Database) -> None:
    with db.session() as s:
        catalog.upsert_identity(s, "main", "acc-1", email="Ann@Example.com", display_name="Ann")
        catalog.upsert_identity(s, "main", "acc-1", internal_id="u42")
        found = catalog.find_identity(s, "main", email="ann@example.com")
    assert found is not None and found.internal_id == "u42" and found.email == "Ann@Example.com"


def test_scalar_json_values_round_trip(db) -> None:
    """SQLite gives a column declared JSON numeric affinity: scalar numbers must still read back."""
    from jira_console.store import models as m
    from jira_console.store import repo

    with db.session() as s:
        issue = m.Issue(connection="c", key="X-1", fields={}, base={})
        s.add(issue)
        s.flush()
        for value in (8, 2.5, "8", None, [1], {"a": 1}, True):
            c = repo.open_conflict(s, issue.id, f"f{value!r}", base=value, local=value, jira=value)
            assert c.base == value and c.jira == value
    with db.session() as s:
        got = {c.field: c.local for c in conflict_queue.list_conflicts(s, limit=50)}
    assert got["f8"] == 8 and got["f2.5"] == 2.5 and got["f'8'"] == "8" and got["f[1]"] == [1]
