"""Push campaign (issue 11, push side): seeded runs of two processes' sync engines sharing one store and one
Jira site, in this process, then an audit.

Each run (seed ``S``; Cloud for odd seeds, Server for even ones):

* a simulator with 40 issues where story points are outside their context on Bugs, answering 429 with
  ``Retry-After: 1`` to 8% of requests; a store (SQLite, or a fresh PostgreSQL schema with ``--db``) opened
  twice (a "daemon" and a "cli" process, each
  with its own database handle and Jira client), a full sync;
* local edits drawn from the seed on 12 issues: summaries, story points (on Bugs: absent from Jira, not in
  editmeta), priorities Jira refuses, statuses (one of the workflow's or an unknown one), sprint moves of a
  batch into an open sprint with one issue deleted in Jira meanwhile, and on Cloud parents for orphans;
* the daemon syncs while the cli process pulls at the same time (both hit 429s), then two full syncs with
  the faults off.

The audit: *early requests* (a request reaching the simulator inside a Retry-After window another process
was given: the simulator's ``early_retry`` violations), *dropped edits* (a local edit neither in Jira nor
explained by a field error), *resent refusals* (a refused value sent again by a later sync), *Done detours*
(a status walk through Done to another status), *moves for unknown statuses*, *sprint batch losses* (an issue
of a refused batch not moved although Jira would take it), and *failed syncs* (wedged connections).

Usage::

    .venv/bin/python bench/push_campaign.py --runs 50 [--seed S] [--db URL] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.campaign_store import play_and_audit  # noqa: E402
from jira_console.config import JiraConnection  # noqa: E402
from jira_console.simulator import SimConfig, Simulator  # noqa: E402
from jira_console.store import repo  # noqa: E402
from jira_console.store.db import Database  # noqa: E402
from jira_console.sync.connection import open_connection  # noqa: E402

STATUSES = ("To Do", "In Progress", "In Review", "Done", "Teleported")
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
TOKEN_ENV = "PUSH_CAMPAIGN_TOKEN"


class Run:
    def __init__(self, seed: int, url: str) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.flavor = "cloud" if seed % 2 else "server"
        cfg = SimConfig(flavor=self.flavor, seed=seed, issues=40, out_of_context=(("story_points", "Bug"),))
        self.sim = Simulator(cfg).serve()
        user, token = self.sim.credentials["basic"]
        import os

        os.environ[TOKEN_ENV] = token
        self.conn = JiraConnection(
            name="push", url=str(self.sim.url), auth="basic", user=user, token_env=TOKEN_ENV,
            overlap_seconds=0, breaker_recovery_seconds=1, operation_deadline_seconds=60,
        )  # fmt: skip
        self.db_daemon, self.db_cli = Database(url), Database(url)
        self.db_daemon.migrate()
        self.daemon = open_connection(self.db_daemon, self.conn, owner="daemon")
        self.cli = open_connection(self.db_cli, self.conn, owner="cli")
        self.edits: dict[tuple[str, str], Any] = {}
        self.refused: set[tuple[str, str]] = set()
        self.doomed: str | None = None
        self.sprint_keys: list[str] = []
        self.failures = 0

    def sql(self, statement: str, **params: Any) -> None:
        with self.db_daemon.engine.begin() as c:
            c.execute(text(statement), params)

    def _keys(self, **where: Any) -> list[str]:
        with self.sim.site.lock:
            found = [
                i for i in self.sim.site.issues.values() if all(getattr(i, k) == v for k, v in where.items())
            ]
        return [i.key for i in sorted(found, key=lambda i: i.sort_key)]

    def plan_edits(self) -> None:
        keys = self._keys()
        chosen = self.rng.sample(keys, 12)
        for key in chosen[:8]:
            kind = self.rng.choice(("summary", "story_points", "priority", "status"))
            if kind == "summary":
                value: Any = f"local {self.seed} {key}"
            elif kind == "story_points":
                value = float(self.rng.choice((1, 2, 3, 5, 8, 13)))
            elif kind == "priority":
                value = self.rng.choice((*PRIORITIES, "NoSuchPriority"))
            else:
                value = self.rng.choice(STATUSES)
            self.sql(f"UPDATE issues SET {kind} = :v WHERE key = :k", v=value, k=key)  # noqa: S608 - fixed names
            self.edits[(key, kind)] = value
        with self.sim.site.lock:
            sprint = next(s.id for s in self.sim.site.sprints.values() if s.state in ("active", "future"))
        self.sprint_keys = [k for k in chosen[8:] if sprint not in self.sim.issue(k)["sprints"]]
        for key in self.sprint_keys:
            self.sql("UPDATE issues SET sprint_id = :v WHERE key = :k", v=sprint, k=key)
            self.edits[(key, "sprint_id")] = sprint
        self.doomed = self.sprint_keys[0] if len(self.sprint_keys) > 1 else None
        if self.flavor == "cloud":
            orphans = [k for k in self._keys(issuetype="Story", parent=None) if k not in chosen]
            epics = self._keys(issuetype="Epic")
            if orphans and epics:
                self.sql("UPDATE issues SET parent_key = :v WHERE key = :k", v=epics[0], k=orphans[0])
                self.edits[(orphans[0], "parent_key")] = epics[0]

    async def _sync(self, engine: Any, **kw: Any) -> None:
        try:
            report = await engine.run(**kw)
            self.failures += report.status == "failed"
        except Exception:  # noqa: BLE001 - counted: a failing connection is what the audit looks for
            self.failures += 1

    async def play(self) -> None:
        await self._sync(self.daemon, full=True)
        self.plan_edits()
        original = self.daemon.client.move_to_sprint

        async def deleted_meanwhile(sprint_id: int, batch: list[str]) -> None:
            if self.doomed in batch and self.doomed in self.sim.site.issues:
                self.sim.delete_issue(self.doomed)
            await original(sprint_id, batch)

        self.daemon.client.move_to_sprint = deleted_meanwhile  # type: ignore[method-assign]
        self.sim.faults.set(rate_limit_rate=0.08, retry_after=1.0)
        await asyncio.gather(self._sync(self.daemon), self._pull_as_cli())
        self.sim.faults.clear()
        self.puts_before = self._put_counts()
        await self._sync(self.daemon, full=True)
        await self._sync(self.daemon, full=True)

    async def _pull_as_cli(self) -> None:
        from jira_console.sync.report import SyncReport

        try:
            await self.cli.pull(SyncReport("push"), full=True)
        except Exception:  # noqa: BLE001 - a pull racing the daemon's lease may fail; requests are what count
            pass

    def _put_counts(self) -> Counter[str]:
        return Counter(r["path"].rsplit("/", 1)[-1] for r in self.sim.requests if r["method"] == "PUT")

    def audit(self) -> dict[str, int]:
        f: Counter[str] = Counter()
        f["early_requests"] = sum(1 for v in self.sim.violations if v["kind"] == "early_retry")
        f["rate_limited_429"] = sum(1 for r in self.sim.requests if r["status"] == 429)
        f["failed_syncs"] = self.failures
        with self.db_daemon.session() as s:
            errors = {(e.issue_id, e.field) for e in repo.list_field_errors(s, connection="push")}
            ids = {r.key: r.id for r in repo.list_issues(s, repo.IssueQuery(connection="push", limit=1000))}
        after = self._put_counts()
        for (key, name), value in self.edits.items():
            if key == self.doomed and name == "sprint_id":
                continue
            jira = self.sim.issue(key)
            held = {
                "summary": jira["summary"], "story_points": jira["story_points"],
                "priority": jira["priority"], "status": jira["status"],
                "sprint_id": value if value in jira["sprints"] else None,
                "parent_key": jira["parent"],
            }[name]  # fmt: skip
            explained = (ids.get(key), name) in errors
            if held != value and not explained:
                f["dropped_edits"] += 1
            if explained and held != value and after[key] > self.puts_before[key]:
                f["resent_refusals"] += 1
            if name == "status":
                walked = self._statuses(key)
                if value != "Done" and "Done" in walked[:-1]:
                    f["done_detours"] += 1
                if value == "Teleported" and walked:
                    f["moves_for_unknown_status"] += 1
            if name == "sprint_id" and held != value:
                f["sprint_batch_losses"] += 1
        f["edits"] = len(self.edits)
        f["explained"] = len(errors)
        return dict(f)

    def _statuses(self, key: str) -> list[str]:
        with self.sim.site.lock:
            return [
                str(i["toString"]) for h in self.sim.site.issues[key].changelog for i in h.items
                if i.get("field") == "status" and h.author == self.sim.site.me.name
            ]  # fmt: skip

    async def close(self) -> None:
        await self.daemon.client.aclose()
        await self.cli.client.aclose()
        self.sim.stop()
        self.db_daemon.close()
        self.db_cli.close()


BAD = ("early_requests", "dropped_edits", "resent_refusals", "done_detours", "moves_for_unknown_status",
       "sprint_batch_losses", "failed_syncs")  # fmt: skip


async def run_one(seed: int, db_base: str | None = None) -> dict[str, Any]:
    """One run; ``db_base`` a PostgreSQL URL (a schema per run) or None for a SQLite file."""
    started = time.monotonic()
    run, findings = await play_and_audit(lambda url: Run(seed, url), "push", seed, db_base)
    failed = [k for k in BAD if findings.get(k)]
    return {"seed": seed, "flavor": run.flavor, "findings": findings, "failed": failed,
            "seconds": round(time.monotonic() - started, 1)}  # fmt: skip


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
    totals: Counter[str] = Counter()
    for r in runs:
        totals.update(r["findings"])
    summary = {
        "runs": len(runs),
        "runs_failed": [r["seed"] for r in runs if r["failed"]],
        "totals": dict(sorted(totals.items())),
        "seconds_per_run": round(sum(r["seconds"] for r in runs) / max(1, len(runs)), 1),
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "runs": runs}, indent=1, default=str))
    return 1 if summary["runs_failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
