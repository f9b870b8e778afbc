"""Environment overrides for one item of a list in the configuration: ``JIRA_CONSOLE_JIRA__0__URL``.

pydantic-settings reads ``JIRA_CONSOLE_JIRA__0__URL`` as a dict ``{"0": {"url": …}}`` that would replace the
whole ``[[jira]]`` list (and fail validation); instead such variables are applied to that connection of the
file, and a next index adds a connection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


class WithoutListItems(PydanticBaseSettingsSource):
    """The environment source minus ``JIRA_CONSOLE_JIRA__<n>__…`` items (see :func:`merge_list_env`)."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = dict(self.inner())
        if isinstance(data.get("jira"), dict):
            data.pop("jira")
        return data


_LIST_ITEM_ENV = re.compile(r"^JIRA_CONSOLE_JIRA__(\d+)__([A-Za-z0-9_]+)$", re.IGNORECASE)


def _env_value(raw: str) -> Any:
    if raw.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def merge_list_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``data`` with ``JIRA_CONSOLE_JIRA__<n>__<KEY>`` variables applied to connection ``n`` of the file
    (``n`` equal to the number of connections adds one). A token given so comes from the environment, so
    it is not refused as an inline token."""
    items: dict[int, dict[str, Any]] = {}
    for name, raw in environ.items():
        match = _LIST_ITEM_ENV.match(name)
        if match:
            items.setdefault(int(match.group(1)), {})[match.group(2).lower()] = _env_value(raw)
    if not items:
        return data
    listed = data.get("jira", [])
    if not isinstance(listed, list):
        raise ValueError("jira: must be a list of [[jira]] tables")
    merged = [dict(item) if isinstance(item, Mapping) else item for item in listed]
    for index in sorted(items):
        if index > len(merged):
            raise ValueError(
                f"JIRA_CONSOLE_JIRA__{index}__*: there are {len(merged)} connections; "
                f"number a new one {len(merged)}"
            )
        if index == len(merged):
            merged.append({})
        if not isinstance(merged[index], dict):
            raise ValueError(f"jira.{index}: must be a table")
        merged[index].update(items[index])
        if "token" in items[index]:
            merged[index]["allow_inline_token"] = True
    return {**data, "jira": merged}
