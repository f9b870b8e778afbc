"""The user's full sync beside the floor and the peer, on the strict fake (bench/jira_fake.py). Prints JSON.

    .venv/bin/pip install -e '.[bench]'          # pycontribs `jira`, the peer (a benchmark dependency only)
    .venv/bin/python bench/peer_bench.py --flavor cloud --issues 4000
    .venv/bin/python bench/peer_bench.py --flavor server --issues 20000 --ties 0.15 --repeat 3 --latency-ms 40

Three commands, each timed as wall time from process start, each in a fresh process while the fake runs in
another:

* ``bare``: a plain httpx loop paging the same search (same JQL, fields and page size): the floor;
* ``peer``: pycontribs ``jira`` pulling the same issues into memory (what a Python user picks instead; it
  writes no database);
* ``ours``: ``jira-console sync --full`` into an empty SQLite store, exactly as the user runs it.

The fields asked for are the ones the product asks for (read from the fake's request log is not needed: the
product's field list is derived here the same way the sync derives it). Server/DC searches cannot page past
10,000 results, so the bare loop and the peer page by ``updated`` bounds there, as the product does.
Peak RSS of each command comes from ``wait4``. Targets (issue 16): ours <= 1.5x bare and < peer, peak RSS
<= 150 MB.

Each size and flavor is measured with the fake answering at once (``--latency-ms 0``: what is timed is the
client's CPU alone, a floor no real site offers) and holding each answer back 40 ms (the default pair; a
real site spends at least that on a search page: the issue's own strict fake served 3,000 issues to the bare
loop in 1.40 s, about 45 ms a page, and 10,000 at about 85 ms a page).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
JQL = "(project in (ENG, OPS)) AND updated >= 946684800000 ORDER BY updated ASC, key ASC"
FIELDS = ("summary,status,issuetype,priority,project,created,updated,labels,components,description,assignee,"
          "reporter,resolution,parent,customfield_10020,customfield_10016")  # fmt: skip

BARE = textwrap.dedent(
    """
    import sys, httpx, orjson
    url, flavor, jql, fields = sys.argv[1:5]
    seen = 0
    with httpx.Client(base_url=url, auth=("bench", "bench-token"), timeout=60) as http:
        if flavor == "cloud":
            token = None
            while True:
                p = {"jql": jql, "maxResults": 100, "fields": fields}
                if token:
                    p["nextPageToken"] = token
                data = orjson.loads(http.get("/rest/api/3/search/jql", params=p).content)
                seen += len(data["issues"])
                token = data.get("nextPageToken")
                if data.get("isLast", True) or not token:
                    break
        else:
            bound, keys = 946684800000, set()
            while True:
                q = jql.replace("updated >= 946684800000", f"updated >= {bound}")
                start = 0
                while True:
                    p = {"jql": q, "maxResults": 100, "startAt": start, "fields": fields}
                    data = orjson.loads(http.get("/rest/api/2/search", params=p).content)
                    keys.update(i["key"] for i in data["issues"])
                    start += len(data["issues"])
                    if not data["issues"] or start >= data["total"] or start + 100 > 10000:
                        break
                if start >= data["total"]:
                    break
                last = data["issues"][-1]["fields"]["updated"]
                from datetime import datetime
                bound = int(datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
            seen = len(keys)
    print(seen)
    """
)

PEER = textwrap.dedent(
    """
    import sys
    from jira import JIRA
    url, flavor, jql, fields = sys.argv[1:5]
    jira = JIRA(server=url, basic_auth=("bench", "bench-token"), get_server_info=True)
    if flavor == "cloud":
        issues = jira.enhanced_search_issues(jql, maxResults=0, fields=fields)
    else:  # Server pages by startAt up to its 10,000-result window, then restarts from the last `updated`
        from datetime import datetime
        issues, bound, keys = [], 946684800000, set()
        while True:
            q = jql.replace("updated >= 946684800000", f"updated >= {bound}")
            start = 0
            while True:
                page = jira.search_issues(q, startAt=start, maxResults=100, fields=fields)
                issues.extend(i for i in page if i.key not in keys)
                keys.update(i.key for i in page)
                start += len(page)
                if not len(page) or start >= page.total or start + 100 > 10000:
                    break
            if start >= page.total:
                break
            stamp = page[-1].fields.updated
            bound = int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    print(len(issues))
    """
)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd``; wall seconds from spawn to exit and the child's peak RSS (MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{err[-3000:]}")
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "output": out.strip()[-300:],
    }


def start_fake(flavor: str, issues: int, ties: float, latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    cmd = [PY, str(ROOT / "bench" / "jira_fake.py"), "--flavor", flavor, "--issues", str(issues)]
    cmd += ["--ties", str(ties), "--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"at (http://\S+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"the fake did not start: {line!r}")
    return proc, m.group(1)


def ours(url: str, flavor: str, workdir: Path) -> dict[str, Any]:
    for stale in workdir.glob("bench.db*"):
        stale.unlink()
    config = workdir / "bench.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{workdir}/bench.db"\n\n[webhooks]\nenabled = false\n\n'
        f'[[jira]]\nname = "bench"\nurl = "{url}"\nflavor = "{flavor}"\nuser = "bench"\n'
        f'token_env = "JIRA_BENCH_TOKEN"\njql = "project in (ENG, OPS)"\nproject_keys = ["ENG"]\n'
        f"rate_limit_per_second = 1000\npage_size = 100\n"
    )
    config.chmod(0o600)
    env = {**os.environ, "JIRA_BENCH_TOKEN": "bench-token"}
    return timed([str(Path(PY).parent / "jira-console"), "--config", str(config), "sync", "--full"], env)


def measure(flavor: str, issues: int, ties: float, repeat: int, latency_ms: float) -> dict[str, Any]:
    fake, url = start_fake(flavor, issues, ties, latency_ms)
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "peer": [], "ours": []}
    try:
        with tempfile.TemporaryDirectory(prefix="jira-peer-bench-") as tmp:
            for _ in range(repeat):  # interleaved, so drift in the machine's load hits all three alike
                runs["bare"].append(timed([PY, "-c", BARE, url, flavor, JQL, FIELDS]))
                runs["peer"].append(timed([PY, "-c", PEER, url, flavor, JQL, FIELDS]))
                runs["ours"].append(ours(url, flavor, Path(tmp)))
    finally:
        fake.terminate()
        fake.wait(10)
    best = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
    median = {name: statistics.median(x["seconds"] for x in r) for name, r in runs.items()}
    return {
        "flavor": flavor, "issues": issues, "tie_share": ties, "latency_ms": latency_ms, "repeat": repeat,
        "best": best, "median_seconds": median,
        "ours_vs_bare": round(best["ours"]["seconds"] / best["bare"]["seconds"], 2),
        "ours_vs_peer": round(best["ours"]["seconds"] / best["peer"]["seconds"], 2),
        "targets": {
            "ours_within_1_5x_bare": best["ours"]["seconds"] <= 1.5 * best["bare"]["seconds"],
            "ours_faster_than_peer": best["ours"]["seconds"] < best["peer"]["seconds"],
            "ours_peak_rss_at_most_150mb": best["ours"]["peak_rss_mb"] <= 150,
        },
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flavor", choices=["cloud", "server", "both"], default="both")
    p.add_argument("--issues", type=int, nargs="+", default=[4000, 20000])
    p.add_argument("--ties", type=float, default=0.15)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument(
        "--latency-ms", type=float, nargs="+", default=[0.0, 40.0],
        help="the fake's time per request before its answer (0: the client's CPU alone)",
    )  # fmt: skip
    args = p.parse_args()
    try:
        import jira  # noqa: F401
    except ImportError:
        sys.exit("the peer is not installed: .venv/bin/pip install -e '.[bench]'")
    # An editable install leaves the project's modules uncompiled; a user's first run writes their bytecode,
    # but where PYTHONDONTWRITEBYTECODE is set every timed run would compile them again (the peer's and
    # httpx's were compiled when pip installed them): compile once, like any installed package.
    import compileall

    compileall.compile_dir(str(ROOT / "jira_console"), quiet=1)
    flavors = ["cloud", "server"] if args.flavor == "both" else [args.flavor]
    runs = [(ms, f, n) for ms in args.latency_ms for f in flavors for n in args.issues]
    results = [measure(f, n, args.ties, args.repeat, ms) for ms, f, n in runs]
    print(
        json.dumps(
            {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "runs": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
