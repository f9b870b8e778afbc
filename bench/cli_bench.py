"""How long simple commands take to start, beside the floor of the libraries any such command needs.

Times, as whole processes (wall clock, from spawn to exit), ``jira-console --help``, ``jira-console status``
and ``jira-console issues show KEY`` against a store of ``--issues`` issues imported from the simulator,
and a bare ``python -c "import sqlalchemy.orm, httpx, typer"`` (the floor), with compiled bytecode as an
installed package has it, in turns (floor, help, status,
show, floor, ...) so that a machine's drift hits every command alike. Prints JSON: each command's median and
min over ``--runs`` runs, and its median ratio to the floor measured in the same round. Goal: every ratio
<= 1.25.

    .venv/bin/python bench/cli_bench.py [--runs 15] [--issues 500]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL = 1.25
FLOOR = [sys.executable, "-c", "import sqlalchemy.orm, httpx, typer"]


def jira_console() -> list[str]:
    """The installed console script when there is one (what a user runs), else ``python -m``."""
    script = Path(sys.executable).parent / "jira-console"
    return [str(script)] if script.exists() else [sys.executable, "-m", "jira_console"]


async def make_store(folder: Path, issues: int) -> tuple[Path, str]:
    """A config and a store holding ``issues`` issues synced from the simulator; returns (config, a key)."""
    from jira_console.config import load_config
    from jira_console.facade import Engine
    from jira_console.simulator import SimConfig, Simulator

    sim = Simulator(SimConfig(flavor="cloud", issues=issues)).serve()
    try:
        user, token = sim.credentials["basic"]
        os.environ["JC_BENCH_TOKEN"] = token
        config = folder / "bench.toml"
        config.write_text(
            f'[database]\nurl = "sqlite:///{folder / "bench.db"}"\n'
            f'[[jira]]\nname = "sim"\nurl = "{sim.url}"\nuser = "{user}"\ntoken_env = "JC_BENCH_TOKEN"\n'
            'jql = "project in (ENG, OPS) order by updated"\n[logging]\nlevel = "WARNING"\n'
        )
        config.chmod(0o600)
        async with Engine(load_config(config).settings) as engine:
            await engine.run_sync(full=True)
            key = engine.list_issues(limit=1)[0].key
        return config, key
    finally:
        sim.stop()


def wall(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--issues", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jc-cli-bench-") as tmp:
        config, key = asyncio.run(make_store(Path(tmp), args.issues))
        env = {**os.environ, "JIRA_CONSOLE_CONFIG": str(config)}
        # As installed: bytecode compiled once (pip does it at install) and read after. With
        # PYTHONDONTWRITEBYTECODE set, every run would compile the project's modules from source; the
        # cache goes to a prefix folder in the temp dir, for every command alike, the floor's included.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        commands = {
            "floor": FLOOR,
            "--help": [*jira_console(), "--help"],
            "status": [*jira_console(), "status"],
            "issues show": [*jira_console(), "issues", "show", key],
        }
        for cmd in commands.values():  # warm the file cache and the bytecode
            wall(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(wall(cmd, env))
    floor = times["floor"]
    result = {
        "python": sys.version.split()[0],
        "runs": args.runs,
        "issues": args.issues,
        "goal_ratio": GOAL,
        "commands": {
            name: {
                "median_s": round(statistics.median(ts), 3),
                "min_s": round(min(ts), 3),
                # Per round: each run against the floor measured beside it, then the median of those.
                "ratio_median": round(statistics.median(t / f for t, f in zip(ts, floor, strict=True)), 3),
            }
            for name, ts in times.items()
        },
    }
    result["within_goal"] = all(c["ratio_median"] <= GOAL for c in result["commands"].values())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
