"""Issue entity property REST routes (``/rest/api/{2,3}/issue/{issueIdOrKey}/properties[/{propertyKey}]``).

Cloud and Server/DC serve the same four operations: list the keys, get one (404 when absent), set one (201
created, 200 updated; the body is the value) and delete one (204; 404 when absent). None of them changes the
issue's ``updated`` or fires a webhook: entity properties are not issue fields.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jira_console.simulator import properties
from jira_console.simulator.edits import EditError
from jira_console.simulator.http import (
    JiraHTTPError,
    base_of,
    check_params,
    no_content,
    not_found_issue,
    ok,
    sim_of,
    version_of,
)


def _issue(sim: Any, request: Request) -> Any:
    issue = sim.site.find(request.path_params["key"])
    if issue is None:
        raise not_found_issue()
    return issue


def _absent(key: str) -> JiraHTTPError:
    return JiraHTTPError(404, [f"The property with key '{key}' does not exist."])


def property_wanted(raw: Any, *, limit: int | None = properties.MAX_REQUESTED_KEYS) -> list[str] | None:
    """A read's ``properties`` parameter as a key list (None when not asked); a bad one is a 400."""
    try:
        return properties.requested(raw, limit=limit)
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None


def property_list(raw: Any) -> dict[str, Any] | None:
    """The ``properties`` entity list of a create, edit or transition body; a bad one is a 400."""
    try:
        return properties.parse_entity_list(raw)
    except EditError as exc:
        raise JiraHTTPError(400, exc.messages, exc.errors) from None


def attach(sim: Any, issue: Any, body: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    """Add ``properties`` to a rendered issue when the read asked for any; callers hold the site lock."""
    if wanted:
        body["properties"] = properties.select(properties.of(sim.site, issue), wanted)
    return body


async def keys_get(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    check_params(request, set())
    with sim.site.lock:
        issue = _issue(sim, request)
        keys = sorted(properties.of(sim.site, issue))
        base = f"{base_of(request)}/rest/api/{v}/issue/{issue.key}/properties"
    return ok({"keys": [{"self": f"{base}/{quote(k, safe='')}", "key": k} for k in keys]})


async def property_get(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    check_params(request, set())
    key = request.path_params["prop"]
    with sim.site.lock:
        stored = properties.of(sim.site, _issue(sim, request))
        if key not in stored:
            raise _absent(key)
        return ok({"key": key, "value": stored[key]})


async def property_put(request: Request) -> Response:
    """The body is the value itself: any non-empty JSON document of at most 32,768 bytes."""
    sim = sim_of(request)
    version_of(request)
    check_params(request, set())
    raw = await request.body()
    if not raw.strip():
        sim.violate("bad_body", request, "empty property value")
        raise JiraHTTPError(400, ["The property value cannot be empty."])
    try:
        value = json.loads(raw)
    except ValueError as exc:
        sim.violate("bad_body", request, f"malformed JSON: {exc}")
        raise JiraHTTPError(400, ["The property value is not a valid JSON document."]) from None
    with sim.site.lock:
        issue = _issue(sim, request)
        try:
            created = properties.put(sim.site, issue, request.path_params["prop"], value)
        except EditError as exc:
            raise JiraHTTPError(400, exc.messages, exc.errors) from None
    return Response(status_code=201 if created else 200)


async def property_delete(request: Request) -> Response:
    sim = sim_of(request)
    version_of(request)
    check_params(request, set())
    key = request.path_params["prop"]
    with sim.site.lock:
        if not properties.remove(sim.site, _issue(sim, request), key):
            raise _absent(key)
    return no_content()


ROUTES = [
    Route("/rest/api/{v}/issue/{key}/properties", keys_get, methods=["GET"]),
    Route("/rest/api/{v}/issue/{key}/properties/{prop}", property_get, methods=["GET"]),
    Route("/rest/api/{v}/issue/{key}/properties/{prop}", property_put, methods=["PUT"]),
    Route("/rest/api/{v}/issue/{key}/properties/{prop}", property_delete, methods=["DELETE"]),
]
