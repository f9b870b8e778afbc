"""Mappings in the store: versioned save, list, get, history, delete, TOML export/import, loading a set.

A thin layer over :mod:`jira_console.store.catalog` that only ever stores definitions that validate, so what
the sync engine loads always compiles (field selectors aside, which need the site's field list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jira_console.mapping.compiled import MappingSet
from jira_console.mapping.context import Identity, IdentityTable
from jira_console.mapping.errors import MappingDefinitionError
from jira_console.mapping.model import MappingDefinition, parse_definition
from jira_console.mapping.toml_io import dumps, loads
from jira_console.store import catalog
from jira_console.store import mapping_state as mstate
from jira_console.store import models as sm
from jira_console.store.converters import MappingRecord, MappingVersionRecord
from jira_console.store.db import Database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class StoredMapping:
    """A stored mapping: its parsed definition plus the bookkeeping columns."""

    id: int
    connection: str | None
    definition: MappingDefinition
    enabled: bool
    version: int
    updated_by: str | None

    @property
    def name(self) -> str:
        return self.definition.name


def _stored(record: MappingRecord) -> StoredMapping:
    """The stored row, parsed. The definition names the connection the row is stored for: one saved with
    ``-C`` (or by the console's editor) may not say it, or say another, and the row's is the one that holds
    (what export writes, so import stores it back there)."""
    try:
        definition = parse_definition(record.definition)
    except MappingDefinitionError as exc:
        # Stored rows were valid when saved; a newer engine may reject them. Name the row so it can be fixed.
        problems = [f"stored version {record.version}: {p}" for p in exc.problems]
        raise MappingDefinitionError(record.name, problems) from None
    if definition.connection != record.connection:
        definition = definition.model_copy(update={"connection": record.connection})
    return StoredMapping(
        record.id, record.connection, definition, record.enabled, record.version, record.updated_by
    )


def save(
    db: Database,
    definition: MappingDefinition | dict[str, Any],
    *,
    connection: str | None = None,
    enabled: bool = True,
    changed_by: str | None = None,
    comment: str | None = None,
) -> MappingRecord:
    """Validate and store a mapping; a changed definition becomes a new version with a history row.

    ``connection`` defaults to the definition's own; None stores a global mapping.
    """
    defn = parse_definition(definition)
    target = connection if connection is not None else defn.connection
    with db.session(write=True) as session:
        return catalog.save_mapping(
            session,
            defn.name,
            defn.to_data(),
            connection=target,
            jira_field=defn.field_label(),
            internal_field=defn.internal_field,
            direction=defn.direction,
            enabled=enabled,
            changed_by=changed_by,
            comment=comment,
        )


def list_mappings(
    db: Database, connection: str | None = None, *, enabled_only: bool = False
) -> list[StoredMapping]:
    """Mappings that apply to ``connection`` (its own plus global ones), by name."""
    with db.session() as session:
        records = catalog.list_mappings(session, connection, enabled_only=enabled_only)
    return [_stored(r) for r in records]


def get(db: Database, name: str, connection: str | None = None) -> StoredMapping | None:
    """One mapping by name (the connection's own, else the global one)."""
    with db.session() as session:
        record = catalog.get_mapping(session, name, connection)
    return _stored(record) if record else None


def history(db: Database, name: str, connection: str | None = None) -> list[MappingVersionRecord]:
    """Every stored version of a mapping, newest first (empty when there is no such mapping)."""
    with db.session() as session:
        record = catalog.get_mapping(session, name, connection)
        return catalog.mapping_history(session, record.id) if record else []


def delete(db: Database, name: str, connection: str | None = None) -> bool:
    """Delete a mapping and its history; False when there was none."""
    with db.session(write=True) as session:
        record = catalog.get_mapping(session, name, connection)
        # get_mapping falls back to the global mapping; deleting that when asked for a connection's own would
        # change every other connection, so only an exact match is deleted.
        if record is None or record.connection != connection:
            return False
        return catalog.delete_mapping(session, record.id)


def delete_by_id(db: Database, mapping_id: int) -> MappingRecord | None:
    """Delete the mapping with this id and its history; the deleted mapping, or None when there was none."""
    with db.session(write=True) as session:
        record = catalog.get_mapping_by_id(session, mapping_id)
        if record is not None:
            catalog.delete_mapping(session, mapping_id)
        return record


def get_by_id(db: Database, mapping_id: int) -> tuple[MappingRecord, list[MappingVersionRecord]] | None:
    """A mapping as stored, with every version (newest first); None when there is no such id."""
    with db.session() as session:
        record = catalog.get_mapping_by_id(session, mapping_id)
        return (record, catalog.mapping_history(session, mapping_id)) if record else None


def get_exact(db: Database, name: str, connection: str | None) -> MappingRecord | None:
    """The mapping stored under exactly this name and connection (no fallback to a global one)."""
    with db.session() as session:
        return catalog.get_exact_mapping(session, name, connection)


def every_mapping(db: Database) -> list[StoredMapping]:
    """Every stored mapping: the global ones, then each connection's own (also of a connection no longer
    configured), by name; a global one a connection overrides is listed too."""
    stored = [_stored(r) for r in list_records(db)]
    return sorted(stored, key=lambda m: (m.connection is not None, m.connection or "", m.name))


def export_toml(db: Database, connection: str | None = None) -> str:
    """The mappings of ``connection`` (with global ones) as TOML; without, every stored mapping. A
    connection's own mapping says ``connection = ...``, so :func:`import_toml` stores it back there."""
    stored = list_mappings(db, connection) if connection is not None else every_mapping(db)
    return dumps(m.definition for m in stored)


def import_toml(
    db: Database, text: str, *, connection: str | None = None, changed_by: str | None = None
) -> list[MappingRecord]:
    """Validate the whole file first, then save every mapping (all or nothing): for ``connection``, else
    for the one each names, else global. A mapping the file holds as stored stays as it is (its version,
    and enabled or disabled); a changed one becomes a new version and keeps being enabled or disabled."""
    definitions = loads(text)
    if connection is not None:  # the file's names are unique per connection; here they all go to one
        names = [d.name for d in definitions]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            said = [f"mapping name {n!r} is used twice (all are stored for {connection!r})" for n in twice]
            raise MappingDefinitionError(None, said)
    with db.session(write=True) as session:
        return [
            _import_one(session, d, connection if connection is not None else d.connection, changed_by)
            for d in definitions
        ]


def _import_one(
    session: Session, definition: MappingDefinition, connection: str | None, changed_by: str | None
) -> MappingRecord:
    wanted = definition.model_copy(update={"connection": connection}).to_data()
    existing = catalog.get_exact_mapping(session, definition.name, connection)
    if existing is not None and _stored(existing).definition.to_data() == wanted:
        return existing  # as stored, whether or not the stored definition names its connection
    return catalog.save_mapping(
        session,
        definition.name,
        # The row holds the connection; the definition leaves it out, as the console's editor shows it.
        definition.model_copy(update={"connection": None}).to_data(),
        connection=connection,
        jira_field=definition.field_label(),
        internal_field=definition.internal_field,
        direction=definition.direction,
        enabled=existing.enabled if existing is not None else True,
        changed_by=changed_by,
        comment="import",
    )


def load_set(db: Database, connection: str, field_list: list[dict[str, Any]] | None = None) -> MappingSet:
    """The enabled mappings of ``connection``, compiled, for the sync engine.

    Without ``field_list``, mappings naming their field by a selector are left out (they cannot be
    resolved offline); load again with the site's field list once it is known.
    """
    definitions = [m.definition for m in list_mappings(db, connection, enabled_only=True)]
    if field_list is None:
        definitions = [d for d in definitions if isinstance(d.jira_field, str)]
    return MappingSet.compile(definitions, field_list, connection)


def identity_table(db: Database, connection: str, flavor: str) -> IdentityTable:
    """The stored identities as a resolver (``jira_user``: accountId on Cloud, user name on Server)."""
    with db.session() as session:
        rows = catalog.list_identities(session, connection)
    return IdentityTable(
        Identity(
            id=r.internal_id,
            email=r.email,
            account_id=r.jira_user if flavor == "cloud" else None,
            name=r.jira_user if flavor != "cloud" else None,
            display_name=r.display_name,
        )
        for r in rows
    )


def list_records(db: Database, connection: str | None = None) -> list[MappingRecord]:
    """Every stored mapping as stored (the connection's own and global ones; all when ``connection`` is
    None), by connection and name. Unlike :func:`list_mappings`, a global mapping hidden by a connection's
    own one of the same name is listed too: the console shows and edits each row."""
    from sqlalchemy import or_, select

    from jira_console.store.converters import mapping_record

    stmt = select(sm.Mapping).order_by(sm.Mapping.connection, sm.Mapping.name)
    if connection is not None:
        stmt = stmt.where(or_(sm.Mapping.connection.is_(None), sm.Mapping.connection == connection))
    with db.session() as session:
        return [mapping_record(row) for row in session.scalars(stmt)]


def stamp(db: Database) -> tuple[tuple[str, int], ...]:
    """Changes whenever any stored mapping is created, saved, enabled, disabled or deleted (the
    generations of every connection and of the global mappings)."""
    with db.session() as session:
        return tuple(sorted(mstate.generations(session).items()))


def generation(db: Database, connection: str) -> int:
    """The generation of the mappings that apply to ``connection`` (see :mod:`.store.mapping_state`)."""
    with db.session() as session:
        return mstate.generation(session, connection)


def set_enabled(db: Database, name: str, connection: str | None, enabled: bool) -> MappingRecord | None:
    """Enable or disable the mapping stored under exactly this name and connection (None: the global one);
    None when there is none."""
    with db.session(write=True) as session:
        record = catalog.get_exact_mapping(session, name, connection)
        return catalog.set_mapping_enabled(session, record.id, enabled) if record else None


def cached_fields(db: Database, connection: str) -> tuple[str | None, list[dict[str, Any]] | None]:
    """(flavor, ``/field`` list) of ``connection``'s site as the last sync stored them; Nones before any."""
    with db.session() as session:
        flavor, field_list, _at = mstate.cached_field_list(session, connection)
    return flavor, field_list
