"""The sync's per-page look-ups of stored issues search indexes rather than read every row of a connection."""

from __future__ import annotations

import threading

from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from jira_console.store import identity
from jira_console.store import tables as t
from jira_console.store.db import Database
from tests.waiting import until_sync


def test_rows_by_key_or_jira_id_are_found_through_the_unique_indexes(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        database.migrate()
        with database.engine.connect() as conn:
            found = identity.ids_by_key_or_jira_id(conn, "c", ["ENG-1", "ENG-2"], ["10001"])
            stmt = select(t.issues.c.id).where(t.issues.c.id.in_(found))
            compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
            plan = " | ".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    finally:
        database.close()
    assert "SCAN" not in plan, plan
    assert "(connection=? AND key=?)" in plan and "(connection=? AND jira_id=?)" in plan, plan


def test_rows_by_key_and_jira_id_come_back_by_key_and_by_id(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            t.issues.insert(),
            [
                {"connection": "c", "key": "ENG-1", "jira_id": "1", "sync_stamp": 1},
                {"connection": "c", "key": "ENG-2", "jira_id": "2", "sync_stamp": 1},
                {"connection": "other", "key": "ENG-1", "jira_id": "1", "sync_stamp": 1},
            ],
        )
    with db.session() as s:
        by_key, by_id = identity.issues_by_key_and_jira_id(s, "c", ["ENG-1", "ENG-9"], ["2"], lock=True)
        assert {k: r.jira_id for k, r in by_key.items()} == {"ENG-1": "1"}
        assert {k: r.key for k, r in by_id.items()} == {"2": "ENG-2"}
        assert all(r.connection == "c" for r in [*by_key.values(), *by_id.values()])


def test_rows_are_locked_in_id_order_whatever_order_they_are_asked_in(pg_url: str) -> None:
    """Two daemons applying overlapping batches on PostgreSQL wait for each other instead of deadlocking: a
    batch asking for [B, A] while B is held has locked A (the lower id) first, as one asking [A, B] would."""
    database = Database(pg_url)
    database.migrate()
    rows = [("A-1", "1"), ("B-1", "2")]
    with database.engine.begin() as conn:
        conn.execute(
            t.issues.insert(), [{"connection": "c", "key": k, "jira_id": i, "sync_stamp": 1} for k, i in rows]
        )
        # A's newest version now lies after B's in the table: a plan reading the table meets B first
        conn.execute(text("UPDATE issues SET sync_stamp = 2 WHERE key = 'A-1'"))
    holder = database.engine.connect()
    holder.begin()
    holder.execute(text("SELECT id FROM issues WHERE key = 'B-1' FOR UPDATE"))
    done = threading.Event()

    def batch() -> None:
        with database.session() as s:
            identity.issues_by_key_and_jira_id(s, "c", ["B-1", "A-1"], ["2", "1"], lock=True)
        done.set()

    def a_is_locked() -> bool:
        with database.engine.connect() as conn:
            try:
                conn.execute(text("SELECT id FROM issues WHERE key = 'A-1' FOR UPDATE NOWAIT"))
            except OperationalError as exc:
                assert "could not obtain lock" in str(exc)
                return True
            return False

    worker = threading.Thread(target=batch, daemon=True)
    worker.start()
    try:
        until_sync(a_is_locked, "the batch to lock A before it waits for B")
        assert not done.is_set()
    finally:
        holder.rollback()
        holder.close()
        worker.join(30)
        database.close()
    assert done.is_set()


def test_a_row_updated_while_the_lock_is_awaited_is_still_found(pg_url: str) -> None:
    """Another daemon's batch updates ENG-1 and commits while this look-up waits for its lock: the look-up
    still returns ENG-1 (a row missed here would be taken for a new issue and inserted a second time). The
    plan is forced to the one that lost the row when the lock was taken through the key/id union (a nested
    loop over the union made unique by hashing)."""
    database = Database(pg_url)
    database.migrate()
    stored = [
        {"connection": "c", "key": f"ENG-{n}", "jira_id": str(n), "sync_stamp": 1} for n in range(1, 2001)
    ]
    rows = stored[:10]
    with database.engine.begin() as conn:
        conn.execute(t.issues.insert(), stored)
        conn.execute(text("ANALYZE issues"))
    holder = database.engine.connect()
    holder.begin()
    holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    holder.execute(text("UPDATE issues SET summary = 'edited by the other daemon' WHERE key = 'ENG-1'"))
    found: list[set[str]] = []

    def batch() -> None:
        with database.session() as s:
            for setting in ("enable_hashjoin", "enable_mergejoin", "enable_seqscan", "enable_material"):
                s.execute(text(f"SET LOCAL {setting} = off"))
            keys = [r["key"] for r in rows]
            by_key, by_id = identity.issues_by_key_and_jira_id(
                s, "c", keys, [r["jira_id"] for r in rows], lock=True
            )
            found.append(set(by_key) | {r.key for r in by_id.values()})

    def waiting_on_holder() -> bool:
        with database.engine.connect() as conn:
            blocked = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                {"pid": holder_pid},
            ).scalar_one()
        return bool(blocked)

    worker = threading.Thread(target=batch, daemon=True)
    worker.start()
    try:
        until_sync(waiting_on_holder, "the look-up to wait for the row lock")
        holder.commit()
    finally:
        holder.close()
        worker.join(30)
        database.close()
    assert found == [{r["key"] for r in rows}]
