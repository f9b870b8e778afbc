"""Rendering canonical state as each flavor and API version shows it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jira_console.simulator import richtext
from jira_console.simulator.contexts import hidden_fields
from jira_console.simulator.fields import FieldDef
from jira_console.simulator.model import (
    ATLASSIAN_TEAMS,
    COMPONENT_BY_NAME,
    FIELD_IDS,
    ISSUE_TYPE_BY_NAME,
    PRIORITY_BY_NAME,
    STATUS_BY_NAME,
    TEAM_OPTIONS,
    WORKFLOW,
    Issue,
    SimUser,
    Sprint,
)
from jira_console.simulator.routes_workflow import SCREENS

if TYPE_CHECKING:
    from jira_console.simulator.state import Site


def jira_time(ms: int | None, tz: ZoneInfo) -> str | None:
    """Epoch ms as Jira writes it: ``2025-01-31T14:05:09.123+1100`` in the user's zone."""
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + dt.strftime("%z")


def avatar_urls(base: str, seed: str) -> dict[str, str]:
    return {f"{n}x{n}": f"{base}/secure/useravatar?size={n}&ownerId={seed}" for n in (48, 24, 16, 32)}


def user_json(site: Site, user: SimUser | None, base: str) -> dict[str, Any] | None:
    """A user the way the flavor shows it (Cloud: accountId only; Server: name and key)."""
    if user is None:
        return None
    if site.flavor == "cloud":
        return {
            "self": f"{base}/rest/api/2/user?accountId={user.account_id}",
            "accountId": user.account_id,
            "emailAddress": user.email,
            "avatarUrls": avatar_urls(base, user.account_id),
            "displayName": user.display_name,
            "active": user.active,
            "timeZone": user.time_zone,
            "accountType": "atlassian",
        }
    return {
        "self": f"{base}/rest/api/2/user?username={user.name}",
        "name": user.name,
        "key": user.key,
        "emailAddress": user.email or f"{user.name}@example.com",
        "avatarUrls": avatar_urls(base, user.name),
        "displayName": user.display_name,
        "active": user.active,
        "timeZone": user.time_zone,
    }


def status_json(name: str, base: str, v: str) -> dict[str, Any]:
    s = STATUS_BY_NAME[name]
    return {
        "self": f"{base}/rest/api/{v}/status/{s.id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": s.name,
        "id": s.id,
        "statusCategory": {
            "self": f"{base}/rest/api/{v}/statuscategory/{s.category_id}",
            "id": s.category_id,
            "key": s.category_key,
            "colorName": s.color,
            "name": s.category_name,
        },
    }


def sprint_json(site: Site, sprint: Sprint, base: str) -> dict[str, Any]:
    """An agile ``/sprint`` object; dates appear only once they exist."""
    out: dict[str, Any] = {
        "id": sprint.id,
        "self": f"{base}/rest/agile/1.0/sprint/{sprint.id}",
        "state": sprint.state,
        "name": sprint.name,
    }
    if sprint.start is not None:
        out["startDate"] = _iso_utc(sprint.start)
    if sprint.end is not None:
        out["endDate"] = _iso_utc(sprint.end)
    if sprint.complete is not None:
        out["completeDate"] = _iso_utc(sprint.complete)
    out["originBoardId"] = sprint.board_id
    out["goal"] = sprint.goal
    return out


def _iso_utc(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, ZoneInfo("UTC"))
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _sprint_field(site: Site, sprint_ids: list[int]) -> Any:
    if not sprint_ids:
        return None
    sprints = [site.sprints[s] for s in sprint_ids if s in site.sprints]
    if site.flavor == "cloud":
        out = []
        for sp in sprints:
            item: dict[str, Any] = {
                "id": sp.id,
                "name": sp.name,
                "state": sp.state,
                "boardId": sp.board_id,
                "goal": sp.goal,
            }
            for attr, key in (("start", "startDate"), ("end", "endDate"), ("complete", "completeDate")):
                if getattr(sp, attr) is not None:
                    item[key] = _iso_utc(getattr(sp, attr))
            out.append(item)
        return out
    return [_legacy_sprint(sp) for sp in sprints]


def _legacy_sprint(sp: Sprint) -> str:
    """Server's toString() of the greenhopper Sprint object, which older clients parse."""

    def d(ms: int | None) -> str:
        return "<null>" if ms is None else _iso_utc(ms)

    return (
        f"com.atlassian.greenhopper.service.sprint.Sprint@{(sp.id * 2654435761) & 0xFFFFFF:x}"
        f"[id={sp.id},rapidViewId={sp.board_id},state={sp.state.upper()},name={sp.name},"
        f"startDate={d(sp.start)},endDate={d(sp.end)},completeDate={d(sp.complete)},"
        f"sequence={sp.sequence},goal={sp.goal}]"
    )


def issue_fields(site: Site, issue: Issue, base: str, v: str) -> dict[str, Any]:
    """Every field of ``issue`` for API version ``v`` ("2" or "3") on this flavor."""
    tz = site.tz
    ids = FIELD_IDS[site.flavor]
    rich = v == "3" and site.flavor == "cloud"
    itype_id, subtask = ISSUE_TYPE_BY_NAME[issue.issuetype]
    project_id = str(10000 + site.projects.index(issue.project))
    fields: dict[str, Any] = {
        "summary": issue.summary,
        "issuetype": {
            "self": f"{base}/rest/api/{v}/issuetype/{itype_id}",
            "id": itype_id,
            "description": "",
            "iconUrl": f"{base}/images/icons/issuetypes/{issue.issuetype.lower()}.svg",
            "name": issue.issuetype,
            "subtask": subtask,
            **({"hierarchyLevel": 1 if issue.issuetype == "Epic" else 0} if site.flavor == "cloud" else {}),
        },
        "status": status_json(issue.status, base, v),
        "priority": {
            "self": f"{base}/rest/api/{v}/priority/{PRIORITY_BY_NAME[issue.priority]}",
            "iconUrl": f"{base}/images/icons/priorities/{issue.priority.lower()}.svg",
            "name": issue.priority,
            "id": PRIORITY_BY_NAME[issue.priority],
        },
        "assignee": user_json(site, site.user(issue.assignee), base),
        "reporter": user_json(site, site.user(issue.reporter), base),
        "creator": user_json(site, site.user(issue.reporter), base),
        "labels": list(issue.labels),
        "components": [
            {
                "self": f"{base}/rest/api/{v}/component/{COMPONENT_BY_NAME[c]}",
                "id": COMPONENT_BY_NAME[c],
                "name": c,
            }
            for c in issue.components
        ],
        "description": richtext.rendered(issue.description, rich),
        "environment": richtext.rendered(issue.environment, rich),
        "created": jira_time(issue.created, tz),
        "updated": jira_time(issue.updated, tz),
        "project": {
            "self": f"{base}/rest/api/{v}/project/{project_id}",
            "id": project_id,
            "key": issue.project,
            "name": f"{issue.project.title()} Project",
            "projectTypeKey": "software",
            "avatarUrls": avatar_urls(base, issue.project),
        },
        "resolution": (
            {
                "self": f"{base}/rest/api/{v}/resolution/10000",
                "id": "10000",
                "description": "",
                "name": "Done",
            }
            if issue.status == "Done"
            else None
        ),
        ids["story_points"]: issue.story_points,
        ids["sprint"]: _sprint_field(site, issue.sprints),
        ids["team"]: _team_json(issue.team, base, ids["team"]),
    }
    if site.flavor == "cloud":
        fields |= _cloud_only(issue, base)
        parent = site.issues.get(issue.parent) if issue.parent else None
        if parent is not None:
            fields["parent"] = {
                "id": str(parent.id),
                "key": parent.key,
                "self": f"{base}/rest/api/{v}/issue/{parent.id}",
                "fields": {
                    "summary": parent.summary,
                    "status": status_json(parent.status, base, v),
                    "issuetype": {"id": ISSUE_TYPE_BY_NAME[parent.issuetype][0], "name": parent.issuetype},
                },
            }
    else:
        fields[ids["epic_link"]] = issue.parent
    return fields


def _cloud_only(issue: Issue, base: str) -> dict[str, Any]:
    """The fields only Cloud has: the classic story points beside the estimate, and the native Team."""
    ids = FIELD_IDS["cloud"]
    return {
        ids["classic_story_points"]: issue.classic_story_points,
        ids["atlassian_team"]: team_json(issue.atlassian_team, base),
    }


def team_json(team_id: str | None, base: str) -> dict[str, Any] | None:
    """Cloud's native Team field value (an object; written back as the bare team id)."""
    if team_id is None:
        return None
    name = dict(ATLASSIAN_TEAMS)[team_id]
    return {
        "id": team_id,
        "name": name,
        "title": name,
        "avatarUrl": f"{base}/gateway/api/public/teams/v1/team/{team_id}/avatar",
        "isVisible": True,
        "isVerified": False,
        "isShared": True,
    }


def _team_json(option_id: str | None, base: str, field_id: str) -> dict[str, Any] | None:
    if option_id is None:
        return None
    value = dict(TEAM_OPTIONS)[option_id]
    return {"self": f"{base}/rest/api/2/customFieldOption/{option_id}", "value": value, "id": option_id}


def select_fields(
    all_fields: dict[str, Any], wanted: list[str] | None, navigable_default: bool
) -> dict[str, Any]:
    """Apply a ``fields`` parameter: ``*all``, ``*navigable``, names, ``-name`` exclusions."""
    if wanted is None:
        return dict(all_fields) if navigable_default else {}
    include: set[str] = set()
    exclude: set[str] = set()
    everything = False
    for item in wanted:
        item = item.strip()
        if not item:
            continue
        if item in ("*all", "*navigable"):
            everything = True
        elif item.startswith("-"):
            exclude.add(item[1:])
        else:
            include.add(item)
    return {k: val for k, val in all_fields.items() if (everything or k in include) and k not in exclude}


def changelog_json(site: Site, issue: Issue, base: str) -> dict[str, Any]:
    histories = [history_json(site, h, base) for h in issue.changelog]
    return {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories}


def history_json(site: Site, h: Any, base: str) -> dict[str, Any]:
    return {
        "id": str(h.id),
        "author": user_json(site, site.user(h.author), base),
        "created": jira_time(h.created, site.tz),
        "items": list(h.items),
    }


def issue_json(
    site: Site,
    issue: Issue,
    base: str,
    v: str,
    wanted: list[str] | None,
    expand: set[str],
    *,
    navigable_default: bool,
) -> dict[str, Any]:
    """An ``IssueBean``; ``wanted`` None means the endpoint's default field set."""
    out: dict[str, Any] = {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": str(issue.id),
        "self": f"{base}/rest/api/{v}/issue/{issue.id}",
        "key": issue.key,
    }
    every = issue_fields(site, issue, base, v)
    for hidden in hidden_fields(site, issue.issuetype):
        every.pop(hidden, None)  # outside the field's context: absent, not null
    selected = select_fields(every, wanted, navigable_default)
    out["fields"] = selected
    if "names" in expand:
        out["names"] = names_for(site, selected)
    if "schema" in expand:
        out["schema"] = schema_for(site, selected)
    if "changelog" in expand:
        out["changelog"] = changelog_json(site, issue, base)
    if "transitions" in expand:
        out["transitions"] = transitions_json(site, issue, base, v)["transitions"]
    return out


def names_for(site: Site, fields: dict[str, Any]) -> dict[str, str]:
    defs = site.field_defs
    return {k: defs[k].name for k in fields if k in defs} | {k: k.title() for k in fields if k not in defs}


def schema_for(site: Site, fields: dict[str, Any]) -> dict[str, Any]:
    defs = site.field_defs
    return {k: defs[k].schema for k in fields if k in defs}


def transitions_json(site: Site, issue: Issue, base: str, v: str) -> dict[str, Any]:
    items = []
    for t in WORKFLOW:
        if t.source != issue.status:
            continue
        items.append(
            {
                "id": t.id,
                "name": t.name,
                "to": status_json(t.target, base, v),
                "hasScreen": t.id in SCREENS,
                "isGlobal": False,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "fields": SCREENS.get(t.id, {}),
            }
        )
    return {"expand": "transitions", "transitions": items}


def _allowed_values(site: Site, fdef: FieldDef, base: str, v: str) -> list[dict[str, Any]] | None:
    ids = FIELD_IDS[site.flavor]
    if fdef.id == "priority":
        return [
            {"self": f"{base}/rest/api/{v}/priority/{pid}", "id": pid, "name": name}
            for name, pid in PRIORITY_BY_NAME.items()
        ]
    if fdef.id == "components":
        return [
            {"self": f"{base}/rest/api/{v}/component/{cid}", "id": cid, "name": name}
            for name, cid in COMPONENT_BY_NAME.items()
        ]
    if fdef.id == ids["team"]:
        return [
            {"self": f"{base}/rest/api/2/customFieldOption/{oid}", "value": val, "id": oid}
            for oid, val in TEAM_OPTIONS
        ]
    if fdef.id == "issuetype":
        return [
            {"self": f"{base}/rest/api/{v}/issuetype/{tid}", "id": tid, "name": name, "subtask": sub}
            for name, (tid, sub) in ISSUE_TYPE_BY_NAME.items()
        ]
    return None


def editmeta_json(site: Site, issue: Issue, base: str, v: str) -> dict[str, Any]:
    """``IssueUpdateMetadata``: only fields on the edit screen, with their operations and options."""
    fields: dict[str, Any] = {}
    hidden = hidden_fields(site, issue.issuetype)
    for fdef in site.field_defs.values():
        if (not fdef.editable and fdef.id != "issuetype") or fdef.id in hidden:
            continue
        meta: dict[str, Any] = {
            "required": fdef.required,
            "schema": fdef.schema,
            "name": fdef.name,
            "key": fdef.id,
            "operations": list(fdef.operations),
        }
        allowed = _allowed_values(site, fdef, base, v)
        if allowed is not None:
            meta["allowedValues"] = allowed
        if fdef.schema.get("type") == "user":
            meta["autoCompleteUrl"] = f"{base}/rest/api/{v}/user/search?query="
        fields[fdef.id] = meta
    return {"fields": fields}
