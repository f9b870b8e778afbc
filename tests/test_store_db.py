"""Database handle: migrations, SQLite tuning, change-capture triggers, error messages."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, text

from jira_console.store.db import Database, StoreError, mask_url
from jira_console.store.models import Base

ALL_TABLES = {
    "connections", "boards", "sprints", "issues", "field_errors", "sync_state", "conflicts", "audit_log",
    "local_changes", "mappings", "mapping_versions", "identities", "webhook_events", "daemons", "commands",
}  # fmt: skip


def test_migrate_from_empty_creates_every_table(db_url: str) -> None:
    database = Database(db_url)
    try:
        assert database.current_revision() is None
        database.migrate()
        assert database.current_revision() == database.head_revision()
        tables = set(inspect(database.engine).get_table_names())
        assert ALL_TABLES <= tables
        assert set(Base.metadata.tables) == ALL_TABLES
    finally:
        database.close()


def test_migrate_twice_is_a_noop(db: Database) -> None:
    with db.session() as s:
        s.execute(text("INSERT INTO issues (connection, key, summary) VALUES ('c', 'A-1', 'kept')"))
    db.migrate()
    with db.session() as s:
        assert s.execute(text("SELECT summary FROM issues")).scalar_one() == "kept"
    assert db.current_revision() == db.head_revision()


def test_concurrent_migrate_from_two_handles(db_url: str) -> None:
    first, second = Database(db_url), Database(db_url)
    errors: list[BaseException] = []

    def run(database: Database) -> None:
        try:
            database.migrate()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert first.current_revision() == first.head_revision()
    finally:
        first.close()
        second.close()


def test_schema_matches_models(db: Database) -> None:
    """The migrations and the ORM models describe the same schema (no pending autogenerate diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_pragmas(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        database.close()


def test_session_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        s.execute(text("INSERT INTO issues (connection, key) VALUES ('c', 'A-1')"))
        raise RuntimeError("boom")
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM issues")).scalar_one() == 0


def _insert_issue(db: Database) -> None:
    with db.session() as s:
        s.execute(
            text(
                "INSERT INTO issues (connection, key, summary, labels) VALUES ('c', 'A-1', 'one', '[\"x\"]')"
            )
        )


def _dirty(db: Database) -> tuple[bool, object, int]:
    with db.session() as s:
        row = s.execute(text("SELECT local_dirty, local_changed_at, sync_stamp FROM issues")).one()
    return bool(row[0]), row[1], row[2]


def test_trigger_captures_host_update(db: Database) -> None:
    _insert_issue(db)
    assert _dirty(db) == (False, None, 0)
    with db.session() as s:
        s.execute(text("UPDATE issues SET summary = 'edited by host' WHERE key = 'A-1'"))
    dirty, changed_at, stamp = _dirty(db)
    assert dirty is True and changed_at is not None and stamp == 0


@pytest.mark.parametrize("column,value", [("status", "'Done'"), ("story_points", "3.5"), ("sprint_id", "7")])
def test_trigger_captures_each_synced_column(db: Database, column: str, value: str) -> None:
    _insert_issue(db)
    with db.session() as s:
        s.execute(text(f"UPDATE issues SET {column} = {value}"))
    assert _dirty(db)[0] is True


def test_trigger_ignores_engine_update_that_bumps_stamp(db: Database) -> None:
    _insert_issue(db)
    with db.session() as s:
        s.execute(text("UPDATE issues SET summary = 'from jira', sync_stamp = sync_stamp + 1"))
    assert _dirty(db) == (False, None, 1)


def test_trigger_ignores_unchanged_values_and_unsynced_columns(db: Database) -> None:
    _insert_issue(db)
    with db.session() as s:
        s.execute(text("UPDATE issues SET summary = 'one'"))
        s.execute(text("UPDATE issues SET jira_updated_ms = 5, raw = '{}'"))
    assert _dirty(db)[0] is False


def test_bad_url_is_reported_plainly() -> None:
    with pytest.raises(StoreError, match="not valid"):
        Database("not a url")
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        Database("mysql://u:pw@h/d")


def test_unreachable_database_masks_password() -> None:
    database = Database("postgresql+psycopg://user:s3cr3t-pass@127.0.0.1:1/nowhere")
    with pytest.raises(StoreError) as info:
        database.migrate()
    database.close()
    assert "cannot connect" in str(info.value)
    assert "s3cr3t-pass" not in str(info.value)
    assert "***" in str(info.value)


def test_unopenable_sqlite_file(tmp_path) -> None:  # noqa: ANN001
    database = Database(f"sqlite:///{tmp_path}/missing-dir/x.db")
    with pytest.raises(StoreError, match="cannot connect"):
        database.ping()
    database.close()


def test_mask_url() -> None:
    assert mask_url("postgresql+psycopg://u:pw@h/d") == "postgresql+psycopg://u:***@h/d"
    assert "pw" not in repr(Database("postgresql+psycopg://u:pw@h/d"))
