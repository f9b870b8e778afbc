"""Undo benchmark against the simulator over loopback (in this process). Prints JSON.

    .venv/bin/python bench/undo_bench.py                       # 200 and 1,000 rows, both flavors, SQLite
    .venv/bin/python bench/undo_bench.py --rows 500 --flavor server --db postgresql+psycopg://root@127.0.0.1/test

For each size: a full sync, a host program's bad bulk UPDATE of ``rows`` rows, the sync that pushes it, then
``audit undo --run`` planned (dry run: the store only) and applied (Jira written back). The figures to read:
the dry run's time, and the applied undo's time beside the push that made the change (the undo writes as
many fields through the same writer, so it should cost about the same), and the API calls of each.
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

TOKEN_ENV = "JIRA_BENCH_UNDO_TOKEN"


async def measure(flavor: str, rows: int, db_url: str | None) -> dict[str, Any]:
    from jira_console.config import Settings
    from jira_console.facade import Engine
    from jira_console.facade.undo import UndoSelection
    from jira_console.simulator import SimConfig, Simulator

    sim = Simulator(SimConfig(flavor=flavor, issues=rows + 20)).serve()  # type: ignore[arg-type]
    user, token = sim.credentials["basic"]
    os.environ[TOKEN_ENV] = token
    url = db_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='jira-bench-undo-')) / 'undo.db'}"
    conn = {"name": "bench", "url": sim.url, "auth": "basic", "user": user, "token_env": TOKEN_ENV,
            "overlap_seconds": 0, "rate_limit_per_second": 1000}  # fmt: skip
    engine = Engine(Settings(database={"url": url}, jira=[conn]), owner="undo-bench")
    await engine.start(attach=False)
    try:
        await engine.run_sync(full=True)
        keys = sorted(i.key for i in engine.list_issues(limit=rows + 20))[:rows]
        listed = ", ".join(f"'{k}'" for k in keys)
        with engine.db.engine.begin() as c:
            c.execute(text(f"UPDATE issues SET summary = 'BROKEN ' || key WHERE key IN ({listed})"))
        client = engine.clients["bench"]
        calls = client.api_calls
        started = time.perf_counter()
        [push] = await engine.run_sync()
        push_s, push_calls = time.perf_counter() - started, client.api_calls - calls
        started = time.perf_counter()
        dry = await engine.undo(UndoSelection(run_id=push.run_id))
        dry_s = time.perf_counter() - started
        calls = client.api_calls
        started = time.perf_counter()
        done = await engine.undo(UndoSelection(run_id=push.run_id), apply=True)
        undo_s, undo_calls = time.perf_counter() - started, client.api_calls - calls
        restored = sum(1 for k in keys if not sim.issue(k)["summary"].startswith("BROKEN"))
        return {
            "flavor": flavor, "rows": rows, "pushed": push.pushed_fields, "push_s": round(push_s, 3),
            "push_api_calls": push_calls, "dry_run_s": round(dry_s, 3), "planned": dry.counts(),
            "undo_s": round(undo_s, 3), "undo_api_calls": undo_calls, "undone": done.counts(),
            "jira_restored": restored, "undo_over_push": round(undo_s / push_s, 2) if push_s else None,
        }  # fmt: skip
    finally:
        await engine.stop()
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="rows per run (repeatable)")
    parser.add_argument("--flavor", choices=["cloud", "server"], action="append")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file per run)")
    args = parser.parse_args()
    results = [
        asyncio.run(measure(flavor, rows, args.db))
        for flavor in args.flavor or ["cloud", "server"]
        for rows in args.rows or [200, 1000]
    ]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
