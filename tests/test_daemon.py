"""The daemon as a real process (``python -m jira_console --config CFG daemon``) against a served simulator:
webhooks applied within seconds, the heartbeat in ``status``, a clean SIGTERM drain, nothing acknowledged
lost to ``kill -9``, and two daemons on one PostgreSQL database sharing the work exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from jira_console.cli import app
from jira_console.simulator import Simulator, render
from jira_console.store import models as m
from jira_console.store import queue as q
from jira_console.store.db import Database
from jira_console.webhooks.signature import sign
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
SECRET = "daemon-test-secret-7"
SECRET_ENV = "JC_DAEMON_TEST_SECRET"
TERMINAL = {"applied", "ignored", "stale"}


def write_config(
    tmp_path: Path,
    sim: Simulator,
    db_url: str,
    *,
    name: str = "sim",
    port: int | None = None,
    file: str = "daemon.toml",
    rate: float = 50,
    lease_seconds: float = 3,
) -> Path:
    user, _ = sim.credentials["basic"]
    path = tmp_path / file
    path.write_text(
        f"""
[database]
url = "{db_url}"
[[jira]]
name = "{name}"
url = "{sim.url}"
auth = "basic"
user = "{user}"
token_env = "JIRA_SIM_TOKEN"
overlap_seconds = 0
sync_interval_seconds = 3600
reconcile_interval_seconds = 3600
rate_limit_per_second = {rate}
[webhooks]
listen = "127.0.0.1:{port or free_port()}"
secret_env = "{SECRET_ENV}"
previous_secret_env = "JC_DAEMON_TEST_NO_PREVIOUS"
workers = 2
[daemon]
heartbeat_seconds = 0.5
lease_seconds = {lease_seconds}
[logging]
level = "WARNING"
"""
    )
    path.chmod(0o600)
    return path


class DaemonProcess:
    """One ``jira-console daemon`` subprocess, its stderr kept in a file for failure messages."""

    def __init__(
        self, config: Path, name: str, sim: Simulator, *, listen: bool = True, terminal: bool = False
    ) -> None:
        self.name = name
        self.log = config.parent / f"{name}.log"
        env = dict(os.environ, JIRA_SIM_TOKEN=sim.credentials["basic"][1], **{SECRET_ENV: SECRET})
        cmd = [sys.executable, "-m", "jira_console", "--config", str(config), "daemon", "--name", name]
        if not listen:
            cmd.append("--no-listen")
        self.terminal: int | None = None
        """With ``terminal``: the master side of the pseudo-terminal the daemon runs in."""
        stdin: int | None = None
        if terminal:
            # As in a terminal window: a session of its own whose controlling terminal is a pty (taken in
            # the child, before the daemon starts, with TIOCSCTTY on its stdin).
            self.terminal, stdin = os.openpty()
            take = (
                "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                "os.execv(sys.executable, sys.argv[1:])"
            )
            cmd = [sys.executable, "-c", take, *cmd]
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=terminal,
            )  # fmt: skip
        if stdin is not None:
            os.close(stdin)

    def hang_up(self) -> None:
        """Close the daemon's terminal, as closing its window does (the kernel sends it SIGHUP)."""
        assert self.terminal is not None
        os.close(self.terminal)
        self.terminal = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def alive(self) -> None:
        assert self.proc.poll() is None, f"daemon {self.name} exited {self.proc.returncode}:\n{self.tail()}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.terminal is not None:
            os.close(self.terminal)
            self.terminal = None


@pytest.fixture
def daemons() -> Iterator[Callable[..., DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(
        config: Path, name: str, sim: Simulator, *, listen: bool = True, terminal: bool = False
    ) -> DaemonProcess:
        d = DaemonProcess(config, name, sim, listen=listen, terminal=terminal)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


def wait_for(check: Callable[[], Any], what: str, *, timeout: float = 60, daemons: tuple = ()) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        for d in daemons:
            d.alive()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {d.name}:\n{d.tail()}" for d in daemons)
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")
        time.sleep(0.05)


def listener_up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def port_of(config: Path) -> int:
    import tomllib

    return int(tomllib.loads(config.read_text())["webhooks"]["listen"].rpartition(":")[2])


def events(db: Database) -> list[m.WebhookEvent]:
    with db.session() as s:
        return list(s.scalars(select(m.WebhookEvent).order_by(m.WebhookEvent.id)))


def issue_count(db: Database, connection: str) -> int:
    with db.session() as s:
        return int(
            s.execute(select(func.count()).select_from(m.Issue).where(m.Issue.connection == connection))
            .scalar_one()
        )  # fmt: skip


def jira_time(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}+0000"


def issue_bodies(sim: Simulator, count: int, tag: str) -> list[tuple[str, str, int, bytes]]:
    """``count`` v2 issue_updated bodies cycling over the site's issues, each newer than the last:
    (identifier, issue key, updated ms, body)."""
    with sim.site.lock:
        issues = [sim.site.issues[k] for k in sorted(sim.site.issues)]
        rendered = [
            render.issue_json(sim.site, i, sim.url or "", "2", None, set(), navigable_default=True)
            for i in issues
        ]
    # Newer than anything the site holds (its issues date from 2025), but not ahead of Jira's clock: a body
    # dated in Jira's future is not trusted by its date (the issue is read afresh instead).
    base = int(time.time() * 1000) - (count + 60) * 1000
    out = []
    for n in range(count):
        issue = json.loads(json.dumps(rendered[n % len(rendered)]))
        updated = base + n * 1000
        issue["fields"]["summary"] = f"{tag} {n}"
        issue["fields"]["updated"] = jira_time(updated)
        payload = {
            "timestamp": updated,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "issue": issue,
            "changelog": {"id": str(n), "items": [{"field": "summary", "toString": f"{tag} {n}"}]},
        }
        out.append((f"{tag}-{n}", issue["key"], updated, orjson.dumps(payload)))
    return out


def newest_summaries(stored: list[m.WebhookEvent]) -> dict[str, str]:
    newest: dict[str, tuple[int, str]] = {}
    for e in stored:
        payload = json.loads(e.payload)
        key, ts = payload["issue"]["key"], int(payload["timestamp"])
        if key not in newest or ts > newest[key][0]:
            newest[key] = (ts, payload["issue"]["fields"]["summary"])
    return {k: v[1] for k, v in newest.items()}


def local_summaries(db: Database, connection: str) -> dict[str, str | None]:
    with db.session() as s:
        rows = s.execute(select(m.Issue.key, m.Issue.summary).where(m.Issue.connection == connection))
        return {k: v for k, v in rows}


def test_daemon_applies_webhooks_reports_heartbeat_and_drains_on_sigterm(
    sim_factory, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, daemons
) -> None:
    sim = sim_factory("cloud", issues=20)
    db = Database(sqlite_url)
    db.migrate()
    config = write_config(tmp_path, sim, sqlite_url)
    port = port_of(config)
    d = daemons(config, "d-main", sim)
    wait_for(lambda: listener_up(port), "the listener", daemons=(d,))
    wait_for(lambda: issue_count(db, "sim") == 20, "the first sync", daemons=(d,))

    def first_sync_recorded() -> bool:
        with db.session() as s:
            state = s.get(m.SyncState, ("sim", "issues"))
            return state is not None and state.last_finished_at is not None

    # the rows land before the run records its end; the deliveries below must all come after that end
    wait_for(first_sync_recorded, "the first sync's end", daemons=(d,))

    sim.add_webhook_target(
        f"http://127.0.0.1:{port}/webhooks/jira?connection=sim",
        secret=SECRET,
        duplicate_rate=0.5,
        reorder=True,
    )
    with sim.site.lock:
        keys = sorted(sim.site.issues)
    edited, deleted = keys[:4], keys[10]
    for k in edited:
        sim.edit_issue(k, {"summary": f"webhook edit {k}"})
    sim.delete_issue(deleted)
    assert sim.wait_for_webhooks(15)

    def applied() -> bool:
        with db.session() as s:
            rows = {r.key: r for r in s.scalars(select(m.Issue).where(m.Issue.connection == "sim"))}
        pending = [e for e in events(db) if e.status not in TERMINAL]
        return (
            all(rows[k].summary == f"webhook edit {k}" for k in edited)
            and rows[deleted].deleted
            and not pending
        )

    wait_for(applied, "the webhooks to be applied", timeout=45, daemons=(d,))
    stored = events(db)
    delivered = {x["identifier"] for x in sim.webhook_deliveries if x["status"] == 202}
    assert sorted(e.identifier for e in stored) == sorted(f"sim:{i}" for i in delivered)
    assert len(delivered) == 5
    assert {e.event_type for e in stored} == {"jira:issue_updated", "jira:issue_deleted"}
    assert all(e.status in TERMINAL and e.attempts == 1 for e in stored)
    # Only webhooks could have done it: the next scheduled sync is an hour away.
    with db.session() as s:
        state = s.get(m.SyncState, ("sim", "issues"))
        assert state is not None and state.last_finished_at is not None
        assert state.last_finished_at.replace(tzinfo=UTC) < min(e.received_at for e in stored).replace(
            tzinfo=UTC
        )

    monkeypatch.setenv("JIRA_SIM_TOKEN", sim.credentials["basic"][1])
    result = CliRunner().invoke(app, ["--config", str(config), "status", "--json"])
    assert result.exit_code == 0, result.stderr
    status = json.loads(result.stdout)
    (daemon,) = status["daemons"]
    assert daemon["name"] == "d-main" and daemon["pid"] == d.pid and daemon["stopping"] is False
    beat = datetime.fromisoformat(daemon["heartbeat_at"])
    assert abs((datetime.now(UTC) - beat.replace(tzinfo=beat.tzinfo or UTC)).total_seconds()) < 10
    assert daemon["status"]["listener"] == f"http://127.0.0.1:{port}/webhooks/jira"
    assert status["webhooks"]["queue_depth"] == 0

    # A burst right before SIGTERM: every acknowledged delivery is stored, none is left claimed.
    burst = issue_bodies(sim, 40, "burst")
    acked = asyncio.run(post_all(port, "sim", burst, concurrency=8))
    assert len(acked) == 40
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=45) == 0, d.tail()
    stored = events(db)
    assert {f"sim:{i}" for i in acked} <= {e.identifier for e in stored}
    assert not [e for e in stored if e.status == "processing"]
    assert all(e.status in TERMINAL | {"received"} for e in stored)
    with db.session() as s:
        row = s.get(m.Daemon, "d-main")
        assert row is not None and row.stopping is True
    db.close()


async def post_all(
    port: int,
    connection: str,
    bodies: list[tuple[str, str, int, bytes]],
    *,
    concurrency: int,
    on_ack: Callable[[int], None] | None = None,
) -> list[str]:
    """POST signed deliveries; returns the identifiers answered 2xx (in the order of the answers)."""
    acked: list[str] = []
    todo = iter(bodies)
    url = f"http://127.0.0.1:{port}/webhooks/jira?connection={connection}"
    async with httpx.AsyncClient(timeout=10) as client:

        async def worker() -> None:
            for ident, _key, _ts, body in todo:
                headers = {
                    "Content-Type": "application/json",
                    "X-Atlassian-Webhook-Identifier": ident,
                    "X-Hub-Signature": sign(body, SECRET),
                }
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    continue
                if 200 <= response.status_code < 300:
                    acked.append(ident)
                    if on_ack is not None:
                        on_ack(len(acked))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return acked


def test_sighup_reloads_a_valid_configuration_in_place_and_runs_on_past_an_invalid_one(
    sim_factory, sqlite_url: str, tmp_path: Path, daemons
) -> None:
    sim = sim_factory("server", issues=5)
    config = write_config(tmp_path, sim, sqlite_url)
    first, second = port_of(config), free_port()
    d = daemons(config, "d-hup", sim)
    wait_for(lambda: listener_up(first), "the listener", daemons=(d,))
    good = config.read_text()

    # A typo: logged, and the daemon runs on as it was (it used to die at once: SIGHUP's default).
    config.write_text(good.replace("[daemon]", "[daemon]\nheartbeat_secnds = 1"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration not reloaded" in d.tail(), "the refusal in the log", daemons=(d,))
    assert "heartbeat_secnds" in d.tail() and listener_up(first)

    # A valid change: drained, then the same process starts again with it (the listener moves).
    config.write_text(good.replace(f"127.0.0.1:{first}", f"127.0.0.1:{second}"))
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: listener_up(second), "the listener on its new port", daemons=(d,))
    assert not listener_up(first)
    # A stop asked for while a reload drains (systemctl reload, then stop) wins: no restart after the drain.
    d.proc.send_signal(signal.SIGHUP)
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=45) == 0, d.tail()


def test_a_daemon_whose_terminal_closes_drains_and_stops_but_kill_hup_there_still_reloads(
    sim_factory, sqlite_url: str, tmp_path: Path, daemons
) -> None:
    """SIGHUP from the kernel (the terminal window closed, the SSH session dropped) means stop, as it always
    did: a daemon that reloaded then ran on unseen, its log going nowhere."""
    sim = sim_factory("server", issues=5)
    config = write_config(tmp_path, sim, sqlite_url)
    d = daemons(config, "d-tty", sim, terminal=True)
    wait_for(lambda: listener_up(port_of(config)), "the listener", daemons=(d,))
    db = Database(sqlite_url)

    def started_at() -> datetime:
        with db.session() as s:
            return s.scalars(select(m.Daemon.started_at).where(m.Daemon.name == "d-tty")).one()

    first = started_at()
    d.proc.send_signal(signal.SIGHUP)  # an operator's reload, the terminal still open
    wait_for(lambda: started_at() != first and listener_up(port_of(config)), "the restart", daemons=(d,))
    d.hang_up()
    assert d.proc.wait(timeout=45) == 0, d.tail()
    assert "the terminal closed: draining and stopping" in d.tail(), d.tail()
    with db.session() as s:
        assert s.scalars(select(m.Daemon.stopped_at).where(m.Daemon.name == "d-tty")).one() is not None


def test_a_listen_address_already_taken_stops_the_daemon_in_one_line_marked_stopped(
    sim_factory, sqlite_url: str, tmp_path: Path, daemons
) -> None:
    sim = sim_factory("server", issues=5)
    config = write_config(tmp_path, sim, sqlite_url)
    with socket.socket() as taken:  # another program on the webhook listener's port
        taken.bind(("127.0.0.1", port_of(config)))
        taken.listen()
        d = daemons(config, "d-taken", sim)
        assert d.proc.wait(timeout=60) == 1
    said = d.tail()
    assert f"error: the webhook listener cannot listen on 127.0.0.1:{port_of(config)}: " in said, said
    assert "Traceback" not in said  # it was uvicorn's sys.exit() stopping the event loop
    db = Database(sqlite_url)
    with db.session() as s:
        [row] = s.scalars(select(m.Daemon).where(m.Daemon.name == "d-taken")).all()
        assert row.stopped_at is not None  # not taken for a live daemon until its heartbeat went stale


def test_a_second_daemon_under_a_name_in_use_is_refused_and_leaves_the_first_alone(
    sim_factory, sqlite_url: str, tmp_path: Path, daemons
) -> None:
    sim = sim_factory("server", issues=5)
    first_config = write_config(tmp_path, sim, sqlite_url)
    first = daemons(first_config, "d-same", sim)
    wait_for(lambda: listener_up(port_of(first_config)), "the first daemon", daemons=(first,))
    second = daemons(write_config(tmp_path, sim, sqlite_url, file="second.toml"), "d-same", sim)
    assert second.proc.wait(timeout=60) == 2
    # Both would overwrite one heartbeat row (and a failed second start marked the first stopped).
    assert "error: a daemon named 'd-same' runs on" in second.tail() and "Traceback" not in second.tail()
    first.alive()
    with Database(sqlite_url).session() as s:
        [row] = s.scalars(select(m.Daemon).where(m.Daemon.name == "d-same")).all()
        assert row.pid == first.pid and row.stopped_at is None


@pytest.mark.timing
def test_kill_9_right_after_acknowledgements_loses_nothing(
    sim_factory, sqlite_url: str, tmp_path: Path, daemons
) -> None:
    sim = sim_factory("server", issues=30)
    db = Database(sqlite_url)
    db.migrate()
    config = write_config(tmp_path, sim, sqlite_url, name="dc", lease_seconds=2)
    port = port_of(config)
    first = daemons(config, "d-kill", sim)
    wait_for(lambda: listener_up(port), "the listener", daemons=(first,))
    wait_for(lambda: issue_count(db, "dc") == 30, "the first sync", daemons=(first,))

    bodies = issue_bodies(sim, 300, "k9")
    kill_at = 150
    killed = False

    def unfinished_count() -> int:
        with db.session() as s:
            query = select(func.count()).where(m.WebhookEvent.status.not_in(TERMINAL))
            return int(s.execute(query).scalar_one())

    def on_ack(n: int) -> None:
        # Killed once half the deliveries are acknowledged, at a moment when some stored event is still
        # unprocessed (the processor may keep pace with the posts for a while: the kill waits for a backlog,
        # which the restart must then finish). The daemon is stopped while the backlog is counted, so that it
        # cannot finish the backlog between the count and the kill (it did, once, on a loaded machine).
        nonlocal killed
        if killed or n < kill_at:
            return
        os.kill(first.pid, signal.SIGSTOP)
        if unfinished_count() > 0:
            os.kill(first.pid, signal.SIGKILL)
            killed = True
        else:
            os.kill(first.pid, signal.SIGCONT)

    acked = asyncio.run(post_all(port, "dc", bodies, concurrency=16, on_ack=on_ack))
    assert first.proc.wait(10) == -signal.SIGKILL
    assert len(acked) >= kill_at
    stored = {e.identifier: e for e in events(db)}
    lost = [i for i in acked if f"dc:{i}" not in stored]
    assert lost == [], f"{len(lost)} acknowledged deliveries were not stored"
    assert len(stored) < len(bodies), "the kill came too late to test anything"
    unfinished = [i for i, e in stored.items() if e.status not in TERMINAL]
    assert unfinished, "everything was processed before the kill: the restart would test nothing"

    second = daemons(config, "d-kill", sim)
    wait_for(
        lambda: all(e.status in TERMINAL for e in events(db)),
        "the restarted daemon to process every stored event",
        timeout=60,
        daemons=(second,),
    )
    final = events(db)
    assert {e.identifier for e in final} == set(stored)
    assert {e.status for e in final} <= TERMINAL
    assert any(e.status == "applied" for e in final)
    # Each applied event had its effect. (The final state is not compared with the newest event: these
    # hand-made events are newer than the site itself, and the restarted daemon's sync rightly takes the
    # site's own value back.)
    with db.session() as s:
        audited = {
            (a.issue_key, a.new)
            for a in s.scalars(
                select(m.AuditLog).where(m.AuditLog.field == "summary", m.AuditLog.side == "local")
            )
        }
    for e in final:
        if e.status == "applied":
            payload = json.loads(e.payload)
            assert (e.issue_key, payload["issue"]["fields"]["summary"]) in audited, e.identifier
    db.close()


def test_two_daemons_on_postgresql_share_events_exactly_once_and_one_sync_at_a_time(
    sim_factory, pg_url: str, tmp_path: Path, daemons
) -> None:
    sim = sim_factory("server", issues=40)
    db = Database(pg_url)
    db.migrate()
    # Claims leased for 30 s, not the 3 s of the other tests here: this one counts claims, and on a starved
    # machine applying a claimed batch can outlast a short lease, whose expiry then rightly lets the other
    # daemon claim the batch again (expiry is tested with a 2 s lease above).
    one = write_config(tmp_path, sim, pg_url, name="dc", file="one.toml", rate=2, lease_seconds=30)
    two = write_config(tmp_path, sim, pg_url, name="dc", file="two.toml", rate=2, lease_seconds=30)
    d1 = daemons(one, "d-one", sim)
    d2 = daemons(two, "d-two", sim, listen=False)
    both = (d1, d2)

    def beating() -> bool:
        with db.session() as s:
            return {r.name for r in s.scalars(select(m.Daemon))} == {"d-one", "d-two"}

    wait_for(beating, "both heartbeats", daemons=both)

    def synced() -> bool:
        with db.session() as s:
            state = s.get(m.SyncState, ("dc", "issues"))
            return bool(state and state.last_status == "ok" and state.lease_owner is None)

    wait_for(synced, "the first sync (by one of them)", daemons=both)
    assert issue_count(db, "dc") == 40

    # Events arrive in waves while both daemons poll; a trigger notes every claim (a sampler of the queue
    # misses claims that begin and end between two of its looks).
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE claims_seen (event_id integer NOT NULL, owner text NOT NULL)"))
        conn.execute(
            text(
                "CREATE FUNCTION note_claim() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "
                "claims_seen VALUES (NEW.id, split_part(NEW.claimed_by, '/', 1)); RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER note_claim AFTER UPDATE OF claimed_by ON webhook_events FOR EACH ROW "
                "WHEN (NEW.claimed_by IS NOT NULL) EXECUTE FUNCTION note_claim()"
            )
        )

    def claimers() -> set[str]:
        with db.engine.connect() as conn:
            return set(conn.execute(text("SELECT DISTINCT owner FROM claims_seen")).scalars())

    # 30 waves of 10, each sent once the previous one is claimed. A daemon that has just applied a batch polls
    # again at once while an idle one polls about once a second, so the busy one can win every race for the
    # whole run; if after 20 waves only one daemon has been seen claiming, it is frozen (SIGSTOP, holding no
    # claim) until the other has claimed a wave, then let go.
    bodies = issue_bodies(sim, 600, "pg")
    sent = 0
    frozen: DaemonProcess | None = None
    try:
        for wave in range(60):
            seen = claimers()
            if wave >= 30 and seen == {"d-one", "d-two"} and frozen is None:
                break
            if wave == 20 and len(seen) == 1:
                wait_for(lambda: all(e.status in TERMINAL for e in events(db)), "waves applied", daemons=both)
                frozen = d1 if seen == {"d-one"} else d2
                os.kill(frozen.pid, signal.SIGSTOP)
            with db.session(write=True) as s:
                for ident, key, ts, body in bodies[wave * 10 : (wave + 1) * 10]:
                    q.insert_event(
                        s,
                        identifier=f"dc:{ident}",
                        payload=body.decode(),
                        connection="dc",
                        event_type="jira:issue_updated",
                        issue_key=key,
                        event_ts_ms=ts,
                    )
            sent += 10
            wait_for(lambda: all(e.status != "received" for e in events(db)), "a claim", daemons=both)
            if frozen is not None and claimers() == {"d-one", "d-two"}:
                os.kill(frozen.pid, signal.SIGCONT)
                frozen = None
        wait_for(
            lambda: all(e.status in TERMINAL for e in events(db)),
            "every event to be processed",
            daemons=both,
        )
    finally:
        if frozen is not None:
            os.kill(frozen.pid, signal.SIGCONT)
    final = events(db)
    assert len(final) == sent
    assert {e.status for e in final} <= TERMINAL
    again = [e.id for e in final if e.attempts != 1]  # each claimed exactly once
    logs = "".join(f"\n--- {d.name}:\n{d.tail()}" for d in both)
    assert again == [], f"claimed more than once: {again}{logs}"
    assert all(e.claimed_by is None and e.processed_at is not None for e in final)
    with db.engine.connect() as conn:
        claims = conn.execute(text("SELECT event_id, count(*) FROM claims_seen GROUP BY event_id")).all()
    assert len(claims) == sent and all(n == 1 for _, n in claims), "an event was claimed twice"
    seen = claimers()
    assert seen == {"d-one", "d-two"}, f"claims seen from {seen} over {sent // 10} waves"
    local = local_summaries(db, "dc")
    for key, summary in newest_summaries(final).items():
        assert local[key] == summary, key

    # A sync requested while another daemon's sync holds the lease: deferred (given back to the queue by a
    # daemon that cannot take the lease), never run alongside, and run once the first is done.
    from jira_console.store import state as st

    with db.session(write=True) as s:
        first = st.enqueue_command(s, "sync", {"connection": "dc", "full": True})

    def holder() -> str | None:
        with db.session() as s:
            state = s.get(m.SyncState, ("dc", "issues"), populate_existing=True)
            return state.lease_owner if state else None

    running = wait_for(holder, "a daemon to take the sync lease", daemons=both)
    with db.session(write=True) as s:
        second = st.enqueue_command(s, "sync", {"connection": "dc", "full": False})
    owners: set[str | None] = set()

    def finished() -> bool:
        with db.session() as s:
            rows = [s.get(m.Command, c, populate_existing=True) for c in (first, second)]
        if rows[0] is not None and rows[0].finished_at is None:
            owners.add(holder())  # who holds the lease while the first sync runs
        return all(r is not None and r.finished_at is not None for r in rows)

    wait_for(finished, "both sync commands", daemons=both)
    with db.session() as s:
        ran, later = (s.get(m.Command, c) for c in (first, second))
    assert ran is not None and later is not None
    assert ran.claimed_by == running and ran.error is None, (ran.claimed_by, ran.error)
    assert ran.result is not None and ran.result["reports"][0]["status"] == "ok"
    assert later.error is None and later.result is not None, later.error
    assert later.result["reports"][0]["status"] == "ok" and later.claimed_by in {"d-one", "d-two"}
    assert (
        later.finished_at is not None and ran.finished_at is not None and later.finished_at > ran.finished_at
    )
    assert owners - {None} == {running}
    db.close()
