"""Issues created from the database (``new_issues``) against the simulator over loopback (in this process).
Prints JSON.

    .venv/bin/python bench/create_bench.py                      # 500 requests, both flavors, SQLite
    .venv/bin/python bench/create_bench.py --requests 2000 --flavor cloud --rate 10
    .venv/bin/python bench/create_bench.py --one-at-a-time      # the same with batches of one (A/B)

For each case: a full sync of a small site, ``requests`` rows inserted into ``new_issues`` as a host program
does (half of them asking for a status the create cannot set, so the push after the creates walks a
transition), then one sync, timed. The figures to read: the sync's time, its API calls and calls per created
issue, at the connection's rate limit (``--rate``; 10 requests a second is the shipped default, 0 means
none). ``--no-status``: no request asks for a status, so the figures are the creations' own.
``--one-at-a-time`` sends each request in a create of its own (the batch size set to one), for the
comparison with bulk creates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

TOKEN_ENV = "JIRA_BENCH_CREATE_TOKEN"


async def measure(
    flavor: str, requests: int, rate: float, db_url: str | None, with_status: bool = True
) -> dict[str, Any]:
    from jira_console.config import Settings
    from jira_console.facade import Engine
    from jira_console.simulator import SimConfig, Simulator

    sim = Simulator(SimConfig(flavor=flavor, issues=20)).serve()  # type: ignore[arg-type]
    user, token = sim.credentials["basic"]
    os.environ[TOKEN_ENV] = token
    url = db_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='jira-bench-create-')) / 'create.db'}"
    conn = {"name": "bench", "url": sim.url, "auth": "basic", "user": user, "token_env": TOKEN_ENV,
            "overlap_seconds": 0, "rate_limit_per_second": rate or 1000}  # fmt: skip
    engine = Engine(Settings(database={"url": url}, jira=[conn]), owner="create-bench")
    await engine.start(attach=False)
    try:
        await engine.run_sync(full=True)
        rows = [
            {
                "f": json.dumps(
                    {"summary": f"bench {n}", "labels": ["bench"]}
                    | ({"status": "Done"} if with_status and n % 2 else {})
                )
            }
            for n in range(requests)  # every other one asks for a status: the push walks it after the create
        ]
        with engine.db.engine.begin() as c:
            c.execute(text("DELETE FROM new_issues"))
            c.execute(
                text("INSERT INTO new_issues (connection, project_key, issue_type, fields) "
                     "VALUES ('bench', 'ENG', 'Task', :f)"), rows,
            )  # fmt: skip
        client = engine.clients["bench"]
        calls = client.api_calls
        started = time.perf_counter()
        [report] = await engine.run_sync()
        seconds = time.perf_counter() - started
        calls = client.api_calls - calls
        with engine.db.engine.connect() as c:
            states = dict(c.execute(text("SELECT state, count(*) FROM new_issues GROUP BY state")).all())
        with sim.site.lock:
            made = [i for i in sim.site.issues.values() if i.summary.startswith("bench ")]
        done = sum(1 for i in {i.id: i for i in made}.values() if i.status == "Done")
        return {
            "flavor": flavor, "requests": requests, "rate_limit_per_second": rate or None,
            "sync_s": round(seconds, 3), "api_calls": calls, "created_in_jira": report.created_in_jira,
            "calls_per_issue": round(calls / max(report.created_in_jira, 1), 2),
            "issues_per_s": round(report.created_in_jira / seconds, 1), "states": states,
            "status_walked": done, "status": report.status,
        }  # fmt: skip
    finally:
        await engine.stop()
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, action="append", help="requests per run (repeatable)")
    parser.add_argument("--flavor", choices=["cloud", "server"], action="append")
    parser.add_argument("--rate", type=float, default=10, help="requests a second (0: no limit)")
    parser.add_argument("--one-at-a-time", action="store_true", help="a create per request (A/B)")
    parser.add_argument("--no-status", action="store_true", help="no request asks for a status")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file per run)")
    args = parser.parse_args()
    if args.one_at_a_time:
        from jira_console.sync import create

        create.BATCH = 1
    results = [
        asyncio.run(measure(flavor, n, args.rate, args.db, not args.no_status))
        for flavor in args.flavor or ["cloud", "server"]
        for n in args.requests or [500]
    ]
    print(
        json.dumps(
            {"one_at_a_time": args.one_at_a_time, "with_status": not args.no_status, "runs": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
