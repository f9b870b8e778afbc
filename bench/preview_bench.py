"""Mapping preview benchmark: how long re-previewing one mapping over 100 stored issues takes, the work the
console redoes on every keystroke in the mapping editor. Prints JSON. Target (issue #4): <= 20 ms.

    .venv/bin/python bench/preview_bench.py [--issues 100] [--repeat 200]

The issues are real simulator issues (Cloud and Server flavors) in their stored raw form; each preview
parses the edited definition, compiles it and runs it forward and back over every issue, as the console does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from jira_console.mapping import MappingContext, parse_definition, preview, templates
from jira_console.simulator import SimConfig, Simulator


def sample(flavor: str, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import httpx

    with Simulator(SimConfig(flavor=flavor, issues=count, seed=3)).serve() as sim:  # type: ignore[arg-type]
        api = "/rest/api/3" if flavor == "cloud" else "/rest/api/2"
        path = f"{api}/search/jql" if flavor == "cloud" else f"{api}/search"
        with httpx.Client(base_url=sim.url, auth=sim.credentials["basic"], timeout=30) as http:
            fields = http.get(f"{api}/field").json()
            issues: list[dict[str, Any]] = []
            params: dict[str, Any] = {
                "jql": "project in (ENG, OPS) ORDER BY key",
                "fields": "*all",
                "maxResults": 50,
            }
            while len(issues) < count:
                data = http.get(path, params=params | {"startAt": len(issues)}).json()
                issues += data["issues"]
                if flavor == "cloud":
                    if data.get("isLast", True):
                        break
                    params["nextPageToken"] = data["nextPageToken"]
                elif not data["issues"]:
                    break
    return issues[:count], fields


def measure(flavor: str, count: int, repeat: int) -> dict[str, Any]:
    issues, fields = sample(flavor, count)
    ids = templates.discover_field_ids(flavor, fields)  # type: ignore[arg-type]
    ctx = MappingContext(flavor=flavor)  # type: ignore[arg-type]
    results = {}
    for name in ("story_points", "team", "sprint", "components", "epic"):
        data = templates.TEMPLATES[name](flavor, ids).to_data()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            rows = preview(parse_definition(data), issues, ctx, fields)
            times.append((time.perf_counter() - started) * 1000)
        assert len(rows) == len(issues)
        times.sort()
        results[name] = {
            "issues": len(rows),
            "median_ms": round(statistics.median(times), 3),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 3),
            "max_ms": round(times[-1], 3),
        }
    worst = max(r["p95_ms"] for r in results.values())
    return {"flavor": flavor, "mappings": results, "worst_p95_ms": worst, "target_20ms_met": worst <= 20}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--issues", type=int, default=100)
    p.add_argument("--repeat", type=int, default=200)
    args = p.parse_args()
    print(json.dumps([measure(f, args.issues, args.repeat) for f in ("cloud", "server")], indent=2))


if __name__ == "__main__":
    main()
