"""An empty database created at the head in one step (store/fresh.py) has the schema the migrations build."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from jira_console.store.db import SCHEMA_HEAD, Database
from jira_console.store.models import Base
from tests.conftest import pg_schema_url


def _plain(value: Any) -> Any:
    """Reflected values with SQL expressions (a partial index's WHERE) as their text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return " ".join(str(value).split())


def _schema(conn: Connection) -> dict[str, Any]:
    """Everything about the schema a host program or the tool could notice, in a comparable shape."""
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for name in sorted(insp.get_table_names()):
        columns = {
            c["name"]: (str(c["type"]), c["nullable"], str(c.get("default")), c.get("autoincrement"))
            for c in insp.get_columns(name)
        }
        out[name] = {
            "columns": columns,
            "pk": insp.get_pk_constraint(name),
            "fks": sorted(insp.get_foreign_keys(name), key=lambda f: str(f.get("name"))),
            "indexes": sorted(insp.get_indexes(name), key=lambda i: str(i.get("name"))),
            "unique": sorted(insp.get_unique_constraints(name), key=lambda u: str(u.get("name"))),
            "checks": sorted(insp.get_check_constraints(name), key=lambda c: str(c.get("name"))),
        }
    out["versions"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"))
        out["triggers"] = sorted((r[0], r[1], " ".join(r[2].split())) for r in rows)
    else:
        rows = conn.execute(
            text(
                "SELECT t.tgname, replace(pg_get_triggerdef(t.oid), current_schema() || '.', ''), p.prosrc"
                " FROM pg_trigger t"
                " JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
            )
        )
        out["triggers"] = sorted((r[0], r[1], " ".join(r[2].split())) for r in rows)
    return _plain(out)


def _built(url: str, revision: str) -> dict[str, Any]:
    database = Database(url)
    try:
        database.migrate(revision)
        with database.engine.connect() as conn:
            return _schema(conn)
    finally:
        database.close()


@pytest.fixture
def second_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database on the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
    else:
        yield from pg_schema_url()


def test_an_empty_database_gets_the_schema_the_migrations_build(db_url: str, second_db_url: str) -> None:
    in_one_step = _built(db_url, "head")
    through_migrations = _built(second_db_url, SCHEMA_HEAD)  # a named revision always runs the chain
    assert in_one_step["versions"] == [SCHEMA_HEAD]
    assert in_one_step["triggers"], "the change-capture trigger is created"
    assert in_one_step == through_migrations


def test_the_one_step_schema_matches_the_models_and_skips_alembic(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    loaded_before = "alembic" in sys.modules
    database = Database(db_url)
    try:
        database.migrate()
        if not loaded_before:
            assert "alembic" not in sys.modules, "a new database is created without importing Alembic"
        assert database.current_revision() == database.head_revision()
        with database.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        database.migrate()  # at the head: nothing to do
    finally:
        database.close()


def test_a_database_with_other_tables_only_is_still_created(db_url: str) -> None:
    """A host program's own table in the same database does not stop the schema from being created."""
    database = Database(db_url)
    try:
        with database.engine.begin() as conn:
            conn.execute(text("CREATE TABLE host_notes (id INTEGER PRIMARY KEY, note TEXT)"))
        database.migrate()
        assert database.current_revision() == SCHEMA_HEAD
        names = set(inspect(database.engine).get_table_names())
        assert {"issues", "host_notes", "alembic_version"} <= names
    finally:
        database.close()


def test_a_host_edit_is_captured_on_a_database_created_in_one_step(db_url: str) -> None:
    database = Database(db_url)
    try:
        database.migrate()
        with database.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO issues (connection, key, summary, local_dirty, deleted, sync_stamp)"
                    " VALUES ('c', 'ENG-1', 'old', false, false, 1)"
                )
            )
        with database.engine.begin() as conn:
            conn.execute(text("UPDATE issues SET summary = 'new' WHERE key = 'ENG-1'"))
        with database.engine.connect() as conn:
            dirty = conn.execute(text("SELECT local_dirty FROM issues WHERE key = 'ENG-1'")).scalar_one()
        assert bool(dirty)
    finally:
        database.close()
