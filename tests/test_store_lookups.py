"""The sync's per-page look-ups of stored issues search indexes rather than read every row of a connection."""

from __future__ import annotations

from sqlalchemy import select, text

from jira_console.store import identity
from jira_console.store import tables as t
from jira_console.store.db import Database


def test_rows_by_key_or_jira_id_are_found_through_the_unique_indexes(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        database.migrate()
        stmt = select(t.issues.c.id).where(
            t.issues.c.id.in_(identity.ids_by_key_or_jira_id("c", ["ENG-1", "ENG-2"], ["10001"]))
        )
        with database.engine.connect() as conn:
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
