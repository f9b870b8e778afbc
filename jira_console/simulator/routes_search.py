"""Jira search REST routes: Cloud's token-paged ``/search/jql`` and count, Server's offset ``/search``."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jira_console.simulator import jql, render
from jira_console.simulator.http import (
    JiraHTTPError,
    base_of,
    check_params,
    csv_param,
    expand_set,
    int_param,
    json_body,
    ok,
    sim_of,
    version_of,
)
from jira_console.simulator.routes_properties import attach, property_wanted

SEARCH_JQL_PARAMS = {
    "jql",
    "nextPageToken",
    "maxResults",
    "fields",
    "expand",
    "properties",
    "fieldsByKeys",
    "failFast",
    "reconcileIssues",
}
SEARCH_PARAMS = {
    "jql",
    "startAt",
    "maxResults",
    "validateQuery",
    "fields",
    "expand",
    "properties",
    "fieldsByKeys",
}
MAX_RESULT_WINDOW = 10_000
KEYS_ONLY_PAGE = 5_000
"""Cloud's page size clamp when a search asks for ids or keys only (its OpenAPI: "max 5000 issues")."""


def _parse_jql(text: str) -> jql.Query:
    try:
        return jql.parse(text)
    except jql.JqlError as exc:
        raise JiraHTTPError(400, exc.messages) from None


def _run_search(
    sim: Any, query: jql.Query, *, validate: bool = True, warnings: list[str] | None = None
) -> list[Any]:
    try:
        found = list(sim.site.search(query, validate=validate, warnings=warnings))
    except jql.JqlError as exc:
        raise JiraHTTPError(400, exc.messages) from None
    lag = sim.faults.settings.index_lag_ms
    if lag > 0:  # issues created lately are not indexed yet
        indexed_before = sim.site.lifecycle.now_ms() - lag
        found = [i for i in found if i.created <= indexed_before]
    return found


def _token(offset: int, jql_text: str) -> str:
    digest = hashlib.sha256(jql_text.encode()).hexdigest()[:12]
    raw = json.dumps({"o": offset, "q": digest, "t": int(time.time())}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str, jql_text: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["q"] != hashlib.sha256(jql_text.encode()).hexdigest()[:12]:
            raise ValueError("token of another query")
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise JiraHTTPError(400, ["The provided next page token is invalid or expired."]) from None


def _envelope_extras(sim: Any, issues: list[dict[str, Any]], expand: set[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for item in issues:
        merged.update(item.get("fields", {}))
    out: dict[str, Any] = {}
    if "names" in expand:
        out["names"] = render.names_for(sim.site, merged)
    if "schema" in expand:
        out["schema"] = render.schema_for(sim.site, merged)
    return out


async def search_jql(request: Request) -> Response:
    """Cloud's enhanced search: token paging, no total, ``fields`` defaults to id only."""
    sim = sim_of(request)
    v = version_of(request)
    if sim.config.flavor != "cloud":
        raise JiraHTTPError(404, ["null for uri: " + request.url.path])
    check_params(request, SEARCH_JQL_PARAMS)
    if request.method == "POST":
        body = await json_body(request, allowed=SEARCH_JQL_PARAMS)
        jql_text = body.get("jql", "")
        token = body.get("nextPageToken")
        max_results = body.get("maxResults", 50)
        fields = body.get("fields")
        expand = expand_set(body.get("expand"))
        reconcile = body.get("reconcileIssues") or []
        wanted = property_wanted(body.get("properties"))
        if fields is not None and not isinstance(fields, list):
            raise JiraHTTPError(400, ["fields must be a list of strings"])
    else:
        jql_text = request.query_params.get("jql", "")
        token = request.query_params.get("nextPageToken")
        max_results = int_param(request, "maxResults", 50)
        fields = csv_param(request, "fields")
        expand = expand_set(request.query_params.get("expand"))
        reconcile = csv_param(request, "reconcileIssues") or []
        wanted = property_wanted(csv_param(request, "properties"))
    if not isinstance(max_results, int) or max_results < 0:
        raise JiraHTTPError(400, ["maxResults must be a non-negative integer."])
    if len(reconcile) > 50:
        raise JiraHTTPError(400, ["reconcileIssues accepts at most 50 issue ids."])
    query = _parse_jql(jql_text)
    if query.where is None:
        raise JiraHTTPError(
            400,
            ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."],
        )
    offset = _untoken(token, jql_text) if token else 0
    # Cloud serves its largest pages when only ids or keys are asked for.
    keys_only = fields is None or set(fields) <= {"id", "key"}
    size = min(max_results, KEYS_ONLY_PAGE if keys_only else sim.config.page_size)
    matched = _run_search(sim, query)
    page = matched[offset : offset + size]
    base = base_of(request)
    with sim.site.lock:
        if fields is None:
            issues = [attach(sim, i, {"id": str(i.id)}, wanted) for i in page]
        else:
            issues = [
                attach(
                    sim,
                    i,
                    render.issue_json(sim.site, i, base, v, fields, expand, navigable_default=False),
                    wanted,
                )
                for i in page
            ]
    is_last = offset + len(page) >= len(matched)
    out: dict[str, Any] = {"issues": issues, "isLast": is_last}
    if not is_last:
        out["nextPageToken"] = _token(offset + len(page), jql_text)
    out.update(_envelope_extras(sim, issues, expand))
    return ok(out)


async def search_legacy(request: Request) -> Response:
    """Server's offset search; on Cloud the endpoint is gone (410) and calling it is a violation."""
    sim = sim_of(request)
    v = version_of(request)
    if sim.config.flavor == "cloud":
        sim.violate("removed_endpoint", request, "the /search endpoint was removed on Cloud (CHANGE-2046)")
        raise JiraHTTPError(
            410,
            [
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
                "API. A full migration guideline is available at "
                "https://developer.atlassian.com/changelog/#CHANGE-2046"
            ],
        )
    check_params(request, SEARCH_PARAMS)
    if request.method == "POST":
        body = await json_body(request, allowed=SEARCH_PARAMS)
        jql_text = body.get("jql", "")
        start_at = body.get("startAt", 0)
        max_results = body.get("maxResults", 50)
        fields = body.get("fields")
        expand = expand_set(body.get("expand"))
        wanted = property_wanted(body.get("properties"))
        validate = body.get("validateQuery", True)
    else:
        jql_text = request.query_params.get("jql", "")
        start_at = int_param(request, "startAt", 0)
        max_results = int_param(request, "maxResults", 50)
        fields = csv_param(request, "fields")
        expand = expand_set(request.query_params.get("expand"))
        wanted = property_wanted(csv_param(request, "properties"))
        validate = request.query_params.get("validateQuery", "true")
    if not isinstance(start_at, int) or start_at < 0 or not isinstance(max_results, int) or max_results < 0:
        raise JiraHTTPError(400, ["startAt and maxResults must be non-negative integers."])
    query = _parse_jql(jql_text)
    if start_at >= MAX_RESULT_WINDOW:
        raise JiraHTTPError(
            400,
            [
                f"The requested startAt {start_at} is beyond the maximum result window of "
                f"{MAX_RESULT_WINDOW}. Narrow the query."
            ],
        )
    size = min(max_results, sim.config.page_size, MAX_RESULT_WINDOW - start_at)
    # validateQuery=false: what strict validation refuses (a key of no issue) becomes a warning.
    warnings: list[str] = []
    lenient = str(validate).lower() in ("false", "warn", "none")
    matched = _run_search(sim, query, validate=not lenient, warnings=warnings)
    page = matched[start_at : start_at + size]
    base = base_of(request)
    with sim.site.lock:
        issues = [
            attach(
                sim,
                i,
                render.issue_json(sim.site, i, base, v, fields, expand, navigable_default=True),
                wanted,
            )
            for i in page
        ]
    out: dict[str, Any] = {
        "expand": "names,schema",
        "startAt": start_at,
        "maxResults": size,
        "total": len(matched),
        "issues": issues,
    }
    if warnings:
        out["warningMessages"] = warnings
    out.update(_envelope_extras(sim, issues, expand))
    return ok(out)


async def approximate_count(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    if sim.config.flavor != "cloud":
        raise JiraHTTPError(404, ["null for uri: " + request.url.path])
    body = await json_body(request, allowed={"jql"})
    query = _parse_jql(body.get("jql", ""))
    if query.where is None:
        raise JiraHTTPError(400, ["Unbounded JQL queries are not allowed here."])
    return ok({"count": len(_run_search(sim, query))})


ROUTES = [
    Route("/rest/api/{v}/search/jql", search_jql, methods=["GET", "POST"]),
    Route("/rest/api/{v}/search/approximate-count", approximate_count, methods=["POST"]),
    Route("/rest/api/{v}/search", search_legacy, methods=["GET", "POST"]),
]
