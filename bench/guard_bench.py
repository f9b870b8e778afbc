"""What the cross-process guard costs each request: one read of the connection's row (the shared Retry-After
deadline and credential block) before every request to Jira, through a worker thread as the client does.

Usage::

    .venv/bin/python bench/guard_bench.py [--db URL] [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jira_console.config import JiraConnection  # noqa: E402
from jira_console.store.db import Database  # noqa: E402
from jira_console.sync.guard import StoreGuard  # noqa: E402


async def measure(url: str, n: int) -> dict[str, float]:
    db = Database(url)
    db.migrate()
    guard = StoreGuard(db, JiraConnection(name="bench", url="http://jira.invalid", user="u", token_env="T"))
    for _ in range(50):
        await guard.load()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await guard.load()
        samples.append((time.perf_counter() - started) * 1e6)
    db.close()
    samples.sort()
    return {
        "median_us": round(statistics.median(samples)),
        "p95_us": round(samples[int(len(samples) * 0.95)]),
        "requests": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="PostgreSQL URL; default a SQLite file")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='guard-')}/store.db"
    print({"backend": url.split(":", 1)[0], **asyncio.run(measure(url, args.n))})


if __name__ == "__main__":
    main()
