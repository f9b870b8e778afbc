"""Workflow reads: ``GET /project/{key}/statuses`` (the statuses each issue type may have, with their
categories), and the screens of the transitions that have one (the move to Done asks for a resolution,
which Jira fills with its default when none is sent)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jira_console.simulator.http import JiraHTTPError, base_of, ok, sim_of, version_of
from jira_console.simulator.model import ISSUE_TYPES, STATUSES

RESOLUTIONS = [("10000", "Done"), ("10001", "Won't Do"), ("10002", "Duplicate")]

SCREENS: dict[str, dict[str, Any]] = {
    "41": {
        "resolution": {
            "required": True,
            "schema": {"type": "resolution", "system": "resolution"},
            "name": "Resolution",
            "key": "resolution",
            "hasDefaultValue": True,
            "operations": ["set"],
            "allowedValues": [{"id": rid, "name": name} for rid, name in RESOLUTIONS],
        }
    }
}
"""Transition id -> the fields of its screen (as ``GET transitions?expand=transitions.fields`` shows them)."""


def _status(base: str, v: str, s: Any) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/{v}/status/{s.id}",
        "name": s.name,
        "id": s.id,
        "statusCategory": {"id": s.category_id, "key": s.category_key, "name": s.category_name},
    }


async def project_statuses(request: Request) -> Response:
    sim = sim_of(request)
    v = version_of(request)
    key = request.path_params["key"].upper()
    if key not in sim.site.projects:
        raise JiraHTTPError(404, [f"No project could be found with key '{key}'."])
    base = base_of(request)
    return ok(
        [
            {
                "self": f"{base}/rest/api/{v}/issuetype/{tid}",
                "id": tid,
                "name": name,
                "subtask": sub,
                "statuses": [_status(base, v, s) for s in STATUSES],
            }
            for tid, name, sub in ISSUE_TYPES
        ]
    )


ROUTES = [Route("/rest/api/{v}/project/{key}/statuses", project_statuses, methods=["GET"])]
