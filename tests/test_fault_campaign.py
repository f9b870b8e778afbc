"""The fault campaign's CI slice (same code as bench/fault_campaign.py), the audit's own checks, and the
simulator's early-retry accounting."""

from __future__ import annotations

import base64
import importlib.util
import random
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PG_URL, pg_ok
from tests.fixtures.simulator import connection_for

ROOT = Path(__file__).resolve().parents[1]


def _load_campaign():
    if "fault_campaign" in sys.modules:
        return sys.modules["fault_campaign"]
    spec = importlib.util.spec_from_file_location("fault_campaign", ROOT / "bench" / "fault_campaign.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_campaign"] = module
    spec.loader.exec_module(module)
    return module


campaign = _load_campaign()


@pytest.mark.parametrize(("seed", "backend"), [(11, "sqlite"), (12, "postgresql")])
def test_campaign_slice_converges_with_nothing_lost_or_duplicated(seed: int, backend: str) -> None:
    """One seeded run per flavor (odd seed: Cloud, even: Server), one database each: faults, duplicated and
    reordered webhooks, kill -9 of the daemon, edits on both sides; then the full audit."""
    if backend == "postgresql" and not pg_ok():
        pytest.skip("PostgreSQL unreachable")
    result = campaign.run_one(seed, db_base=PG_URL if backend == "postgresql" else None, quick=True)
    assert "error" not in result, result.get("error")
    findings = result["findings"]
    assert result["failed"] == [], {k: findings[k] for k in result["failed"] if k in findings}
    assert result["final_sync_rc"] == [0, 0]
    ops = findings["operations"]
    assert ops["edits_one_sided"] > 0 and ops["edits_propagated"] == ops["edits_one_sided"]
    assert ops["intended_conflicts"] >= 1 and ops["conflicts_detected"] == ops["intended_conflicts"]
    assert result["kills"] >= 1 and result["faults_total"] > 0


async def test_audit_reports_unpushed_edit_and_unrecorded_conflict(
    db, sim_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit must be able to fail: an edit nobody synced is a lost update and a mismatch, and a planned
    conflict that was never detected is reported missing."""
    from jira_console.jira import JiraClient
    from jira_console.sync.engine import SyncEngine

    sim = sim_factory("cloud", issues=6)
    conn = connection_for(sim, monkeypatch, name=campaign.CONN, overlap_seconds=0)
    client = JiraClient(conn)
    try:
        await SyncEngine(db, conn, client).run(full=True)
    finally:
        await client.aclose()
    with sim.site.lock:
        keys = sorted(sim.site.issues)
    editor = campaign.Editor(sim, db, random.Random(5), "cloud", keys)
    editor.local_write(keys[0], "summary", "never pushed")
    editor.plan[(keys[0], "summary")] = campaign.Scenario("local", ["never pushed"])
    editor.plan[(keys[1], "labels")] = campaign.Scenario("conflict", [["a"], ["b"]], local=["a"], jira=["b"])
    findings = campaign.audit(sim, db, editor, [])
    assert [(d["key"], d["field"]) for d in findings["lost_updates"]] == [(keys[0], "summary")]
    assert (keys[0], "summary") in {(d["key"], d["field"]) for d in findings["mismatches"]}
    assert findings["conflicts_missing"] == [(keys[1], "labels")]
    assert {"lost_updates", "mismatches", "conflicts_missing"} <= set(campaign.verdict(findings))


# ------------------------------------------------------------------------------ early-retry accounting


def _raw_get(port: int, auth: str, path: str = "/rest/api/2/myself") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    ).encode()


def _status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def _basic(sim) -> str:
    user, token = sim.credentials["basic"]
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def test_simulator_flags_a_real_early_retry(sim_factory) -> None:
    """A request sent after the client has read a 429 and before its Retry-After is a violation (here on a
    new connection, 0.2 s later: past the window in which a request could still have been in flight)."""
    sim = sim_factory("server", issues=3)
    port = int(sim.url.rsplit(":", 1)[1])
    sim.faults.set(rate_limit_rate=1.0, retry_after=5.0)
    with socket.create_connection(("127.0.0.1", port)) as a:
        a.sendall(_raw_get(port, _basic(sim)))
        assert _status_of(a) == 429  # read: the client now knows it must wait 5 s
    sim.faults.clear()
    time.sleep(0.2)
    with socket.create_connection(("127.0.0.1", port)) as b:
        b.sendall(_raw_get(port, _basic(sim)))
        _status_of(b)
    assert [v["kind"] for v in sim.violations] == ["early_retry"]


def test_requests_in_flight_when_a_429_is_sent_are_not_early_retries(sim_factory) -> None:
    """Two requests are both fully sent before the client reads any answer; it never retries. Whichever the
    simulator handles second arrives inside the first one's Retry-After window and is logged as an early
    retry, although no request was repeated and none was sent after a 429 was seen."""
    sim = sim_factory("server", issues=3)
    port = int(sim.url.rsplit(":", 1)[1])
    sim.faults.set(rate_limit_rate=1.0, retry_after=5.0)
    auth = _basic(sim)
    with (
        socket.create_connection(("127.0.0.1", port)) as a,
        socket.create_connection(("127.0.0.1", port)) as b,
    ):
        a.sendall(_raw_get(port, auth, "/rest/api/2/myself"))
        b.sendall(_raw_get(port, auth, "/rest/api/2/serverInfo"))
        statuses = sorted([_status_of(a), _status_of(b)])
    assert statuses == [429, 429]
    assert [v for v in sim.violations if v["kind"] == "early_retry"] == []


async def test_client_under_429_bursts_never_retries_early_on_its_own(sim_factory, monkeypatch) -> None:
    """One caller at a time (nothing in flight when a 429 arrives): every retry waits out Retry-After, so
    the simulator records no early retry at all."""
    from jira_console.jira import JiraClient

    sim = sim_factory("cloud", issues=5)
    conn = connection_for(sim, monkeypatch, backoff_base_seconds=0.05, max_attempts=20)
    sim.faults.set(
        rate_limit_rate=0.3, retry_after=1.0
    )  # the simulator's dice are seeded: same 429s each run
    client = JiraClient(conn)
    try:
        for _ in range(8):
            await client.server_info()
    finally:
        await client.aclose()
    assert sim.request_count(method="GET") > 8  # some 429s happened and were retried
    assert sim.violations == []


# ------------------------------------------------------------------------------ engine finding (campaign)


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_status_push_interrupted_mid_workflow_finishes_without_a_conflict(rig_factory, flavor) -> None:
    from jira_console.jira.errors import JiraUnavailable

    rig = await rig_factory(flavor, issues=20)
    await rig.engine.run(full=True)
    key = next(k for k in sorted(rig.sim.site.issues) if rig.sim.issue(k)["status"] == "To Do")
    real = rig.client.transition
    calls = {"n": 0}

    async def flaky(issue_key, transition_id, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # To Do -> In Progress succeeded; the next hop fails like an injected 500
            raise JiraUnavailable(500, "POST", f"issue/{issue_key}/transitions", ["Internal server error"])
        return await real(issue_key, transition_id, *args, **kwargs)

    rig.client.transition = flaky
    rig.sql("UPDATE issues SET status = 'Done' WHERE key = :k", k=key)
    await rig.engine.run()
    assert rig.sim.issue(key)["status"] == "In Progress"  # part-way, as in the campaign
    rig.client.transition = real
    await rig.engine.run()
    with rig.db.session() as s:
        from jira_console.store import models as m

        conflicts = [(c.issue_key, c.field) for c in s.query(m.Conflict).filter_by(status="open")]
    assert conflicts == []
    assert rig.sim.issue(key)["status"] == "Done"
