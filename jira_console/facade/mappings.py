"""The facade's mapping desk: the stored mappings, the editor's round trip between a definition and its
TOML, live previews over stored issues, saving (which recompiles the running syncs), import and export,
and checking or trying mappings against the Jira site.

The pure parts (:func:`definition_to_toml`, :func:`definition_from_toml`, :func:`preview_over`) are
module functions, so anything holding issues and mapping definitions (the console's test fake) runs the
same code as the engine.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Sequence
from typing import Any

from jira_console import events as ev
from jira_console.config import Settings
from jira_console.facade.errors import NotFound, StateConflict
from jira_console.facade.identities import IdentityMethods
from jira_console.facade.mapping_site import MappingSiteMethods
from jira_console.facade.runner import PreviewInputs, Runner
from jira_console.facade.views import Flavor, MappingTemplates, MappingTrial
from jira_console.mapping import (
    MappingContext,
    MappingDefinition,
    MappingDefinitionError,
    MappingError,
    PreviewRow,
    Problem,
    check_with_client,
    compile_mapping,
    dumps,
    loads,
    parse_definition,
    preview,
)
from jira_console.mapping import repo as mrepo
from jira_console.mapping import templates as tpl
from jira_console.mapping.compiled import field_dicts
from jira_console.mapping.repo import StoredMapping
from jira_console.store import converters as cv
from jira_console.store import repo
from jira_console.store.db import Database


def definition_to_toml(definition: dict[str, Any]) -> str:
    """One mapping definition as the TOML an operator edits (a ``[[mapping]]`` table)."""
    return dumps([parse_definition(definition)])


def definition_from_toml(text: str) -> dict[str, Any]:
    """One mapping from TOML (``[[mapping]]`` or its bare keys); ValueError with readable problems."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    if "mapping" in doc:
        found = loads(text)
        if len(found) != 1:
            raise ValueError(f"expected one [[mapping]], found {len(found)}")
        return found[0].to_data()
    return parse_definition(doc).to_data()


def preview_over(
    definition: MappingDefinition | dict[str, Any], issues: Sequence[cv.IssueRecord], inputs: PreviewInputs
) -> list[PreviewRow]:
    """Run a definition being edited over stored issues (their raw Jira fields), forward and back.
    ValueError when the definition is invalid (the message names the mapping and step)."""
    defn = parse_definition(definition)
    ctx = inputs.ctx or MappingContext(flavor=inputs.flavor or "cloud")  # type: ignore[arg-type]
    sample = [{"key": i.key, "fields": (i.raw or {}).get("fields") or {}} for i in issues]
    try:
        return preview(defn, sample, ctx, inputs.field_list)
    except MappingError as exc:
        raise ValueError(str(exc)) from None


class MappingMethods(MappingSiteMethods, IdentityMethods):
    """The facade's mapping methods (mixed into :class:`~jira_console.facade.engine.Engine`)."""

    settings: Settings
    db: Database
    runner: Runner
    _mappings_seen: tuple[tuple[str, int], ...] | None = None
    """The stored mappings' stamp at the last :meth:`refresh_mappings`."""

    def emit(self, event: ev.EngineEvent) -> None:
        raise NotImplementedError

    def list_mappings(self, connection: str | None = None) -> list[cv.MappingRecord]:
        """Every stored mapping (all connections and global ones), by connection and name."""
        return mrepo.list_records(self.db, connection)

    def stored_mappings(
        self, connection: str | None = None, *, enabled_only: bool = False
    ) -> list[StoredMapping]:
        """The mappings that apply to ``connection`` (its own, and the global ones it does not override;
        only global ones when None), parsed, by name."""
        return mrepo.list_mappings(self.db, connection, enabled_only=enabled_only)

    def every_mapping(self) -> list[StoredMapping]:
        """Every stored mapping, parsed: the global ones, then each connection's own, by name."""
        return mrepo.every_mapping(self.db)

    def get_mapping(self, name: str, connection: str | None = None) -> StoredMapping | None:
        """One mapping by name: the connection's own, else the global one."""
        return mrepo.get(self.db, name, connection)

    def mapping_history(self, name: str, connection: str | None = None) -> list[cv.MappingVersionRecord]:
        """Every stored version of a mapping, newest first."""
        return mrepo.history(self.db, name, connection)

    def mapping_to_toml(self, definition: dict[str, Any]) -> str:
        return definition_to_toml(definition)

    def mapping_from_toml(self, text: str) -> dict[str, Any]:
        """One mapping from TOML (``[[mapping]]`` or its bare keys); ValueError with readable problems."""
        return definition_from_toml(text)

    def export_mappings(self, connection: str | None = None) -> str:
        """The mappings of ``connection`` (with global ones) as TOML; without, every stored mapping (a
        connection's own one says its ``connection``, so importing the text stores it back there)."""
        return mrepo.export_toml(self.db, connection)

    def preview_mapping(
        self,
        definition: dict[str, Any],
        issue_keys: list[str] | None = None,
        limit: int = 100,
        *,
        connection: str | None = None,
    ) -> list[PreviewRow]:
        """Run a mapping being edited over stored issues of ``connection`` (else the definition's own, else
        the first configured: a global mapping applies to each), forward and back. Field selectors resolve
        against the site's field list as the running sync or, attached, the last sync stored it. Raises
        ValueError when the definition is invalid (the message names the mapping and step)."""
        defn = parse_definition(definition)
        name = connection or defn.connection or (self.settings.jira[0].name if self.settings.jira else None)
        if name is None:
            raise ValueError("no connection configured to preview against")
        inputs = self._preview_inputs(name)
        with self.db.session() as s:
            query = repo.IssueQuery(name, keys=list(issue_keys) if issue_keys else None, limit=limit)
            issues = repo.list_issues(s, query)
        return preview_over(defn, issues, inputs)

    def _preview_inputs(self, connection: str) -> PreviewInputs:
        """What the running engine knows of ``connection`` for previews; the stored flavor when it is idle."""
        inputs = self.runner.preview_inputs(connection)
        if inputs.ctx is None and inputs.flavor is None:
            flavor, field_list = mrepo.cached_fields(self.db, connection)
            if flavor is None:
                with self.db.session() as s:
                    flavor = repo.stored_flavor(s, connection)
            identities = mrepo.identity_table(self.db, connection, flavor or "cloud")
            ctx = MappingContext(flavor=flavor or "cloud", identities=identities)  # type: ignore[arg-type]
            inputs = PreviewInputs(ctx, flavor, inputs.field_list or field_list)
        return inputs

    async def save_mapping(
        self,
        definition: dict[str, Any],
        actor: str = "operator",
        comment: str | None = None,
        *,
        connection: str | None = None,
    ) -> cv.MappingRecord:
        """Store a new version of a mapping (``connection``'s own; else the definition's connection, else
        global) and recompile the affected connections' mappings (other processes see the generation)."""
        record = await asyncio.to_thread(
            mrepo.save, self.db, definition, connection=connection, changed_by=actor, comment=comment
        )
        await self._saved(record)
        return record

    async def import_mappings(
        self, text: str, *, connection: str | None = None, actor: str = "operator"
    ) -> list[cv.MappingRecord]:
        """Validate a TOML file of ``[[mapping]]`` tables, check it against the sites it applies to and store
        every mapping (all or nothing; changed ones become new versions). MappingDefinitionError names every
        problem (see :meth:`import_checked`, which also returns the warnings)."""
        records, _warnings = await self.import_checked(text, connection=connection, actor=actor)
        return records

    async def refresh_mappings(self) -> bool:
        """Recompile the running syncs' mappings when the stored ones changed since the last look (saved by
        another process: a second daemon's API, the CLI). Returns whether they had changed."""
        current = await asyncio.to_thread(mrepo.stamp, self.db)
        seen, self._mappings_seen = self._mappings_seen, current
        if seen is None or seen == current:
            return False
        await self.runner.reload_mappings(None)
        return True

    async def _saved(self, record: cv.MappingRecord) -> None:
        await self.runner.reload_mappings(record.connection)
        self.emit(ev.MappingChanged(record.name, record.version))

    async def site_fields(self, connection: str) -> tuple[Flavor, list[dict[str, Any]]]:
        """The flavor and the field list (``/field``) of ``connection``'s site, as the sync sees them: what
        mapping templates need to find their fields (by schema, not by name)."""
        return await self.runner.site_fields(connection)

    async def check_mappings(
        self, connection: str, issue_key: str | None = None
    ) -> tuple[int, list[Problem]]:
        """Check ``connection``'s mappings against its Jira site: the fields exist and fit the steps; with
        ``issue_key``, they are on that issue's edit screen. Returns (mappings checked, problems)."""
        definitions = [m.definition for m in self.stored_mappings(connection)]
        sample = None if issue_key else await asyncio.to_thread(self._sample_key, connection)
        problems = await check_with_client(
            definitions, self.runner.client(connection), issue_key, sample_key=sample
        )
        return len(definitions), problems

    async def try_mappings(
        self, issue_key: str, connection: str
    ) -> tuple[list[MappingTrial], list[dict[str, Any]]]:
        """Fetch one issue from Jira and run every enabled mapping of ``connection`` over it: each mapping's
        Jira value, internal value and what a push would write; plus the users no table could resolve."""
        stored = self.stored_mappings(connection, enabled_only=True)
        ctx, field_list, issue = await self._fetch_for_trial(issue_key, connection)
        trials = []
        for mapping in stored:
            try:
                (row,) = preview(mapping.definition, [issue], ctx, field_list)
                trials.append(MappingTrial(mapping.name, row=row))
            except Exception as exc:  # noqa: BLE001 - one broken mapping must not hide the others
                trials.append(MappingTrial(mapping.name, error=str(exc)))
        return trials, ctx.unresolved

    # ------------------------------------------------------------- by id (the operations API's shape)

    def mapping_by_id(self, mapping_id: int) -> tuple[cv.MappingRecord, list[cv.MappingVersionRecord]]:
        """One mapping as stored, with every version (newest first); NotFound when there is no such id."""
        found = mrepo.get_by_id(self.db, mapping_id)
        if found is None:
            raise NotFound(f"no mapping with id {mapping_id}")
        return found

    async def create_mapping(
        self, definition: dict[str, Any], actor: str = "operator", comment: str | None = None
    ) -> cv.MappingRecord:
        """Store a new mapping (its connection's own, or global without one). StateConflict when that
        connection (or the global scope) already has a mapping of the name; MappingDefinitionError when the
        definition is invalid."""
        defn = parse_definition(definition)
        existing = await asyncio.to_thread(mrepo.get_exact, self.db, defn.name, defn.connection)
        if existing is not None:
            scope = f"for connection {defn.connection!r}" if defn.connection else "globally"
            raise StateConflict(
                f"a mapping named {defn.name!r} already exists {scope} (id {existing.id}); "
                "store a new version of it instead"
            )
        await self.refuse_site_errors([defn], defn.connection, defn.name)
        return await self.save_mapping(defn.to_data(), actor, comment)

    async def update_mapping(
        self,
        mapping_id: int,
        definition: dict[str, Any],
        actor: str = "operator",
        comment: str | None = None,
    ) -> cv.MappingRecord:
        """Store ``definition`` as the next version of mapping ``mapping_id`` (an identical definition keeps
        the version). Its name and connection stay: StateConflict when the definition names others."""
        current, _ = await asyncio.to_thread(self.mapping_by_id, mapping_id)
        defn = parse_definition(definition)
        if defn.name != current.name or defn.connection not in (None, current.connection):
            raise StateConflict(
                f"mapping {mapping_id} is {current.name!r} "
                f"({'connection ' + repr(current.connection) if current.connection else 'global'}); "
                "a new version keeps its name and connection (create a new mapping to rename or move it)"
            )
        await self.refuse_site_errors([defn], current.connection, defn.name)
        data = defn.to_data() | {"connection": current.connection}
        return await self.save_mapping(data, actor, comment)

    async def delete_mapping(self, mapping_id: int) -> cv.MappingRecord:
        """Delete a mapping and its history, and recompile the affected syncs; NotFound when there is none."""
        record = await asyncio.to_thread(mrepo.delete_by_id, self.db, mapping_id)
        if record is None:
            raise NotFound(f"no mapping with id {mapping_id}")
        await self.runner.reload_mappings(record.connection)
        self.emit(ev.MappingChanged(record.name, record.version, deleted=True))
        return record

    async def validate_mapping(
        self, definition: dict[str, Any], connection: str, issue_key: str | None = None
    ) -> list[Problem]:
        """Every problem of one definition: its own (names, steps, rules), then against ``connection``'s
        site (the field exists and fits the steps; with ``issue_key``, it is on that issue's edit screen)."""
        try:
            defn = parse_definition(definition)
        except MappingDefinitionError as exc:
            name = exc.mapping or str(definition.get("name") or "")
            return [Problem(name, None, None, p) for p in exc.problems]
        return await check_with_client([defn], self.runner.client(connection), issue_key)

    async def mapping_templates(self, connection: str) -> MappingTemplates:
        """The templates that fit ``connection``'s site, with the field ids found there (asks Jira)."""
        flavor, field_list = await self.site_fields(connection)
        field_ids = tpl.discover_field_ids(flavor, field_list)
        templates = [d.to_data() for d in tpl.all_templates(flavor, field_ids)]
        return MappingTemplates(connection, flavor, field_ids, templates)

    async def try_mapping(
        self,
        mapping: str | dict[str, Any],
        connection: str,
        *,
        value: Any = None,
        issue_key: str | None = None,
    ) -> tuple[PreviewRow, list[dict[str, Any]]]:
        """Run one mapping (a stored one by name, or a definition) forward and back: over ``issue_key``
        fetched from Jira, else over ``value`` as Jira's raw value of the field. Returns the preview row and
        the users no identity could resolve. NotFound for an unknown stored name; MappingError (or
        MappingDefinitionError) when the definition cannot compile."""
        if isinstance(mapping, str):
            stored = self.get_mapping(mapping, connection)
            if stored is None:
                raise NotFound(f"no mapping named {mapping!r} for connection {connection!r}")
            defn = stored.definition
        else:
            defn = parse_definition(mapping)
        field_list: list[dict[str, Any]] | None
        if issue_key is not None:
            ctx, field_list, issue = await self._fetch_for_trial(issue_key, connection)
        else:
            inputs = self._preview_inputs(connection)
            ctx = inputs.ctx or MappingContext(flavor=inputs.flavor or "cloud")  # type: ignore[arg-type]
            field_list = inputs.field_list
            if field_list is None and not isinstance(defn.jira_field, str):
                field_list = (await self.site_fields(connection))[1]
            field_id = defn.jira_field
            if not isinstance(field_id, str):
                field_id = compile_mapping(defn, field_list).jira_field
            issue = {"key": "value", "fields": {field_id: value}}
        (row,) = preview(defn, [issue], ctx, field_list)
        return row, ctx.unresolved

    async def _fetch_for_trial(
        self, issue_key: str, connection: str
    ) -> tuple[MappingContext, list[dict[str, Any]], dict[str, Any]]:
        """The mapping context (identities), the site's field list and one issue, fetched from Jira."""
        client = self.runner.client(connection)
        flavor = await client.ensure_flavor()
        issue, field_list = await client.get_issue(issue_key), await client.fields()
        identities = await asyncio.to_thread(mrepo.identity_table, self.db, connection, flavor)
        ctx = MappingContext(flavor=flavor, identities=identities)  # type: ignore[arg-type]
        return ctx, field_dicts(field_list) or [], issue
