"""Boards as projects are managed: company-managed projects have a ``scrum`` board that estimates with the
classic "Story Points" field, team-managed ones a ``simple`` board that estimates with "Story point
estimate" (``SimConfig.company_managed``); ``GET /rest/agile/1.0/board/{id}/configuration`` says which
field a board estimates with (``estimation.field``), as real Jira does. Cloud's native Team field gets its
values here too (deterministic, so the seeded data of every other field stays as it was)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jira_console.simulator.http import JiraHTTPError, base_of, ok, sim_of
from jira_console.simulator.model import ATLASSIAN_TEAMS, FIELD_IDS

if TYPE_CHECKING:
    from jira_console.simulator.state import Site


def configure_boards(site: Site) -> None:
    """After generation: board types, which story-points field company-managed issues use, and the
    native Team of Cloud issues."""
    if site.flavor != "cloud":
        return
    for issue in site.issues.values():
        # Every fourth issue has no team, like real backlogs.
        pick = issue.number % (len(ATLASSIAN_TEAMS) + 1)
        issue.atlassian_team = ATLASSIAN_TEAMS[pick - 1][0] if pick else None
    company = {p.upper() for p in site.cfg.company_managed}
    if not company:
        return
    classic = FIELD_IDS["cloud"]["classic_story_points"]
    site.field_defs[classic] = dataclasses.replace(site.field_defs[classic], editable=True)
    for board in site.boards.values():
        board.type = "scrum" if board.project in company else "simple"
    for issue in site.issues.values():
        if issue.project in company:
            issue.classic_story_points, issue.story_points = issue.story_points, None


def estimation_field(site: Site, board: Any) -> tuple[str, str]:
    """(field id, display name) a board estimates with."""
    ids = FIELD_IDS[site.flavor]
    company = {p.upper() for p in site.cfg.company_managed}
    if site.flavor == "cloud" and board.project in company:
        field_id = ids["classic_story_points"]
    else:
        field_id = ids["story_points"]
    return field_id, site.field_defs[field_id].name


async def board_configuration(request: Request) -> Response:
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
    base = base_of(request)
    field_id, name = estimation_field(sim.site, board)
    return ok(
        {
            "id": board.id,
            "name": board.name,
            "type": board.type,
            "self": f"{base}/rest/agile/1.0/board/{board.id}/configuration",
            "location": {"type": "project", "key": board.project},
            "filter": {"id": str(10000 + board.id), "self": f"{base}/rest/api/2/filter/{10000 + board.id}"},
            "columnConfig": {"columns": [], "constraintType": "issueCount"},
            "estimation": {"type": "field", "field": {"fieldId": field_id, "displayName": name}},
            "ranking": {"rankCustomFieldId": 10019},
        }
    )


ROUTES = [Route("/rest/agile/1.0/board/{board_id:int}/configuration", board_configuration)]
