"""Migration 0011 sets aside the values host programs stored before the guards of migration 0010 in a shape
the engine cannot read: each goes back to the value last synced, and the value set aside is kept in the
audit log (SQLite and PostgreSQL; PostgreSQL's column types had refused the rest already)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from jira_console.store import host_repair, repo
from jira_console.store import models as m
from jira_console.store.db import Database
from jira_console.sync.undo import plan_undo

BEFORE_GUARDS = "0006_18"
BASE = {"summary": "s", "labels": ["synced"], "story_points": 5.0, "sprint_id": 7, "team": "core"}


@pytest.fixture
def old_db(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    db.migrate(BEFORE_GUARDS)
    try:
        yield db
    finally:
        db.close()


def _insert(db: Database, key: str, **columns: str) -> None:
    """An issue row as plain SQL stores it; ``columns``: SQL literals of the host's values."""
    values = {
        "labels": "'[\"kept\"]'",
        "fields": '\'{"team": "mine"}\'',
        "story_points": "3",
        "sprint_id": "7",
    }
    values |= columns
    names = ", ".join(values)
    literals = ", ".join(values.values())
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO issues (connection, key, summary, base, local_dirty, deleted, sync_stamp, "
                f"{names}) VALUES ('c', :k, 's', :base, false, false, 1, {literals})"
            ),
            {"k": key, "base": json.dumps(BASE)},
        )


def _cases(dialect: str) -> dict[str, tuple[dict[str, str], str, object, object]]:
    """Key -> (columns as stored, the column set aside, the value kept in the audit, the value put back)."""
    cases = {
        "ENG-1": ({"labels": "'\"backend\"'"}, "labels", "backend", ["synced"]),
        "ENG-2": ({"fields": "'[1]'"}, "fields", [1], {"team": "core"}),
        "ENG-3": ({"fields": "'\"oops\"'"}, "fields", "oops", {"team": "core"}),
    }
    if dialect == "sqlite":  # PostgreSQL's types never took these
        cases |= {
            "ENG-4": ({"labels": "'backend'"}, "labels", "backend", ["synced"]),
            "ENG-5": ({"story_points": "'abc'"}, "story_points", "abc", 5.0),
            "ENG-6": ({"sprint_id": "'x'"}, "sprint_id", "x", 7),
        }
    return cases


def test_values_stored_before_the_guards_are_set_back_to_jiras_and_kept_in_the_audit(
    old_db: Database,
) -> None:
    cases = _cases(old_db.dialect)
    for key, (columns, *_rest) in cases.items():
        _insert(old_db, key, **columns)
    _insert(old_db, "ENG-99")  # readable: left alone
    with old_db.engine.connect() as conn:
        before_ok = conn.execute(text("SELECT labels, fields FROM issues WHERE key = 'ENG-99'")).one()

    old_db.migrate()

    with old_db.session() as s:
        issues = {i.key: i for i in repo.list_issues(s, repo.IssueQuery(limit=None))}  # no row fails its read
        audit = s.scalars(select(m.AuditLog).order_by(m.AuditLog.id)).all()
    assert set(issues) == {*cases, "ENG-99"}
    expected_audit = []
    for key, (_columns, column, kept, restored) in cases.items():
        issue = issues[key]
        value = issue.fields if column == "fields" else getattr(issue, column)
        assert value == restored, key
        assert not issue.local_dirty, key  # an engine write: nothing to push, Jira holds these already
        expected_audit.append((key, column, kept, restored))
    assert [(a.issue_key, a.field, a.old, a.new) for a in audit] == expected_audit
    assert {(a.side, a.reason, a.actor) for a in audit} == {("local", host_repair.REASON, host_repair.ACTOR)}
    untouched = issues["ENG-99"]
    assert (untouched.labels, untouched.fields, untouched.story_points) == (["kept"], {"team": "mine"}, 3.0)
    with old_db.engine.connect() as conn:
        assert conn.execute(text("SELECT labels, fields FROM issues WHERE key = 'ENG-99'")).one() == before_ok

    # Undoing the repair would store the unreadable value again: refused, with why.
    with old_db.session() as s:
        steps = plan_undo(s, s.scalars(select(m.AuditLog)).all())
    assert steps and {st.action for st in steps} == {"refused"}
    assert all("set aside by migration 0011" in (st.note or "") for st in steps)


def test_a_database_without_such_values_is_left_as_it_was(old_db: Database) -> None:
    _insert(old_db, "ENG-1")
    old_db.migrate()
    with old_db.session() as s:
        assert s.scalars(select(m.AuditLog)).all() == []
        [issue] = repo.list_issues(s, repo.IssueQuery())
    assert (issue.labels, issue.fields, issue.local_dirty) == (["kept"], {"team": "mine"}, False)
