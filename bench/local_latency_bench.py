"""How long a host program's edit takes to reach Jira through a running daemon (``[daemon]
local_check_seconds``), against the simulator over loopback, in this process. Prints JSON.

    .venv/bin/python bench/local_latency_bench.py                 # 40 edits, SQLite, check every 2 s
    .venv/bin/python bench/local_latency_bench.py --db postgresql+psycopg://root@127.0.0.1:5432/test
    .venv/bin/python bench/local_latency_bench.py --check 0.5 --burst 500

A daemon starts with its scheduled sync an hour apart, so only the check for local work can push. After its
first sync, each edit is a plain SQL ``UPDATE`` of one issue's summary, as a host program makes, at a random
moment (0-1.5 s after the previous one reached Jira); its latency runs from the commit of the ``UPDATE`` to
the moment the simulated site holds the new summary. Then ``--burst`` issues are edited in one transaction
and the time until Jira holds all of them is taken: that one is bounded by the connection's rate limit
(``--rate``, 10 requests a second shipped), as each issue is one write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

TOKEN_ENV = "JIRA_BENCH_LATENCY_TOKEN"


async def _until(check: Any, limit: float = 300.0) -> float:
    """Seconds until ``check()`` holds (polled every 5 ms)."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > limit:
            raise TimeoutError("the edit never reached Jira")
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


def _update(db: Any, pairs: list[tuple[str, str]]) -> None:
    with db.engine.begin() as c:
        for key, summary in pairs:
            c.execute(text("UPDATE issues SET summary = :s WHERE key = :k"), {"s": summary, "k": key})


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from jira_console.config import Settings
    from jira_console.daemon import Daemon
    from jira_console.simulator import SimConfig, Simulator

    sim = Simulator(SimConfig(flavor=args.flavor, issues=args.issues)).serve()  # type: ignore[arg-type]
    user, token = sim.credentials["basic"]
    os.environ[TOKEN_ENV] = token
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='jira-bench-latency-')) / 'latency.db'}"
    conn = {"name": "bench", "url": sim.url, "auth": "basic", "user": user, "token_env": TOKEN_ENV,
            "overlap_seconds": 0, "rate_limit_per_second": args.rate, "sync_interval_seconds": 3600,
            "reconcile_interval_seconds": 3600}  # fmt: skip
    settings = Settings(
        database={"url": url},  # type: ignore[arg-type]
        jira=[conn],  # type: ignore[list-item]
        daemon={"local_check_seconds": args.check},  # type: ignore[arg-type]
        logging={"level": "WARNING"},  # type: ignore[arg-type]
    )
    daemon = Daemon(settings, listen=False)
    if args.db:  # a reused PostgreSQL database starts empty, as the SQLite file does
        from jira_console.store.db import Database

        fresh = Database(url)
        fresh.migrate()
        with fresh.engine.begin() as c:
            c.execute(text("TRUNCATE issues, audit_log, sync_state, sync_runs CASCADE"))
        fresh.close()
    await daemon.start()
    try:
        await _until(lambda: daemon.engine.list_issues(limit=1) and not daemon._syncs)
        with sim.site.lock:
            keys = sorted(k for k, i in sim.site.issues.items() if i.key == k)
        rng = random.Random(5)
        latencies: list[float] = []
        for n in range(args.edits):
            await asyncio.sleep(rng.uniform(0, 1.5))
            key, summary = rng.choice(keys), f"latency {n}"
            await asyncio.to_thread(_update, daemon.engine.db, [(key, summary)])
            latencies.append(await _until(lambda k=key, s=summary: sim.issue(k)["summary"] == s))
        burst_keys = rng.sample(keys, min(args.burst, len(keys)))
        await asyncio.to_thread(_update, daemon.engine.db, [(k, "burst") for k in burst_keys])
        burst = await _until(lambda: all(sim.issue(k)["summary"] == "burst" for k in burst_keys), 900)
    finally:
        await daemon.shutdown(grace_seconds=5)
        sim.stop()
    ordered = sorted(latencies)
    return {
        "flavor": args.flavor,
        "database": "postgresql" if args.db else "sqlite",
        "local_check_seconds": args.check,
        "rate_limit_per_second": args.rate,
        "edits": len(latencies),
        "latency_seconds": {
            "p50": round(statistics.median(ordered), 3),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
            "max": round(ordered[-1], 3),
            "mean": round(statistics.fmean(ordered), 3),
        },
        "burst": {"issues": len(burst_keys), "all_in_jira_seconds": round(burst, 2)},
    }


def main() -> None:
    from jira_console import logs

    logs.configure("WARNING", "console", None)  # the daemon's lines stay off the JSON on stdout
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flavor", choices=["cloud", "server"], default="cloud")
    parser.add_argument("--issues", type=int, default=2000)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--check", type=float, default=2.0, help="[daemon] local_check_seconds")
    parser.add_argument("--rate", type=float, default=10.0, help="the connection's requests a second")
    parser.add_argument("--db", help="a database URL (default: a new SQLite file)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args)), indent=2))


if __name__ == "__main__":
    main()
