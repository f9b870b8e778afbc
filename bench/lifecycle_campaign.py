"""Lifecycle campaign (issue 11): seeded runs of the sync engine and the webhook processor, in this process,
against a simulator whose issues move between projects, whose project keys are renamed, whose issues are
deleted while updates about them are still on the way, whose bulk reads answer ``issueErrors``, whose
deliveries are lost, duplicated, reordered or carry an ``updated`` from the future, and whose clock steps
back. Then an audit.

Each run (seed ``S``; Cloud for odd seeds, Server for even ones):

* a simulator with 40 issues, its webhooks (duplicated, reordered) recorded by a small HTTP receiver; a
  store (SQLite, or a fresh PostgreSQL schema with ``--db``), a full sync;
* rounds of operations drawn from the seed: Jira edits (summary), local edits (SQL ``UPDATE`` of summary,
  on issues Jira does not edit, so each has one expected outcome), moves to the other project, deletions
  right after an update, a project key rename (a third of the runs), a clock step back of 30 minutes (a
  third), ``issueErrors`` for some issues (Cloud); after each round the recorded deliveries are stored in
  the webhook queue shuffled, 10% lost, a fifth held back to the next round, some repeated, one in 20
  forged with ``updated`` in 2099, and the processor drains them through the connection router; every
  other round an incremental sync;
* a final full sync and incremental sync; then the audit.

The audit: *wedged* (a sync that failed, or a watermark past Jira's clock), *resurrected* (after a drain
of the queue, an issue whose deletion was delivered is not deleted locally), *duplicated* (two rows with
one Jira id), *lost Jira changes* (an issue of Jira absent locally, under another key, or with another
summary), *dropped edits* (a local edit neither in Jira nor explained by a field error, on an issue Jira
still has), and issues left in quarantine.

Usage::

    .venv/bin/python bench/lifecycle_campaign.py --runs 50 [--seed S] [--db URL] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.campaign_store import play_and_audit  # noqa: E402
from jira_console.config import JiraConnection  # noqa: E402
from jira_console.jira import JiraClient  # noqa: E402
from jira_console.simulator import SimConfig, Simulator, lifecycle  # noqa: E402
from jira_console.store import Database, identity  # noqa: E402
from jira_console.store import models as m  # noqa: E402
from jira_console.store import state as st  # noqa: E402
from jira_console.store.models import utcnow  # noqa: E402
from jira_console.store.queue import insert_events  # noqa: E402
from jira_console.sync.engine import SyncEngine  # noqa: E402
from jira_console.sync.router import ConnectionRouter  # noqa: E402
from jira_console.webhooks.processor import EventProcessor, RetryPolicy  # noqa: E402

TOKEN_ENV = "JIRA_LIFECYCLE_TOKEN"
ROUNDS = 8
FUTURE = "2099-01-01T00:00:00.000+0000"


class Receiver:
    """Records the simulator's webhook deliveries (identifier, body) and answers 202."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.items.append((self.headers.get("X-Atlassian-Webhook-Identifier") or "", body))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def take(self) -> list[tuple[str, bytes]]:
        with self.lock:
            items, self.items = self.items, []
        return items

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Run:
    """One seeded run (see the module docstring)."""

    def __init__(self, seed: int, db_url: str) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.flavor = "cloud" if seed % 2 else "server"
        self.sim = Simulator(
            SimConfig(flavor=self.flavor, seed=seed, issues=40, webhook_retry_delays=(0.05,))  # type: ignore[arg-type]
        ).serve()
        self.receiver = Receiver()
        self.sim.add_webhook_target(self.receiver.url, duplicate_rate=0.3, reorder=True)
        self.db = Database(db_url)
        self.db.migrate()
        user, secret = self.sim.credentials["basic"]
        import os

        os.environ[TOKEN_ENV] = secret
        self.conn = JiraConnection(
            name="life", url=self.sim.url, auth="basic", user=user, token_env=TOKEN_ENV, overlap_seconds=0,
            breaker_recovery_seconds=1,
        )  # fmt: skip
        self.client = JiraClient(self.conn)
        self.engine = SyncEngine(self.db, self.conn, self.client)
        self.processor = EventProcessor(
            self.db,
            ConnectionRouter({"life": self.engine}),
            retry=RetryPolicy(max_attempts=4, base_seconds=0.01),
        )
        self.findings: Counter[str] = Counter()
        self.local_edits: dict[str, str] = {}  # jira id -> the summary written locally
        self.remote_edited: set[str] = set()  # jira ids Jira's users edited
        self.deleted_ids: set[str] = set()
        self.delete_delivered: set[str] = set()
        self.held: list[tuple[str, bytes]] = []
        self.sync_failures: list[str] = []
        self.details: list[dict[str, Any]] = []

    # -------------------------------------------------------------------------------------- driving

    def ids(self) -> dict[str, str]:
        with self.sim.site.lock:
            return {str(i.id): i.key for i in self.sim.site.issues.values()}

    def local_edit(self, jira_id: str) -> None:
        value = f"local {self.seed}-{len(self.local_edits)}"
        with self.db.engine.begin() as c:
            c.execute(text("UPDATE issues SET summary = :v WHERE connection = 'life' AND jira_id = :i"),
                      {"v": value, "i": jira_id})  # fmt: skip
        self.local_edits[jira_id] = value

    def operation(self) -> None:
        ids = self.ids()
        free = [i for i in ids if i not in self.local_edits and i not in self.remote_edited]
        roll = self.rng.random()
        pick = self.rng.choice(free) if free else None
        if pick is None:
            return
        key = ids[pick]
        if roll < 0.35:
            self.sim.edit_issue(key, {"summary": f"jira {self.seed}-{self.rng.randrange(10**6)}"})
            self.remote_edited.add(pick)
        elif roll < 0.6:
            self.local_edit(pick)
        elif roll < 0.8:
            with self.sim.site.lock:
                project = self.sim.site.find(key).project  # type: ignore[union-attr]
                other = next(p for p in self.sim.site.projects if p != project)
            lifecycle.move_issue(self.sim.site, key, other, "other")
            if self.rng.random() < 0.5:
                self.local_edit(pick)  # an edit made here while Jira moved the issue
        else:
            self.sim.edit_issue(key, {"summary": "updated just before its deletion"})
            self.sim.delete_issue(key)
            self.deleted_ids.add(pick)

    async def deliver(self, *, final: bool = False) -> None:
        """The recorded deliveries into the queue: shuffled, 10% lost, some repeated, a fifth late, a few
        forged."""
        self.sim.wait_for_webhooks(10)
        items = self.held + self.receiver.take()
        self.rng.shuffle(items)
        # A fifth arrive late: after the next round's edits (a delete may well come before its update).
        cut = len(items) // 5 if not final else 0
        items, self.held = items[cut:], items[:cut]
        rows = []
        for identifier, body in items:
            if self.rng.random() < 0.1:
                self.findings["deliveries_lost"] += 1
                continue
            payload = orjson.loads(body)
            if payload.get("webhookEvent") == "jira:issue_updated" and self.rng.random() < 0.05:
                payload["issue"]["fields"]["updated"] = FUTURE
                self.findings["deliveries_forged_future"] += 1
            issue_key = (payload.get("issue") or {}).get("key")
            if payload.get("webhookEvent") == "jira:issue_deleted":
                self.delete_delivered.add(str(payload["issue"].get("id")))
            rows.append(
                {"connection": "life", "identifier": identifier or uuid.uuid4().hex,
                 "event_type": payload.get("webhookEvent"), "issue_key": issue_key,
                 "event_ts_ms": payload.get("timestamp"), "received_at": utcnow(),
                 "payload": orjson.dumps(payload).decode(), "status": "received", "attempts": 0}
            )  # fmt: skip
        if rows:
            with self.db.session(write=True) as s:
                insert_events(s, rows)
        for _ in range(4):  # failed attempts come back (their backoff made due at once)
            await self.processor.drain()
            with self.db.session(write=True) as s:
                s.execute(update(m.WebhookEvent).where(m.WebhookEvent.status == "received")
                          .values(next_attempt_at=None))  # fmt: skip
        self.observe_deletions()

    def observe_deletions(self) -> None:
        """Every issue whose deletion was delivered must be deleted locally once the queue is drained,
        whatever came after it (updates delivered late, twice, out of order)."""
        with self.db.session() as s:
            stmt = select(m.Issue.jira_id, m.Issue.deleted).where(m.Issue.connection == "life")
            rows = s.execute(stmt).all()
        for jira_id, deleted in rows:
            if not deleted and str(jira_id) in self.delete_delivered:
                self.findings["resurrected"] += 1

    async def sync(self, *, full: bool = False) -> None:
        try:
            report = await self.engine.run(full=full)
        except Exception as exc:  # noqa: BLE001 - a failed sync is a finding, not the end of the run
            self.sync_failures.append(f"{type(exc).__name__}: {exc}"[:200])
            return
        if report.status == "failed":
            self.sync_failures.append(report.errors[0] if report.errors else "failed")

    async def play(self) -> None:
        await self.sync(full=True)
        rename_round = self.rng.randrange(ROUNDS) if self.rng.random() < 1 / 3 else None
        step_round = self.rng.randrange(ROUNDS) if self.rng.random() < 1 / 3 else None
        for round_no in range(ROUNDS):
            if round_no == rename_round:
                new = f"R{self.seed % 100}X"
                lifecycle.rename_project(self.sim.site, self.sim.site.projects[0], new)
                self.findings["project_renames"] += 1
            if round_no == step_round:
                self.sim.site.lifecycle.step_clock(-30 * 60 * 1000)
                self.findings["clock_steps_back"] += 1
            if self.flavor == "cloud":
                chosen = self.rng.sample(sorted(self.ids()), 3)
                self.sim.site.lifecycle.set_issue_errors(set(chosen) if self.rng.random() < 0.5 else set())
            for _ in range(4):
                self.operation()
            await self.deliver()
            if round_no % 2:
                await self.sync()
        self.sim.site.lifecycle.set_issue_errors(set())
        await self.deliver(final=True)
        await self.sync(full=True)
        await self.sync()

    # ----------------------------------------------------------------------------------------- audit

    def audit(self) -> dict[str, Any]:
        jira = {}
        with self.sim.site.lock:
            for issue in self.sim.site.issues.values():
                jira[str(issue.id)] = (issue.key, issue.summary)
        with self.db.session() as s:
            rows = s.execute(
                select(m.Issue.id, m.Issue.jira_id, m.Issue.key, m.Issue.summary, m.Issue.deleted)
                .where(m.Issue.connection == "life")
            ).all()  # fmt: skip
            errors = {i for (i,) in s.execute(select(m.FieldError.issue_id))}
            quarantined = len(identity.list_quarantined(s, "life"))
            watermark = st.watermark(s, "life", "issues")
        per_id = Counter(str(r.jira_id) for r in rows)
        f = self.findings
        f["duplicated"] = sum(1 for n in per_id.values() if n > 1)
        local = {str(r.jira_id): r for r in rows}
        for jira_id, (key, summary) in jira.items():
            row = local.get(jira_id)
            lost = row is None or row.deleted or row.key != key
            lost = lost or (jira_id not in self.local_edits and row is not None and row.summary != summary)
            if lost:
                f["lost_jira_changes"] += 1
                found = [row.key, row.summary, row.deleted] if row else None
                self.details.append({"lost": jira_id, "jira": [key, summary], "local": found})
        for jira_id, value in self.local_edits.items():
            if jira_id not in jira:
                continue  # Jira deleted it: the local value stays, nothing can be written
            row = local.get(jira_id)
            if jira[jira_id][1] != value and (row is None or row.id not in errors):
                f["dropped_edits"] += 1
        f["resurrected_at_end"] = sum(1 for i in self.deleted_ids if i in local and not local[i].deleted)
        f["quarantined_at_end"] = quarantined
        f["wedged"] = int(bool(self.sync_failures)) + int(
            watermark is not None and watermark > self.sim.site.lifecycle.now_ms() + 5_000
        )
        f["moves"] = sum(1 for r in self.engine_audit_moves())
        for name in BAD:
            f[name] += 0  # every finding is reported, zeros included
        f["local_edits"] = len(self.local_edits)
        f["deletions"] = len(self.deleted_ids)
        return dict(f)

    def engine_audit_moves(self) -> list[Any]:
        with self.db.session() as s:
            return list(s.scalars(select(m.IssueAlias.id).where(m.IssueAlias.connection == "life")))

    async def close(self) -> None:
        await self.client.aclose()
        self.receiver.close()
        self.sim.stop()
        self.db.close()


BAD = ("wedged", "resurrected", "resurrected_at_end", "duplicated", "lost_jira_changes", "dropped_edits",
       "quarantined_at_end")  # fmt: skip


async def run_one(seed: int, db_base: str | None = None) -> dict[str, Any]:
    """One run; ``db_base`` a PostgreSQL URL (a schema per run) or None for a SQLite file."""
    started = time.monotonic()
    run, findings = await play_and_audit(lambda url: Run(seed, url), "life", seed, db_base)
    failed = [k for k in BAD if findings.get(k)]
    return {"seed": seed, "flavor": run.flavor, "findings": findings, "failed": failed,
            "sync_failures": run.sync_failures, "details": run.details,
            "seconds": round(time.monotonic() - started, 1)}  # fmt: skip


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    for r in runs:
        totals.update({k: v for k, v in r["findings"].items() if isinstance(v, int)})
    return {
        "runs": len(runs),
        "runs_failed": [r["seed"] for r in runs if r["failed"]],
        "totals": dict(sorted(totals.items())),
        "seconds_per_run": round(sum(r["seconds"] for r in runs) / max(1, len(runs)), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default=None, help="PostgreSQL URL (a schema per run); default SQLite")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    runs = []
    for seed in range(args.seed, args.seed + args.runs):
        result = asyncio.run(run_one(seed, args.db))
        runs.append(result)
        print(json.dumps({k: result[k] for k in ("seed", "flavor", "failed", "seconds")}), flush=True)
    summary = summarise(runs)
    print(json.dumps(summary, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "runs": runs}, indent=1, default=str))
    return 1 if summary["runs_failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
