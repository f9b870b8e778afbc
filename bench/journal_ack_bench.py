"""A design option for issue 16, measured: acknowledging a webhook once it is written to a journal file
(one ``write()``, no wait for a database commit), with a second process moving the journal into
``webhook_events``. Not the product's listener: the product acknowledges after the commit.

    .venv/bin/python bench/journal_ack_bench.py [--rounds 2] [--db URL]

Each round serves, in turn, the product's listener (``committed``), the journaling handler with the
ingest process running (``journaled``) and without it (``journaled-alone``, the handler's own ceiling). Each
is measured as ``bench/webhooks_bench.py`` measures the listener: ``wrk -t1 -c32``, five 2-second slices of
deliveries alternating with five of the null route on the same server, the fraction of the ceiling per
mode. It also prints the server process's CPU per request on both routes, the rows stored right after each
slice (the ingest keeping pace, not catching up in the null slices) and whether every acknowledged delivery
was stored in the end.

The journaling handler does what the product's does up to the commit (size limit, HMAC check), then writes
one record (lengths, receive time, query string, kept headers, body) with ``os.write`` on an ``O_APPEND``
file and answers 202. The ingest process tails the file, classifies each body, builds the row as the
listener does and inserts batches of up to 256 with the product's ``insert_events``. A journal write
survives the process's crash, not a power loss: as a commit on the SQLite store (``synchronous = NORMAL``),
unlike a PostgreSQL commit.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import webhooks_bench as wb  # noqa: E402 - the listener benchmark's helpers

RECORD = struct.Struct("<IIq")  # metadata length, body length, received at (µs since the epoch)
MODES = ("committed", "journaled", "journaled-alone")


def serve(db_url: str, port: int, journal: str, mode: str) -> None:
    """The product's listener app with a null route; in the journaled modes its delivery handler replaced."""
    import uvloop
    from starlette.responses import Response
    from starlette.routing import Route

    from jira_console.store import Database
    from jira_console.webhooks import listener
    from jira_console.webhooks.answers import STORED, json_answer
    from jira_console.webhooks.guard import limits_for
    from jira_console.webhooks.signature import verify_signature

    os.environ[wb.SECRET_ENV] = wb.SECRET

    async def null(_request: object) -> Response:
        return Response(b'{"status":"stored"}', status_code=202, media_type="application/json")

    settings = wb.settings_for(db_url)
    app = listener.create_listener_app(
        Database(db_url), settings, extra_routes=[Route("/null", null, methods=["POST"])]
    )
    handlers = app.state.listener
    if mode != "committed":
        fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

        async def journaled(scope: Any, receive: Any) -> Any:
            headers: dict[bytes, bytes] = {}
            for name, value in scope["headers"]:
                headers.setdefault(name, value)
            body = await handlers._read_body(headers, receive)
            sig = headers.get(listener._SIGNATURE)
            given = sig.decode("latin-1") if sig else None
            if handlers.check_signature and verify_signature(body, given, handlers.secrets) is None:
                return json_answer(401, {"error": "missing or invalid X-Hub-Signature"})
            kept = {k: v.decode("latin-1") for k, raw in listener._KEPT_HEADERS if (v := headers.get(raw))}
            meta = orjson.dumps([scope.get("query_string", b"").decode("latin-1"), kept])
            os.write(fd, RECORD.pack(len(meta), len(body), time.time_ns() // 1000) + meta + body)
            return STORED

        handlers.receive = journaled
    gc.freeze()

    async def run() -> None:
        server = await listener.serve_listener(app, "127.0.0.1", port, limits=limits_for(settings.webhooks))
        await server.task

    uvloop.run(run())


def ingest(db_url: str, journal: str) -> None:
    """Tail the journal and insert its records as the listener would have (until killed)."""
    from prometheus_client import CollectorRegistry

    from jira_console.store import Database
    from jira_console.store.queue import insert_events
    from jira_console.webhooks.events import classify
    from jira_console.webhooks.listener import ListenerHandlers
    from jira_console.webhooks.metrics import WebhookMetrics

    os.environ[wb.SECRET_ENV] = wb.SECRET
    db = Database(db_url)
    metrics = WebhookMetrics.for_registry(CollectorRegistry())
    handlers = ListenerHandlers(db, wb.settings_for(db_url), None, None, metrics)
    while not os.path.exists(journal):
        time.sleep(0.01)
    gc.freeze()
    pending = b""
    with open(journal, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                time.sleep(0.002)
                continue
            pending += chunk
            rows, used = [], 0
            while len(pending) - used >= RECORD.size:
                meta_len, body_len, _received = RECORD.unpack_from(pending, used)
                start, end = used + RECORD.size, used + RECORD.size + meta_len + body_len
                if end > len(pending):
                    break
                query, kept = orjson.loads(pending[start : start + meta_len])
                body = pending[start + meta_len : end]
                used = end
                classified = classify(body)
                conn, _error = handlers._connection(
                    {"query_string": query.encode("latin-1")}, classified.payload
                )
                headers = {k.encode(): v.encode("latin-1") for k, v in kept.items()}
                rows.append(
                    handlers._row(
                        headers,
                        body,
                        classified,
                        connection=conn,
                        status=classified.status,
                        reason=classified.reason,
                    )  # fmt: skip
                )
            pending = pending[used:]
            for i in range(0, len(rows), 256):
                with db.write_connection() as conn:
                    insert_events(conn, rows[i : i + 256])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, db: Any, db_url: str, tmp: Path, bodies: list[tuple[bytes, str]]) -> dict[str, Any]:
    """One mode: its server (and ingest process), five delivery slices alternating with five null ones."""
    journal = tmp / f"journal-{mode}-{time.time_ns()}.bin"
    port = wb.free_port()
    me = [sys.executable, __file__]
    server = subprocess.Popen([*me, "--serve", db_url, str(port), str(journal), mode], cwd=wb.ROOT)
    feeder = (
        subprocess.Popen([*me, "--ingest", db_url, str(journal)], cwd=wb.ROOT)
        if mode == "journaled"
        else None
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the {mode} server did not start") from None
                time.sleep(0.05)
        run = f"j{os.getpid()}{mode[:3]}{time.time_ns() % 10**9}"
        null_lua = tmp / f"null-{run}.lua"
        wb.write_lua(null_lua, bodies, run + "n", "/null")
        base = f"http://127.0.0.1:{port}"
        wb.run_wrk(base, null_lua, 2)  # warm-up
        nulls, acks, stored_after, cpu_null, cpu_ack = [], [], [], 0.0, 0.0
        for i in range(5):
            ack_lua = tmp / f"ack-{run}-{i}.lua"
            wb.write_lua(ack_lua, bodies, f"{run}a{i}", wb.PATH + "?connection=bench")
            before = _cpu_seconds(server.pid)
            nulls.append(wb.run_wrk(base, null_lua, 2))
            middle = _cpu_seconds(server.pid)
            acks.append(wb.run_wrk(base, ack_lua, 2))
            cpu_null, cpu_ack = cpu_null + middle - before, cpu_ack + _cpu_seconds(server.pid) - middle
            stored_after.append(wb.stored_count(db, run + "a") if mode != "journaled-alone" else None)
        null, ack = wb._summed(nulls), wb._summed(acks)
        stored = None
        if mode != "journaled-alone":
            deadline = time.monotonic() + 60
            while (stored := wb.stored_count(db, run + "a")) < ack[
                "acknowledged"
            ] and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(30)
        if feeder is not None:
            feeder.kill()
            feeder.wait(30)
    return {
        "mode": mode,
        "null_rps": null["per_s"],
        "ack_per_s": ack["per_s"],
        "of_ceiling": round(ack["per_s"] / null["per_s"], 3),
        "server_cpu_us_per_null": round(cpu_null / max(1, null["acknowledged"]) * 1e6, 1),
        "server_cpu_us_per_ack": round(cpu_ack / max(1, ack["acknowledged"]) * 1e6, 1),
        "acknowledged_by_slice": [a["acknowledged"] for a in acks],
        "stored_after_each_slice": stored_after,
        "acknowledged": ack["acknowledged"],
        "stored": stored,
        "every_ack_stored": None if stored is None else stored >= ack["acknowledged"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--ingest", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        db_url, port, journal, mode = args.serve
        serve(db_url, int(port), journal, mode)
        return
    if args.ingest:
        ingest(*args.ingest)
        return
    from sqlalchemy import text

    from jira_console.store import Database

    with tempfile.TemporaryDirectory(prefix="jc-journal-bench-") as name:
        tmp = Path(name)
        db_url = args.db or f"sqlite:///{tmp / 'bench.db'}"
        db = Database(db_url)
        db.migrate()
        bodies = wb.make_bodies(200)
        runs = []
        try:
            for _ in range(args.rounds):
                for mode in MODES:
                    runs.append(measure(mode, db, db_url, tmp, bodies))
        finally:
            with db.session(write=True) as s:
                s.execute(text("DELETE FROM webhook_events WHERE connection = 'bench'"))
            db.close()
    summary = {
        mode: [r["of_ceiling"] for r in runs if r["mode"] == mode] for mode in MODES
    }  # fmt: skip
    print(json.dumps({"database": db_url.split(":", 1)[0], "of_ceiling": summary, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
