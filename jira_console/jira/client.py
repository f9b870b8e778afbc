"""The async Jira client: fields, issues, bulk reads and transitions on top of the resilient core.

One :class:`JiraClient` per connection; it keeps one ``httpx.AsyncClient`` (HTTP keep-alive) and its own
rate limiter, not-before gate and circuit breaker. The flavor decides the REST version (Cloud v3, Server v2)
and the search style (Cloud ``/search/jql`` with ``nextPageToken``, Server ``/search`` with ``startAt``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from jira_console import redact
from jira_console.jira.agile import AgileMixin, chunks
from jira_console.jira.errors import JiraAuthError, JiraBadRequest, JiraNotFound
from jira_console.jira.models import BulkCreated, BulkFetch, ElementError, JiraField, Transition
from jira_console.jira.search import DEFAULT_FIELDS, SearchMixin, comma_list, jql_key_list
from jira_console.jira.shared import CredentialsBlocked
from jira_console.logs import get_logger

log = get_logger(__name__)

BULK_CHUNK = 100
"""Cloud bulkfetch takes at most 100 issues per call (and Server's key lists are cut alike)."""
BULK_CREATE = 50
"""Jira's limit on the issues of one ``POST /issue/bulk``."""
MAX_TRANSITION_HOPS = 8

STORY_POINTS_TYPE = "com.pyxis.greenhopper.jira:jsw-story-points"
FLOAT_TYPE = "com.atlassian.jira.plugin.system.customfieldtypes:float"
SPRINT_TYPE = "com.pyxis.greenhopper.jira:gh-sprint"
EPIC_LINK_TYPE = "com.pyxis.greenhopper.jira:gh-epic-link"
EPIC_NAME_TYPE = "com.pyxis.greenhopper.jira:gh-epic-label"
RANK_TYPE = "com.pyxis.greenhopper.jira:gh-lexo-rank"
TEAM_TYPES = (
    "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team",
    "com.atlassian.teams:rm-teams-custom-field-team",
)
OPTION_TYPES = (
    "com.atlassian.jira.plugin.system.customfieldtypes:select",
    "com.atlassian.jira.plugin.system.customfieldtypes:radiobuttons",
)
_STORY_POINTS_NAME = re.compile(r"story\s*points?", re.IGNORECASE)


async def together(calls: Iterable[Awaitable[Any]]) -> list[Any]:
    """Run Jira reads at the same time (each still paced by its client's rate limit and gates); their
    results in order. The first failure is raised as it is, once the others are cancelled."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def settle(*tasks: asyncio.Future[Any]) -> None:
    """Cancel what has not finished and wait for it; its failure, if any, is no longer wanted (the step that
    started it has failed or moved on)."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def discover_roles(fields: Sequence[JiraField]) -> dict[str, str]:
    """Map well-known roles to field ids by schema custom type (names are localized, types are not)."""
    roles: dict[str, str] = {}
    by_type: dict[str, list[JiraField]] = {}
    for f in fields:
        if f.schema_custom:
            by_type.setdefault(f.schema_custom, []).append(f)
    named_points = [
        f for f in fields if f.schema_custom == FLOAT_TYPE and _STORY_POINTS_NAME.search(f.name or "")
    ]
    if by_type.get(STORY_POINTS_TYPE):
        roles["story_points"] = by_type[STORY_POINTS_TYPE][0].id
        if named_points:
            roles["classic_story_points"] = named_points[0].id
    elif named_points:
        roles["story_points"] = named_points[0].id
    for role, custom in (
        ("sprint", SPRINT_TYPE),
        ("epic_link", EPIC_LINK_TYPE),
        ("epic_name", EPIC_NAME_TYPE),
        ("rank", RANK_TYPE),
    ):
        if by_type.get(custom):
            roles[role] = by_type[custom][0].id
    teams = [f for t in TEAM_TYPES for f in by_type.get(t, [])]
    if not teams:
        teams = [f for t in OPTION_TYPES for f in by_type.get(t, []) if f.name.strip().lower() == "team"]
    if teams:
        roles["team"] = teams[0].id
    if any(f.id == "parent" or f.schema_system == "parent" for f in fields):
        roles["parent"] = "parent"
    return roles


class JiraClient(SearchMixin, AgileMixin):
    """Async client for one Jira connection (Cloud REST v3 or Server/DC REST v2).

    ``async with JiraClient(conn) as client: ...``; every call goes through the same retries, rate
    limiter, Retry-After gate, circuit breaker and deadline (see :mod:`jira_console.jira.http`).
    """

    async def __aenter__(self) -> JiraClient:
        return self

    async def myself(self) -> dict[str, Any]:
        """The authenticated user."""
        await self.ensure_flavor()
        return dict((await self.request("GET", f"{self.api}/myself")).json())

    # ----------------------------------------------------------------------------------------- fields

    async def fields(self) -> list[JiraField]:
        """Every field of the site (system and custom)."""
        await self.ensure_flavor()
        resp = await self.request("GET", f"{self.api}/field")
        return [JiraField.from_json(f) for f in resp.json() if isinstance(f, dict)]

    async def discover_fields(self) -> dict[str, str]:
        """Role -> field id for story_points, sprint, epic_link, team, parent... (found by schema type)."""
        return discover_roles(await self.fields())

    # ----------------------------------------------------------------------------------------- issues

    async def get_issue(
        self,
        key: str,
        fields: Sequence[str] | None = None,
        expand: Sequence[str] | str | None = None,
        properties: Sequence[str] = (),
    ) -> dict[str, Any]:
        """One issue (``fields`` defaults to all navigable fields)."""
        await self.ensure_flavor()
        params: dict[str, Any] = {}
        if fields:
            params["fields"] = ",".join(fields)
        if properties:
            params["properties"] = ",".join(properties)
        if expand:
            params["expand"] = comma_list(expand)
        return dict((await self.request("GET", f"{self.api}/issue/{key}", params=params)).json())

    async def bulk_fetch(
        self,
        keys: Sequence[str],
        fields: Sequence[str] | None = None,
        expand: Sequence[str] | None = None,
        properties: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Many issues at once: Cloud ``bulkfetch`` (100 per call), Server a ``key in (...)`` search.

        Keys that do not exist (or are not visible) are left out, and so are those Jira could not read this
        time (see :meth:`bulk_fetch_report` to tell the two apart).
        """
        return (await self.bulk_fetch_report(keys, fields, expand, properties)).issues

    async def bulk_fetch_report(
        self,
        keys: Sequence[str],
        fields: Sequence[str] | None = None,
        expand: Sequence[str] | None = None,
        properties: Sequence[str] = (),
    ) -> BulkFetch:
        """:meth:`bulk_fetch` with the ids Jira answered with ``issueErrors`` (a retriable failure, not a
        deletion)."""
        flavor = await self.ensure_flavor()
        wanted = list(fields) if fields else list(DEFAULT_FIELDS)
        found: list[dict[str, Any]] = []
        errors: list[str] = []
        for chunk in chunks(list(dict.fromkeys(keys)), BULK_CHUNK):
            if flavor == "cloud":
                body: dict[str, Any] = {"issueIdsOrKeys": chunk, "fields": wanted}
                if expand:
                    body["expand"] = list(expand)  # bulkfetch wants a list, not a comma string
                if properties:
                    body["properties"] = list(properties)
                resp = await self.request("POST", f"{self.api}/issue/bulkfetch", json=body, idempotent=True)
                data = orjson.loads(resp.content)
                found.extend(data.get("issues") or [])
                errors.extend(
                    str(e["id"]) for e in data.get("issueErrors") or [] if isinstance(e, dict) and e.get("id")
                )
                continue
            found.extend(await self._search_keys(chunk, wanted, expand, properties))
        return BulkFetch(found, errors)

    async def _search_keys(
        self, keys: list[str], fields: list[str], expand: Sequence[str] | None, properties: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Server: the issues of ``keys`` by one ``key in (...)`` search (keys of deleted issues left out,
        see :meth:`search_known`); read one by one when Jira refuses the search without saying which key
        it could not take."""
        try:
            return await self.search_known(keys, jql_key_list, fields, expand, properties)
        except JiraBadRequest:
            pass
        found = []
        for key in keys:
            try:
                found.append(await self.get_issue(key, fields=fields, expand=expand, properties=properties))
            except JiraNotFound:
                continue
        return found

    async def edit_issue(
        self, key: str, fields: dict[str, Any] | None = None, update: dict[str, Any] | None = None
    ) -> None:
        """Set fields (``fields``) and/or apply operations (``update``: set/add/remove/edit)."""
        await self.ensure_flavor()
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = fields
        if update:
            body["update"] = update
        if not body:
            return
        path = f"{self.api}/issue/{key}"
        if self.conn.notify_watchers or self.notify_refused:
            await self.request("PUT", path, json=body)
            return
        try:
            await self.request("PUT", path, params={"notifyUsers": "false"}, json=body)
        except JiraAuthError as exc:
            if exc.status != 403 or isinstance(exc, CredentialsBlocked):
                raise
            # Only administrators may silence watchers: say so once, then edit the way Jira allows.
            self.notify_refused = str(exc)
            log.warning(
                "jira.notify_users_refused", connection=self.name, error=str(exc),
                consequence="notify_watchers = false cannot be honoured; watchers are notified",
            )  # fmt: skip
            await self.request("PUT", path, json=body)

    async def editmeta(self, key: str) -> dict[str, dict[str, Any]]:
        """Per field: required, schema, operations and allowedValues for editing this issue."""
        await self.ensure_flavor()
        resp = await self.request("GET", f"{self.api}/issue/{key}/editmeta")
        return dict(resp.json().get("fields") or {})

    async def create_issue(
        self,
        fields: dict[str, Any],
        update: dict[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create an issue; returns ``{id, key, self}``. Never retried unless Jira provably did not act.
        ``properties``: issue entity properties (key -> JSON value) the new issue is created with."""
        await self.ensure_flavor()
        body: dict[str, Any] = {"fields": fields}
        if update:
            body["update"] = update
        if properties:
            body["properties"] = [{"key": k, "value": v} for k, v in properties.items()]
        return dict((await self.request("POST", f"{self.api}/issue", json=body, idempotent=False)).json())

    async def create_issues(self, elements: Sequence[Mapping[str, Any]]) -> BulkCreated:
        """Create up to ``BULK_CREATE`` issues in one request (``POST /issue/bulk``); each element is what
        :meth:`create_issue` sends (``fields``, ``update``, ``properties``). Elements Jira refuses do not stop
        the others. When it refuses every one, Jira answers 400 and this raises :class:`JiraBadRequest`.
        Never retried unless Jira provably did not act."""
        if not 0 < len(elements) <= BULK_CREATE:
            raise ValueError(f"a bulk create takes 1 to {BULK_CREATE} issues, not {len(elements)}")
        await self.ensure_flavor()
        body = {"issueUpdates": [dict(e) for e in elements]}
        data = (await self.request("POST", f"{self.api}/issue/bulk", json=body, idempotent=False)).json()
        failed: dict[int, ElementError] = {}
        for entry in data.get("errors") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("failedElementNumber"), int):
                continue
            detail = entry.get("elementErrors") or {}
            failed[int(entry["failedElementNumber"])] = ElementError(
                int(entry.get("status") or 400),
                [redact.scrub(str(m)) for m in detail.get("errorMessages") or []],
                {str(k): redact.scrub(str(v)) for k, v in (detail.get("errors") or {}).items()},
            )
        return BulkCreated([dict(i) for i in data.get("issues") or [] if isinstance(i, dict)], failed)

    async def delete_issue(self, key: str) -> None:
        """Delete an issue."""
        await self.ensure_flavor()
        await self.request("DELETE", f"{self.api}/issue/{key}")

    # ----------------------------------------------------------------------------------------- workflow

    async def transitions(self, key: str) -> list[Transition]:
        """Transitions available on the issue now."""
        await self.ensure_flavor()
        resp = await self.request("GET", f"{self.api}/issue/{key}/transitions")
        return [Transition.from_json(t) for t in resp.json().get("transitions") or []]

    async def transition(
        self,
        key: str,
        transition_id: str,
        fields: dict[str, Any] | None = None,
        update: dict[str, Any] | None = None,
    ) -> None:
        """Apply one transition (with screen fields if it has a screen)."""
        await self.ensure_flavor()
        body: dict[str, Any] = {"transition": {"id": str(transition_id)}}
        if fields:
            body["fields"] = fields
        if update:
            body["update"] = update
        # Not idempotent: a repeated transition may move the issue on again or fail as unavailable.
        await self.request("POST", f"{self.api}/issue/{key}/transitions", json=body, idempotent=False)

    async def transition_to(self, key: str, status_name: str, *, max_hops: int = MAX_TRANSITION_HOPS) -> bool:
        """Walk the workflow until the issue is in ``status_name``; False when no path was found.

        Only the transitions of the current status are visible, so this walks depth-first, preferring
        statuses not yet visited, for at most ``max_hops`` transitions.
        """
        target = status_name.strip().casefold()
        issue = await self.get_issue(key, fields=["status"])
        current = str(((issue.get("fields") or {}).get("status") or {}).get("name") or "")
        visited = {current.casefold()}
        for _ in range(max_hops):
            if current.casefold() == target:
                return True
            options = await self.transitions(key)
            direct = [t for t in options if t.to_status.casefold() == target]
            fresh = [t for t in options if t.to_status.casefold() not in visited]
            candidates = direct or fresh
            if not candidates:
                log.info("jira.transition_to.no_path", connection=self.name, key=key, target=status_name)
                return False
            choice = candidates[0]
            await self.transition(key, choice.id)
            current = choice.to_status
            visited.add(current.casefold())
        return current.casefold() == target
