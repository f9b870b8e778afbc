"""Cloud's native Team field (``atlassian-team``): Jira shows a team object (``id``, ``name``, ``title``,
avatar, visibility) and takes the bare team id (a string) on write."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import StepError
from jira_console.mapping.steps_base import StepBase, expect

ATLASSIAN_TEAM = "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team"


class TeamStep(StepBase):
    """Team object <-> its id (``output = "id"``, the default: writes the id back) or its name (pull only:
    a name cannot be written, so a pushing mapping with ``output = "name"`` needs reverse_steps)."""

    op: Literal["team"] = "team"
    output: Literal["id", "name"] = "id"
    invertible: ClassVar[bool] = True

    def is_invertible(self) -> bool:
        return self.output == "id"

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        team = {"id": value} if isinstance(value, str) else expect(value, dict, "a team object")
        found = team.get("id") if self.output == "id" else team.get("name") or team.get("title")
        if not isinstance(found, str) or not found:
            raise StepError(f"the team object has no {self.output}")
        return found

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return expect(value, str, "a team id")

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        if schema.get("custom") == ATLASSIAN_TEAM or schema.get("type") == "team":
            return None
        kind = schema.get("custom") or schema.get("type")
        return f"team needs Cloud's Team field ({ATLASSIAN_TEAM}), the field is {kind}"
