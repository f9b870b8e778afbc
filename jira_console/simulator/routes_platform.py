"""Jira platform REST routes (``/rest/api/{2,3}/...``): server info, users, fields and issues."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jira_console.simulator import render
from jira_console.simulator.edits import EditError
from jira_console.simulator.http import (
    JiraHTTPError,
    base_of,
    check_params,
    csv_param,
    expand_set,
    int_param,
    json_body,
    no_content,
    not_found_issue,
    ok,
    sim_of,
    version_of,
)
from jira_console.simulator.routes_properties import attach, property_list, property_wanted

ISSUE_GET_PARAMS = {"fields", "fieldsByKeys", "expand", "properties", "updateHistory", "failFast"}
ISSUE_PUT_PARAMS = {"notifyUsers", "overrideScreenSecurity", "overrideEditableFlag", "returnIssue", "expand"}


async def server_info(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    cloud = sim.config.flavor == "cloud"
    now = sim.site.lifecycle.now_ms()
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


def _issue_or_404(sim: Any, key: str) -> Any:
    issue = sim.site.find(key)
    if issue is None:
        raise not_found_issue()
    return issue


async def issue_get(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, ISSUE_GET_PARAMS)
    wanted = property_wanted(request.query_params.getlist("properties") or None, limit=None)
    issue = _issue_or_404(sim, request.path_params["key"])
    with sim.site.lock:
        body = render.issue_json(
            sim.site,
            issue,
            base_of(request),
            v,
            csv_param(request, "fields"),
            expand_set(request.query_params.get("expand")),
            navigable_default=True,
        )
        attach(sim, issue, body, wanted)
    return ok(body)


async def issue_put(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, ISSUE_PUT_PARAMS)
    body = await json_body(
        request, allowed={"fields", "update", "historyMetadata", "properties", "transition"}
    )
    props = property_list(body.get("properties"))
    issue = _issue_or_404(sim, request.path_params["key"])
    notify = sim.notifications.check(request.query_params.get("notifyUsers"))
    try:
        sim.site.edit(
            request.path_params["key"],
            body.get("fields"),
            body.get("update"),
            version=v,
            by=sim.site.me.name,
            props=props,
        )
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None
    sim.notifications.record(issue.key, notify)
    return no_content()


async def issue_delete(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    check_params(request, {"deleteSubtasks"})
    _issue_or_404(sim, request.path_params["key"])
    sim.site.delete(request.path_params["key"], sim.site.me.name)
    return no_content()


CREATE_KEYS = {"fields", "update", "historyMetadata", "properties", "transition"}
"""What an issue create body (``IssueUpdateDetails``) may hold, alone or as an element of a bulk create."""
BULK_CREATE_LIMIT = 50


def _create_body_problem(body: Any) -> str | None:
    """Why Jira could not even read ``body`` as an ``IssueUpdateDetails`` (None when it can)."""
    if not isinstance(body, dict):
        return "an issue to create must be a JSON object"
    extra = sorted(set(body) - CREATE_KEYS)
    if extra:
        return f'Unrecognized field "{extra[0]}" (Class IssueUpdateBean), not marked as ignorable'
    for name in ("fields", "update"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name} must be a JSON object"
    return None


def _unreadable(sim: Any, request: Request, problem: str) -> JiraHTTPError:
    """Record a body Jira cannot deserialize (``bad_body``) and the 400 that answers it."""
    sim.violate("bad_body", request, problem)
    if problem.startswith("Unrecognized field"):
        return JiraHTTPError(400, [problem])
    return JiraHTTPError(400, [f"Can not deserialize the request body: {problem}."])


def create_one(sim: Any, body: dict[str, Any], v: str, base: str) -> dict[str, str]:
    """Create one issue from a readable create body (``POST /issue`` or one bulk element): the
    ``CreatedIssue`` ``{id, key, self}``. Jira's refusals are a :class:`JiraHTTPError` 400."""
    fields = body.get("fields") or {}
    props = property_list(body.get("properties"))
    project = fields.get("project") or {}
    key = project.get("key") if isinstance(project, dict) else None
    if key is None and isinstance(project, dict) and "id" in project:
        idx = int(project["id"]) - 10000 if str(project["id"]).isdigit() else -1
        key = sim.site.projects[idx] if 0 <= idx < len(sim.site.projects) else None
    if not isinstance(key, str):
        raise JiraHTTPError(400, [], {"project": "Specify a valid project ID or key"})
    try:
        issue = sim.site.create(key, fields, version=v, by=sim.site.me.name, props=props)
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None
    return {"id": str(issue.id), "key": issue.key, "self": f"{base}/rest/api/{v}/issue/{issue.id}"}


async def issue_create(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, {"updateHistory"})
    body = await json_body(request, allowed=CREATE_KEYS)
    problem = _create_body_problem(body)
    if problem is not None:
        raise _unreadable(sim, request, problem)
    return ok(create_one(sim, body, v, base_of(request)), 201)


async def issue_bulk_create(request: Request) -> Response:
    """``POST /issue/bulk``: up to 50 creates, each exactly as ``POST /issue`` makes it. Elements Jira
    refuses are reported by their index and do not stop the others; 201 when any was created, else 400."""
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, set())
    body = await json_body(request, allowed={"issueUpdates"})
    updates = body.get("issueUpdates")
    if not isinstance(updates, list):
        raise _unreadable(sim, request, "issueUpdates must be a JSON array")
    for element in updates:
        problem = _create_body_problem(element)
        if problem is not None:
            raise _unreadable(sim, request, problem)
    if not updates:
        raise JiraHTTPError(400, ["No issues to create were supplied: issueUpdates is empty."])
    if len(updates) > BULK_CREATE_LIMIT:
        raise JiraHTTPError(
            400,
            [f"You can create at most {BULK_CREATE_LIMIT} issues in one request; {len(updates)} were sent."],
        )
    base = base_of(request)
    issues: list[dict[str, str]] = []
    errors: list[dict[str, Any]] = []
    with sim.site.lock:
        for number, element in enumerate(updates):
            try:
                issues.append(create_one(sim, element, v, base))
            except JiraHTTPError as exc:
                errors.append(
                    {
                        "status": exc.status,
                        "elementErrors": {"errorMessages": exc.messages, "errors": exc.errors},
                        "failedElementNumber": number,
                    }
                )
    return ok({"issues": issues, "errors": errors}, 201 if issues else 400)


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
    wanted = property_wanted(body.get("properties"))
    issues: list[dict[str, Any]] = []
    errors: list[str] = []
    base = base_of(request)
    with sim.site.lock:
        for ident in ids:
            issue = sim.site.find(str(ident))
            if issue is None:
                continue  # not found or not visible: left out, not an issueError (the spec says so)
            if sim.site.lifecycle.fails(issue):
                errors.append(str(issue.id))
                continue
            rendered = render.issue_json(
                sim.site, issue, base, v, body.get("fields"), set(expand), navigable_default=True
            )
            issues.append(attach(sim, issue, rendered, wanted))
    return ok(
        {
            "expand": "schema,names",
            "issues": issues,
            "issueErrors": [
                {"id": e, "errorMessage": "The issue could not be read this time; try again."} for e in errors
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
    props = property_list(body.get("properties"))
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
            props=props,
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
    Route("/rest/api/{v}/issue", issue_create, methods=["POST"]),
    Route("/rest/api/{v}/issue/bulk", issue_bulk_create, methods=["POST"]),
    Route("/rest/api/{v}/issue/bulkfetch", bulkfetch, methods=["POST"]),
    Route("/rest/api/{v}/issue/{key}", issue_get, methods=["GET"]),
    Route("/rest/api/{v}/issue/{key}", issue_put, methods=["PUT"]),
    Route("/rest/api/{v}/issue/{key}", issue_delete, methods=["DELETE"]),
    Route("/rest/api/{v}/issue/{key}/transitions", transitions_get, methods=["GET"]),
    Route("/rest/api/{v}/issue/{key}/transitions", transitions_post, methods=["POST"]),
    Route("/rest/api/{v}/issue/{key}/editmeta", editmeta),
    Route("/rest/api/{v}/issue/{key}/changelog", changelog),
]
