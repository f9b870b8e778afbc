"""Field definitions of the simulated site (``/field``, ``names``, ``schema``, ``editmeta``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jira_console.simulator.model import CUSTOM_TYPES, FIELD_IDS, Flavor


@dataclass(frozen=True)
class FieldDef:
    id: str
    name: str
    schema: dict[str, Any]
    editable: bool  # on the edit screen
    operations: tuple[str, ...] = ("set",)
    required: bool = False
    searchable: bool = True
    orderable: bool = True
    clause_names: tuple[str, ...] = ()

    @property
    def custom(self) -> bool:
        return self.id.startswith("customfield_")

    def describe(self) -> dict[str, Any]:
        """``FieldDetails`` as ``GET /field`` returns it."""
        out: dict[str, Any] = {
            "id": self.id,
            "key": self.id,
            "name": self.name,
            "custom": self.custom,
            "orderable": self.orderable,
            "navigable": True,
            "searchable": self.searchable,
            "clauseNames": list(self.clause_names or (self.id,)),
            "schema": self.schema,
        }
        if self.custom:
            num = self.id.split("_", 1)[1]
            out["clauseNames"] = [f"cf[{num}]", self.name]
        return out


def _sys(type_: str, system: str, items: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": type_, "system": system}
    if items:
        schema["items"] = items
    return schema


def _cf(type_: str, custom: str, fid: str, items: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": type_}
    if items:
        schema["items"] = items
    schema["custom"] = custom
    schema["customId"] = int(fid.split("_", 1)[1])
    return schema


def field_defs(flavor: Flavor) -> list[FieldDef]:
    """All fields of the site, system ones first, in a stable order."""
    ids = FIELD_IDS[flavor]
    return _system_defs() + (_cloud_custom_defs(ids) if flavor == "cloud" else _server_custom_defs(ids))


def _system_defs() -> list[FieldDef]:
    return [
        FieldDef(
            "summary", "Summary", _sys("string", "summary"), True, required=True, clause_names=("summary",)
        ),
        FieldDef(
            "issuetype",
            "Issue Type",
            _sys("issuetype", "issuetype"),
            False,
            operations=(),
            required=True,
            clause_names=("issuetype", "type"),
        ),
        FieldDef(
            "status", "Status", _sys("status", "status"), False, operations=(), clause_names=("status",)
        ),
        FieldDef("priority", "Priority", _sys("priority", "priority"), True, clause_names=("priority",)),
        FieldDef("assignee", "Assignee", _sys("user", "assignee"), True, clause_names=("assignee",)),
        FieldDef(
            "reporter", "Reporter", _sys("user", "reporter"), True, required=True, clause_names=("reporter",)
        ),
        FieldDef(
            "labels",
            "Labels",
            _sys("array", "labels", "string"),
            True,
            operations=("add", "set", "remove"),
            clause_names=("labels",),
        ),
        FieldDef(
            "components",
            "Components",
            _sys("array", "components", "component"),
            True,
            operations=("add", "set", "remove"),
            clause_names=("component",),
        ),
        FieldDef(
            "description", "Description", _sys("string", "description"), True, clause_names=("description",)
        ),
        FieldDef(
            "environment", "Environment", _sys("string", "environment"), True, clause_names=("environment",)
        ),
        FieldDef(
            "created",
            "Created",
            _sys("datetime", "created"),
            False,
            operations=(),
            clause_names=("created", "createdDate"),
        ),
        FieldDef(
            "updated",
            "Updated",
            _sys("datetime", "updated"),
            False,
            operations=(),
            clause_names=("updated", "updatedDate"),
        ),
        FieldDef(
            "project", "Project", _sys("project", "project"), False, operations=(), clause_names=("project",)
        ),
        FieldDef(
            "resolution",
            "Resolution",
            _sys("resolution", "resolution"),
            False,
            operations=(),
            clause_names=("resolution",),
        ),
    ]


def _cloud_custom_defs(ids: dict[str, str]) -> list[FieldDef]:
    return [
        FieldDef("parent", "Parent", _sys("issuelink", "parent"), True, clause_names=("parent",)),
        FieldDef(
            ids["story_points"],
            "Story point estimate",
            _cf("number", CUSTOM_TYPES["story_points_cloud"], ids["story_points"]),
            True,
        ),
        # On the site but not on the edit screen of these projects: writing it is a classic trap.
        FieldDef(
            ids["classic_story_points"],
            "Story Points",
            _cf("number", CUSTOM_TYPES["float"], ids["classic_story_points"]),
            False,
        ),
        FieldDef(ids["sprint"], "Sprint", _cf("array", CUSTOM_TYPES["sprint"], ids["sprint"], "json"), True),
        FieldDef(ids["team"], "Team", _cf("option", CUSTOM_TYPES["select"], ids["team"]), True),
        # Cloud's native Team field beside the site's own "Team" select (real sites have both).
        FieldDef(
            ids["atlassian_team"],
            "Team",
            _cf("team", CUSTOM_TYPES["atlassian_team"], ids["atlassian_team"])
            | {"configuration": {CUSTOM_TYPES["atlassian_team"]: True}},
            True,
        ),
    ]


def _server_custom_defs(ids: dict[str, str]) -> list[FieldDef]:
    return [
        FieldDef(
            ids["story_points"],
            "Story Points",
            _cf("number", CUSTOM_TYPES["float"], ids["story_points"]),
            True,
        ),
        FieldDef(
            ids["sprint"], "Sprint", _cf("array", CUSTOM_TYPES["sprint"], ids["sprint"], "string"), True
        ),
        FieldDef(
            ids["epic_link"], "Epic Link", _cf("any", CUSTOM_TYPES["epic_link"], ids["epic_link"]), True
        ),
        FieldDef(ids["team"], "Team", _cf("option", CUSTOM_TYPES["select"], ids["team"]), True),
    ]


def defs_by_id(flavor: Flavor) -> dict[str, FieldDef]:
    return {d.id: d for d in field_defs(flavor)}
