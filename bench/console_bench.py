"""How fast the Conflicts screen opens over a 10,000-conflict queue, and how quickly the cursor moves.

Runs the console headless (``App.run_test``) against the in-memory fake engine and prints JSON:
``open_ms`` is from asking for the screen until it is mounted with its first rows in the table and
a full frame is rendered; ``cursor_move_ms`` summarises 200 single-row moves (cursor action to every
resulting message handled and a full frame rendered).
Target: ``open_ms`` <= 300. ``start_ms`` is the console's own start before that (from entering ``run_test``
to its first screen, Health, mounted with its first read shown and a full frame rendered), so that a change
making the open faster by doing the work at start-up shows. Each run sets its process up as ``jira-console``
does before it runs the App (``spare_the_collector``: the objects alive at start-up are left out of the
garbage collector's full passes); ``--no-spare`` leaves that out, to compare.

``idle_refresh_ms``: one periodic refresh of the screen when nothing changed, with every conflict
loaded (scrolled through), over the real store (a temporary SQLite file, or ``--db``): ``reread`` is
what each refresh cost before the change marker (the loaded rows read again, their names looked up,
compared, a frame rendered), ``marker`` what it costs now (the marker, nothing else when it did not move).

    .venv/bin/python bench/console_bench.py [--conflicts 10000] [--moves 200] [--runs 3] [--db URL]
        [--no-spare]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from jira_console.config import Settings  # noqa: E402
from jira_console.facade import Engine  # noqa: E402
from jira_console.store import bulk, tables  # noqa: E402
from jira_console.store import issues as si  # noqa: E402
from jira_console.tui.app import JiraConsoleApp, spare_the_collector  # noqa: E402
from jira_console.tui.screens.base import ConsoleScreen  # noqa: E402
from jira_console.tui.screens.conflicts import ConflictsScreen, QueueUnchanged  # noqa: E402
from jira_console.tui.widgets.lazy_table import LazyTable  # noqa: E402
from tests.fakes.engine import FIXED_NOW, FakeEngine  # noqa: E402

TARGET_OPEN_MS = 300


async def settled_and_painted(pilot) -> None:
    """Wait until the screen has handled everything queued (the highlight message, the detail pane's
    updates), then render a full frame.

    Private Textual hooks on purpose: ``pilot.press``/``pilot.pause`` also wait for the *process* to look
    idle (comparing CPU and wall time), which measures the harness and the machine's load, not the console.
    """
    await pilot._wait_for_screen()
    pilot.app.screen._compositor.render_update(full=True)


async def one_run(conflicts: int, moves: int, spare: bool) -> dict:
    engine = FakeEngine(conflicts=conflicts)
    app = JiraConsoleApp(engine, now=lambda: FIXED_NOW, refresh_interval=None, start_mode="health")
    started = time.perf_counter()
    if spare:
        spare_the_collector()  # what jira-console does before it runs the App (cli/console_cmd.py)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, ConsoleScreen)
        await app.screen.loaded_once.wait()
        await settled_and_painted(pilot)
        start_ms = (time.perf_counter() - started) * 1000
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()

        started = time.perf_counter()
        await app.switch_mode("conflicts")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        await screen.loaded_once.wait()  # set once the first page is in the table
        await settled_and_painted(pilot)
        open_ms = (time.perf_counter() - started) * 1000
        table = screen.query_one(LazyTable)
        first_rows = table.row_count

        per_move = []
        for _ in range(moves):
            before = time.perf_counter()
            table.action_cursor_down()  # what the "down" key runs
            await settled_and_painted(pilot)
            per_move.append((time.perf_counter() - before) * 1000)
        assert table.cursor_row == moves, "every move must land"
        return {
            "start_ms": start_ms, "open_ms": open_ms, "first_rows": first_rows, "total": screen.total,
            "moves": per_move,
        }  # fmt: skip


def seeded_engine(conflicts: int, url: str) -> Engine:
    """An engine over a store holding ``conflicts`` open conflicts, one per issue."""
    engine = Engine(Settings(database={"url": url}), owner="console-bench")
    engine.migrate()
    issues = [
        {"connection": "cloud", "key": f"OPS-{i}", "summary": f"Title {i}", "project_key": "OPS"}
        for i in range(1, conflicts + 1)
    ]
    with engine.db.session(write=True) as s:
        si.insert_issues(s, issues)
        ids = {key: id_ for key, id_ in s.execute(select(tables.issues.c.key, tables.issues.c.id))}
        rows = [
            {"issue_id": ids[f"OPS-{i}"], "connection": "cloud", "issue_key": f"OPS-{i}", "field": "summary",
             "base": f"Title {i}", "local": f"Title {i}-local", "jira": f"Title {i}-jira",
             "detected_at": datetime(2024, 1, 1, tzinfo=UTC), "status": "open"}
            for i in range(1, conflicts + 1)
        ]  # fmt: skip
        bulk.insert_rows(s, tables.conflicts, rows)
    return engine


async def idle_refresh(conflicts: int, url: str | None, refreshes: int, spare: bool) -> dict:
    """The cost of one refresh that finds nothing changed, the old way and the new one, every row loaded."""
    with tempfile.TemporaryDirectory(prefix="jira-bench-console-") as scratch:
        return await _idle_refresh(
            seeded_engine(conflicts, url or f"sqlite:///{scratch}/console.db"), refreshes, spare
        )


async def _idle_refresh(engine: Engine, refreshes: int, spare: bool) -> dict:
    app = JiraConsoleApp(engine, refresh_interval=None, start_mode="conflicts")
    if spare:
        spare_the_collector()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, ConflictsScreen)
            await screen.loaded_once.wait()
            await app.workers.wait_for_complete()
            while len(screen.records) < screen.total:
                screen.show(await asyncio.to_thread(screen._load_more))
            await settled_and_painted(pilot)
            costs: dict[str, list[float]] = {"reread": [], "marker": []}
            for _ in range(refreshes):
                for way, read in (("reread", screen.load), ("marker", screen.poll)):
                    started = time.perf_counter()
                    data = await asyncio.to_thread(read)
                    screen.show(data)
                    await settled_and_painted(pilot)
                    costs[way].append((time.perf_counter() - started) * 1000)
                    assert way == "reread" or isinstance(data, QueueUnchanged), "nothing changed"
            loaded = len(screen.records)
    finally:
        engine.db.close()
    return {
        "dialect": engine.db.dialect,
        "loaded_rows": loaded,
        **{way: round(statistics.median(ms), 2) for way, ms in costs.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conflicts", type=int, default=10_000)
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-spare", action="store_true", help="leave spare_the_collector out (as before)")
    parser.add_argument("--db", help="database URL for idle_refresh_ms (default: a temporary SQLite file)")
    args = parser.parse_args()

    runs = [asyncio.run(one_run(args.conflicts, args.moves, not args.no_spare)) for _ in range(args.runs)]
    opens = [r["open_ms"] for r in runs]
    starts = [r["start_ms"] for r in runs]
    moves = sorted(m for r in runs for m in r["moves"])
    result = {
        "conflicts": args.conflicts,
        "first_page_rows": runs[0]["first_rows"],
        "total_shown": runs[0]["total"],
        "runs": args.runs,
        "spare_the_collector": not args.no_spare,
        "start_ms": {"median": round(statistics.median(starts), 1), "max": round(max(starts), 1)},
        "open_ms": {"median": round(statistics.median(opens), 1), "max": round(max(opens), 1)},
        "cursor_move_ms": {
            "moves": len(moves),
            "median": round(statistics.median(moves), 2),
            "p95": round(moves[int(len(moves) * 0.95) - 1], 2),
            "max": round(moves[-1], 2),
        },
        "idle_refresh_ms": asyncio.run(idle_refresh(args.conflicts, args.db, 5, not args.no_spare)),
        "target_open_ms": TARGET_OPEN_MS,
        "open_within_target": statistics.median(opens) <= TARGET_OPEN_MS,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
