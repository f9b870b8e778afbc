"""A host program's plain-SQL write that the engine could not read back is refused by the database, at that
statement, saying what the column takes (SQLite stores anything anywhere; PostgreSQL's JSONB any JSON)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from jira_console.store.db import SCHEMA_HEAD, Database


@pytest.fixture(params=["head", SCHEMA_HEAD])
def database(request, db_url: str) -> Iterator[Database]:
    """A new database created in one step ("head") or through the migrations (the named head)."""
    db = Database(db_url)
    db.migrate(request.param)
    _insert_issue(db, "ENG-1", labels='["a"]')
    try:
        yield db
    finally:
        db.close()


def _insert_issue(db: Database, key: str, *, labels: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO issues (connection, key, summary, labels, fields, local_dirty, deleted, "
                "sync_stamp) VALUES ('c', :k, 'old', :labels, '{}', false, false, 1)"
            ),
            {"k": key, "labels": labels},
        )


REFUSED = [
    ("labels = 'backend'", "issues.labels takes a JSON list"),  # not JSON
    ("labels = '\"backend\"'", "issues.labels takes a JSON list"),  # JSON, not a list
    ("fields = '[1]'", "issues.fields takes a JSON object"),
    # 0014's words for it spoke of NaN and infinities only (migration 0018)
    ("story_points = 'abc'", "issues.story_points takes a number or NULL: the value written is not a number"),
    ("story_points = x'00'", "issues.story_points takes a number or NULL: the value written is not a number"),
    ("sprint_id = 'x'", "issues.sprint_id takes a sprint's Jira id"),
]


@pytest.mark.parametrize(("assignment", "says"), REFUSED)
def test_a_value_the_engine_could_not_read_is_refused_at_the_hosts_statement(
    database: Database, assignment: str, says: str
) -> None:
    with pytest.raises(DBAPIError) as refused, database.engine.begin() as conn:
        conn.execute(text(f"UPDATE issues SET {assignment} WHERE key = 'ENG-1'"))
    json_shape = assignment.startswith(("labels = '\"", "fields"))  # valid JSON of the wrong kind
    if database.dialect == "sqlite" or json_shape:
        assert says in str(refused.value.orig)  # PostgreSQL's column types refuse the others in their words
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT labels, local_dirty FROM issues WHERE key = 'ENG-1'")).one()
    assert not row.local_dirty  # nothing was written


def test_values_the_engine_reads_are_taken_and_captured(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(
            text(
                'UPDATE issues SET labels = \'["backend", "urgent"]\', fields = \'{"team": "core"}\', '
                "story_points = 3, sprint_id = 5 WHERE key = 'ENG-1'"
            )
        )
        conn.execute(text("UPDATE issues SET labels = NULL, story_points = 2.5 WHERE key = 'ENG-1'"))
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT story_points, sprint_id, local_dirty FROM issues")).one()
    assert (row.story_points, row.sprint_id, bool(row.local_dirty)) == (2.5, 5, True)


def test_a_value_stored_before_the_guards_does_not_stop_writes_of_other_columns(database: Database) -> None:
    _insert_issue(database, "ENG-2", labels='"x"')  # INSERTs are the engine's, not checked: a row from before
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE issues SET summary = 'new', fields = '{\"a\": 1}' WHERE key = 'ENG-2'"))
    with pytest.raises(DBAPIError), database.engine.begin() as conn:
        conn.execute(text("UPDATE issues SET labels = '\"y\"' WHERE key = 'ENG-2'"))
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE issues SET labels = '[\"y\"]' WHERE key = 'ENG-2'"))  # the repair


def test_an_outbox_value_must_be_json(database: Database) -> None:
    insert = (
        "INSERT INTO local_changes (connection, issue_key, field, value, created_at) "
        "VALUES ('c', 'ENG-1', 'status', :v, CURRENT_TIMESTAMP)"
    )
    with pytest.raises(DBAPIError) as refused, database.engine.begin() as conn:
        conn.execute(text(insert), {"v": "In Progress"})
    if database.dialect == "sqlite":
        assert "local_changes.value takes JSON text" in str(refused.value.orig)
    with database.engine.begin() as conn:
        conn.execute(text(insert), {"v": '"In Progress"'})
        with pytest.raises(DBAPIError):
            with conn.begin_nested():
                conn.execute(text("UPDATE local_changes SET value = 'Done'"))
        count = conn.execute(text("SELECT count(*) FROM local_changes")).scalar_one()
    assert count == 1


def test_text_stored_before_the_guards_that_is_not_json_is_named_when_read(sqlite_url: str) -> None:
    """SQLite only (PostgreSQL's JSONB never holds such text): the read fails saying what and where to look,
    not with the JSON parser's 'invalid literal'."""
    from jira_console.store import repo
    from jira_console.store.db import NOT_JSON

    db = Database(sqlite_url)
    try:
        db.migrate()
        _insert_issue(db, "ENG-3", labels="backend")  # INSERTs are not checked: as a row from before
        with pytest.raises(ValueError) as failed, db.session() as s:
            repo.get_issue(s, "c", "ENG-3")
        assert str(failed.value) == NOT_JSON and "backend" not in str(failed.value)
    finally:
        db.close()


def _bad_story_points(dialect: str) -> list[str]:
    """Story points that are not a finite number, as each database takes them in SQL."""
    return ["1e999", "-1e999"] if dialect == "sqlite" else ["'NaN'", "'Infinity'", "'-Infinity'"]


REFUSED_SINCE_0014 = [
    ("labels = '[1, 2]'", "issues.labels takes a JSON list of texts"),
    ("labels = '[\"a\", null]'", "issues.labels takes a JSON list of texts"),
    ("fields = '{\"a\": 1e400}'", "issues.fields holds numbers within ±1.8e308"),
    ('fields = \'{"a": [1, {"b": -1e400}]}\'', "issues.fields holds numbers within ±1.8e308"),
]


@pytest.mark.parametrize(("assignment", "says"), REFUSED_SINCE_0014)
def test_labels_hold_texts_and_fields_numbers_a_float_can_hold(
    database: Database, assignment: str, says: str
) -> None:
    """Migration 0014: ``[1, 2]`` passed although the message said "a list of texts"; a number beyond a float
    in ``fields`` passed too, and PostgreSQL's JSONB kept it where the engine could not read it back."""
    with pytest.raises(DBAPIError) as refused, database.engine.begin() as conn:
        conn.execute(text(f"UPDATE issues SET {assignment} WHERE key = 'ENG-1'"))
    assert says in str(refused.value.orig)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE issues SET labels = 'null' WHERE key = 'ENG-1'"))
        conn.execute(text('UPDATE issues SET labels = \'["a", "b"]\', fields = \'{"a": [1.5e308]}\''))


def test_story_points_take_a_finite_number(database: Database) -> None:
    """Migration 0014: PostgreSQL's float takes NaN and infinities, SQLite stores 1e999 as an infinity; the
    next push failed on it, and every later run of the connection."""
    for value in _bad_story_points(database.dialect):
        with pytest.raises(DBAPIError) as refused, database.engine.begin() as conn:
            conn.execute(text(f"UPDATE issues SET story_points = {value} WHERE key = 'ENG-1'"))
        assert "issues.story_points takes a finite number or NULL" in str(refused.value.orig), value
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE issues SET story_points = 1.7e308 WHERE key = 'ENG-1'"))
    # One stored before the guards (INSERTs are the engine's, not checked) stops no write of other columns.
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO issues (connection, key, summary, story_points, local_dirty, deleted, "
                f"sync_stamp) VALUES ('c', 'ENG-2', 'old', {_bad_story_points(database.dialect)[0]}, false, "
                "false, 1)"
            )
        )
        conn.execute(text("UPDATE issues SET summary = 'new', labels = '[\"x\"]' WHERE key = 'ENG-2'"))


def test_an_outbox_value_holds_numbers_a_float_can_hold(database: Database) -> None:
    """Migration 0014: PostgreSQL's JSONB kept 1e400, which the engine could not read: the read of every
    pending row failed with it (SQLite stored it as an infinity, refused as not JSON already)."""
    insert = "INSERT INTO local_changes (connection, issue_key, field, value) VALUES ('c', 'ENG-1', 'x', :v)"
    for value in ("1e400", '{"a": [-1e400]}'):
        with pytest.raises(DBAPIError) as refused, database.engine.begin() as conn:
            conn.execute(text(insert), {"v": value})
        said = str(refused.value.orig)
        assert "local_changes.value holds numbers within ±1.8e308" in said or (
            database.dialect == "sqlite"
            and value == "1e400"
            and "local_changes.value takes JSON text" in said
        )
    with database.engine.begin() as conn:
        conn.execute(text(insert), {"v": "1.5e308"})
        with pytest.raises(DBAPIError), conn.begin_nested():
            conn.execute(text("UPDATE local_changes SET value = '[1e400]'"))
