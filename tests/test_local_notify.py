"""Local work announced at commit on PostgreSQL (``jira_console.store.local_notify``): a host transaction
that stays open across the start of a sync and commits after it, while a newer edit committed first, still
reaches Jira at once (the marks alone left it for the next scheduled sync); the listener keeps to its schema,
ignores the engine's own writes, and comes back after losing its connection, saying so. On SQLite, a commit
to the write-ahead log makes the daemon look for local work at once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from jira_console.store.db import Database
from jira_console.store.local_notify import APPLICATION_NAME, LocalWorkListener, WalWatch
from jira_console.store.local_work import LocalWatch
from tests.conftest import pg_schema_url
from tests.test_local_work import _daemon, _keys, _runs
from tests.waiting import until


@pytest.fixture
def pg_only() -> Any:
    yield from pg_schema_url()


async def test_a_host_transaction_committed_after_a_newer_edit_reaches_jira_at_once(
    sim_factory, pg_only: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = sim_factory("server", issues=6)
    daemon = _daemon(sim, monkeypatch, pg_only, check=0.2)  # the schedule's next sync is an hour away
    await daemon.start()
    host = create_engine(pg_only)  # a host program
    slow = host.connect()
    try:
        assert daemon.announcements is not None
        await until(lambda: daemon.announcements.listening.is_set(), "the listener")  # type: ignore[union-attr]
        await until(lambda: _runs(daemon) >= 1 and not daemon._syncs, "the start-up sync")
        slow_key, quick_key = _keys(sim)[1:3]
        slow_tx = slow.begin()
        # Stamped dirty now (the capture trigger's clock), visible only at its commit.
        slow.execute(text("UPDATE issues SET summary = 'held open' WHERE key = :k"), {"k": slow_key})
        with host.begin() as quick:  # a newer edit, committed first
            quick.execute(text("UPDATE issues SET summary = 'first' WHERE key = :k"), {"k": quick_key})
        await until(lambda: sim.issue(quick_key)["summary"] == "first", "the newer edit in Jira")
        await until(lambda: not daemon._syncs, "that sync's end")
        marks = await asyncio.to_thread(daemon.local_watch.read)
        assert marks == {}  # nothing visible waits: the held edit is not committed yet
        slow_tx.commit()
        marks = await asyncio.to_thread(daemon.local_watch.read)
        name = daemon.settings.jira[0].name
        # The marks alone do not make it due: its edit time is older than the one the last sync began with.
        assert not marks[name].moved_past(daemon.local_watch._began[name])
        await until(lambda: sim.issue(slow_key)["summary"] == "held open", "the held edit in Jira")
    finally:
        slow.close()  # (rolled back if the test failed before its commit: no lock left behind)
        host.dispose()
        await daemon.shutdown(grace_seconds=5)


async def test_the_listener_keeps_to_its_schema_skips_engine_writes_and_comes_back(pg_only: str) -> None:
    db = Database(pg_only)
    db.migrate()
    heard: list[str | None] = []
    listener = LocalWorkListener.started_for(db.engine, heard.append)
    assert listener is not None
    other = pg_schema_url()
    other_url = next(other)
    try:
        await until(listener.listening.is_set, "LISTEN in effect")
        _issue(db)
        with db.engine.begin() as c:
            # the engine's own write moves sync_stamp: no announcement
            c.execute(text("UPDATE issues SET summary = 'engine', sync_stamp = sync_stamp + 1"))
            c.execute(
                text(
                    "INSERT INTO local_changes (connection, issue_key, field, value)"
                    " VALUES ('cloud', 'ENG-1', 'summary', :v)"
                ),
                {"v": json.dumps("outbox")},
            )  # fmt: skip
        await until(lambda: heard == ["cloud"], "the outbox row announced")
        # Another deployment's schema in the same database: heard on the channel, kept out.
        other_db = Database(other_url)
        try:
            other_db.migrate()
            _issue(other_db)
            with other_db.engine.begin() as c:
                c.execute(text("UPDATE issues SET summary = 'elsewhere'"))
        finally:
            other_db.close()
        with db.engine.begin() as c:
            c.execute(text("UPDATE issues SET summary = 'host edit'"))  # a host program's edit
            c.execute(
                text(
                    "INSERT INTO new_issues (connection, project_key, issue_type, fields)"
                    " VALUES ('dc', 'ENG', 'Task', :f)"
                ),
                {"f": json.dumps({"summary": "asked"})},
            )  # fmt: skip
        await until(
            lambda: sorted(map(str, heard[1:])) == ["cloud", "dc"], "the edit and the request announced"
        )
        assert len(heard) == 3  # one each: nothing from the other schema, nothing from the engine's write

        # The server ends its connection (a restart, a failover): it listens again and says it may have
        # missed something.
        with db.engine.begin() as c:
            ended = c.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"
                     " AND pid <> pg_backend_pid()"),
                {"n": APPLICATION_NAME},
            ).scalars().all()  # fmt: skip
        assert ended and all(ended)
        await until(lambda: None in heard, "the listener back, saying it may have missed work")
        await until(listener.listening.is_set, "LISTEN in effect again")
        with db.engine.begin() as c:
            c.execute(text("UPDATE issues SET summary = 'after the restart'"))
        await until(lambda: heard[-1] == "cloud", "announcements after the reconnect")
    finally:
        await listener.stop()
        db.close()
        other.close()


def _issue(db: Database) -> None:
    with db.engine.begin() as c:
        c.execute(
            text("INSERT INTO issues (connection, jira_id, key, summary) VALUES ('cloud', '1', 'ENG-1', 'x')")
        )


def test_a_watch_that_heard_of_work_finds_the_connection_due_until_its_sync_begins(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    db.migrate()
    try:
        watch = LocalWatch(db, ["cloud", "dc"])
        watch.began("cloud")
        watch.began("dc")
        assert watch.due(watch.read(), ["cloud", "dc"]) == []
        watch.announced("cloud")
        watch.announced("nowhere")  # not a connection of this daemon
        assert watch.due(watch.read(), ["cloud", "dc"]) == ["cloud"]
        assert watch.due(watch.read(), ["dc"]) == []  # a connection whose sync runs waits for it to end
        watch.began("cloud")
        assert watch.due(watch.read(), ["cloud", "dc"]) == []
        watch.announced(None)  # the listener was away: every connection
        assert watch.due(watch.read(), ["cloud", "dc"]) == ["cloud", "dc"]
        assert LocalWorkListener.started_for(db.engine, print) is None  # SQLite: no notifications
    finally:
        db.close()


async def test_on_sqlite_a_host_programs_commit_makes_the_daemon_look_at_once(
    sim_factory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = sim_factory("cloud", issues=6)
    daemon = _daemon(sim, monkeypatch, sqlite_url, check=3600)  # the periodic look: an hour away as well
    await daemon.start()
    host = create_engine(sqlite_url)  # another program, on the same file
    try:
        assert isinstance(daemon.announcements, WalWatch)
        await until(lambda: _runs(daemon) >= 1 and not daemon._syncs, "the start-up sync")
        key = _keys(sim)[3]
        with host.begin() as c:
            c.execute(text("UPDATE issues SET summary = 'seen in the log' WHERE key = :k"), {"k": key})
        await until(lambda: sim.issue(key)["summary"] == "seen in the log", "the edit in Jira")
    finally:
        host.dispose()
        await daemon.shutdown(grace_seconds=5)
    assert WalWatch.started_for(create_engine("sqlite://"), print) is None  # in memory: nothing to watch
