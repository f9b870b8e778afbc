"""The facade's mapping methods that ask the site, or what the last sync stored of it: the field list for
resolving selectors (kept in the database, so an attached console resolves them too), checking a file
before it is imported (a missing field refused with the closest candidates, ``value_map`` options against
the allowed values of a sample issue), trying a file's mappings over issues fetched from Jira, and
disabling, enabling or deleting a mapping by name."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from jira_console import events as ev
from jira_console.config import Settings
from jira_console.facade.errors import NotFound, StateConflict
from jira_console.facade.runner import Runner
from jira_console.facade.views import MappingTrial
from jira_console.mapping import (
    MappingContext,
    MappingDefinition,
    MappingDefinitionError,
    Problem,
    check_mappings,
    check_with_client,
    loads,
    preview,
)
from jira_console.mapping import repo as mrepo
from jira_console.mapping.compiled import field_dicts
from jira_console.store import converters as cv
from jira_console.store import repo
from jira_console.store.db import Database
from jira_console.sync.jql import every_key_jql


class MappingSiteMethods:
    """Mixed into the facade's mapping methods."""

    settings: Settings
    db: Database
    runner: Runner

    def emit(self, event: ev.EngineEvent) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------- the site's fields

    async def field_list(self, connection: str, *, ask_jira: bool = True) -> list[dict[str, Any]] | None:
        """``connection``'s ``/field`` list: the running sync's, else the one the last sync stored, else
        (in this process, with ``ask_jira``) read from Jira now. None when none is known."""
        known = self.runner.preview_inputs(connection).field_list
        if known is not None:
            return known
        _flavor, stored = await asyncio.to_thread(mrepo.cached_fields, self.db, connection)
        if stored is not None:
            return stored
        if ask_jira and self.runner.mode == "inprocess":
            with contextlib.suppress(Exception):  # an unreachable site: the caller says what it could not do
                return (await self.runner.site_fields(connection))[1]
        return None

    def _sample_key(self, connection: str) -> str | None:
        with self.db.session() as s:
            found = repo.list_issues(s, repo.IssueQuery(connection, limit=1))
        return found[0].key if found else None

    def _targets(self, definition: MappingDefinition, connection: str | None) -> list[str]:
        target = connection or definition.connection
        return [target] if target else [c.name for c in self.settings.jira]

    async def site_problems(
        self, definitions: list[MappingDefinition], connection: str | None = None
    ) -> list[Problem]:
        """Every problem of ``definitions`` on the sites they apply to (``connection``, else each one's own,
        else every configured one): missing fields with candidates, steps that do not fit, ``value_map``
        options the field does not allow (read from a stored issue's editmeta when this process can ask
        Jira). Warnings say what could not be checked."""
        problems: list[Problem] = []
        for name in sorted({t for d in definitions for t in self._targets(d, connection)}):
            mine = [d for d in definitions if name in self._targets(d, connection)]
            field_list = await self.field_list(name)
            if field_list is None:
                why = "no field list known (no sync has read the site yet)"
                problems.extend(Problem(d.name, None, name, f"not checked against {name}: {why}", "warning")
                                for d in mine)  # fmt: skip
                continue
            editmeta = await self._sample_editmeta(name, mine)
            found = check_mappings(mine, field_list, editmeta, screen=False)
            problems.extend(
                Problem(p.mapping, p.step, p.value, f"{name}: {p.message}", p.severity) for p in found
            )
        return problems

    async def refuse_site_errors(
        self, definitions: list[MappingDefinition], connection: str | None, name: str | None = None
    ) -> list[Problem]:
        """:meth:`site_problems`, raising MappingDefinitionError (``name``'s, if given) when any is an error,
        as ``mapping import`` and the API's create and update refuse them; else the warnings."""
        problems = await self.site_problems(definitions, connection)
        errors = [str(p) for p in problems if p.severity == "error"]
        if errors:
            raise MappingDefinitionError(name, errors)
        return problems

    async def _sample_editmeta(self, connection: str, definitions: list[MappingDefinition]) -> Any:
        """A stored issue's editmeta, when a ``value_map`` needs allowed values and Jira can be asked."""
        wanted = any(s.op == "value_map" for d in definitions for s in d.steps)
        if not wanted or self.runner.mode != "inprocess":
            return None
        key = await asyncio.to_thread(self._sample_key, connection)
        if key is None:
            return None
        with contextlib.suppress(Exception):
            return await self.runner.client(connection).editmeta(key)
        return None

    # ---------------------------------------------------------------------------------- files

    async def import_checked(
        self, text: str, *, connection: str | None = None, actor: str = "operator"
    ) -> tuple[list[cv.MappingRecord], list[Problem]]:
        """Import a TOML file after checking it against the sites it applies to: MappingDefinitionError
        (nothing stored) when a definition is invalid or names a field the site lacks or an option it
        does not allow; otherwise the stored mappings and the warnings."""
        definitions = loads(text)
        problems = await self.refuse_site_errors(definitions, connection)
        records = await asyncio.to_thread(
            mrepo.import_toml, self.db, text, connection=connection, changed_by=actor
        )
        for record in records:
            await self.runner.reload_mappings(record.connection)
            self.emit(ev.MappingChanged(record.name, record.version))
        return records, problems

    async def check_file(
        self, text: str, connection: str | None, issue_key: str | None = None
    ) -> tuple[int, list[Problem]]:
        """Check the mappings of a TOML file (not stored) against ``connection``'s site (None: each against
        the sites it applies to), as ``mapping validate FILE``: definition problems, then the sites' (see
        :meth:`site_problems`; with ``issue_key`` and a connection, that issue's edit screen too). Returns
        (mappings checked, problems)."""
        try:
            definitions = loads(text)
        except MappingDefinitionError as exc:
            return 0, [Problem(exc.mapping or "", None, None, p) for p in exc.problems]
        if issue_key is None or connection is None:
            return len(definitions), await self.site_problems(definitions, connection)
        client = self.runner.client(connection)
        return len(definitions), await check_with_client(definitions, client, issue_key)

    async def try_file(
        self, text: str, connection: str, issue_key: str | None = None, limit: int = 5
    ) -> tuple[list[MappingTrial], list[dict[str, Any]]]:
        """Run the mappings of a TOML file (not stored) over issues fetched from Jira now: ``issue_key``, else
        the first ``limit`` issues of the connection's search. One trial per mapping and issue, plus the
        users no identity could resolve."""
        definitions = loads(text)
        client = self.runner.client(connection)
        flavor = await client.ensure_flavor()
        field_list = field_dicts(await client.fields()) or []
        if issue_key is not None:
            issues = [await client.get_issue(issue_key)]
        else:
            jql = every_key_jql(self.settings.connection(connection).jql)  # bounded, as Cloud requires
            issues = await client.search(jql, fields=["*navigable"], limit=limit)
        identities = await asyncio.to_thread(mrepo.identity_table, self.db, connection, flavor)
        ctx = MappingContext(flavor=flavor, identities=identities)  # type: ignore[arg-type]
        trials: list[MappingTrial] = []
        for defn in definitions:
            try:
                trials.extend(
                    MappingTrial(defn.name, row=row) for row in preview(defn, issues, ctx, field_list)
                )
            except Exception as exc:  # noqa: BLE001 - one broken mapping must not hide the others
                trials.append(MappingTrial(defn.name, error=str(exc)))
        return trials, ctx.unresolved

    # ------------------------------------------------------------------------ by name (the CLI's)

    def find_mapping(self, name: str, connection: str | None) -> cv.MappingRecord:
        """The stored mapping called ``name``: the connection's own with ``connection``; without, the only
        one of that name (global or a connection's). NotFound, or StateConflict naming the scopes when the
        name is ambiguous."""
        if connection is not None:
            found = mrepo.get_exact(self.db, name, connection)
            if found is None:
                raise NotFound(f"no mapping named {name!r} for connection {connection!r}")
            return found
        matches = [r for r in mrepo.list_records(self.db) if r.name == name]
        if not matches:
            raise NotFound(f"no mapping named {name!r}")
        if len(matches) > 1:
            scopes = ", ".join(sorted(r.connection or "global" for r in matches))
            raise StateConflict(f"{name!r} is stored for several scopes ({scopes}): say which with -C")
        return matches[0]

    async def set_mapping_enabled(self, name: str, connection: str | None, enabled: bool) -> cv.MappingRecord:
        """Enable or disable a stored mapping by name (see :meth:`find_mapping`); the syncs pick it up."""
        record = await asyncio.to_thread(self.find_mapping, name, connection)
        changed = await asyncio.to_thread(mrepo.set_enabled, self.db, record.name, record.connection, enabled)
        assert changed is not None  # found just above
        await self.runner.reload_mappings(changed.connection)
        self.emit(ev.MappingChanged(changed.name, changed.version))
        return changed

    async def delete_mapping_named(self, name: str, connection: str | None) -> cv.MappingRecord:
        """Delete a stored mapping and its history by name (see :meth:`find_mapping`)."""
        record = await asyncio.to_thread(self.find_mapping, name, connection)
        await asyncio.to_thread(mrepo.delete, self.db, record.name, record.connection)
        await self.runner.reload_mappings(record.connection)
        self.emit(ev.MappingChanged(record.name, record.version, deleted=True))
        return record
