"""Agile 1.0 routes (boards, sprints, moves) and webhook registration (admin and Cloud dynamic)."""

from __future__ import annotations

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
    csv_param,
    int_param,
    json_body,
    no_content,
    ok,
    sim_of,
    version_of,
)


def _page(values: list[Any], start: int, size: int) -> dict[str, Any]:
    page = values[start : start + size]
    return {
        "maxResults": size,
        "startAt": start,
        "total": len(values),
        "isLast": start + len(page) >= len(values),
        "values": page,
    }


def _paging(request: Request, cap: int = 50) -> tuple[int, int]:
    start = int_param(request, "startAt", 0)
    size = min(max(int_param(request, "maxResults", 50), 0), cap)
    return start, size


async def boards(request: Request) -> Response:
    sim = sim_of(request)
    base = base_of(request)
    start, size = _paging(request)
    wanted = request.query_params.get("projectKeyOrId")
    values = [
        {
            "id": b.id,
            "self": f"{base}/rest/agile/1.0/board/{b.id}",
            "name": b.name,
            "type": b.type,
            "location": {
                "projectId": 10000 + sim.site.projects.index(b.project),
                "projectKey": b.project,
                "name": f"{b.project.title()} Project",
                "projectTypeKey": "software",
            },
        }
        for b in sim.site.boards.values()
        if wanted is None or wanted.upper() == b.project
    ]
    return ok(_page(values, start, size))


def _board(request: Request) -> Any:
    sim = sim_of(request)
    board = sim.site.boards.get(int(request.path_params["board_id"]))
    if board is None:
        raise JiraHTTPError(
            404,
            [
                f"Board {request.path_params['board_id']} does not exist or you do not have "
                "permission to see it."
            ],
        )
    return board


async def board_get(request: Request) -> Response:
    board = _board(request)
    base = base_of(request)
    return ok(
        {
            "id": board.id,
            "self": f"{base}/rest/agile/1.0/board/{board.id}",
            "name": board.name,
            "type": board.type,
        }
    )


async def board_sprints(request: Request) -> Response:
    sim = sim_of(request)
    board = _board(request)
    start, size = _paging(request)
    states = set(csv_param(request, "state") or ["future", "active", "closed"])
    order = {"closed": 0, "active": 1, "future": 2}
    with sim.site.lock:
        sprints = sorted(
            (s for s in sim.site.sprints.values() if s.board_id == board.id and s.state in states),
            key=lambda s: (order[s.state], s.sequence),
        )
        values = [render.sprint_json(sim.site, s, base_of(request)) for s in sprints]
    return ok(_page(values, start, size))


def _sprint(request: Request) -> Any:
    sim = sim_of(request)
    sprint = sim.site.sprints.get(int(request.path_params["sprint_id"]))
    if sprint is None:
        raise JiraHTTPError(404, [f"Sprint with id {request.path_params['sprint_id']} does not exist."])
    return sprint


async def sprint_get(request: Request) -> Response:
    sim = sim_of(request)
    return ok(render.sprint_json(sim.site, _sprint(request), base_of(request)))


async def sprint_update(request: Request) -> Response:
    sim = sim_of(request)
    sprint = _sprint(request)
    body = await json_body(
        request,
        allowed={
            "name",
            "goal",
            "state",
            "startDate",
            "endDate",
            "completeDate",
            "id",
            "self",
            "originBoardId",
        },
    )
    try:
        sim.site.update_sprint(sprint.id, body, sim.site.me.name)
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None
    return ok(render.sprint_json(sim.site, sprint, base_of(request)))


def _issue_page(request: Request, query: str) -> Response:
    sim = sim_of(request)
    start, size = _paging(request)
    extra = request.query_params.get("jql")
    text = f"({query}) AND ({extra}) ORDER BY rank" if extra else f"{query} ORDER BY rank"
    try:
        matched = sim.site.search(jql.parse(text))
    except jql.JqlError as exc:
        raise JiraHTTPError(400, [str(exc)]) from None
    page = matched[start : start + size]
    base = base_of(request)
    with sim.site.lock:
        issues = [
            render.issue_json(
                sim.site, i, base, "2", csv_param(request, "fields"), set(), navigable_default=True
            )
            for i in page
        ]
    return ok(
        {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(matched),
            "issues": issues,
        }
    )


async def board_issues(request: Request) -> Response:
    board = _board(request)
    return _issue_page(request, f"project = {board.project}")


async def sprint_issues(request: Request) -> Response:
    sprint = _sprint(request)
    return _issue_page(request, f"sprint = {sprint.id}")


async def _move(request: Request, sprint_id: int | None) -> Response:
    sim = sim_of(request)
    body = await json_body(
        request, allowed={"issues", "rankBeforeIssue", "rankAfterIssue", "rankCustomFieldId"}
    )
    keys = body.get("issues")
    if not isinstance(keys, list) or not keys:
        raise JiraHTTPError(400, ["'issues' must be a non-empty list of issue keys or ids."])
    if len(keys) > 50:
        raise JiraHTTPError(400, ["At most 50 issues can be moved in one request."])
    try:
        sim.site.move_to_sprint(sprint_id, [str(k) for k in keys], sim.site.me.name)
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None
    return no_content()


async def sprint_move(request: Request) -> Response:
    return await _move(request, _sprint(request).id)


async def backlog_move(request: Request) -> Response:
    return await _move(request, None)


# ---------------------------------------------------------------- webhook registration
def _admin_json(base: str, t: Any) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/webhooks/1.0/webhook/{t.id}",
        "name": t.name,
        "url": t.url,
        "events": t.events,
        "filters": {"issue-related-events-section": t.jql or ""},
        "enabled": t.enabled,
        "excludeBody": False,
        "lastUpdated": int(time.time() * 1000),
    }


_ADMIN_BODY = {"name", "url", "events", "filters", "secret", "enabled", "excludeBody", "description"}


async def _admin_body(request: Request) -> tuple[dict[str, Any], str | None]:
    """A registration's or an update's body, and its JQL filter (None: none)."""
    body = await json_body(request, allowed=_ADMIN_BODY)
    if not body.get("url") or not isinstance(body.get("events", []), list):
        raise JiraHTTPError(400, ["A webhook needs 'url' and a list of 'events'."])
    return body, (body.get("filters") or {}).get("issue-related-events-section") or None


async def admin_webhooks(request: Request) -> Response:
    sim = sim_of(request)
    base = base_of(request)
    if request.method == "GET":
        return ok([_admin_json(base, t) for t in sim.hooks.targets.values() if t.kind == "admin"])
    body, filt = await _admin_body(request)
    try:
        target = sim.hooks.add(
            body["url"],
            secret=body.get("secret"),
            events=body.get("events", []),
            jql=filt,
            name=body.get("name", ""),
            kind="admin",
        )
    except jql.JqlError as exc:
        raise JiraHTTPError(400, [str(exc)]) from None
    return ok(_admin_json(base, target), 201)


async def admin_webhook_one(request: Request) -> Response:
    sim = sim_of(request)
    tid = int(request.path_params["hook_id"])
    target = sim.hooks.targets.get(tid)
    if target is None or target.kind != "admin":
        raise JiraHTTPError(404, [f"Webhook {tid} does not exist."])
    if request.method == "DELETE":
        sim.hooks.remove(tid)
        return no_content()
    if request.method == "PUT":  # an update replaces what the body gives; a secret left out is kept
        body, filt = await _admin_body(request)
        try:
            target = sim.hooks.update(
                tid, url=body["url"], events=body.get("events", []), jql=filt,
                name=body.get("name", target.name), secret=body.get("secret", target.secret),
            )  # fmt: skip
        except jql.JqlError as exc:
            raise JiraHTTPError(400, [str(exc)]) from None
    return ok(_admin_json(base_of(request), target))


def _cloud_only(request: Request) -> None:
    version_of(request)
    if sim_of(request).config.flavor != "cloud":
        raise JiraHTTPError(404, ["null for uri: " + request.url.path])


async def dynamic_webhooks(request: Request) -> Response:
    sim = sim_of(request)
    _cloud_only(request)
    if request.method == "GET":
        start, size = _paging(request, 100)
        values = [
            {
                "id": t.id,
                "jqlFilter": t.jql or "",
                "events": t.events,
                "expirationDate": t.expiration,
                "url": t.url,
            }
            for t in sim.hooks.targets.values()
            if t.kind == "dynamic"
        ]
        return ok(_page(values, start, size))
    if request.method == "DELETE":
        body = await json_body(request, allowed={"webhookIds"})
        for tid in body.get("webhookIds", []):
            sim.hooks.remove(int(tid))
        return Response(status_code=202)
    body = await json_body(request, allowed={"url", "webhooks"})
    if not body.get("url") or not isinstance(body.get("webhooks"), list):
        raise JiraHTTPError(400, ["'url' and a list of 'webhooks' are required."])
    results: list[dict[str, Any]] = []
    now = int(time.time() * 1000)
    for spec in body["webhooks"]:
        try:
            target = sim.hooks.add(
                body["url"],
                events=list(spec.get("events", [])),
                jql=spec.get("jqlFilter"),
                kind="dynamic",
                expiration=now + 30 * 86_400_000,
            )
            results.append({"createdWebhookId": target.id})
        except jql.JqlError as exc:
            results.append({"errors": [str(exc)]})
    return ok({"webhookRegistrationResult": results})


async def dynamic_refresh(request: Request) -> Response:
    sim = sim_of(request)
    _cloud_only(request)
    body = await json_body(request, allowed={"webhookIds"})
    ids = [int(t) for t in body.get("webhookIds", [])]
    expiration = sim.hooks.refresh(ids)
    return ok({"expirationDate": expiration})


ROUTES = [
    Route("/rest/agile/1.0/board", boards),
    Route("/rest/agile/1.0/board/{board_id:int}", board_get),
    Route("/rest/agile/1.0/board/{board_id:int}/sprint", board_sprints),
    Route("/rest/agile/1.0/board/{board_id:int}/issue", board_issues),
    Route("/rest/agile/1.0/sprint/{sprint_id:int}", sprint_get, methods=["GET"]),
    Route("/rest/agile/1.0/sprint/{sprint_id:int}", sprint_update, methods=["POST"]),
    Route("/rest/agile/1.0/sprint/{sprint_id:int}/issue", sprint_issues, methods=["GET"]),
    Route("/rest/agile/1.0/sprint/{sprint_id:int}/issue", sprint_move, methods=["POST"]),
    Route("/rest/agile/1.0/backlog/issue", backlog_move, methods=["POST"]),
    Route("/rest/webhooks/1.0/webhook", admin_webhooks, methods=["GET", "POST"]),
    Route("/rest/webhooks/1.0/webhook/{hook_id:int}", admin_webhook_one, methods=["GET", "PUT", "DELETE"]),
    Route("/rest/api/{v}/webhook", dynamic_webhooks, methods=["GET", "POST", "DELETE"]),
    Route("/rest/api/{v}/webhook/refresh", dynamic_refresh, methods=["PUT"]),
]
