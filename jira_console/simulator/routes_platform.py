"""Jira platform REST routes (``/rest/api/{2,3}/...``): server info, search, issues, fields, users."""

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
from jira_console.simulator.edits import EditError
from jira_console.simulator.http import (
    JiraHTTPError,
    base_of,
    check_params,
    csv_param,
    int_param,
    json_body,
    no_content,
    not_found_issue,
    ok,
    sim_of,
    version_of,
)

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
ISSUE_GET_PARAMS = {"fields", "fieldsByKeys", "expand", "properties", "updateHistory", "failFast"}
ISSUE_PUT_PARAMS = {"notifyUsers", "overrideScreenSecurity", "overrideEditableFlag", "returnIssue", "expand"}
MAX_RESULT_WINDOW = 10_000


async def server_info(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    cloud = sim.config.flavor == "cloud"
    now = int(time.time() * 1000)
    return ok(
        {
            "baseUrl": base_of(request),
            "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.4",
            "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 4],
            "deploymentType": "Cloud" if cloud else "Server",
            "buildNumber": 100284 if cloud else 9120004,
            "buildDate": "2025-06-02T00:00:00.000+0000",
            "serverTime": render.jira_time(now, sim.site.tz),
            "scmInfo": "0e8c0b0c9f7f3d1b6a4b2c1d0e9f8a7b6c5d4e3f",
            "serverTitle": "Jira",
        }
    )


async def myself(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    body = render.user_json(sim.site, sim.site.me, base_of(request))
    return ok(body)


# The operator account holds these; anything else asked for is reported as not held (like Jira does).
_PERMISSIONS = {
    "BROWSE_PROJECTS": "10",
    "EDIT_ISSUES": "12",
    "TRANSITION_ISSUES": "46",
    "CREATE_ISSUES": "11",
    "SCHEDULE_ISSUES": "28",
    "ASSIGN_ISSUES": "13",
}


async def my_permissions(request: Request) -> Response:
    """``/mypermissions?permissions=A,B``: Cloud requires the parameter (400 without it)."""
    sim = sim_of(request)
    version_of(request)
    asked = [p for p in (request.query_params.get("permissions") or "").split(",") if p]
    if not asked and sim.config.flavor == "cloud":
        raise JiraHTTPError(400, ["The 'permissions' query parameter is required."])
    keys = asked or list(_PERMISSIONS)
    return ok(
        {
            "permissions": {
                key: {
                    "id": _PERMISSIONS.get(key, "0"),
                    "key": key,
                    "name": key.replace("_", " ").title(),
                    "type": "PROJECT",
                    "description": "",
                    "havePermission": key in _PERMISSIONS,
                }
                for key in keys
            }
        }
    )


async def user(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    if sim.config.flavor == "cloud":
        ident = request.query_params.get("accountId")
        found = sim.site.user_by_account(ident) if ident else None
        if ident is None and request.query_params.get("username"):
            raise JiraHTTPError(400, ["The query parameter 'username' is not supported in GDPR strict mode."])
    else:
        ident = request.query_params.get("username") or request.query_params.get("key")
        found = sim.site.user(ident) if ident else None
    if ident is None:
        raise JiraHTTPError(
            400, ["Either the 'accountId' or the 'username' query parameter must be provided."]
        )
    if found is None:
        raise JiraHTTPError(404, [f"The user with account ID '{ident}' does not exist."])
    return ok(render.user_json(sim.site, found, base_of(request)))


async def fields_list(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    return ok([d.describe() for d in sim.site.field_defs.values()])


def _parse_jql(text: str) -> jql.Query:
    try:
        return jql.parse(text)
    except jql.JqlError as exc:
        raise JiraHTTPError(400, [str(exc)]) from None


def _run_search(sim: Any, query: jql.Query) -> list[Any]:
    try:
        return sim.site.search(query)
    except jql.JqlError as exc:
        raise JiraHTTPError(400, [str(exc)]) from None


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


def _expand_set(raw: Any) -> set[str]:
    if raw is None:
        return set()
    if isinstance(raw, list):
        return {str(x).strip() for x in raw}
    return {x.strip() for x in str(raw).split(",") if x.strip()}


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
        expand = _expand_set(body.get("expand"))
        reconcile = body.get("reconcileIssues") or []
        if fields is not None and not isinstance(fields, list):
            raise JiraHTTPError(400, ["fields must be a list of strings"])
    else:
        jql_text = request.query_params.get("jql", "")
        token = request.query_params.get("nextPageToken")
        max_results = int_param(request, "maxResults", 50)
        fields = csv_param(request, "fields")
        expand = _expand_set(request.query_params.get("expand"))
        reconcile = csv_param(request, "reconcileIssues") or []
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
    size = min(max_results, sim.config.page_size)
    matched = _run_search(sim, query)
    page = matched[offset : offset + size]
    base = base_of(request)
    with sim.site.lock:
        if fields is None:
            issues = [{"id": str(i.id)} for i in page]
        else:
            issues = [
                render.issue_json(sim.site, i, base, v, fields, expand, navigable_default=False) for i in page
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
        expand = _expand_set(body.get("expand"))
    else:
        jql_text = request.query_params.get("jql", "")
        start_at = int_param(request, "startAt", 0)
        max_results = int_param(request, "maxResults", 50)
        fields = csv_param(request, "fields")
        expand = _expand_set(request.query_params.get("expand"))
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
    matched = _run_search(sim, query)
    page = matched[start_at : start_at + size]
    base = base_of(request)
    with sim.site.lock:
        issues = [
            render.issue_json(sim.site, i, base, v, fields, expand, navigable_default=True) for i in page
        ]
    out: dict[str, Any] = {
        "expand": "names,schema",
        "startAt": start_at,
        "maxResults": size,
        "total": len(matched),
        "issues": issues,
    }
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


def _issue_or_404(sim: Any, key: str) -> Any:
    issue = sim.site.find(key)
    if issue is None:
        raise not_found_issue()
    return issue


async def issue_get(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, ISSUE_GET_PARAMS)
    issue = _issue_or_404(sim, request.path_params["key"])
    with sim.site.lock:
        body = render.issue_json(
            sim.site,
            issue,
            base_of(request),
            v,
            csv_param(request, "fields"),
            _expand_set(request.query_params.get("expand")),
            navigable_default=True,
        )
    return ok(body)


async def issue_put(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, ISSUE_PUT_PARAMS)
    body = await json_body(
        request, allowed={"fields", "update", "historyMetadata", "properties", "transition"}
    )
    _issue_or_404(sim, request.path_params["key"])
    try:
        sim.site.edit(
            request.path_params["key"], body.get("fields"), body.get("update"), version=v, by=sim.site.me.name
        )
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None
    return no_content()


async def issue_delete(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    check_params(request, {"deleteSubtasks"})
    _issue_or_404(sim, request.path_params["key"])
    sim.site.delete(request.path_params["key"], sim.site.me.name)
    return no_content()


async def issue_create(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, {"updateHistory"})
    body = await json_body(
        request, allowed={"fields", "update", "historyMetadata", "properties", "transition"}
    )
    fields = body.get("fields") or {}
    project = fields.get("project") or {}
    key = project.get("key") if isinstance(project, dict) else None
    if key is None and isinstance(project, dict) and "id" in project:
        idx = int(project["id"]) - 10000
        key = sim.site.projects[idx] if 0 <= idx < len(sim.site.projects) else None
    if key is None:
        raise JiraHTTPError(400, [], {"project": "Specify a valid project ID or key"})
    try:
        issue = sim.site.create(key, fields, version=v, by=sim.site.me.name)
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None
    return ok(
        {"id": str(issue.id), "key": issue.key, "self": f"{base_of(request)}/rest/api/{v}/issue/{issue.id}"},
        201,
    )


async def bulkfetch(request: Request) -> Response:
    """Cloud ``POST /issue/bulkfetch``: at most 100 ids or keys; ``expand`` is a list here."""
    sim = sim_of(request)
    v = version_of(request)
    if sim.config.flavor != "cloud":
        raise JiraHTTPError(404, ["null for uri: " + request.url.path])
    body = await json_body(
        request, allowed={"issueIdsOrKeys", "fields", "expand", "properties", "fieldsByKeys"}
    )
    ids = body.get("issueIdsOrKeys")
    expand = body.get("expand", [])
    if not isinstance(ids, list) or not ids:
        raise JiraHTTPError(400, ["issueIdsOrKeys must be a non-empty list."])
    if len(ids) > 100:
        raise JiraHTTPError(400, ["You can request at most 100 issues."])
    if not isinstance(expand, list):
        sim.violate("bad_body", request, "bulkfetch expand must be a list")
        raise JiraHTTPError(400, ["expand must be an array of strings."])
    issues: list[dict[str, Any]] = []
    errors: list[str] = []
    base = base_of(request)
    with sim.site.lock:
        for ident in ids:
            issue = sim.site.find(str(ident))
            if issue is None:
                errors.append(str(ident))
                continue
            issues.append(
                render.issue_json(
                    sim.site, issue, base, v, body.get("fields"), set(expand), navigable_default=True
                )
            )
    return ok(
        {
            "expand": "schema,names",
            "issues": issues,
            "issueErrors": [
                {"errorMessages": [f"Issue does not exist or you do not have permission to see it: {e}"]}
                for e in errors
            ],
        }
    )


async def transitions_get(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(
        request,
        {
            "expand",
            "transitionId",
            "skipRemoteOnlyCondition",
            "includeUnavailableTransitions",
            "sortByOpsBarAndStatus",
        },
    )
    issue = _issue_or_404(sim, request.path_params["key"])
    with sim.site.lock:
        return ok(render.transitions_json(sim.site, issue, base_of(request), v))


async def transitions_post(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    body = await json_body(
        request, allowed={"transition", "fields", "update", "historyMetadata", "properties"}
    )
    _issue_or_404(sim, request.path_params["key"])
    transition = body.get("transition")
    if not isinstance(transition, dict) or "id" not in transition:
        raise JiraHTTPError(400, ["Missing 'transition' identifier"])
    try:
        sim.site.transition(
            request.path_params["key"],
            str(transition["id"]),
            body.get("fields"),
            version=v,
            by=sim.site.me.name,
        )
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None
    return no_content()


async def editmeta(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, {"overrideScreenSecurity", "overrideEditableFlag"})
    issue = _issue_or_404(sim, request.path_params["key"])
    with sim.site.lock:
        return ok(render.editmeta_json(sim.site, issue, base_of(request), v))


async def changelog(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    if sim.config.flavor != "cloud":
        raise JiraHTTPError(404, ["null for uri: " + request.url.path])
    issue = _issue_or_404(sim, request.path_params["key"])
    start = int_param(request, "startAt", 0)
    size = min(int_param(request, "maxResults", 100), 100)
    with sim.site.lock:
        values = [render.history_json(sim.site, h, base_of(request)) for h in issue.changelog]
    page = values[start : start + size]
    return ok(
        {
            "self": str(request.url),
            "maxResults": size,
            "startAt": start,
            "total": len(values),
            "isLast": start + len(page) >= len(values),
            "values": page,
        }
    )


ROUTES = [
    Route("/rest/api/{v}/serverInfo", server_info),
    Route("/rest/api/{v}/myself", myself),
    Route("/rest/api/{v}/mypermissions", my_permissions),
    Route("/rest/api/{v}/user", user),
    Route("/rest/api/{v}/field", fields_list),
    Route("/rest/api/{v}/search/jql", search_jql, methods=["GET", "POST"]),
    Route("/rest/api/{v}/search/approximate-count", approximate_count, methods=["POST"]),
    Route("/rest/api/{v}/search", search_legacy, methods=["GET", "POST"]),
    Route("/rest/api/{v}/issue", issue_create, methods=["POST"]),
    Route("/rest/api/{v}/issue/bulkfetch", bulkfetch, methods=["POST"]),
    Route("/rest/api/{v}/issue/{key}", issue_get, methods=["GET"]),
    Route("/rest/api/{v}/issue/{key}", issue_put, methods=["PUT"]),
    Route("/rest/api/{v}/issue/{key}", issue_delete, methods=["DELETE"]),
    Route("/rest/api/{v}/issue/{key}/transitions", transitions_get, methods=["GET"]),
    Route("/rest/api/{v}/issue/{key}/transitions", transitions_post, methods=["POST"]),
    Route("/rest/api/{v}/issue/{key}/editmeta", editmeta),
    Route("/rest/api/{v}/issue/{key}/changelog", changelog),
]
