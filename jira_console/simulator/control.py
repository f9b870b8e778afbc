"""``/_sim/...`` control endpoints: the Python control API over HTTP (for the demo and other processes)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jira_console.simulator.edits import EditError
from jira_console.simulator.http import JiraHTTPError, json_body, no_content, ok, sim_of


async def faults(request: Request) -> Response:
    sim = sim_of(request)
    if request.method == "DELETE":
        sim.faults.clear()
    elif request.method == "POST":
        body = await json_body(request)
        try:
            sim.faults.set(**body)
        except TypeError as exc:
            raise JiraHTTPError(400, [str(exc)]) from None
    return ok(sim.faults.as_dict())


async def violations(request: Request) -> Response:
    sim = sim_of(request)
    if request.method == "DELETE":
        sim.clear_violations()
        return no_content()
    return ok(sim.violations)


async def requests_log(request: Request) -> Response:
    sim = sim_of(request)
    return ok({"count": len(sim.requests), "requests": sim.requests[-1000:]})


async def issue_state(request: Request) -> Response:
    sim = sim_of(request)
    try:
        return ok(sim.issue(request.path_params["key"]))
    except KeyError:
        raise JiraHTTPError(404, ["no such issue"]) from None


async def edit(request: Request) -> Response:
    sim = sim_of(request)
    body = await json_body(request, allowed={"key", "fields", "by"})
    try:
        sim.edit_issue(body["key"], fields=body.get("fields") or {}, by=body.get("by", "other"))
    except KeyError:
        raise JiraHTTPError(404, ["no such issue"]) from None
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None
    return no_content()


async def activity(request: Request) -> Response:
    sim = sim_of(request)
    if request.method == "DELETE":
        sim.stop_activity()
        return no_content()
    body = await json_body(request, allowed={"edits_per_second"})
    sim.start_activity(float(body.get("edits_per_second", 1.0)))
    return no_content()


async def webhook_targets(request: Request) -> Response:
    sim = sim_of(request)
    body = await json_body(request, allowed={"url", "secret", "duplicate_rate", "reorder"})
    target = sim.add_webhook_target(
        body["url"],
        secret=body.get("secret"),
        duplicate_rate=float(body.get("duplicate_rate", 0.0)),
        reorder=bool(body.get("reorder", False)),
    )
    return ok({"id": target.id}, 201)


async def deliveries(request: Request) -> Response:
    sim = sim_of(request)
    out: list[dict[str, Any]] = []
    for d in sim.webhook_deliveries:
        out.append({k: (v.decode() if isinstance(v, bytes) else v) for k, v in d.items()})
    return ok(out)


ROUTES = [
    Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/_sim/violations", violations, methods=["GET", "DELETE"]),
    Route("/_sim/requests", requests_log),
    Route("/_sim/issue/{key}", issue_state),
    Route("/_sim/edit", edit, methods=["POST"]),
    Route("/_sim/activity", activity, methods=["POST", "DELETE"]),
    Route("/_sim/webhook-targets", webhook_targets, methods=["POST"]),
    Route("/_sim/webhook-deliveries", deliveries),
]
