"""Webhook listener and processor throughput, on loopback.

    .venv/bin/python bench/webhooks_bench.py                 # SQLite file in a temp dir
    .venv/bin/python bench/webhooks_bench.py --db postgresql+psycopg://root@127.0.0.1:5432/test

The listener runs with a real uvicorn server inside this process's event loop; the load comes from a
separate process (httpx, many concurrent keep-alive connections, signed bodies of a realistic size).
Prints one JSON object:

* ``null_rps``: a route on the same server that answers 202 without work (the HTTP stack's ceiling);
* ``ack_per_s``: sustained acknowledged deliveries per second (signature check + durable commit);
* ``latency_ms_at_500``: p50/p99 acknowledgement latency at a fixed offered load of 500 events/s, measured
  from each request's scheduled send time (so a stall is not hidden by the client backing off);
* ``processed_per_s``: workers draining the stored queue with a trivial applier.

Bounded: about 30 s in all. On PostgreSQL the rows it creates (connection ``bench``) are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = "bench-secret-0123456789"
PATH = "/webhooks/jira"


def make_bodies(count: int, run: str) -> list[tuple[bytes, str, str]]:
    """``count`` distinct signed issue events of ~3 KB: (body, signature, identifier)."""
    from jira_console.webhooks.signature import sign

    bodies = []
    for n in range(count):
        payload = {
            "timestamp": 1_700_000_000_000 + n,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {
                "self": "https://bench.example.atlassian.net/rest/api/2/user?accountId=5b10",
                "accountId": "5b10",
            },
            "issue": {
                "id": str(10000 + n),
                "key": f"BENCH-{n % 5000}",
                "self": f"https://bench.example.atlassian.net/rest/api/2/issue/{10000 + n}",
                "fields": {
                    "summary": f"Benchmark issue {n}",
                    "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 30,
                    "updated": "2024-01-01T12:00:00.000+0000",
                    "status": {"name": "In Progress", "id": "3"},
                    "labels": ["bench", "webhook"],
                    "assignee": {"accountId": "5b10", "displayName": "Bench User"},
                },
            },
            "changelog": {"id": str(n), "items": [{"field": "summary", "fromString": "a", "toString": "b"}]},
        }
        body = orjson.dumps(payload)
        bodies.append((body, sign(body, SECRET), f"{run}-{n}"))
    return bodies


# -- client process ------------------------------------------------------------------------------------


async def closed_loop(base: str, path: str, bodies, concurrency: int, seconds: float) -> dict:
    import httpx

    # httpx's pool scans its connections on every request, so one client with 64 connections spends more
    # time in the pool than on the wire: use many clients with a few connections each.
    per_client = 4
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    clients = [
        httpx.AsyncClient(base_url=base, limits=limits, timeout=30) for _ in range(concurrency // per_client)
    ]
    done = errors = 0
    index = 0
    deadline = time.perf_counter() + seconds
    try:

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal done, errors, index
            while time.perf_counter() < deadline and index < len(bodies):
                body, sig, ident = bodies[index]
                index += 1
                headers = {
                    "X-Hub-Signature": sig,
                    "X-Atlassian-Webhook-Identifier": ident,
                    "Content-Type": "application/json",
                }
                response = await client.post(path, content=body, headers=headers)
                if response.status_code == 202:
                    done += 1
                else:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in clients for _ in range(per_client)))
        elapsed = time.perf_counter() - start
    finally:
        for client in clients:
            await client.aclose()
    return {"ok": done, "errors": errors, "seconds": round(elapsed, 3), "per_s": round(done / elapsed, 1)}


async def open_loop(base: str, path: str, bodies, rate: float, seconds: float) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=30) for _ in range(16)]
    latencies: list[float] = []
    errors = 0
    total = min(len(bodies), int(rate * seconds))
    try:

        async def one(i: int, scheduled: float) -> None:
            client = clients[i % len(clients)]
            nonlocal errors
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body, sig, ident = bodies[i]
            headers = {
                "X-Hub-Signature": sig,
                "X-Atlassian-Webhook-Identifier": ident,
                "Content-Type": "application/json",
            }
            response = await client.post(path, content=body, headers=headers)
            if response.status_code == 202:
                latencies.append(time.perf_counter() - scheduled)
            else:
                errors += 1

        # Warm the connection pool so the first requests do not pay for TCP setup.
        await asyncio.gather(*(c.get("/healthz") for c in clients for _ in range(2)))
        start = time.perf_counter() + 0.1
        await asyncio.gather(*(one(i, start + i / rate) for i in range(total)))
    finally:
        for client in clients:
            await client.aclose()
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)  # noqa: E731
    return {
        "offered_per_s": rate,
        "ok": len(latencies),
        "errors": errors,
        "p50": pick(0.5),
        "p99": pick(0.99),
        "max": round(latencies[-1] * 1000, 2) if latencies else None,
        "mean": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


def client_main(args: argparse.Namespace) -> None:
    bodies = make_bodies(args.count, args.run)
    if args.mode == "null":
        result = asyncio.run(closed_loop(args.client, "/null", bodies, args.concurrency, args.seconds))
    elif args.mode == "ack":
        result = asyncio.run(closed_loop(args.client, PATH, bodies, args.concurrency, args.seconds))
    else:
        result = asyncio.run(open_loop(args.client, PATH, bodies, args.rate, args.seconds))
    print(json.dumps(result))


# -- server process ------------------------------------------------------------------------------------


def run_client(
    url: str, mode: str, *, run: str, count: int, seconds: float, concurrency: int = 64, rate: float = 500
) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--client",
        url,
        "--mode",
        mode,
        "--run",
        run,
        "--count",
        str(count),
        "--seconds",
        str(seconds),
        "--concurrency",
        str(concurrency),
        "--rate",
        str(rate),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)  # noqa: ASYNC221
    if out.returncode != 0:
        raise SystemExit(f"client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


async def server_main(db_url: str | None) -> dict:
    from starlette.responses import Response
    from starlette.routing import Route

    from jira_console.config import JiraConnection, Settings, WebhookConfig
    from jira_console.store import Database
    from jira_console.webhooks.listener import create_listener_app, serve_listener
    from jira_console.webhooks.processor import EventProcessor

    tmp = tempfile.TemporaryDirectory(prefix="jc-webhooks-bench-")
    url = db_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    db = Database(url)
    db.migrate()
    os.environ["JC_BENCH_WEBHOOK_SECRET"] = SECRET
    settings = Settings(
        jira=[JiraConnection(name="bench", url="https://bench.example.atlassian.net", user="b@example.com")],
        webhooks=WebhookConfig(secret_env="JC_BENCH_WEBHOOK_SECRET", previous_secret_env=None, path=PATH),
    )

    async def null(_request: object) -> Response:
        return Response(b'{"status":"stored"}', status_code=202, media_type="application/json")

    app = create_listener_app(db, settings, extra_routes=[Route("/null", null, methods=["POST"])])
    server = await serve_listener(app, "127.0.0.1", 0)
    run = f"r{os.getpid()}-{int(time.time())}"
    me = psutil.Process()

    async def measured(mode: str, **kwargs: object) -> dict:
        """Run a client phase; add this (server) process's CPU time per acknowledged request."""
        before = sum(me.cpu_times()[:2])
        result = await asyncio.to_thread(run_client, server.url, mode, **kwargs)
        used = sum(me.cpu_times()[:2]) - before
        result["server_cpu_ms_per_req"] = round(1000 * used / max(1, result["ok"]), 3)
        result["server_capacity_per_core"] = round(result["ok"] / used, 1) if used else None
        return result

    try:
        null_result = await measured("null", run=run + "n", count=40_000, seconds=5)
        ack = await measured("ack", run=run + "a", count=60_000, seconds=8)
        latency = await measured("latency", run=run + "l", count=2_500, seconds=5, rate=500)
    finally:
        await server.stop()

    class Trivial:
        async def apply_remote_issue(self, connection, issue, *, event_ts_ms, source):  # noqa: ANN001, ANN201
            return "applied"

        async def apply_remote_deletion(self, connection, issue_key, *, event_ts_ms):  # noqa: ANN001, ANN201
            return "applied"

        async def refresh_sprint(self, connection, sprint_id, payload):  # noqa: ANN001, ANN201
            return "applied"

    from jira_console.webhooks.queue import event_stats

    with db.session() as session:
        queued = event_stats(session)["depth"]
    processor = EventProcessor(db, Trivial(), batch_size=200, poll_seconds=0.05)
    start = time.perf_counter()
    processor.start(2)
    deadline = start + 20
    while time.perf_counter() < deadline:
        with db.session() as session:
            if event_stats(session)["depth"] == 0:
                break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    await processor.stop()
    with db.session() as session:
        left = event_stats(session)["depth"]
    if db_url:
        from sqlalchemy import text

        with db.session(write=True) as session:
            session.execute(text("DELETE FROM webhook_events WHERE connection = 'bench'"))
    db.close()
    tmp.cleanup()
    return {
        "database": db.dialect,
        "cpus": os.cpu_count(),
        "null_rps": null_result["per_s"],
        "null_run": null_result,
        "ack_per_s": ack["per_s"],
        "ack_run": ack,
        "latency_ms_at_500": latency,
        "processed_per_s": round((queued - left) / elapsed, 1),
        "processed": queued - left,
        "targets": {"ack_per_s": 2000, "p99_ms_at_500": 100, "processed_per_s": 1000},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="ack", help=argparse.SUPPRESS)
    parser.add_argument("--run", default="r", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=10_000, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=500, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    print(json.dumps(asyncio.run(server_main(args.db)), indent=2))


if __name__ == "__main__":
    main()
