"""Sync state, leases, webhook event queue, outbox, daemons and commands."""

from __future__ import annotations

import threading
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select

from jira_console.config import Settings
from jira_console.housekeeping import retention
from jira_console.store import cause, outbox, queue, repo, runs, state, tables
from jira_console.store.db import Database
from jira_console.store.models import LocalChange, utcnow
from jira_console.store.queue import Outcome


def test_sync_state_run_watermark_and_reapply(db: Database) -> None:
    with db.session() as s:
        assert state.get_sync_state(s, "main", "issues") is None
        assert state.watermark(s, "main", "issues") is None and not state.reapply_pending(s, "main", "issues")
        state.set_reapply(s, "main", "issues", False)  # nothing to clear: no row is made for it
        assert state.get_sync_state(s, "main", "issues") is None
        state.mark_sync_started(s, "main", "issues")
        state.advance_watermark(s, "main", "issues", 1_700_000_000_000, ["A-2"])
        state.advance_watermark(s, "main", "issues", 1_700_000_000_000, ["A-1"])  # a tie: keys add up
        state.advance_watermark(s, "main", "issues", 1_600_000_000_000, ["Z-9"])  # never backwards
        state.set_reapply(s, "main", "issues", True)
        assert state.acquire_lease(s, "main", "issues", "me", 60)
    with db.session() as s:
        running = state.get_sync_state(s, "main", "issues")
        assert (
            running is not None
            and running.last_status == "running"
            and state.reapply_pending(s, "main", "issues")
        )
        state.mark_sync_finished(
            s,
            "main",
            "issues",
            "me",
            status="ok",
            error=None,
            counts={"pulled": 3},
            duration_ms=7,
            api_calls=2,
        )
        state.set_reapply(s, "main", "issues", False)
    with db.session() as s:
        got = state.get_sync_state(s, "main", "issues")
        assert [r.scope for r in state.list_sync_states(s, "main")] == ["issues"]
        assert not state.reapply_pending(s, "main", "issues")
    assert got is not None
    assert (got.watermark_ms, got.watermark_keys, got.cursor, got.counts) == (
        1_700_000_000_000, ["A-1", "A-2"], {"reapply": False}, {"pulled": 3},
    )  # fmt: skip
    assert (got.last_status, got.duration_ms, got.api_calls, got.lease_owner) == ("ok", 7, 2, None)


def test_lease_excludes_others_until_expiry(db: Database) -> None:
    now = utcnow()
    with db.session() as s:
        assert state.acquire_lease(s, "main", "issues", "daemon-a", 30, now=now)
    with db.session() as s:
        assert not state.acquire_lease(s, "main", "issues", "daemon-b", 30, now=now + timedelta(seconds=10))
        assert state.acquire_lease(s, "main", "issues", "daemon-a", 30, now=now + timedelta(seconds=10))
        assert state.renew_lease(s, "main", "issues", "daemon-a", 30, now=now + timedelta(seconds=20))
    later = now + timedelta(seconds=51)
    with db.session() as s:
        assert state.acquire_lease(s, "main", "issues", "daemon-b", 30, now=later)
    with db.session() as s:
        assert not state.renew_lease(s, "main", "issues", "daemon-a", 30, now=later)
        assert not state.release_lease(s, "main", "issues", "daemon-a")
        assert state.release_lease(s, "main", "issues", "daemon-b")
        assert state.acquire_lease(s, "main", "issues", "daemon-c", 30, now=later)
        rec = state.get_sync_state(s, "main", "issues")
    assert rec is not None and rec.lease_owner == "daemon-c"


def test_concurrent_lease_has_one_winner(db: Database) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(4)

    def grab(owner: str) -> None:
        barrier.wait()
        with db.session(write=True) as s:
            if state.acquire_lease(s, "main", "reconcile", owner, 60):
                winners.append(owner)

    threads = [threading.Thread(target=grab, args=(f"d{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(winners) == 1


def _event(db: Database, ident: str, **kw: object) -> queue.InsertedEvent:
    with db.session() as s:
        return queue.insert_event(
            s, identifier=ident, payload='{"x": 1}', event_type="jira:issue_updated", **kw
        )


def test_duplicate_webhook_is_detected(db: Database) -> None:
    first = _event(db, "hook-1", headers={"X-Atlassian-Webhook-Identifier": "hook-1"}, event_ts_ms=5)
    again = _event(db, "hook-1")
    assert first.duplicate is False and first.id is not None
    assert again == queue.InsertedEvent(id=None, duplicate=True)
    with db.session() as s:
        ev = queue.get_event(s, first.id)
        assert ev is not None and ev.headers == {"X-Atlassian-Webhook-Identifier": "hook-1"}
        assert queue.event_stats(s).by_status["received"] == 1


def test_batches_of_any_size_store_every_value_and_report_duplicates(db: Database) -> None:
    at = utcnow() - timedelta(minutes=3)
    full = {
        "connection": "main", "content_hash": "h", "event_type": "jira:issue_created", "issue_key": "A-1",
        "event_ts_ms": 2**40, "received_at": at, "headers": {"X-Atlassian-Webhook-Identifier": "w"},
        "payload": '{"a": "100% ok"}', "status": "failed", "attempts": 0, "next_attempt_at": None,
        "last_error": "no connection", "processed_at": at,
    }  # fmt: skip
    with db.session() as s:
        first = queue.insert_events(s, [{**full, "identifier": "b-0"}])
        assert first[0].id is not None and not first[0].duplicate
        rows = [{"identifier": f"b-{i}", "payload": "{}"} for i in range(5)] + [
            {"identifier": "b-3", "payload": ""}
        ]
        got = queue.insert_events(s, rows)  # b-0 stored before; b-3 twice in the batch
        assert [g.duplicate for g in got] == [True, False, False, False, False, True]
        assert len({g.id for g in got if g.id is not None}) == 4
        bigger = queue.insert_events(s, [{"identifier": f"c-{i}", "payload": "{}"} for i in range(40)])
        assert all(not g.duplicate for g in bigger)
        with pytest.raises(ValueError, match="no column colour"):
            queue.insert_events(s, [{"identifier": "d-1", "payload": "{}", "colour": "red"}])
    with db.session() as s:
        stored = queue.get_event(s, first[0].id)
        fresh = queue.get_event(s, got[1].id)
    assert stored is not None and fresh is not None
    assert (stored.connection, stored.event_type, stored.issue_key, stored.event_ts_ms, stored.status) == (
        "main", "jira:issue_created", "A-1", 2**40, "failed",
    )  # fmt: skip
    assert (stored.received_at, stored.headers, stored.payload, stored.last_error) == (
        at, {"X-Atlassian-Webhook-Identifier": "w"}, '{"a": "100% ok"}', "no connection",
    )  # fmt: skip
    assert (fresh.status, fresh.attempts, fresh.headers, fresh.connection) == ("received", 0, {}, None)
    assert abs((fresh.received_at - utcnow()).total_seconds()) < 600


def test_inserted_times_compare_with_bound_times_to_the_microsecond(db: Database) -> None:
    # SQLite keeps times as text, written here by insert_events and compared with values SQLAlchemy binds:
    # both must write the same form, or a retry due now would sort after "now".
    at = utcnow().replace(microsecond=123456)
    elsewhere = at.astimezone(timezone(timedelta(hours=-5)))  # the same instant, given in another zone
    with db.session() as s:
        row = {"identifier": "t-1", "payload": "{}", "next_attempt_at": elsewhere}
        (event,) = queue.insert_events(s, [row])
    column = tables.webhook_events.c.next_attempt_at
    with db.session() as s:
        stored = queue.get_event(s, event.id)
        due = [
            s.execute(select(func.count()).where(column <= bound)).scalar_one()
            for bound in (at - timedelta(microseconds=1), at, at + timedelta(microseconds=1))
        ]
    assert stored is not None and stored.next_attempt_at == at
    assert due == [0, 1, 1]


def test_event_life_cycle(db: Database) -> None:
    ids = [_event(db, f"e{i}", issue_key="A-1").id for i in range(3)]
    now = utcnow()
    with db.session() as s:
        claimed = queue.claim_events(s, "w1", limit=2, lease_seconds=30, now=now)
    assert [e.id for e in claimed] == ids[:2] and all(e.attempts == 1 for e in claimed)
    with db.session() as s:
        assert [e.id for e in queue.claim_events(s, "w2", limit=5, now=now)] == ids[2:]
        assert queue.claim_events(s, "w2", now=now) == []
        assert queue.finish_events(s, "w1", [Outcome(ids[0], "applied")]) == 1
        assert queue.finish_events(s, "w1", [Outcome(ids[2], "stale")]) == 0  # w2 holds it
        later = Outcome(ids[1], "received", "boom", next_attempt_at=now + timedelta(seconds=60))
        assert queue.finish_events(s, "w1", [later], now=now) == 1
        assert queue.claim_events(s, "w3", now=now + timedelta(seconds=30)) == []  # backoff not over
        retried = queue.claim_events(s, "w3", now=now + timedelta(seconds=61))
        # the backed-off event is due again, and w2's claim on ids[2] expired too
        assert sorted(e.id for e in retried) == sorted(ids[1:])
        parked = [Outcome(ids[1], "failed", "boom again"), Outcome(ids[2], "ignored")]
        assert queue.finish_events(s, "w3", parked) == 2
        stats = queue.event_stats(s)
    counts = stats.by_status
    assert (counts["applied"], counts["failed"], counts["ignored"], counts["processing"]) == (1, 1, 1, 0)
    assert stats.depth == 0
    with db.session() as s:
        assert queue.retry_event(s, ids[1])
        again = queue.claim_events(s, "w4")
        assert [e.id for e in again] == [ids[1]] and again[0].attempts == 1
        assert [e.id for e in queue.list_events(s, status=["applied", "ignored"])] == [ids[2], ids[0]]


def test_purge_keeps_failed_and_recent(db: Database) -> None:
    ids = [_event(db, f"p{i}").id for i in range(3)]
    with db.session() as s:
        queue.claim_events(s, "w")
        done = [Outcome(ids[0], "applied"), Outcome(ids[1], "applied"), Outcome(ids[2], "failed", "bad")]
        assert queue.finish_events(s, "w", done) == 3
    with db.session() as s:
        assert queue.purge_events(s, utcnow() - timedelta(days=1)) == 0
        assert queue.purge_events(s, utcnow() + timedelta(seconds=1)) == 2
        assert [e.status for e in queue.list_events(s)] == ["failed"]


def test_concurrent_claims_never_share_an_event(db: Database) -> None:
    total = 60
    with db.session() as s:
        for i in range(total):
            queue.insert_event(s, identifier=f"c{i}", payload="{}")
    seen: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        got: list[int] = []
        try:
            barrier.wait()
            while True:
                with db.session(write=True) as s:
                    batch = queue.claim_events(s, name, limit=3)
                if not batch:
                    break
                got.extend(e.id for e in batch)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        seen[name] = got

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    every = [i for ids in seen.values() for i in ids]
    assert len(every) == len(set(every)) == total


def _host_change(db: Database, connection: str, key: str, field: str, value: object) -> int:
    """An outbox row as a host program inserts it."""
    with db.session() as s:
        row = LocalChange(connection=connection, issue_key=key, field=field, value=value, created_at=utcnow())
        s.add(row)
        s.flush()
        return row.id


def test_local_changes_outbox(db: Database) -> None:
    first = _host_change(db, "main", "A-1", "summary", "new title")
    _host_change(db, "main", "A-1", "labels", ["x"])
    _host_change(db, "other", "B-1", "summary", "elsewhere")
    with db.session() as s:
        pending = outbox.claim_local_changes(s, "main")
        assert [(c.field, c.value) for c in pending] == [("summary", "new title"), ("labels", ["x"])]
        outbox.mark_local_change(s, first)
        outbox.mark_local_change(s, pending[1].id, error="unknown field")
    with db.session() as s:
        assert outbox.claim_local_changes(s, "main") == []
        assert [c.error for c in outbox.list_local_changes(s, connection="main")] == ["unknown field", None]
        assert len(outbox.list_local_changes(s, pending_only=True)) == 1
        assert outbox.outbox_counts(s) == {
            "main": {"pending": 0, "refused": 1},
            "other": {"pending": 1, "refused": 0},
        }
    # Retention: rows taken before the cut go (applied or refused); a pending row stays whatever its age.
    assert outbox.purge_outbox(db, retention_days=1) == 0  # the daemon's job: all were taken just now
    with db.session() as s:
        assert outbox.purge_local_changes(s, utcnow() - timedelta(days=1)) == 0
        assert outbox.purge_local_changes(s, utcnow() + timedelta(seconds=1)) == 2
    with db.session() as s:
        assert [c.issue_key for c in outbox.list_local_changes(s)] == ["B-1"]
        assert outbox.outbox_counts(s) == {"other": {"pending": 1, "refused": 0}}


def test_daemon_heartbeat_and_stop(db: Database) -> None:
    with db.session() as s:
        state.heartbeat(s, "d1", host="h", pid=1, version="0.1", status={"ok": True}, started_at=utcnow())
        assert state.request_stop(s, "d1")
        state.heartbeat(s, "d1", host="h", pid=1, version="0.1", status={"ok": False})
        assert state.request_stop(s, "nobody") is False
    with db.session() as s:
        (d,) = state.list_daemons(s)
        assert d.stopping is True and d.status == {"ok": False} and d.heartbeat_at is not None
        state.heartbeat(s, "d1", pid=2, started_at=utcnow())  # restarted: stop request cleared
        assert state.list_daemons(s)[0].stopping is False


def test_the_retention_job_forgets_daemons_silent_for_a_week(db: Database) -> None:
    """A daemon named host:pid gets a row at every start: the rows of those long gone go, so `status` and
    the console do not list every daemon that ever ran."""
    with db.session() as s:
        for name in ("stopped-long-ago", "killed-long-ago", "stopped-yesterday", "alive"):
            state.heartbeat(s, name, host="h", pid=1, started_at=utcnow())
        state.mark_stopped(s, "stopped-long-ago")
        state.mark_stopped(s, "stopped-yesterday")
        beats = {"stopped-long-ago": 8, "killed-long-ago": 30, "stopped-yesterday": 1}
        for name, days in beats.items():
            when = utcnow() - timedelta(days=days)
            s.execute(tables.daemons.update().where(tables.daemons.c.name == name).values(heartbeat_at=when))
    removed = retention(db, Settings())
    assert removed == {"webhook_events": 0, "outbox_rows": 0, "daemon_rows": 2, "quiet_runs": 0}
    with db.session() as s:
        assert sorted(d.name for d in state.list_daemons(s)) == ["alive", "stopped-yesterday"]


def test_the_retention_job_forgets_old_runs_that_changed_nothing(db: Database) -> None:
    """A daemon's scheduled syncs add a run a connection every interval, nearly all changing nothing."""
    with db.session() as s:
        names = ("old-quiet", "new-quiet", "old-wrote", "open")
        ids = {name: runs.start_run(s, "c", "sync") for name in names}
        for name in ("old-quiet", "new-quiet", "old-wrote"):
            runs.finish_run(s, ids[name], "ok")
        with cause.caused_by(cause.Cause("sync", run_id=ids["old-wrote"])):
            repo.append_audit(s, "c", "local", "summary", "a", "b", issue_key="C-1", actor="sync:c")
        old = utcnow() - timedelta(days=8)
        row = tables.sync_runs.c.id
        for name in ("old-quiet", "old-wrote", "open"):
            s.execute(tables.sync_runs.update().where(row == ids[name]).values(started_at=old))
        for name in ("old-quiet", "old-wrote"):
            s.execute(tables.sync_runs.update().where(row == ids[name]).values(finished_at=old))
    assert retention(db, Settings())["quiet_runs"] == 1
    with db.session() as s:
        left = {r.id for r in runs.list_runs(s)}
        assert left == {ids["new-quiet"], ids["old-wrote"], ids["open"]}  # a run still open is never taken
        assert [r.id for r in runs.list_runs(s, changed_only=True)] == [ids["old-wrote"]]


def test_commands_queue(db: Database) -> None:
    with db.session() as s:
        first = state.enqueue_command(s, "sync_now", {"connection": "main"}, created_by="console")
        second = state.enqueue_command(s, "reload")
    with db.session() as s:
        got = state.claim_command(s, "d1", kinds=["reload"])
        assert got is not None and got.id == second
        got = state.claim_command(s, "d2")
        assert got is not None and got.id == first and got.args == {"connection": "main"}
        assert state.claim_command(s, "d3") is None
        state.finish_command(s, first, result={"pulled": 4})
    with db.session() as s:
        done = state.get_command(s, first)
        assert done is not None and done.result == {"pulled": 4} and done.finished_at is not None
        assert [c.id for c in state.list_commands(s, pending_only=True)] == [second]


def test_a_command_whose_daemon_died_is_taken_over(db: Database) -> None:
    """A daemon killed while carrying out a command never finishes it, and whoever queued it waits for its
    outcome: another daemon takes it over, as it would a killed daemon's lease (a restart under the same
    name, a clean stop and a forgotten row leave it orphaned as well). A live holder keeps it."""
    beat = 5.0
    with db.session() as s:
        ids = {name: state.enqueue_command(s, "sync", {"connection": name}) for name in ("a", "b", "c", "d")}
        for holder in ("live", "killed", "restarted", "stopped", "other", "third"):
            state.heartbeat(s, holder, started_at=utcnow() - timedelta(minutes=5))
    for name, holder in zip("abcd", ("live", "killed", "restarted", "stopped"), strict=True):
        with db.session() as s:
            got = state.claim_command(s, holder, heartbeat=beat)
            assert got is not None and got.id == ids[name]
    with db.session() as s:
        daemons = tables.daemons
        s.execute(
            daemons.update()
            .where(daemons.c.name == "killed")
            .values(heartbeat_at=utcnow() - timedelta(seconds=beat * 3 + 1))
        )
        state.heartbeat(s, "restarted", started_at=utcnow())
        state.mark_stopped(s, "stopped")
        assert state.claim_command(s, "other") is None  # without the interval: only unclaimed commands
    taken = []
    with db.session() as s:
        while (got := state.claim_command(s, "other", heartbeat=beat)) is not None:
            assert got.claimed_by == "other"
            taken.append(got.id)
    assert taken == [ids["b"], ids["c"], ids["d"]]
    with db.session() as s:
        state.finish_command(s, ids["b"], result={})
        s.execute(tables.daemons.delete().where(tables.daemons.c.name == "other"))  # forgotten after a week
    with db.session() as s:
        got = state.claim_command(s, "third", heartbeat=beat)
        assert got is not None and got.id == ids["c"]  # the oldest unfinished one "other" left; not b
        assert state.claim_command(s, "live", heartbeat=beat) is not None  # d: "other" is gone
        commands = tables.commands
        earlier = utcnow() - timedelta(minutes=1)
        s.execute(commands.update().where(commands.c.id == ids["c"]).values(claimed_at=earlier))
        state.heartbeat(s, "third", started_at=utcnow())  # killed since it claimed c, and started again
        got = state.claim_command(s, "third", heartbeat=beat)  # its own claim of before: nobody runs it
        assert got is not None and got.id == ids["c"]
        assert state.claim_command(s, "third", heartbeat=beat) is None  # and not again
