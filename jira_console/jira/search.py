"""JQL search (Cloud token pages, Server offset pages, Cloud counts) and ``key in (...)`` lists, mixed into
:class:`~jira_console.jira.client.JiraClient`.

Cloud pages ``/rest/api/3/search/jql`` by ``nextPageToken``; Server/DC pages ``/rest/api/2/search`` by
``startAt``. Jira's JQL validation refuses a ``key`` clause naming a key of no issue (one message per key, see
:func:`refused_keys`); Server's bulk reads search with ``validateQuery=false`` so that a deleted key does not
fail the other ninety-nine."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import orjson

from jira_console.jira.errors import JiraBadRequest
from jira_console.jira.http import JiraHttp
from jira_console.jira.models import SearchPage
from jira_console.logs import get_logger

log = get_logger(__name__)

LONG_JQL = 1500
"""JQL longer than this goes in a POST body (URLs have practical length limits)."""
DEFAULT_FIELDS = ("*navigable",)
_ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$|^\d+$")
_REFUSED_KEY = re.compile(
    r"An issue with key '([^']+)' does not exist for field '(?:key|id)'"
    r"|The issue key '([^']+)' for field '(?:key|id)' is invalid"
)


def comma_list(values: Sequence[str] | str | None) -> str | None:
    """Values as one comma-separated query parameter (``expand``, ``fields``), None for None."""
    if values is None:
        return None
    return values if isinstance(values, str) else ",".join(values)


def _list(values: Sequence[str] | str | None) -> list[str] | None:
    if values is None:
        return None
    return [v for v in values.split(",") if v] if isinstance(values, str) else list(values)


def jql_key_list(keys: Sequence[str]) -> str:
    """``key in (A-1, "odd key")`` with anything that is not a plain key or id quoted."""

    def q(key: str) -> str:
        return key if _ISSUE_KEY.match(key) else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return f"key in ({', '.join(q(k) for k in keys)})"


def refused_keys(messages: Iterable[str]) -> set[str]:
    """The keys and ids (keys upper-cased) a refused JQL search names as unknown or malformed, from Jira's
    messages (which say "key" for an id too)."""
    out: set[str] = set()
    for message in messages:
        for match in _REFUSED_KEY.finditer(message):
            out.add((match.group(1) or match.group(2)).upper())
    return out


class SearchMixin(JiraHttp):
    """Searches in the paging style of the connection's flavor."""

    async def search_pages(
        self,
        jql: str,
        fields: Sequence[str] | None = None,
        page_size: int | None = None,
        expand: Sequence[str] | str | None = None,
        properties: Sequence[str] = (),
        *,
        validate: bool = True,
    ) -> AsyncIterator[SearchPage]:
        """Yield every page of a JQL search, in the paging style of the flavor.

        The page size Jira really used is read back (it clamps silently); Server pages advance by the
        number of issues actually returned. ``properties``: issue property keys (at most 5) each issue
        carries back in its ``properties`` object. ``validate=False`` (Server's ``validateQuery=false``;
        Cloud's search has no such switch): values Jira's validation refuses, such as the key of a deleted
        issue, match nothing instead of failing the whole query.
        """
        flavor = await self.ensure_flavor()
        size = page_size or self.conn.page_size
        wanted = list(fields) if fields else list(DEFAULT_FIELDS)
        if flavor == "cloud":
            async for page in self._search_cloud(jql, wanted, size, expand, list(properties)):
                yield page
            return
        async for page in self._search_server(jql, wanted, size, expand, list(properties), validate):
            yield page

    async def _search_cloud(
        self, jql: str, fields: list[str], size: int, expand: Sequence[str] | str | None, props: list[str]
    ) -> AsyncIterator[SearchPage]:
        path = f"{self.api}/search/jql"
        token: str | None = None
        while True:
            if len(jql) > LONG_JQL:
                body: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": fields}
                if expand:
                    body["expand"] = comma_list(expand)  # a comma string here, unlike bulkfetch
                if props:
                    body["properties"] = props
                if token:
                    body["nextPageToken"] = token
                resp = await self.request("POST", path, json=body, idempotent=True)
            else:
                params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": ",".join(fields)}
                if expand:
                    params["expand"] = comma_list(expand)
                if props:
                    params["properties"] = ",".join(props)
                if token:
                    params["nextPageToken"] = token
                resp = await self.request("GET", path, params=params)
            data = orjson.loads(resp.content)  # pages are large: orjson parses them several times faster
            issues = list(data.get("issues") or [])
            next_token = data.get("nextPageToken") or None
            is_last = bool(data.get("isLast", next_token is None)) or next_token is None
            if next_token is not None and next_token == token:
                log.warning("jira.search.stuck_token", connection=self.name)
                is_last = True
            yield SearchPage(
                issues=issues,
                start_at=None,
                max_results=int(data.get("maxResults", len(issues))),
                total=data.get("total"),
                next_page_token=None if is_last else next_token,
                is_last=is_last,
            )
            if is_last:
                return
            token = next_token

    async def _search_server(
        self,
        jql: str,
        fields: list[str],
        size: int,
        expand: Sequence[str] | str | None,
        props: list[str],
        validate: bool,
    ) -> AsyncIterator[SearchPage]:
        path = f"{self.api}/search"
        start = 0
        while True:
            if len(jql) > LONG_JQL:
                body: dict[str, Any] = {"jql": jql, "startAt": start, "maxResults": size, "fields": fields}
                if expand:
                    body["expand"] = _list(expand)
                if props:
                    body["properties"] = props
                if not validate:
                    body["validateQuery"] = False
                resp = await self.request("POST", path, json=body, idempotent=True)
            else:
                params: dict[str, Any] = {
                    "jql": jql,
                    "startAt": start,
                    "maxResults": size,
                    "fields": ",".join(fields),
                }
                if expand:
                    params["expand"] = comma_list(expand)
                if props:
                    params["properties"] = ",".join(props)
                if not validate:
                    params["validateQuery"] = "false"
                resp = await self.request("GET", path, params=params)
            data = orjson.loads(resp.content)  # pages are large: orjson parses them several times faster
            issues = list(data.get("issues") or [])
            page_start = int(data.get("startAt", start))
            total = data.get("total")
            nxt = page_start + len(issues)
            is_last = not issues or (total is not None and nxt >= int(total))
            yield SearchPage(
                issues=issues,
                start_at=page_start,
                max_results=int(data.get("maxResults", len(issues))),
                total=int(total) if total is not None else None,
                next_page_token=None,
                is_last=is_last,
            )
            if is_last:
                return
            start = nxt

    async def approximate_count(self, jql: str) -> int | None:
        """How many issues a (bounded) JQL search matches, as Cloud estimates it
        (``POST /rest/api/3/search/approximate-count``; recent edits may not be counted yet). None on
        Server/DC, whose search pages carry an exact ``total`` instead."""
        if await self.ensure_flavor() != "cloud":
            return None
        resp = await self.request(
            "POST", f"{self.api}/search/approximate-count", json={"jql": jql}, idempotent=True
        )
        count = orjson.loads(resp.content).get("count")
        return int(count) if isinstance(count, int) else None

    async def search(
        self, jql: str, fields: Sequence[str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """All issues of a search as one list (at most ``limit``)."""
        found: list[dict[str, Any]] = []
        async for page in self.search_pages(jql, fields=fields):
            found.extend(page.issues)
            if limit is not None and len(found) >= limit:
                return found[:limit]
        return found

    async def search_known(
        self,
        values: Sequence[str],
        jql_for: Callable[[list[str]], str],
        fields: Sequence[str] | None = None,
        expand: Sequence[str] | None = None,
        properties: Sequence[str] = (),
        *,
        strict: bool = False,
    ) -> list[dict[str, Any]]:
        """The issues a search naming ``values`` (keys or ids, written into the JQL by ``jql_for``) finds;
        values naming no issue (deleted, or not visible) find nothing.

        Jira's validation refuses the whole query for one such value. Server is asked to warn instead
        (``validateQuery=false``) unless ``strict`` (a JQL that holds more than the values, such as a
        connection's own filter, whose mistakes must not be waved through); Cloud's search cannot be asked.
        A refusal that names some of the values is answered by searching again without them; one that names
        none of them is raised."""
        asked = list(values)
        while True:
            try:
                pages = self.search_pages(
                    jql_for(asked), fields=fields, expand=expand, properties=properties, validate=strict
                )
                return [issue async for page in pages for issue in page.issues]
            except JiraBadRequest as exc:
                named = refused_keys(exc.messages)
                gone = {value for value in asked if value.upper() in named}
                if not gone:
                    raise
                asked = [value for value in asked if value not in gone]
                if not asked:
                    return []
