"""Validation of issue writes (``fields`` and ``update`` of PUT/POST) into canonical changes.

Each problem is reported the way Jira does: ``{"errorMessages": [...], "errors": {field: message}}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jira_console.simulator import richtext
from jira_console.simulator.model import (
    ATLASSIAN_TEAMS,
    COMPONENT_BY_ID,
    COMPONENT_BY_NAME,
    FIELD_IDS,
    ISSUE_TYPE_BY_ID,
    ISSUE_TYPE_BY_NAME,
    PRIORITY_BY_ID,
    PRIORITY_BY_NAME,
    STATUS_BY_ID,
    STATUS_BY_NAME,
    TEAM_OPTIONS,
    Issue,
)

if TYPE_CHECKING:
    from jira_console.simulator.state import Site


class EditError(Exception):
    """A write Jira refuses with 400."""

    def __init__(self, errors: dict[str, str] | None = None, messages: list[str] | None = None) -> None:
        super().__init__("; ".join([*(messages or []), *(errors or {}).values()]))
        self.errors = errors or {}
        self.messages = messages or []

    def body(self) -> dict[str, Any]:
        return {"errorMessages": self.messages, "errors": self.errors}


def not_settable(fid: str) -> str:
    return f"Field '{fid}' cannot be set. It is not on the appropriate screen, or unknown."


def field_attrs(flavor: str) -> dict[str, str]:
    """Field id -> canonical attribute."""
    ids = FIELD_IDS[flavor]
    out = {
        "summary": "summary",
        "description": "description",
        "environment": "environment",
        "priority": "priority",
        "assignee": "assignee",
        "reporter": "reporter",
        "labels": "labels",
        "components": "components",
        ids["story_points"]: "story_points",
        ids["team"]: "team",
        ids["sprint"]: "sprints",
        "status": "status",
        "issuetype": "issuetype",
    }
    if flavor == "cloud":
        out["parent"] = "parent"
        out[ids["classic_story_points"]] = "classic_story_points"
        out[ids["atlassian_team"]] = "atlassian_team"
    else:
        out[ids["epic_link"]] = "parent"
    return out


class EditPlanner:
    """Turns one request's ``fields``/``update`` into ``{attr: new value}`` for ``issue``.

    ``version`` is the API version the request came in on ("2" or "3"); ``lenient`` is for the Python
    control API (other users editing), which may also set status and accept plain values.
    """

    def __init__(
        self, site: Site, issue: Issue | None, version: str, *, lenient: bool = False, creating: bool = False
    ) -> None:
        self.site = site
        self.issue = issue
        self.version = version
        self.lenient = lenient
        self.creating = creating
        self.attrs = field_attrs(site.flavor)
        self.errors: dict[str, str] = {}

    def plan(self, fields: dict[str, Any] | None, update: dict[str, Any] | None) -> dict[str, Any]:
        if fields is not None and not isinstance(fields, dict):
            raise EditError(messages=["Can not deserialize instance of java.util.HashMap out of START_ARRAY"])
        if update is not None and not isinstance(update, dict):
            raise EditError(messages=["Can not deserialize instance of java.util.HashMap out of START_ARRAY"])
        changes: dict[str, Any] = {}
        for fid, value in (fields or {}).items():
            if update and fid in update:
                self.errors[fid] = f"Field '{fid}' cannot be set and updated in the same request."
                continue
            self._apply(changes, fid, "set", value)
        for fid, ops in (update or {}).items():
            if not isinstance(ops, list):
                self.errors[fid] = "Operation value must be a list of operations."
                continue
            for op in ops:
                if not isinstance(op, dict) or len(op) != 1:
                    self.errors[fid] = "Each operation must be an object with exactly one operation."
                    break
                ((name, value),) = op.items()
                self._apply(changes, fid, name, value)
        if self.errors:
            raise EditError(self.errors)
        return changes

    def _apply(self, changes: dict[str, Any], fid: str, op: str, value: Any) -> None:
        attr = self.attrs.get(fid)
        fdef = self.site.field_defs.get(fid)
        editable = fdef is not None and fdef.editable
        if self.creating and fid in ("issuetype", "project"):
            editable = True
        if attr is None or (not editable and not self.lenient):
            self.errors[fid] = not_settable(fid)
            return
        ops = fdef.operations if fdef is not None else ("set",)
        if op not in ops and not (self.lenient or self.creating):
            self.errors[fid] = (
                f"Field '{fid}' does not support operation '{op}'. Supported operation(s) are: "
                f"'{','.join(ops)}'"
            )
            return
        try:
            current = changes.get(attr, getattr(self.issue, attr) if self.issue is not None else None)
            changes[attr] = self._convert(fid, attr, op, value, current)
        except EditError as exc:
            self.errors.update(exc.errors or {fid: "; ".join(exc.messages)})

    def _convert(self, fid: str, attr: str, op: str, value: Any, current: Any) -> Any:
        bad = EditError({fid: f"Operation value must be a {'number' if 'points' in attr else 'string'}"})
        if attr == "summary":
            if not isinstance(value, str):
                raise bad
            if not value.strip():
                raise EditError({fid: "You must specify a summary of the issue."})
            if len(value) > 255:
                raise EditError({fid: "Summary must be less than 255 characters."})
            return value
        if attr in ("description", "environment"):
            return self._rich(fid, value)
        if attr in ("story_points", "classic_story_points"):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise bad
            return None if value is None else float(value)
        if attr in ("assignee", "reporter"):
            return self._user(fid, value)
        if attr == "priority":
            return self._named(fid, value, PRIORITY_BY_NAME, PRIORITY_BY_ID, "priority")
        if attr == "issuetype":
            return self._named(fid, value, ISSUE_TYPE_BY_NAME, ISSUE_TYPE_BY_ID, "issue type")
        if attr == "status":
            if isinstance(value, dict):
                value = value.get("name") or STATUS_BY_ID.get(str(value.get("id")), None)
                value = getattr(value, "name", value)
            if value not in STATUS_BY_NAME:
                raise EditError({fid: f"Status '{value}' does not exist."})
            return value
        if attr == "team":
            return self._option(fid, value)
        if attr == "atlassian_team":
            return _atlassian_team(fid, value)
        if attr == "labels":
            return self._list_op(fid, op, value, current, self._label)
        if attr == "components":
            return self._list_op(fid, op, value, current, self._component)
        if attr == "sprints":
            return self._sprint(fid, value, current)
        if attr == "parent":
            return self._parent(fid, value)
        raise EditError({fid: not_settable(fid)})

    def _rich(self, fid: str, value: Any) -> Any:
        if value is None:
            return None
        cloud_v3 = self.site.flavor == "cloud" and self.version == "3"
        if self.site.flavor == "server" and isinstance(value, str):
            return value  # Server stores wiki markup as written
        if self.lenient:
            return value if richtext.is_adf(value) else richtext.wiki_to_adf(str(value))
        if cloud_v3:
            if not richtext.is_adf(value):
                raise EditError(
                    {fid: "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}
                )
            return value
        if not isinstance(value, str):
            raise EditError({fid: "Operation value must be a string"})
        return richtext.wiki_to_adf(value)

    def _user(self, fid: str, value: Any) -> str | None:
        if value is None:
            if fid == "reporter":
                raise EditError({fid: "Reporter is required."})
            return None
        if self.lenient and isinstance(value, str):
            found = self.site.resolve_user(value)
            if found is None:
                raise EditError({fid: f"User '{value}' does not exist."})
            return found
        if not isinstance(value, dict):
            raise EditError({fid: "expected Object for user"})
        wanted = "accountId" if self.site.flavor == "cloud" else "name"
        if wanted not in value:
            if self.site.flavor == "cloud":
                raise EditError(
                    {
                        fid: "Specify a valid value for " + fid + " (users are written as "
                        '{"accountId": ...} on Cloud)'
                    }
                )
            raise EditError(
                {fid: f"expected 'name' property for {fid} (users are written as {{\"name\": ...}})"}
            )
        ident = value[wanted]
        if ident is None and fid == "assignee":
            return None
        user = self.site.user_by_account(ident) if wanted == "accountId" else self.site.user(ident)
        if user is None:
            raise EditError({fid: f"User '{ident}' does not exist."})
        if not user.active:
            raise EditError({fid: f"User '{user.display_name}' cannot be assigned issues."})
        return user.name

    def _named(self, fid: str, value: Any, by_name: dict[str, Any], by_id: dict[str, str], what: str) -> str:
        if self.lenient and isinstance(value, str) and value in by_name:
            return value
        if not isinstance(value, dict):
            raise EditError({fid: f"Could not find valid 'id' or 'name' in {what} object."})
        if "id" in value:
            if str(value["id"]) not in by_id:
                raise EditError({fid: f"Specify a valid '{what}' id"})
            return by_id[str(value["id"])]
        if "name" in value and value["name"] in by_name:
            return str(value["name"])
        raise EditError({fid: f"Specify a valid '{what}' name"})

    def _option(self, fid: str, value: Any) -> str | None:
        if value is None:
            return None
        options = dict(TEAM_OPTIONS)
        if self.lenient and isinstance(value, str):
            value = {"value": value}
        if not isinstance(value, dict):
            raise EditError({fid: "Could not find valid 'id' or 'value' in the Parent Option object."})
        if "id" in value:
            if str(value["id"]) not in options:
                raise EditError({fid: f"Option id '{value['id']}' is not valid"})
            return str(value["id"])
        for oid, text in TEAM_OPTIONS:
            if text == value.get("value"):
                return oid
        raise EditError({fid: f"Option value '{value.get('value')}' is not valid"})

    def _label(self, fid: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise EditError({fid: "Operation value must be a string"})
        if " " in value:
            raise EditError({fid: f"The label '{value}' contains spaces which is invalid."})
        return value

    def _component(self, fid: str, value: Any) -> str:
        if isinstance(value, dict):
            if "id" in value and str(value["id"]) in COMPONENT_BY_ID:
                return COMPONENT_BY_ID[str(value["id"])]
            if value.get("name") in COMPONENT_BY_NAME:
                return str(value["name"])
        if self.lenient and value in COMPONENT_BY_NAME:
            return str(value)
        raise EditError({fid: f"Component name '{value}' is not valid"})

    def _list_op(self, fid: str, op: str, value: Any, current: list[str] | None, item: Any) -> list[str]:
        current = list(current or [])
        if op == "set":
            if not isinstance(value, list):
                raise EditError({fid: "Operation value must be an array"})
            out: list[str] = []
            for v in value:
                conv = item(fid, v)
                if conv not in out:
                    out.append(conv)
            return out
        conv = item(fid, value)
        if op == "add":
            return current if conv in current else [*current, conv]
        if op == "remove":
            return [c for c in current if c != conv]
        raise EditError({fid: f"Unsupported operation '{op}'"})

    def _sprint(self, fid: str, value: Any, current: list[int] | None) -> list[int]:
        closed = [s for s in (current or []) if self.site.sprint_state(s) == "closed"]
        if value is None:
            return closed
        if isinstance(value, bool) or not isinstance(value, int):
            if self.lenient and isinstance(value, str) and value.isdigit():
                value = int(value)
            else:
                raise EditError({fid: "Number value expected as the Sprint id."})
        state = self.site.sprint_state(value)
        if state is None:
            raise EditError({fid: f"Sprint with id {value} does not exist."})
        if state == "closed":
            raise EditError({fid: "Issue can be assigned only active or future sprints."})
        return [*closed, value]

    def _parent(self, fid: str, value: Any) -> str | None:
        if value is None:
            return None
        key: Any = value
        if isinstance(value, dict):
            key = value.get("key")
            if key is None and "id" in value:
                found = self.site.issue_by_id(str(value["id"]))
                key = found.key if found else None
        if not isinstance(key, str) or key not in self.site.issues:
            raise EditError({fid: f"Could not find issue by id or key: {value!r}"})
        if self.site.issues[key].issuetype != "Epic":
            raise EditError({fid: f"Issue '{key}' is not an epic."})
        return key


def _atlassian_team(fid: str, value: Any) -> str | None:
    """Cloud's Team field takes the bare team id (a string), or null to clear it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise EditError({fid: "Team field value must be a string team id."})
    if value not in dict(ATLASSIAN_TEAMS):
        raise EditError({fid: f"Team with id '{value}' does not exist or is not visible to you."})
    return value
