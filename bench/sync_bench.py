"""Sync benchmark against the simulator over loopback. Prints JSON.

    .venv/bin/python bench/sync_bench.py                      # 20,000 issues, plus the 100,000 scale check
    .venv/bin/python bench/sync_bench.py --issues 5000 --scale 0 --db postgresql+psycopg://root@127.0.0.1/test

Each phase runs in its own process, so peak RSS is the sync's own, and the simulator runs in another
process, so it does not share the GIL with what is measured:

* ``bare``: a plain httpx loop paging the same search (same JQL, fields and page size) — the floor;
* ``full``: a full sync into an empty database;
* ``incremental``: after 50 issues are edited in the simulator, one incremental pass in a fresh process
  (it pays for flavor detection and field discovery, like a CLI run would).

Targets (issue #3): full <= 1.5x bare and < 150 MB peak RSS; incremental requests <= ceil(50 / page) + 3; the
incremental time at 100,000 issues within 1.2x of the time at 20,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN_ENV = "JIRA_BENCH_TOKEN"
CHANGES = 50


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def connection(url: str, flavor: str) -> Any:
    from jira_console.config import JiraConnection

    user = "ops@example.com" if flavor == "cloud" else "ops"
    os.environ[TOKEN_ENV] = "sim-api-token"
    return JiraConnection(
        name="bench", url=url, auth="basic", user=user, token_env=TOKEN_ENV, rate_limit_per_second=1000,
        page_size=100, overlap_seconds=120,
    )  # fmt: skip


# --------------------------------------------------------------------------------------- phases


async def phase_fields(args: argparse.Namespace) -> dict[str, Any]:
    from jira_console.jira import JiraClient
    from jira_console.store.db import Database
    from jira_console.sync.engine import SyncEngine
    from jira_console.sync.jql import bounded_jql

    conn = connection(args.url, args.flavor)
    db = Database(f"sqlite:///{tempfile.mkdtemp(prefix='jira-bench-fields-')}/fields.db")
    db.migrate()
    async with JiraClient(conn) as client:
        engine = SyncEngine(db, conn, client)
        await engine.prepare()
        return {"fields": engine.jira_fields(), "jql": bounded_jql(conn.jql, 0)}


async def phase_bare(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    fields = args.fields.split(",")
    user = "ops@example.com" if args.flavor == "cloud" else "ops"
    started = time.perf_counter()
    seen = requests = 0
    async with httpx.AsyncClient(base_url=args.url, auth=(user, "sim-api-token"), timeout=60) as http:
        if args.flavor == "cloud":
            token = None
            while True:
                params: dict[str, Any] = {"jql": args.jql, "maxResults": 100, "fields": ",".join(fields)}
                if token:
                    params["nextPageToken"] = token
                data = (await http.get("/rest/api/3/search/jql", params=params)).json()
                requests += 1
                seen += len(data["issues"])
                token = data.get("nextPageToken")
                if data.get("isLast", True) or not token:
                    break
        else:
            start = 0
            while True:
                params = {"jql": args.jql, "maxResults": 100, "startAt": start, "fields": ",".join(fields)}
                data = (await http.get("/rest/api/2/search", params=params)).json()
                requests += 1
                seen += len(data["issues"])
                start += len(data["issues"])
                if not data["issues"] or start >= data["total"]:
                    break
    return {
        "seconds": time.perf_counter() - started,
        "issues": seen,
        "requests": requests,
        "peak_rss_mb": peak_rss_mb(),
    }


async def phase_sync(args: argparse.Namespace) -> dict[str, Any]:
    from jira_console.jira import JiraClient
    from jira_console.store.db import Database
    from jira_console.sync.engine import SyncEngine

    conn = connection(args.url, args.flavor)
    db = Database(args.db)
    db.migrate()
    async with JiraClient(conn) as client:
        engine = SyncEngine(db, conn, client)
        started = time.perf_counter()
        report = await engine.run(full=args.phase == "full")
        seconds = time.perf_counter() - started
    db.close()
    return {
        "seconds": seconds,
        "issues": report.seen,
        "created": report.created,
        "pulled_fields": report.pulled_fields,
        "requests": report.api_calls,
        "issues_per_second": report.seen / seconds if seconds else None,
        "peak_rss_mb": peak_rss_mb(),
        "status": report.status,
    }


PHASES = {"fields": phase_fields, "bare": phase_bare, "full": phase_sync, "incremental": phase_sync}

# ---------------------------------------------------------------------------------- orchestration


def run_phase(phase: str, **kw: Any) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"phase {phase} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_simulator(flavor: str, issues: int) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "jira_console", "simulate", "--flavor", flavor, "--issues", str(issues)]
    proc = subprocess.Popen(
        [*cmd, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"at (http://\S+)", line)
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("simulator did not start")


def edit_issues(url: str, count: int) -> None:
    import httpx

    # Spread over the key space (the simulator numbers issues per project from 1).
    with httpx.Client(base_url=url, timeout=30) as http:
        for n in range(1, count + 1):
            r = http.post(
                "/_sim/edit", json={"key": f"ENG-{n * 7}", "fields": {"summary": f"bench edit {n}"}}
            )
            r.raise_for_status()


def measure(flavor: str, issues: int, db_url: str | None) -> dict[str, Any]:
    sim, url = start_simulator(flavor, issues)
    tmp = tempfile.mkdtemp(prefix="jira-bench-")
    db = db_url or f"sqlite:///{tmp}/bench.db"
    try:
        if db.startswith("postgresql"):
            _reset_pg(db)
        info = run_phase("fields", url=url, flavor=flavor)
        common = {"url": url, "flavor": flavor}
        bare = min(
            (run_phase("bare", fields=",".join(info["fields"]), jql=info["jql"], **common) for _ in range(2)),
            key=lambda r: r["seconds"],
        )
        full = run_phase("full", db=db, **common)
        edit_issues(url, CHANGES)
        incremental = run_phase("incremental", db=db, **common)
    finally:
        sim.terminate()
        sim.wait(10)
    budget = math.ceil(CHANGES / 100) + 3
    return {
        "flavor": flavor,
        "issues": issues,
        "database": "postgresql" if db.startswith("postgresql") else "sqlite",
        "bare_loop": bare,
        "full_sync": full,
        "full_vs_bare": full["seconds"] / bare["seconds"],
        "incremental": incremental | {"changes": CHANGES, "request_budget": budget},
        "targets": {
            "full_within_1_5x_bare": full["seconds"] <= 1.5 * bare["seconds"],
            "full_peak_rss_under_150mb": full["peak_rss_mb"] < 150,
            "incremental_requests_within_budget": incremental["requests"] <= budget,
        },
    }


def _reset_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS jira_bench CASCADE"))
        conn.execute(text("CREATE SCHEMA jira_bench"))
    engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phase", choices=sorted(PHASES))
    p.add_argument("--url")
    p.add_argument("--flavor", default="cloud", choices=["cloud", "server"])
    p.add_argument("--db")
    p.add_argument("--fields")
    p.add_argument("--jql")
    p.add_argument("--issues", type=int, default=20_000)
    p.add_argument(
        "--scale", type=int, default=100_000, help="Second size for the incremental scale check (0: skip)."
    )
    args = p.parse_args()
    if args.phase:
        print(json.dumps(asyncio.run(PHASES[args.phase](args))))
        return
    db = args.db
    if db and db.startswith("postgresql") and "search_path" not in db:
        db += ("&" if "?" in db else "?") + "options=-csearch_path%3Djira_bench"
    results: dict[str, Any] = {"runs": [measure(args.flavor, args.issues, db)]}
    if args.scale:
        results["runs"].append(measure(args.flavor, args.scale, db))
        small, large = results["runs"][0]["incremental"], results["runs"][1]["incremental"]
        results["incremental_scale_ratio"] = large["seconds"] / small["seconds"]
        results["incremental_independent_of_total"] = results["incremental_scale_ratio"] <= 1.2
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
