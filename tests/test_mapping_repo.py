"""Mappings in the store (SQLite and PostgreSQL): versions, history, scoping, delete, TOML import/export."""

from __future__ import annotations

import pytest

from jira_console.mapping import MappingContext, MappingDefinitionError, parse_definition, repo
from jira_console.store import catalog


def points(**kw):
    return parse_definition(
        {
            "name": "points",
            "jira_field": "customfield_10016",
            "internal_field": "points",
            "steps": [{"op": "to_float"}],
        }
        | kw
    )


def test_save_versions_and_history(db):
    first = repo.save(db, points(), connection="main", changed_by="ana")
    assert first.version == 1 and first.jira_field == "customfield_10016"
    assert repo.save(db, points(), connection="main").version == 1  # unchanged: no new version
    second = repo.save(
        db,
        points(steps=[{"op": "to_float"}, {"op": "round", "digits": 1}]),
        connection="main",
        changed_by="bo",
        comment="round",
    )
    assert second.version == 2
    stored = repo.get(db, "points", "main")
    assert stored.version == 2 and stored.definition.steps[1].op == "round"
    hist = repo.history(db, "points", "main")
    assert [(h.version, h.changed_by, h.comment) for h in hist] == [(2, "bo", "round"), (1, "ana", None)]
    assert parse_definition(hist[1].definition) == points()
    assert repo.history(db, "nope") == []


def test_scoping_and_delete(db):
    repo.save(db, points())  # global
    repo.save(db, points(steps=[]), connection="main")
    assert repo.get(db, "points", "main").definition.steps == ()
    assert repo.get(db, "points", "other").definition == points()
    assert [m.name for m in repo.list_mappings(db, "other")] == ["points"]
    assert repo.delete(db, "points", "other") is False  # never deletes the global one for a connection
    assert repo.delete(db, "points", "main") is True
    assert repo.get(db, "points", "main").connection is None
    assert repo.delete(db, "points") is True and repo.get(db, "points") is None


def test_invalid_definitions_are_never_stored(db):
    with pytest.raises(MappingDefinitionError, match="direction"):
        repo.save(db, {"name": "x", "jira_field": "f", "internal_field": "x", "direction": "up"})
    assert repo.list_mappings(db) == []


def test_toml_export_import_and_load_set(db):
    repo.save(db, points(), connection="main")
    repo.save(db, parse_definition({"name": "labels", "jira_field": "labels", "internal_field": "labels"}))
    text = repo.export_toml(db, "main")
    assert text.count("[[mapping]]") == 2
    records = repo.import_toml(db, text.replace("to_float", "to_int"), connection="main", changed_by="ci")
    assert {r.name: r.version for r in records} == {"labels": 1, "points": 2}
    mset = repo.load_set(db, "main")
    values, errors = mset.pull({"customfield_10016": "3", "labels": ["a"]}, MappingContext())
    assert values == {"points": 3, "labels": ["a"]} and errors == []
    with pytest.raises(MappingDefinitionError):
        repo.import_toml(db, '[[mapping]]\nname = "bad"\n', connection="main")
    repo.save(
        db,
        points(name="sel", internal_field="sel", jira_field={"name": "Story point estimate"}),
        connection="main",
    )
    assert sorted(m.name for m in repo.load_set(db, "main")) == [
        "labels",
        "points",
    ]  # selector waits for the list
    fields = [{"id": "customfield_10016", "name": "Story point estimate", "schema": {"type": "number"}}]
    assert repo.load_set(db, "main", fields).get("sel").jira_field == "customfield_10016"
    assert len(repo.list_mappings(db, "main")) == 3


def test_identity_table_from_the_store(db):
    with db.session(write=True) as session:
        catalog.upsert_identity(session, "main", "557058:ana", email="ana@example.com", internal_id="u1")
    table = repo.identity_table(db, "main", "cloud")
    assert table.from_jira("cloud", {"accountId": "557058:ana"}).id == "u1"
    assert table.from_local("email", "ANA@example.com").account_id == "557058:ana"
