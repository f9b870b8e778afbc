"""Ready-made mappings for the fields every team syncs, per flavor and per site's field ids.

``field_ids`` maps a role to the site's field id, e.g. ``{"story_points": "customfield_10016",
"sprint": "customfield_10020", "team": "customfield_10050"}``; :func:`discover_field_ids` fills it from
``GET /field`` by schema type, which survives renamed and localised field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from jira_console.mapping.model import MappingDefinition, parse_definition

Flavor = Literal["cloud", "server"]

_BY_CUSTOM_TYPE = {
    "com.pyxis.greenhopper.jira:jsw-story-points": "story_points",
    "com.pyxis.greenhopper.jira:gh-sprint": "sprint",
    "com.pyxis.greenhopper.jira:gh-epic-link": "epic_link",
    "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team": "atlassian_team",
}
_SELECT = "com.atlassian.jira.plugin.system.customfieldtypes:select"
_FLOAT = "com.atlassian.jira.plugin.system.customfieldtypes:float"


def discover_field_ids(flavor: Flavor, field_list: list[dict[str, Any]]) -> dict[str, str]:
    """Roles -> field ids found in a ``/field`` list.

    Agile fields are found by their schema type. The classic float "Story Points" and the "Team" select are
    found by type *and* name, because many fields share those types. On Server the classic float field is
    the story-points field; on Cloud it is ``classic_story_points`` beside the team-managed one.
    """
    found: dict[str, str] = {}
    for entry in field_list:
        schema = entry.get("schema") or {}
        custom = schema.get("custom")
        name = str(entry.get("name") or "").casefold()
        role = _BY_CUSTOM_TYPE.get(custom or "")
        if role and role not in found:
            found[role] = str(entry["id"])
        elif custom == _FLOAT and name == "story points":
            found.setdefault(
                "classic_story_points" if flavor == "cloud" else "story_points", str(entry["id"])
            )
        elif custom == _SELECT and name == "team":
            found.setdefault("team", str(entry["id"]))
    if flavor == "cloud":
        found.setdefault("parent", "parent")
    return found


def _defn(**data: Any) -> MappingDefinition:
    # Through parse_definition so the templates are validated exactly like a file a person wrote.
    return parse_definition(data)


def _need(field_ids: Mapping[str, str], role: str, template: str) -> str:
    if role not in field_ids:
        raise ValueError(
            f"template {template!r} needs the field id of {role!r}; known roles: {sorted(field_ids)}"
        )
    return field_ids[role]


def story_points(flavor: Flavor, field_ids: Mapping[str, str], *, classic: bool = False) -> MappingDefinition:
    """Story points as a float. On Cloud ``classic=True`` picks the classic float field instead of the
    team-managed "Story point estimate" (jsw-story-points)."""
    role = "classic_story_points" if classic and flavor == "cloud" else "story_points"
    return _defn(
        name="story_points",
        jira_field=_need(field_ids, role, "story_points"),
        internal_field="story_points",
        steps=({"op": "to_float"},),
        validate={"type": "number", "min": 0, "max": 1000},
        description="Story points (team-managed estimate or classic float field).",
    )


def sprint(flavor: Flavor, field_ids: Mapping[str, str]) -> MappingDefinition:
    """The issue's current sprint id; pushes move the issue (None: backlog)."""
    return _defn(
        name="sprint",
        jira_field=_need(field_ids, "sprint", "sprint"),
        internal_field="sprint_id",
        steps=({"op": "sprint", "pick": "current"},),
        validate={"type": "integer"},
        description="Current sprint id (active, else next future, else latest closed); None in the backlog.",
    )


def team(
    flavor: Flavor, field_ids: Mapping[str, str], codes: Mapping[str, str] | None = None
) -> MappingDefinition:
    """The team single-select as its option text, or as local codes when ``codes`` maps option -> code."""
    steps: list[dict[str, Any]] = [{"op": "option"}]
    if codes:
        steps.append({"op": "value_map", "table": dict(codes)})
    return _defn(
        name="team",
        jira_field=_need(field_ids, "team", "team"),
        internal_field="team",
        steps=tuple(steps),
        description="Team single-select option.",
    )


def atlassian_team(flavor: Flavor, field_ids: Mapping[str, str]) -> MappingDefinition:
    """Cloud's native Team field as the team id (written back as the bare id Jira takes)."""
    return _defn(
        name="atlassian_team",
        jira_field=_need(field_ids, "atlassian_team", "atlassian_team"),
        internal_field="team_id",
        steps=({"op": "team"},),
        validate={"type": "string"},
        description="Cloud Team (atlassian-team): the team id.",
    )


def epic(flavor: Flavor, field_ids: Mapping[str, str]) -> MappingDefinition:
    """The epic's issue key: Cloud ``parent.key``, Server the Epic Link field (a bare key)."""
    if flavor == "cloud":
        return _defn(
            name="epic",
            jira_field=field_ids.get("parent", "parent"),
            internal_field="epic_key",
            steps=({"op": "path", "path": "key"},),
            validate={"type": "string", "pattern": r"[A-Z][A-Z0-9_]*-\d+"},
            description="Parent (epic) issue key.",
        )
    return _defn(
        name="epic",
        jira_field=_need(field_ids, "epic_link", "epic"),
        internal_field="epic_key",
        validate={"type": "string", "pattern": r"[A-Z][A-Z0-9_]*-\d+"},
        description="Epic Link issue key.",
    )


def labels(flavor: Flavor, field_ids: Mapping[str, str]) -> MappingDefinition:
    """Labels as a list of text (the same shape on both sides)."""
    return _defn(
        name="labels",
        jira_field="labels",
        internal_field="labels",
        steps=({"op": "default_if_empty", "value": []},),
        validate={"type": "list"},
        description="Labels.",
    )


def components(flavor: Flavor, field_ids: Mapping[str, str]) -> MappingDefinition:
    """Component names (written back as ``[{"name": ...}]``)."""
    return _defn(
        name="components",
        jira_field="components",
        internal_field="components",
        steps=(
            {"op": "default_if_empty", "value": []},
            {"op": "map_each", "steps": [{"op": "path", "path": "name"}]},
        ),
        validate={"type": "list"},
        description="Component names.",
    )


def priority(flavor: Flavor, field_ids: Mapping[str, str]) -> MappingDefinition:
    """Priority name (written back as ``{"name": ...}``)."""
    return _defn(
        name="priority",
        jira_field="priority",
        internal_field="priority",
        steps=({"op": "path", "path": "name"},),
        validate={"type": "string"},
        description="Priority name.",
    )


def assignee(
    flavor: Flavor, field_ids: Mapping[str, str], *, key: Literal["id", "email"] = "email"
) -> MappingDefinition:
    """Assignee as an e-mail (or internal id) through the identity table; unknown people are reported."""
    return _defn(
        name="assignee",
        jira_field="assignee",
        internal_field="assignee",
        steps=({"op": "user", "key": key},),
        description="Assignee, resolved through the identity table.",
    )


TEMPLATES: dict[str, Callable[..., MappingDefinition]] = {
    "story_points": story_points,
    "sprint": sprint,
    "team": team,
    "atlassian_team": atlassian_team,
    "epic": epic,
    "labels": labels,
    "components": components,
    "priority": priority,
    "assignee": assignee,
}
"""Template name -> function ``(flavor, field_ids, **options)``."""


def all_templates(flavor: Flavor, field_ids: Mapping[str, str]) -> list[MappingDefinition]:
    """Every template whose fields the site has (templates missing a field id are left out)."""
    result = []
    for build in TEMPLATES.values():
        try:
            result.append(build(flavor, field_ids))
        except ValueError:
            continue
    return result
