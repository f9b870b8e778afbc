"""A strict, fast Jira fake for the peer benchmark (not the project's simulator: written apart from it, from
the published API shapes in ../shared/JIRA_API.md and the OpenAPI specs, so the client cannot pass only
because both sides share a mistake).

    .venv/bin/python bench/jira_fake.py --flavor cloud --issues 20000 --ties 0.15 --port 0

Strict where real Jira is strict: Basic auth required (401 otherwise); Cloud serves only the enhanced search
(``/rest/api/3/search/jql`` with ``nextPageToken``; the old ``/search`` answers 410), returns only ``id`` and
``key`` unless ``fields`` names more, refuses an unbounded JQL (400); Server pages by ``startAt`` and refuses
paging past the 10,000-result window (400); ``maxResults`` is clamped silently to 100 (to 5,000 on Cloud
when only ids or keys are asked for); unset fields are left out of an issue (no ``parent`` on top-level
issues, no story points on bugs); JQL the fake cannot read is a 400 with Jira's error shape. Fast where a
benchmark needs it: issues are pre-built, pages are serialized with orjson, and nothing is logged. ``--ties``
gives that share of issues one common ``updated`` (a bulk import).

``--latency-ms`` holds every response back that long (an ``asyncio`` sleep, so requests in flight together
wait together, as on a real server): the time a real site spends on a request before its first byte. 0, the
default, measures the client's CPU alone. ``--log FILE`` appends one line per request (start and end in epoch
seconds, method, path, the JQL's bounds or the page token) for counting round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import re
import socket
import sys
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAGE_CAP = 100
KEYS_ONLY_CAP = 5_000  # Cloud, when only ids or keys are asked for (its OpenAPI: "max 5000 issues")
SERVER_WINDOW = 10_000
USER, TOKEN = "bench", "bench-token"
SPRINT_FIELD, POINTS_FIELD = "customfield_10020", "customfield_10016"
BASE_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
STATUSES = [("10000", "To Do", "new"), ("3", "In Progress", "indeterminate"), ("10001", "Done", "done")]
TYPES = [("10001", "Story"), ("10002", "Task"), ("10004", "Bug")]
WORDS = "billing search upload login report export cache import sync queue token audit".split()
PEOPLE = ["Ada Byron", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]


def jira_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def error(status: int, *messages: str) -> Response:
    return Response(
        orjson.dumps({"errorMessages": list(messages), "errors": {}}), status, media_type="application/json"
    )


class Site:
    """The fake's data: projects, issues sorted as ``ORDER BY updated ASC, key ASC`` sorts them, sprints."""

    def __init__(self, flavor: str, count: int, ties: float, seed: int) -> None:
        self.flavor = flavor
        self.api = "3" if flavor == "cloud" else "2"
        rnd = random.Random(seed)
        self.sprints = [
            {"id": n, "name": f"ENG Sprint {n}", "state": "closed" if n < 4 else "active", "originBoardId": 1,
             "startDate": jira_time(BASE_MS + n * 14 * 86_400_000), "goal": ""}
            for n in range(1, 5)
        ]  # fmt: skip
        tie_count = int(count * ties)
        tie_ms = BASE_MS + 40 * 86_400_000
        self.issues: list[dict[str, Any]] = []
        for n in range(1, count + 1):
            project = "ENG" if n % 4 else "OPS"
            updated = tie_ms if n <= tie_count else BASE_MS + rnd.randrange(0, 300 * 86_400_000)
            self.issues.append(self._issue(n, project, updated, rnd))
        self.issues.sort(key=lambda i: (i["_updated"], i["_project"], i["_number"]))

    def _issue(self, n: int, project: str, updated: int, rnd: random.Random) -> dict[str, Any]:
        type_id, type_name = rnd.choice(TYPES)
        status_id, status_name, category = rnd.choice(STATUSES)
        text = f"{rnd.choice(WORDS).title()} {rnd.choice(WORDS)} {rnd.choice(WORDS)} for {project}-{n}"
        person = rnd.choice(PEOPLE)
        if self.flavor == "cloud":
            user = {
                "accountId": f"5b10{abs(hash(person)) % 10**20:020d}",
                "displayName": person,
                "active": True,
            }
            description: Any = {"version": 1, "type": "doc", "content": [
                {"type": "paragraph", "content": [
                    {"type": "text", "text": text + ". See the attached notes."}]}]}  # fmt: skip
        else:
            user = {
                "name": person.split()[0].lower(),
                "key": f"JIRAUSER{n % 50}",
                "displayName": person,
                "active": True,
            }
            description = f"h2. {text}\n\nSee the *attached* notes."
        fields: dict[str, Any] = {
            "summary": text,
            "status": {"id": status_id, "name": status_name, "statusCategory": {"key": category}},
            "issuetype": {"id": type_id, "name": type_name, "subtask": False},
            "priority": {"id": "3", "name": "Medium"},
            "project": {"id": "10000" if project == "ENG" else "10001", "key": project, "name": project},
            "created": jira_time(updated - 86_400_000),
            "updated": jira_time(updated),
            "labels": rnd.sample(WORDS, rnd.randrange(0, 3)),
            "components": [],
            "description": description,
            "assignee": user if rnd.random() < 0.8 else None,
            "reporter": user,
            "resolution": {"id": "1", "name": "Done"} if category == "done" else None,
        }
        if type_name != "Bug":
            fields[POINTS_FIELD] = float(rnd.choice([1, 2, 3, 5, 8]))
        if project == "ENG" and rnd.random() < 0.6:
            sprint = self.sprints[rnd.randrange(len(self.sprints))]
            fields[SPRINT_FIELD] = [self._sprint_value(sprint)]
        issue_id = str(10000 + n)
        return {
            "_wiki": f"{text}. See the attached notes.", "_updated": updated, "_project": project,
            "_number": n, "id": issue_id, "key": f"{project}-{n}",
            "self": f"/rest/api/{self.api}/issue/{issue_id}", "fields": fields,
        }  # fmt: skip

    def _sprint_value(self, sprint: dict[str, Any]) -> Any:
        if self.flavor == "cloud":
            return {
                "id": sprint["id"],
                "name": sprint["name"],
                "state": sprint["state"],
                "boardId": 1,
                "goal": "",
            }
        state = sprint["state"].upper()
        return (f"com.atlassian.greenhopper.service.sprint.Sprint@1bf75fd[id={sprint['id']},rapidViewId=1,"
                f"state={state},name={sprint['name']},startDate={sprint['startDate']},goal=,"
                f"sequence={sprint['id']}]")  # fmt: skip

    def field_list(self) -> list[dict[str, Any]]:
        system = ["summary", "status", "issuetype", "priority", "project", "created", "updated", "labels",
                  "components", "description", "assignee", "reporter", "resolution", "parent"]  # fmt: skip
        out: list[dict[str, Any]] = [
            {"id": f, "key": f, "name": f.title(), "custom": False, "schema": {"type": "string", "system": f}}
            for f in system
        ]
        out.append({"id": SPRINT_FIELD, "key": SPRINT_FIELD, "name": "Sprint", "custom": True, "schema": {
            "type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint",
            "customId": 10020}})  # fmt: skip
        points_type = "com.pyxis.greenhopper.jira:jsw-story-points" if self.flavor == "cloud" else (
            "com.atlassian.jira.plugin.system.customfieldtypes:float")  # fmt: skip
        out.append({"id": POINTS_FIELD, "key": POINTS_FIELD, "name": "Story point estimate", "custom": True,
                    "schema": {"type": "number", "custom": points_type, "customId": 10016}})  # fmt: skip
        return out


# JQL the product and the peers send: a scope, an ``updated`` range in epoch ms, an order.
_JQL = re.compile(
    r"^\s*(?:\((?P<scope>[^()]*(?:\([^()]*\))?[^()]*)\)\s+AND\s+|(?P<bare>project\s*(?:=|in)\s*[^A]*?)\s+AND\s+)?"
    r"(?P<bounds>updated\s*>=\s*\d+(?:\s+AND\s+updated\s*<=\s*\d+)?)?\s*"
    r"(?:ORDER\s+BY\s+(?P<order>.+))?$",
    re.IGNORECASE,
)


def parse_jql(site: Site, jql: str) -> tuple[list[dict[str, Any]], bool]:
    """The issues a JQL selects, in its order, and whether it was bounded (ValueError when unreadable)."""
    m = _JQL.match(jql)
    if not m:
        raise ValueError(f"Error in the JQL Query: the fake cannot read {jql!r}")
    scope = m.group("scope") or m.group("bare") or ""
    projects = set(re.findall(r"\b([A-Z][A-Z0-9]+)\b", scope.upper())) - {"PROJECT", "IN", "AND"}
    since, until = 0, None
    if m.group("bounds"):
        numbers = [int(x) for x in re.findall(r"\d+", m.group("bounds"))]
        since, until = numbers[0], (numbers[1] if len(numbers) > 1 else None)
    issues = [
        i for i in site.issues
        if i["_updated"] >= since and (until is None or i["_updated"] <= until)
        and (not projects or i["_project"] in projects)
    ]  # fmt: skip
    order = (m.group("order") or "").lower().replace(" ", "")
    if order.startswith("key"):
        issues = sorted(issues, key=lambda i: (i["_project"], i["_number"]))
    elif order.startswith("updateddesc"):
        issues = issues[::-1]  # the site's order is ``updated ASC, key ASC``
    return issues, bool(m.group("bounds") or scope)


def render(issue: dict[str, Any], wanted: list[str] | None, base: str, v2: bool = False) -> dict[str, Any]:
    out = {
        "expand": "operations,editmeta,changelog",
        "id": issue["id"],
        "self": base + issue["self"],
        "key": issue["key"],
    }
    fields = issue["fields"]
    if v2 and isinstance(fields.get("description"), dict):
        fields = {**fields, "description": issue["_wiki"]}
    if wanted is None:
        out["fields"] = fields
    else:
        out["fields"] = {f: fields[f] for f in wanted if f in fields}
    return out


def wanted_fields(raw: str | list[str] | None, flavor: str) -> list[str] | None:
    """None means every field (``*all``, ``*navigable``, or Server's default); [] means id only."""
    if raw is None:
        return [] if flavor == "cloud" else None
    names = raw if isinstance(raw, list) else [f.strip() for f in raw.split(",") if f.strip()]
    if any(n in ("*all", "*navigable") for n in names):
        return None
    return [n for n in names if not n.startswith("-")]


def build_app(site: Site) -> Starlette:
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()

    async def guard(request: Request) -> Response | None:
        if request.headers.get("authorization") != expected:
            return error(401, "You are not authenticated. Authentication required to perform this operation.")
        return None

    def json(data: Any, status: int = 200) -> Response:
        return Response(orjson.dumps(data), status, media_type="application/json")

    async def server_info(request: Request) -> Response:
        cloud = site.flavor == "cloud"
        return json({
            "baseUrl": str(request.base_url).rstrip("/"),
            "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
            "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2],
            "deploymentType": "Cloud" if cloud else "Server",
            "buildNumber": 100250, "serverTime": jira_time(int(datetime.now(UTC).timestamp() * 1000)),
            "serverTitle": "Jira fake",
        })  # fmt: skip

    async def fields(request: Request) -> Response:
        return (await guard(request)) or json(site.field_list())

    async def myself(request: Request) -> Response:
        return (await guard(request)) or json(
            {"name": USER, "accountId": "5b10bench", "displayName": "Bench"}
        )

    async def params_of(request: Request) -> dict[str, Any]:
        if request.method == "POST":
            return dict(orjson.loads(await request.body() or b"{}"))
        params: dict[str, Any] = dict(request.query_params)
        if len(listed := request.query_params.getlist("fields")) > 1:
            params["fields"] = ",".join(listed)  # ``fields=a&fields=b`` is read like ``fields=a,b``
        return params

    async def search_cloud(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        if site.flavor != "cloud":
            return await not_found(request)
        p = await params_of(request)
        try:
            issues, bounded = parse_jql(site, str(p.get("jql", "")))
        except ValueError as exc:
            return error(400, str(exc))
        if not bounded:
            return error(400, "Unbounded JQL queries are not allowed here. Please add a search restriction.")
        wanted = wanted_fields(p.get("fields"), "cloud")
        cap = KEYS_ONLY_CAP if wanted is not None and set(wanted) <= {"id", "key"} else PAGE_CAP
        size = max(1, min(int(p.get("maxResults", 50)), cap))
        token = p.get("nextPageToken")
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        page = issues[offset : offset + size]
        base = str(request.base_url).rstrip("/")
        v2 = request.path_params["v"] == 2  # REST v2 on Cloud: rich text as wiki strings, not ADF
        body: dict[str, Any] = {
            "issues": [render(i, wanted, base, v2) for i in page],
            "isLast": offset + size >= len(issues),
        }
        if not body["isLast"]:
            body["nextPageToken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        return json(body)

    async def approximate_count(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        try:
            issues, _ = parse_jql(site, str((await params_of(request)).get("jql", "")))
        except ValueError as exc:
            return error(400, str(exc))
        return json({"count": len(issues)})

    async def search_server(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        if site.flavor == "cloud":
            return error(
                410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
            )
        p = await params_of(request)
        try:
            issues, _ = parse_jql(site, str(p.get("jql", "")))
        except ValueError as exc:
            return error(400, str(exc))
        start, size = int(p.get("startAt", 0)), max(1, min(int(p.get("maxResults", 50)), PAGE_CAP))
        if start + size > SERVER_WINDOW:
            return error(400, f"Result window is too large, startAt + maxResults must be <= {SERVER_WINDOW}.")
        wanted = wanted_fields(p.get("fields"), "server")
        base = str(request.base_url).rstrip("/")
        return json({
            "expand": "schema,names", "startAt": start, "maxResults": size, "total": len(issues),
            "issues": [render(i, wanted, base) for i in issues[start : start + size]],
        })  # fmt: skip

    def agile_page(values: list[Any], request: Request) -> Response:
        start = int(request.query_params.get("startAt", 0))
        size = max(1, min(int(request.query_params.get("maxResults", 50)), 50))
        chunk = values[start : start + size]
        return json({"maxResults": size, "startAt": start, "total": len(values),
                     "isLast": start + size >= len(values), "values": chunk})  # fmt: skip

    async def boards(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        board = {"id": 1, "name": "ENG board", "type": "scrum", "location": {"projectKey": "ENG"}}
        return agile_page([board], request)

    async def sprints(request: Request) -> Response:
        if (denied := await guard(request)) is not None:
            return denied
        if request.path_params["board"] != "1":
            return error(
                404,
                "The requested board cannot be viewed because it either does not exist or you do not have "
                "permission to view it.",
            )
        return agile_page(site.sprints, request)

    async def not_found(request: Request) -> Response:
        return error(404, f"The fake does not serve {request.method} {request.url.path}")

    routes = [
        Route("/rest/api/{v:int}/serverInfo", server_info),
        Route("/rest/api/{v:int}/field", fields),
        Route("/rest/api/{v:int}/myself", myself),
        Route("/rest/api/{v:int}/search/jql", search_cloud, methods=["GET", "POST"]),
        Route("/rest/api/3/search/approximate-count", approximate_count, methods=["POST"]),
        Route("/rest/api/{v:int}/search", search_server, methods=["GET", "POST"]),
        Route("/rest/agile/1.0/board", boards),
        Route("/rest/agile/1.0/board/{board}/sprint", sprints),
        Route("/{rest:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    return Starlette(routes=routes)


def held_back(app: Any, latency_ms: float, log_path: str | None) -> Any:
    """``app`` with each HTTP response held back ``latency_ms``; with ``log_path``, each request logged."""
    log = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115 - open for the server's life

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        began = time.time()
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000)
        await app(scope, receive, send)
        if log is not None:
            query = parse_qs(scope.get("query_string", b"").decode())
            jql = " ".join(query.get("jql", []))
            detail = [f"updated{op}{n}" for op, n in re.findall(r"updated\s*([<>]?=)\s*(\d+)", jql)]
            detail += [f"{k}={query[k][0][:12]}" for k in ("nextPageToken", "startAt") if k in query]
            if query.get("fields") == ["updated"]:
                detail.append("fields=updated")
            ends = f"{began:.3f} {time.time():.3f}"
            log.write(f"{ends} {scope['method']} {scope['path']} {' '.join(detail)}\n")
        return None

    return wrapped


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flavor", choices=["cloud", "server"], default="cloud")
    p.add_argument("--issues", type=int, default=4000)
    p.add_argument("--ties", type=float, default=0.15, help="share of issues with one common `updated`")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=0.0, help="hold every response back this long")
    p.add_argument("--log", help="append a line per request to this file")
    args = p.parse_args()
    site = Site(args.flavor, args.issues, args.ties, args.seed)
    sock = socket.socket()
    sock.bind(("127.0.0.1", args.port))
    print(f"Jira fake ({args.flavor}) at http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        held_back(build_app(site), args.latency_ms, args.log),
        log_level="error",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
