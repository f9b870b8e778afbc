"""How long a real signed delivery takes to be acknowledged while a slowloris set holds the listener.

    .venv/bin/python bench/slowloris_bench.py [--cap 64] [--stalled 128] [--deliveries 20]

Starts the listener (SQLite in a temporary directory, the guard's limits with ``--cap`` connections and a
per-address cap of a quarter of it), opens ``--stalled`` connections from several loopback addresses that
announce ``Content-Length: 100000``, send 16 bytes and stall, then posts ``--deliveries`` signed deliveries
one after another and prints the acknowledgement times and the guard's drop counts as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from jira_console.config import JiraConnection, Settings, WebhookConfig
from jira_console.store import Database
from jira_console.webhooks.guard import ListenerLimits
from jira_console.webhooks.listener import create_listener_app, serve_listener
from jira_console.webhooks.signature import sign

SECRET = "bench-secret-0123456789abcdef"


async def main(cap: int, stalled: int, deliveries: int) -> dict[str, object]:
    os.environ["JC_BENCH_SECRET"] = SECRET
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        settings = Settings(
            jira=[JiraConnection(name="site", url="https://site.example", user="bot")],
            webhooks=WebhookConfig(secret_env="JC_BENCH_SECRET", previous_secret_env=None),
        )
        app = create_listener_app(db, settings)
        limits = ListenerLimits(max_connections=cap, max_connections_per_client=max(1, cap // 4))
        server = await serve_listener(app, "127.0.0.1", 0, limits=limits)
        head = (
            b"POST /webhooks/jira HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100000\r\n\r\n{"webhookEvent":'
        )
        held = []
        for n in range(stalled):
            _, writer = await asyncio.open_connection(
                "127.0.0.1", server.port, local_addr=(f"127.0.1.{n % 8 + 1}", 0)
            )
            writer.write(head)
            held.append(writer)
        await asyncio.sleep(0.2)  # let the listener accept the set before measuring (a benchmark, not a test)
        times: list[float] = []
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            for n in range(deliveries):
                body = orjson.dumps(
                    {"webhookEvent": "jira:issue_updated", "timestamp": n,
                     "issue": {"id": str(n), "key": f"B-{n}", "self": "https://site.example/rest/api/2/issue/1",
                               "fields": {"summary": "x", "updated": "2025-01-01T00:00:00.000+0000"}}}
                )  # fmt: skip
                started = time.perf_counter()
                answer = await client.post(
                    "/webhooks/jira", content=body, headers={"X-Hub-Signature": sign(body, SECRET)}
                )
                times.append(time.perf_counter() - started)
                assert answer.status_code == 202, answer.text
        for writer in held:
            writer.close()
        assert server.guard is not None
        dropped = dict(server.guard.dropped)
        await server.stop(grace_seconds=2)
    return {
        "cap": cap,
        "stalled": stalled,
        "deliveries": deliveries,
        "ack_ms_median": round(statistics.median(times) * 1000, 2),
        "ack_ms_max": round(max(times) * 1000, 2),
        "dropped": dropped,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=int, default=64)
    parser.add_argument("--stalled", type=int, default=128)
    parser.add_argument("--deliveries", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.cap, args.stalled, args.deliveries)), indent=2))
