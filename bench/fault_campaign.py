"""Fault campaign: seeded runs of the real daemon against a faulty simulator, then a field-by-field audit.

Each run (seed ``S``):

* a simulator (Cloud for odd seeds, Server for even ones) in this process, injecting 5xx errors (20%), 429
  bursts with ``Retry-After``, time-outs and connection resets (5% each; the client's time-out is short);
* an initial clean ``jira-console sync --full``, then the daemon (``python -m jira_console --config cfg
  daemon``) as a child process, with the simulator's webhooks (duplicated, reordered) pointed at its
  listener;
* concurrent edits on both sides (summary, story_points, status, labels): plain SQL ``UPDATE``s on
  ``issues`` and simulator edits by another user; the daemon is killed with SIGKILL at random points and
  restarted; while it is dead, some fields are edited on *both* sides (the intended conflicts);
* faults off, webhooks drained, the daemon stopped (SIGTERM), a final clean ``sync --full``; then the audit.

The audit (see :func:`audit`): both sides equal for every compared field of every issue, except the intended
conflicts, where local holds the local edit and Jira the Jira edit; every other edit reached the other side
(no lost updates); each pushed value appears once in the simulator's changelog (no duplicated writes); the
open conflicts are exactly the intended ones; no rule violations recorded by the simulator (early retries
are listed with how long after the simulator's 429/503 they arrived, see the notes in docs/results.md).

Usage::

    .venv/bin/python bench/fault_campaign.py --runs 50 [--seed S] [--db URL] [--quick] [--out FILE]
    .venv/bin/python bench/fault_campaign.py --reproduce SEED

The seed fixes the edit plan, the values, the fault dice and the kill points; thread scheduling is not
seeded, so a rerun replays the same campaign, not the same interleaving.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from jira_console.simulator import FIELD_IDS, SimConfig, Simulator  # noqa: E402
from jira_console.store import models as m  # noqa: E402
from jira_console.store.db import Database  # noqa: E402

CONN = "camp"
TOKEN_ENV = "JIRA_CAMPAIGN_TOKEN"
WEBHOOK_SECRET = "campaign-webhook-secret"  # noqa: S105 - a throwaway secret for a local test listener
FIELDS = ("summary", "story_points", "status", "labels")
COMPARED = ("summary", "story_points", "status", "labels", "priority")
STATUSES = ("To Do", "In Progress", "In Review", "Done")
# An early request arriving this soon after the simulator's 429/503 was sent was already on the wire when
# the client got the answer; the simulator counts it as a retry (tests/test_fault_campaign.py has the repro).
IN_FLIGHT_MS = 50.0
PG_DEFAULT = "postgresql+psycopg://root@127.0.0.1:5432/test"


@dataclass
class Params:
    issues: int = 40
    edit_seconds: float = 15.0
    kills: int = 3
    edit_gap: tuple[float, float] = (0.05, 0.2)
    conflicts_per_kill: int = 2
    error_rate: float = 0.20
    timeout_rate: float = 0.05
    reset_rate: float = 0.05
    burst_chance: float = 0.12
    client_timeout: float = 1.0
    sim_timeout: float = 1.5

    @classmethod
    def quick(cls) -> Params:
        return cls(issues=14, edit_seconds=6.0, kills=1, conflicts_per_kill=2)


@dataclass
class Scenario:
    """Everything done to one (issue, field): edits by one side only, or one intended conflict."""

    kind: str  # local | remote | conflict
    values: list[Any] = field(default_factory=list)
    local: Any = None
    jira: Any = None


# ----------------------------------------------------------------------------------------- plumbing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database_url(base: str | None, workdir: Path) -> Any:
    """A fresh database for one run: a SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if not base or base.startswith("sqlite"):
        yield f"sqlite:///{workdir / 'campaign.db'}"
        return
    import psycopg

    schema = "camp_" + uuid.uuid4().hex[:10]
    raw = base.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(raw, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def write_config(path: Path, sim: Simulator, db_url: str, port: int, p: Params) -> None:
    user, _ = sim.credentials["basic"]
    path.write_text(
        f"""
[database]
url = "{db_url}"

[[jira]]
name = "{CONN}"
url = "{sim.url}"
auth = "basic"
user = "{user}"
token_env = "{TOKEN_ENV}"
page_size = 20
overlap_seconds = 5
sync_interval_seconds = 5
timeout_seconds = {p.client_timeout}
operation_deadline_seconds = 20
max_attempts = 6
backoff_base_seconds = 0.2
backoff_max_seconds = 2.0
breaker_failure_threshold = 8
breaker_recovery_seconds = 1.0
rate_limit_per_second = 50

[webhooks]
listen = "127.0.0.1:{port}"
secret_env = "JIRA_CAMPAIGN_WEBHOOK_SECRET"
workers = 2

[daemon]
heartbeat_seconds = 1
lease_seconds = 5

[logging]
level = "WARNING"
file = "{path.parent / "jira-console.log"}"
"""
    )
    path.chmod(0o600)


def child_env(sim: Simulator) -> dict[str, str]:
    return dict(
        os.environ,
        **{TOKEN_ENV: sim.credentials["basic"][1], "JIRA_CAMPAIGN_WEBHOOK_SECRET": WEBHOOK_SECRET},
    )


def cli(config: Path, env: dict[str, str], *args: str, timeout: float = 180) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "jira_console", "--config", str(config), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return {"rc": proc.returncode, "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]}


class DaemonProc:
    """The daemon child process: start, wait until its listener answers, SIGKILL, SIGTERM."""

    def __init__(self, config: Path, env: dict[str, str], port: int, logdir: Path) -> None:
        self.config, self.env, self.port, self.logdir = config, env, port, logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self, timeout: float = 30) -> None:
        import httpx

        self.starts += 1
        err = (self.logdir / f"daemon-{self.starts}.stderr").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jira_console", "--config", str(self.config), "daemon"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        err.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode} during start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("daemon listener did not come up")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.kills += 1
        self.proc = None

    def stop(self, timeout: float = 40) -> bool:
        """SIGTERM and wait; True when it left by itself."""
        if self.proc is None:
            return True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            return self.proc.returncode == 0
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return False
        finally:
            self.proc = None


class FaultMonitor:
    """Counts what the simulator injected and when it last told each client to wait (to tell a request
    that was already in flight from a real early retry)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.injected: Counter[str] = Counter()
        self.waits: dict[str, float] = {}
        self.early: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        decide, told, add = sim.faults.decide, sim._violations.told_to_wait, sim._violations.add

        def counting_decide(client: str) -> Any:
            d = decide(client)
            if d.kind != "pass":
                with self._lock:
                    self.injected[
                        f"{d.kind}:{d.status}" if d.kind in ("error", "rate_limit") else d.kind
                    ] += 1
            return d

        def recording_told(client: str, seconds: float, *rest: Any) -> None:
            with self._lock:
                self.waits[client] = time.monotonic()
            told(client, seconds, *rest)

        def annotating_add(kind: str, method: str, path: str, detail: str) -> None:
            if kind == "early_retry":
                with self._lock:
                    since = [time.monotonic() - t for t in self.waits.values()]
                    self.early.append(
                        {
                            "method": method,
                            "path": path,
                            "detail": detail,
                            "ms_after_last_wait_answer": round(min(since) * 1000, 1) if since else None,
                        }
                    )
            add(kind, method, path, detail)

        sim.faults.decide = counting_decide  # type: ignore[method-assign]
        sim._violations.told_to_wait = recording_told  # type: ignore[method-assign]
        sim._violations.add = annotating_add  # type: ignore[method-assign]


class FaultDriver(threading.Thread):
    """Base faults all the time, 429 bursts now and then; the 5xx status rotates."""

    def __init__(self, sim: Simulator, rng: random.Random, p: Params) -> None:
        super().__init__(name="fault-driver", daemon=True)
        self.sim, self.rng, self.p = sim, rng, p
        self.halt = threading.Event()
        self.bursts = 0

    def run(self) -> None:
        burst_until = 0.0
        while not self.halt.wait(0.5):
            now = time.monotonic()
            status = self.rng.choice((500, 502, 503))
            changes: dict[str, Any] = {"error_status": status, "retry_after": 1.0}
            if now >= burst_until and self.rng.random() < self.p.burst_chance:
                burst_until = now + self.rng.uniform(0.8, 2.0)
                self.bursts += 1
                changes |= {"rate_limit_rate": 0.6, "retry_after": float(self.rng.choice((1, 2)))}
            elif now >= burst_until:
                changes["rate_limit_rate"] = 0.0
            self.sim.faults.set(**changes)

    def start_faults(self) -> None:
        self.sim.faults.set(
            error_rate=self.p.error_rate,
            error_status=503,
            timeout_rate=self.p.timeout_rate,
            reset_rate=self.p.reset_rate,
            timeout_seconds=self.p.sim_timeout,
            retry_after=1.0,
        )
        self.start()

    def stop_faults(self) -> None:
        self.halt.set()
        self.join(5)
        self.sim.faults.clear()


# ---------------------------------------------------------------------------------------- the edits


class Editor:
    """Makes the edits and remembers, per (issue, field), what was done."""

    def __init__(
        self, sim: Simulator, db: Database, rng: random.Random, flavor: str, keys: list[str]
    ) -> None:
        self.sim, self.db, self.rng, self.flavor = sim, db, rng, flavor
        self.keys = keys
        self.plan: dict[tuple[str, str], Scenario] = {}
        self.n = 0
        self.local_edits = 0
        self.remote_edits = 0
        self.sp_field = FIELD_IDS[flavor]["story_points"]

    def _value(self, side: str, fname: str, current: Any) -> Any:
        self.n += 1
        if fname == "summary":
            return f"{side} edit {self.n}"
        if fname == "story_points":
            return float((100 if side == "local" else 500) + self.n)
        if fname == "labels":
            return sorted([f"{side[:3]}-{self.n}", self.rng.choice(("alpha", "beta", "gamma"))])
        choices = [s for s in STATUSES if s != current]
        return self.rng.choice(choices)

    def local_current(self, key: str, fname: str) -> Any:
        with self.db.session() as s:
            row = s.scalars(select(m.Issue).where(m.Issue.connection == CONN, m.Issue.key == key)).one()
            return getattr(row, fname)

    def local_write(self, key: str, fname: str, value: Any) -> None:
        table = m.Issue.__table__
        for attempt in range(20):  # SQLite may be busy while the daemon commits a page
            try:
                with self.db.engine.begin() as conn:
                    conn.execute(
                        table.update()
                        .where(table.c.connection == CONN, table.c.key == key)
                        .values({fname: value})
                    )
                break
            except Exception:  # noqa: BLE001
                if attempt == 19:
                    raise
                time.sleep(0.1)
        self.local_edits += 1

    def remote_write(self, key: str, fname: str, value: Any) -> None:
        jira_field = {"story_points": self.sp_field}.get(fname, fname)
        self.sim.edit_issue(key, {jira_field: value}, by=self.rng.choice(("alice", "bob", "other")))
        self.remote_edits += 1

    def one_sided(self) -> None:
        """One edit by a random side on a random field no one else touches (or this side touched)."""
        for _ in range(50):
            key, fname = self.rng.choice(self.keys), self.rng.choice(FIELDS)
            side = self.rng.choice(("local", "remote"))
            sc = self.plan.get((key, fname))
            if sc is not None and sc.kind != side:
                continue
            current = self.local_current(key, fname) if side == "local" else self._remote_current(key, fname)
            value = self._value(side, fname, current)
            (self.local_write if side == "local" else self.remote_write)(key, fname, value)
            self.plan.setdefault((key, fname), Scenario(side)).values.append(value)
            return

    def _remote_current(self, key: str, fname: str) -> Any:
        return self.sim.issue(key)[fname]

    def conflict(self) -> None:
        """The same untouched field edited on both sides (called while the daemon is dead, so neither side
        can have seen the other's edit)."""
        free = [(k, f) for k in self.keys for f in FIELDS if (k, f) not in self.plan]
        if not free:
            return
        key, fname = self.rng.choice(free)
        base = self.local_current(key, fname)
        local = self._value("local", fname, base)
        jira = self._value("remote", fname, base)
        if fname == "status":
            options = [s for s in STATUSES if s not in (base, local)]
            jira = self.rng.choice(options)
        self.local_write(key, fname, local)
        self.remote_write(key, fname, jira)
        self.plan[(key, fname)] = Scenario("conflict", [local, jira], local=local, jira=jira)


# ---------------------------------------------------------------------------------------- the audit


def _norm(fname: str, value: Any) -> Any:
    if fname == "labels":
        return sorted(value or [])
    if fname == "story_points":
        return None if value is None else float(value)
    return value


def _jira_value(issue: dict[str, Any], fname: str) -> Any:
    return _norm(fname, issue[fname])


def _changelog_count(issue: dict[str, Any], fname: str, value: Any, sp_field: str) -> int:
    fid = {"story_points": sp_field}.get(fname, fname)
    count = 0
    for history in issue["changelog"]:
        for item in history["items"]:
            if item.get("fieldId") != fid:
                continue
            shown = item.get("toString")
            if fname == "labels":
                if sorted((shown or "").split()) == sorted(value):
                    count += 1
            elif fname == "story_points":
                if shown is not None and float(shown) == float(value):
                    count += 1
            elif shown == value:
                count += 1
    return count


def audit(sim: Simulator, db: Database, editor: Editor, early: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare both sides and the edit plan; returns the findings (empty lists mean clean)."""
    with sim.site.lock:
        keys = sorted(sim.site.issues)
    with db.session() as s:
        rows = {r.key: r for r in s.scalars(select(m.Issue).where(m.Issue.connection == CONN))}
        dupes = s.execute(
            select(m.Issue.key, func.count())
            .group_by(m.Issue.connection, m.Issue.key)
            .having(func.count() > 1)
        ).all()
        open_conflicts = {
            (c.issue_key, c.field)
            for c in s.scalars(
                select(m.Conflict).where(m.Conflict.connection == CONN, m.Conflict.status == "open")
            )
        }
        conflict_rows = s.scalar(select(func.count()).select_from(m.Conflict)) or 0
        field_errors = [
            {"issue_id": e.issue_id, "field": e.field, "message": e.message[:200]}
            for e in s.scalars(select(m.FieldError))
        ]
        dirty = sorted(r.key for r in rows.values() if r.local_dirty)
        webhook_status = dict(
            s.execute(select(m.WebhookEvent.status, func.count()).group_by(m.WebhookEvent.status)).all()
        )
    mismatches: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []
    duplicated: list[dict[str, Any]] = []
    wrong_conflict_values: list[dict[str, Any]] = []
    for key in keys:
        issue = sim.issue(key)
        row = rows.get(key)
        if row is None:
            mismatches.append({"key": key, "problem": "missing locally"})
            continue
        for fname in COMPARED:
            local, jira = _norm(fname, getattr(row, fname)), _jira_value(issue, fname)
            sc = editor.plan.get((key, fname))
            if sc is not None and sc.kind == "conflict":
                if local != _norm(fname, sc.local) or jira != _norm(fname, sc.jira):
                    wrong_conflict_values.append(
                        {
                            "key": key,
                            "field": fname,
                            "local": local,
                            "jira": jira,
                            "want": [sc.local, sc.jira],
                        }
                    )
                continue
            if local != jira:
                mismatches.append({"key": key, "field": fname, "local": local, "jira": jira})
            if sc is None:
                continue
            final = _norm(fname, sc.values[-1])
            if (jira if sc.kind == "local" else local) != final:
                lost.append(
                    {
                        "key": key,
                        "field": fname,
                        "side": sc.kind,
                        "final": final,
                        "local": local,
                        "jira": jira,
                    }
                )
            if sc.kind == "local" and fname != "status":
                for i, v in enumerate(sc.values):
                    n = _changelog_count(issue, fname, v, editor.sp_field)
                    if n > 1 or (i == len(sc.values) - 1 and n != 1):
                        duplicated.append({"key": key, "field": fname, "value": v, "changelog_entries": n})
    intended = {k for k, sc in editor.plan.items() if sc.kind == "conflict"}
    ops = sum(len(sc.values) for sc in editor.plan.values() if sc.kind != "conflict")
    failed_keys = {(d["key"], d["field"]) for d in lost} | {
        (d["key"], d.get("field")) for d in mismatches if d.get("field")
    }
    failed_ops = sum(len(editor.plan[k].values) for k in failed_keys if k in editor.plan)
    violations = sim.violations
    return {
        "early_retries_not_in_flight": [
            e
            for e in early
            if e["ms_after_last_wait_answer"] is None or e["ms_after_last_wait_answer"] >= IN_FLIGHT_MS
        ],
        "mismatches": mismatches,
        "lost_updates": lost,
        "duplicated_updates": duplicated,
        "duplicate_rows": [list(d) for d in dupes],
        "conflicts_missing": sorted(intended - open_conflicts),
        "conflicts_unexpected": sorted(open_conflicts - intended),
        "conflict_values_wrong": wrong_conflict_values,
        "conflict_rows_total": conflict_rows,
        "violations_by_kind": dict(Counter(v["kind"] for v in violations)),
        "other_violations": [v for v in violations if v["kind"] != "early_retry"][:20],
        "field_errors": field_errors,
        "still_dirty": dirty,
        "webhook_events": webhook_status,
        "operations": {
            "edits_one_sided": ops,
            "edits_propagated": ops - failed_ops,
            "intended_conflicts": len(intended),
            "conflicts_detected": len(intended & open_conflicts),
        },
    }


def verdict(findings: dict[str, Any]) -> list[str]:
    """Names of the checks that failed."""
    failed = [
        name
        for name in (
            "mismatches",
            "lost_updates",
            "duplicated_updates",
            "duplicate_rows",
            "conflicts_missing",
            "conflicts_unexpected",
            "conflict_values_wrong",
            "other_violations",
        )
        if findings[name]
    ]
    if findings["early_retries_not_in_flight"]:
        failed.append("early_retry")
    return failed


# ------------------------------------------------------------------------------------------ one run


def run_one(
    seed: int, *, db_base: str | None = None, quick: bool = False, keep: bool = False
) -> dict[str, Any]:
    """One seeded run; returns its figures and findings (``failed`` lists the failed checks)."""
    p = Params.quick() if quick else Params()
    rng = random.Random(seed)
    flavor = "cloud" if seed % 2 else "server"
    workdir = Path(tempfile.mkdtemp(prefix=f"campaign-{seed}-"))
    started = time.monotonic()
    sim = Simulator(
        SimConfig(
            flavor=flavor, seed=seed, issues=p.issues, max_page_size=20,
            webhook_retry_delays=(0.5, 1.0, 2.0, 4.0, 8.0), webhook_timeout=3.0,
        )
    ).serve()  # fmt: skip
    monitor = FaultMonitor(sim)
    result: dict[str, Any] = {"seed": seed, "flavor": flavor, "quick": quick, "workdir": str(workdir)}
    daemon: DaemonProc | None = None
    try:
        with database_url(db_base, workdir) as db_url:
            result["db"] = db_url.split(":", 1)[0]
            port = free_port()
            config = workdir / "campaign.toml"
            write_config(config, sim, db_url, port, p)
            env = child_env(sim)
            first = cli(config, env, "sync", "--full")
            if first["rc"] != 0:
                raise RuntimeError(f"initial sync failed: {first['stderr']}")
            db = Database(db_url)
            with sim.site.lock:
                keys = sorted(sim.site.issues)
            editor = Editor(sim, db, rng, flavor, keys)
            sim.add_webhook_target(
                f"http://127.0.0.1:{port}/webhooks/jira?connection={CONN}",
                secret=WEBHOOK_SECRET, duplicate_rate=0.3, reorder=True,
            )  # fmt: skip
            driver = FaultDriver(sim, random.Random(seed ^ 0xFA17), p)
            daemon = DaemonProc(config, env, port, workdir)
            daemon.start()
            driver.start_faults()
            kill_at = sorted(rng.uniform(0.15, 0.85) * p.edit_seconds for _ in range(p.kills))
            t0 = time.monotonic()
            while (elapsed := time.monotonic() - t0) < p.edit_seconds:
                if kill_at and elapsed >= kill_at[0]:
                    kill_at.pop(0)
                    daemon.kill9()
                    for _ in range(p.conflicts_per_kill):
                        editor.conflict()
                    time.sleep(rng.uniform(0.2, 1.5))
                    daemon.start()
                    continue
                editor.one_sided()
                time.sleep(rng.uniform(*p.edit_gap))
            driver.stop_faults()
            # Drain: webhooks delivered, the daemon's queue worked off, a clean stop, a clean full sync.
            sim.wait_for_webhooks(30)
            _wait_queue(db, 20)
            result["graceful_stop"] = daemon.stop()
            final = cli(config, env, "sync", "--full")
            again = cli(config, env, "sync", "--json")
            result["final_sync_rc"] = [final["rc"], again["rc"]]
            if final["rc"] != 0:
                result["final_sync_stderr"] = final["stderr"][-1000:]
            findings = audit(sim, db, editor, monitor.early)
            db.close()
    except Exception as exc:  # noqa: BLE001 - a crashed run is a failed run, reported with its seed
        result["failed"] = ["crashed"]
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        if daemon is not None and daemon.proc is not None:
            daemon.kill9()
        sim.stop()
        if not keep and "error" not in result:
            shutil.rmtree(workdir, ignore_errors=True)
    requests = sim.requests
    result.update(
        findings=findings,
        failed=verdict(findings),
        duration_s=round(time.monotonic() - started, 1),
        requests=len(requests),
        requests_by_status=dict(Counter(str(r["status"]) for r in requests)),
        faults_injected=dict(monitor.injected),
        faults_total=sum(monitor.injected.values()),
        bursts_429=driver.bursts,
        early_retries=monitor.early,
        kills=daemon.kills if daemon else 0,
        daemon_starts=daemon.starts if daemon else 0,
        local_edits=editor.local_edits,
        remote_edits=editor.remote_edits,
        webhook_deliveries=len(sim.webhook_deliveries),
    )
    if result["failed"] and not keep:
        result["workdir"] = None
    return result


def _wait_queue(db: Database, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as s:
            pending = s.scalar(
                select(func.count()).select_from(m.WebhookEvent).where(m.WebhookEvent.status == "received")
            )
        if not pending:
            return
        time.sleep(0.2)


# --------------------------------------------------------------------------------------------- main


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if not r.get("failed")]
    done = [r for r in runs if "findings" in r]
    ops = sum(r["findings"]["operations"]["edits_one_sided"] for r in done)
    propagated = sum(r["findings"]["operations"]["edits_propagated"] for r in done)
    intended = sum(r["findings"]["operations"]["intended_conflicts"] for r in done)
    detected = sum(r["findings"]["operations"]["conflicts_detected"] for r in done)
    injected: Counter[str] = Counter()
    for r in done:
        injected.update(r["faults_injected"])
    early = [e for r in done for e in r["early_retries"]]
    failed_checks: Counter[str] = Counter(c for r in runs for c in r.get("failed", []))
    return {
        "runs": len(runs),
        "clean_runs": len(ok),
        "failed_seeds": {str(r["seed"]): r.get("failed") for r in runs if r.get("failed")},
        "failed_checks": dict(failed_checks),
        "flavors": dict(Counter(r["flavor"] for r in runs)),
        "one_sided_edits": ops,
        "propagated_without_operator": propagated,
        "propagated_pct": round(100.0 * propagated / ops, 3) if ops else None,
        "intended_conflicts": intended,
        "conflicts_detected": detected,
        "requests": sum(r["requests"] for r in done),
        "faults_injected": sum(injected.values()),
        "faults_by_kind": dict(injected),
        "kills": sum(r["kills"] for r in done),
        "webhook_deliveries": sum(r["webhook_deliveries"] for r in done),
        "webhook_events_failed": sum(r["findings"]["webhook_events"].get("failed", 0) for r in done),
        "field_errors_left": sum(len(r["findings"]["field_errors"]) for r in done),
        "early_retries": len(early),
        "early_retries_in_flight": sum(
            1
            for e in early
            if e["ms_after_last_wait_answer"] is not None and e["ms_after_last_wait_answer"] < IN_FLIGHT_MS
        ),
        "run_seconds": {
            "min": min((r["duration_s"] for r in done), default=None),
            "max": max((r["duration_s"] for r in done), default=None),
            "mean": round(sum(r["duration_s"] for r in done) / len(done), 1) if done else None,
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1, help="first seed; run i uses seed + i")
    ap.add_argument("--db", default=None, help="database: sqlite (default) or a postgresql+psycopg:// URL")
    ap.add_argument("--quick", action="store_true", help="small data, short edit phase")
    ap.add_argument(
        "--reproduce", type=int, default=None, metavar="SEED", help="rerun one seed, keep its files"
    )
    ap.add_argument("--alternate-db", action="store_true", help="odd runs on SQLite, even runs on --db")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    seeds = [args.reproduce] if args.reproduce is not None else [args.seed + i for i in range(args.runs)]
    runs: list[dict[str, Any]] = []
    for i, seed in enumerate(seeds):
        db = args.db if not args.alternate_db or i % 2 else None
        r = run_one(seed, db_base=db, quick=args.quick, keep=args.reproduce is not None)
        runs.append(r)
        status = "ok" if not r.get("failed") else f"FAILED {r['failed']} {r.get('error', '')}"
        print(
            f"run {i + 1}/{len(seeds)} seed={seed} {r['flavor']} {r.get('db')} {r.get('duration_s')}s "
            f"requests={r.get('requests')} faults={r.get('faults_total')} kills={r.get('kills')}: {status}",
            file=sys.stderr,
            flush=True,
        )
        if args.out:
            Path(args.out).write_text(
                json.dumps({"summary": summarise(runs), "runs": runs}, indent=2, default=str)
            )
    summary = summarise(runs)
    print(json.dumps({"summary": summary, "runs": runs}, indent=2, default=str))
    print(json.dumps(summary, indent=2), file=sys.stderr)
    return 0 if summary["clean_runs"] == len(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Params", "audit", "run_one", "summarise", "verdict", "asdict"]
