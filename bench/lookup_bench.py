"""The sync's per-page look-up of stored issues by key or Jira id, as the store grows. Prints JSON.

    .venv/bin/python bench/lookup_bench.py                 # 4,000 / 20,000 / 100,000 stored issues, SQLite
    .venv/bin/python bench/lookup_bench.py --stored 20000 --db postgresql+psycopg://root@127.0.0.1:5432/test

Each page of a sync reads the rows of its 100 versions by key or by Jira id. Written as ``connection = ? AND
(key IN (...) OR jira_id IN (...))``, SQLite searched the index on ``connection`` alone and read every row of
the connection, so a first import cost O(n) per page; the store now asks for a union of two unique-index
searches (``store.identity.ids_by_key_or_jira_id``). Both forms are timed on the same database (median of 7).
On PostgreSQL they are timed again after ``ANALYZE``: right after a bulk insert (a first import) the planner's
statistics are stale and it may scan another index for both forms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(url: str, stored: int) -> dict[str, Any]:
    from sqlalchemy import or_, select, text

    from jira_console.store import identity
    from jira_console.store import tables as t
    from jira_console.store.db import Database

    db = Database(url)
    try:
        db.migrate()
        with db.engine.begin() as conn:
            conn.execute(
                t.issues.insert(),
                [{"connection": "c", "key": f"ENG-{i}", "jira_id": str(10_000 + i), "sync_stamp": 1}
                 for i in range(stored)],
            )  # fmt: skip
        keys = [f"ENG-{i}" for i in range(stored - 100, stored)]
        ids = [str(10_000 + i) for i in range(stored - 100, stored)]
        c = t.issues.c
        with db.engine.connect() as probe:  # the statement's form depends on the dialect only
            union = identity.ids_by_key_or_jira_id(probe, "c", keys, ids)
        forms = {
            "or_of_in_lists": select(c.id).where(
                c.connection == "c", or_(c.key.in_(keys), c.jira_id.in_(ids))
            ),
            "union_of_index_searches": select(c.id).where(c.id.in_(union)),
        }
        out: dict[str, Any] = {"stored": stored}
        rounds = [""] if db.dialect == "sqlite" else ["", "_analyzed"]
        for suffix in rounds:
            if suffix:  # PostgreSQL plans by its statistics: right after a bulk insert they are stale
                with db.engine.begin() as conn:
                    conn.execute(text("ANALYZE issues"))
            for name, stmt in forms.items():
                times = []
                with db.engine.connect() as conn:
                    for _ in range(7):
                        started = time.perf_counter()
                        found = len(conn.execute(stmt).all())
                        times.append(time.perf_counter() - started)
                assert found == 100, (name, found)
                out[f"{name}{suffix}_ms"] = round(statistics.median(times) * 1000, 2)
        return out
    finally:
        db.close()


def pg_schema(url: str) -> tuple[str, str]:
    """A fresh schema on the server (returned with the URL whose search_path is it)."""
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    return schema, f"{url}{sep}options=-csearch_path%3D{schema}"


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--stored", type=int, nargs="+", default=[4000, 20_000, 100_000])
    p.add_argument("--db", help="a PostgreSQL URL (default: a SQLite file per size)")
    args = p.parse_args()
    runs = []
    for stored in args.stored:
        if args.db:
            import psycopg

            schema, url = pg_schema(args.db)
            try:
                runs.append(measure(url, stored))
            finally:
                raw = args.db.replace("postgresql+psycopg", "postgresql")
                with psycopg.connect(raw, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            runs.append(measure(f"sqlite:///{tempfile.mkdtemp(prefix='jira-lookup-')}/bench.db", stored))
    print(json.dumps({"database": "postgresql" if args.db else "sqlite", "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
