"""A database that stops answering is said once (then a reminder a minute, and once when it is back), not
a traceback at every run of every daemon job and a warning at every poll of every webhook worker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from jira_console.store.db import StoreError
from jira_console.store.outage import (
    REMIND_SECONDS,
    DatabaseOutage,
    database_busy,
    database_down,
    outage_reason,
)
from jira_console.webhooks.processor import EventProcessor
from tests.ports import unreachable_postgres
from tests.waiting import until


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    """What the log printed so far (the tests' logging prints to the captured stdout and stderr)."""
    out, err = capsys.readouterr()
    return out + err


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_said_once_then_every_minute_and_its_end_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = Clock()
    outage = DatabaseOutage(clock)
    down = StoreError("cannot connect to the database at postgresql://u:***@db/x: connection refused")
    for _ in range(30):  # half a minute of a job every second
        assert outage.failed(down, "commands")
        clock.now += 1
    said = _said(capsys)
    assert said.count("the database is unavailable; the daemon's work waits for it") == 1
    assert "during=commands" in said and "connection refused" in said and "still" not in said
    clock.now += REMIND_SECONDS
    assert outage.failed(down, "heartbeat")
    said = _said(capsys)
    assert said.count("the database is still unavailable") == 1 and "for_seconds=90" in said
    outage.answered("mappings")  # a read that went through: under SQLite's write lock, reads still do
    assert outage.since is not None and "available again" not in _said(capsys)
    outage.answered("commands")
    outage.answered("heartbeat")
    assert _said(capsys).count("the database is available again") == 1
    assert outage.since is None


def test_an_outage_met_only_by_a_rare_job_ends_after_a_quiet_minute(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = Clock()
    outage = DatabaseOutage(clock)
    outage.failed(StoreError("connection refused"), "retention")  # runs every six hours
    clock.now += 5
    outage.answered("heartbeat")
    assert outage.since is not None  # a moment later: too soon to tell
    clock.now += REMIND_SECONDS
    outage.answered("heartbeat")
    assert outage.since is None and "the database is available again" in _said(capsys)


def test_only_the_database_not_answering_counts_as_an_outage() -> None:
    lost = OperationalError(
        "SELECT secret FROM t WHERE v = %s", ("hunter2",), Exception("server closed the connection")
    )
    assert database_down(lost) and database_down(StoreError("x"))
    assert outage_reason(lost) == "server closed the connection"  # not the statement, not its parameters
    refused = IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert not database_down(refused) and not database_down(ValueError("a bug"))
    assert not DatabaseOutage().failed(refused, "commands")


def test_a_lock_wait_that_timed_out_is_told_apart_from_a_database_that_does_not_answer() -> None:
    import sqlite3

    import psycopg

    sqlite_locked = OperationalError("BEGIN IMMEDIATE", (), sqlite3.OperationalError("database is locked"))
    pg_lock_timeout = OperationalError(
        "INSERT", {}, psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    )
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert database_busy(sqlite_locked) and database_busy(pg_lock_timeout)
    assert database_down(sqlite_locked) and database_down(pg_lock_timeout)  # an outage for the daemon's jobs
    assert not database_busy(lost) and not database_busy(StoreError("cannot connect"))
    assert not database_busy(ValueError("database is locked"))


async def test_a_guarded_job_says_an_outage_and_still_raises_a_bug() -> None:
    outage = DatabaseOutage()

    async def down() -> None:
        raise StoreError("cannot connect")

    async def bug() -> None:
        raise ValueError("a bug stays loud")

    await outage.guarded("heartbeat", down)()
    assert outage.since is not None
    with pytest.raises(ValueError, match="stays loud"):
        await outage.guarded("heartbeat", bug)()


async def test_webhook_workers_of_a_database_that_does_not_answer_say_so_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = unreachable_postgres(query="?connect_timeout=2")
    outage = DatabaseOutage()
    applier: Any = object()  # never reached: nothing can be claimed
    processor = EventProcessor(db, applier, poll_seconds=0.02, outage=outage)
    processor.start(2)
    try:
        await until(lambda: outage.since is not None, "the workers to meet the outage", limit=20)
        for _ in range(20):  # several more failed polls of both workers
            processor.wake()
            await asyncio.sleep(0.02)
    finally:
        await processor.stop()
        db.close()
    said = _said(capsys)
    assert said.count("webhook worker could not claim or finish a batch") == 0
    assert said.count("the database is unavailable") == 1 and "during='webhook processing'" in said
