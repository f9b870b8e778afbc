"""Database handle: migrations, SQLite tuning, change-capture triggers, error messages."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, text

from jira_console.store import db as db_module
from jira_console.store.db import SCHEMA_HEAD, Database, StoreError, mask_url
from jira_console.store.models import Base

ALL_TABLES = {
    "connections", "boards", "sprints", "issues", "field_errors", "sync_state", "conflicts", "audit_log",
    "local_changes", "mappings", "mapping_versions", "identities", "webhook_events", "daemons", "commands",
    "mapping_state", "issue_aliases", "quarantined_issues", "sync_runs", "new_issues",
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


def test_retry_after_deadline_moves_from_a_fake_sync_scope_to_its_column(db_url: str) -> None:
    """Before 0004 the deadline hid in ``sync_state.watermark_ms`` of scope ``rate_limit``."""
    from jira_console.store import state

    database = Database(db_url)
    try:
        database.migrate("0003")
        until_ms = 1_900_000_000_123
        with database.session() as s:
            s.execute(text("INSERT INTO connections (name, flavor) VALUES ('known', 'cloud')"))
            insert = text("INSERT INTO sync_state (connection, scope, watermark_ms) VALUES (:n, :s, :w)")
            for name in ("known", "unknown"):
                s.execute(insert, {"n": name, "s": "rate_limit", "w": until_ms})
            s.execute(insert, {"n": "known", "s": "issues", "w": 5})
        database.migrate()
        with database.session() as s:
            for name in ("known", "unknown"):
                until = state.not_before(s, name)
                assert until is not None and int(until.timestamp() * 1000) == until_ms
            assert [(r.connection, r.scope) for r in state.list_sync_states(s)] == [("known", "issues")]
            assert (
                s.execute(text("SELECT flavor FROM connections WHERE name = 'known'")).scalar_one() == "cloud"
            )
    finally:
        database.close()


def test_a_stored_retry_after_deadline_only_moves_later(db: Database) -> None:
    from datetime import UTC, datetime, timedelta

    from jira_console.store import state

    later = datetime(2030, 1, 1, tzinfo=UTC)
    with db.session() as s:
        state.store_not_before(s, "main", later)
        state.store_not_before(s, "main", later - timedelta(seconds=30))  # an older answer arriving late
    with db.session() as s:
        assert state.not_before(s, "main") == later
        state.store_not_before(s, "main", later + timedelta(seconds=5))
    with db.session() as s:
        assert state.not_before(s, "main") == later + timedelta(seconds=5)


def test_migrate_twice_is_a_noop(db: Database) -> None:
    with db.session() as s:
        s.execute(text("INSERT INTO issues (connection, key, summary) VALUES ('c', 'A-1', 'kept')"))
    db.migrate()
    with db.session() as s:
        assert s.execute(text("SELECT summary FROM issues")).scalar_one() == "kept"
    assert db.current_revision() == db.head_revision()


def test_the_known_head_is_the_newest_migration(db_url: str) -> None:
    """``migrate`` recognises a database at the head without Alembic: the constant it compares with must be
    the newest shipped migration, and a database one migration behind is still upgraded."""
    database = Database(db_url)
    try:
        assert SCHEMA_HEAD == database.head_revision()
        database.migrate("0006_13")  # the one before the head
        assert not database._at_head()
        database.migrate()
        assert database._at_head() and database.current_revision() == SCHEMA_HEAD
    finally:
        database.close()


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


def test_schema_matches_models(db_url: str) -> None:
    """The migrations and the ORM models describe the same schema (no pending autogenerate diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    database = Database(db_url)
    try:
        database.migrate(SCHEMA_HEAD)  # a named revision: through every migration, not in one step
        with database.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        database.close()
    assert diff == []


def test_models_ddl_keeps_partial_indexes_and_jsonb() -> None:
    """The partial indexes' predicate and JSONB, declared without importing a dialect, still reach each
    dialect's DDL as the migrations create them."""
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    conflicts = Base.metadata.tables["conflicts"]
    (partial,) = [i for i in conflicts.indexes if i.name == "uq_conflicts_open_issue_field"]
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        ddl = str(CreateIndex(partial).compile(dialect=dialect))
        assert ddl.startswith("CREATE UNIQUE INDEX") and ddl.endswith("WHERE status = 'open'"), ddl
    assert "base JSONB" in str(CreateTable(conflicts).compile(dialect=postgresql.dialect()))
    assert "base JSON," in str(CreateTable(conflicts).compile(dialect=sqlite.dialect()))


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


def _backend_pid(database: Database) -> int:
    with database.session() as s:
        return int(s.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _count_pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = database.engine.dialect.do_ping

    def counting(dbapi_conn: object) -> bool:
        pings.append(1)
        return bool(real(dbapi_conn))

    monkeypatch.setattr(database.engine.dialect, "do_ping", counting)
    return pings


def test_pg_connection_in_steady_use_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    database = Database(pg_url)
    try:
        pings = _count_pings(database, monkeypatch)
        pids = {_backend_pid(database) for _ in range(5)}
        assert len(pids) == 1
        assert pings == []
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        _backend_pid(database)
        assert pings == [1]
    finally:
        database.close()


def test_pg_connection_dropped_while_idle_is_replaced_before_use(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ended the pooled connection (restart, idle timeout): the next session gets a fresh one
    instead of a failed statement."""
    import psycopg

    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    database = Database(pg_url)
    try:
        first = _backend_pid(database)
        raw = pg_url.replace("postgresql+psycopg", "postgresql").split("?", 1)[0]
        with psycopg.connect(raw, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        second = _backend_pid(database)
        assert second != first
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


def test_json_columns_take_numbers_beyond_64_bits(db_url: str) -> None:
    # A program calling the operations API may send any JSON number (a mapping default of 2**80 once gave a
    # 500 on PostgreSQL: orjson stops at 64-bit integers). It is stored, and reads back as a float.
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from jira_console.store import tables

    db = Database(db_url)
    db.migrate()
    try:
        big = 2**80
        value = {"n": [big], "at": datetime(2026, 1, 2, tzinfo=UTC)}
        with db.session(write=True) as s:
            row = {"connection": "c", "issue_key": "K-1", "field": "f", "value": value}
            s.execute(insert(tables.local_changes).values(**row))
        with db.session() as s:
            stored = s.execute(select(tables.local_changes.c.value)).scalar_one()
        assert stored == {"n": [float(big)], "at": "2026-01-02T00:00:00+00:00"}
    finally:
        db.close()
