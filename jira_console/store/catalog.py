"""Stored field mappings (versioned) and user identities."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import tables as t
from jira_console.store.mapping_state import bump_generation
from jira_console.store.repo import dialect_insert
from jira_console.store.tables import utcnow

if TYPE_CHECKING:
    from jira_console.store import models as m


def _mapping_row(session: Session, name: str, connection: str | None) -> m.Mapping | None:
    from jira_console.store import models as m

    cond = t.mappings.c.connection.is_(None) if connection is None else t.mappings.c.connection == connection
    return session.scalars(select(m.Mapping).where(t.mappings.c.name == name, cond)).first()


def save_mapping(
    session: Session,
    name: str,
    definition: Mapping[str, Any],
    *,
    connection: str | None = None,
    jira_field: str | None = None,
    internal_field: str | None = None,
    direction: Literal["pull", "push", "both"] = "both",
    enabled: bool = True,
    changed_by: str | None = None,
    comment: str | None = None,
) -> cv.MappingRecord:
    """Create a mapping or store a new version of it (every version is kept in ``mapping_versions``).

    ``connection`` None makes a global mapping that applies to every connection. Saving an identical
    definition does not create a new version.
    """
    from jira_console.store import models as m

    if direction not in ("pull", "push", "both"):
        raise ValueError(f"direction must be pull, push or both, got {direction!r}")
    now = utcnow()
    row = _mapping_row(session, name, connection)
    definition = dict(definition)
    if row is None:
        row = m.Mapping(connection=connection, name=name, version=1)
        session.add(row)
    elif (row.definition, row.jira_field, row.internal_field, row.direction, row.enabled) == (
        definition, jira_field, internal_field, direction, enabled,
    ):  # fmt: skip
        return cv.mapping_record(row)
    else:
        row.version += 1
    row.definition, row.jira_field, row.internal_field = definition, jira_field, internal_field
    row.direction, row.enabled, row.updated_at, row.updated_by = direction, enabled, now, changed_by
    session.flush()
    session.add(
        m.MappingVersion(
            mapping_id=row.id,
            version=row.version,
            definition=definition,
            changed_at=now,
            changed_by=changed_by,
            comment=comment,
        )  # fmt: skip
    )
    bump_generation(session, connection)
    session.flush()
    return cv.mapping_record(row)


def set_mapping_enabled(session: Session, mapping_id: int, enabled: bool) -> cv.MappingRecord | None:
    """Enable or disable a mapping (its definition and version stay); bumps the generation when that
    changes anything. None when there is no such mapping."""
    from jira_console.store import models as m

    row = session.get(m.Mapping, mapping_id)
    if row is None:
        return None
    if row.enabled != enabled:
        row.enabled, row.updated_at = enabled, utcnow()
        bump_generation(session, row.connection)
        session.flush()
    return cv.mapping_record(row)


def get_mapping(session: Session, name: str, connection: str | None = None) -> cv.MappingRecord | None:
    """A mapping by name: the connection's own, else the global one of that name."""
    row = _mapping_row(session, name, connection) if connection is not None else None
    row = row or _mapping_row(session, name, None)
    return cv.mapping_record(row) if row else None


def list_mappings(
    session: Session, connection: str | None = None, *, enabled_only: bool = False
) -> list[cv.MappingRecord]:
    """Mappings that apply to ``connection`` (its own plus global ones; only global when None), by name.

    A connection's own mapping hides a global one of the same name.
    """
    from jira_console.store import models as m

    stmt = select(m.Mapping)
    if connection is None:
        stmt = stmt.where(t.mappings.c.connection.is_(None))
    else:
        stmt = stmt.where(or_(t.mappings.c.connection.is_(None), t.mappings.c.connection == connection))
    if enabled_only:
        stmt = stmt.where(t.mappings.c.enabled.is_(True))
    chosen: dict[str, m.Mapping] = {}
    for row in session.scalars(stmt):
        if row.name not in chosen or row.connection is not None:
            chosen[row.name] = row
    return [cv.mapping_record(chosen[n]) for n in sorted(chosen)]


def get_mapping_by_id(session: Session, mapping_id: int) -> cv.MappingRecord | None:
    """A mapping by its id, or None."""
    from jira_console.store import models as m

    row = session.get(m.Mapping, mapping_id, populate_existing=True)
    return cv.mapping_record(row) if row else None


def get_exact_mapping(session: Session, name: str, connection: str | None) -> cv.MappingRecord | None:
    """The mapping stored under exactly this name and connection (None: the global one); no fallback."""
    row = _mapping_row(session, name, connection)
    return cv.mapping_record(row) if row else None


def delete_mapping(session: Session, mapping_id: int) -> bool:
    """Delete a mapping and its versions; False when there was none."""
    from jira_console.store import models as m

    row = session.get(m.Mapping, mapping_id)
    if row is None:
        return False
    bump_generation(session, row.connection)
    # The versions explicitly, because SQLite enforces ON DELETE CASCADE only with a pragma.
    session.execute(delete(m.MappingVersion).where(t.mapping_versions.c.mapping_id == mapping_id))
    result = session.execute(delete(m.Mapping).where(t.mappings.c.id == mapping_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mapping_history(session: Session, mapping_id: int) -> list[cv.MappingVersionRecord]:
    """Every stored version of a mapping, newest first."""
    from jira_console.store import models as m

    stmt = (
        select(m.MappingVersion)
        .where(t.mapping_versions.c.mapping_id == mapping_id)
        .order_by(t.mapping_versions.c.version.desc())
    )
    return [cv.mapping_version_record(r) for r in session.scalars(stmt)]


def upsert_identity(
    session: Session,
    connection: str,
    jira_user: str,
    *,
    email: str | None = None,
    internal_id: str | None = None,
    display_name: str | None = None,
) -> None:
    """Create or update the link of a Jira user (accountId on Cloud, user name on Server)."""
    data = {"connection": connection, "jira_user": jira_user, "email": email, "internal_id": internal_id,
            "display_name": display_name}  # fmt: skip
    stmt = dialect_insert(session, t.identities).values(**data)
    # Only overwrite with known values: a partial sighting (no e-mail on Cloud) must not erase a good one.
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection", "jira_user"],
        set_={k: stmt.excluded[k] for k in ("email", "internal_id", "display_name") if data[k] is not None}
        or {"jira_user": stmt.excluded.jira_user},
    )
    session.execute(stmt)


def find_identity(
    session: Session,
    connection: str,
    *,
    jira_user: str | None = None,
    email: str | None = None,
    internal_id: str | None = None,
) -> cv.IdentityRecord | None:
    """The identity matching the first given key (jira_user, then internal_id, then e-mail), or None."""
    from jira_console.store import models as m

    stmt = select(m.Identity).where(t.identities.c.connection == connection)
    if jira_user is not None:
        stmt = stmt.where(t.identities.c.jira_user == jira_user)
    elif internal_id is not None:
        stmt = stmt.where(t.identities.c.internal_id == internal_id)
    elif email is not None:
        stmt = stmt.where(func.lower(t.identities.c.email) == email.lower())
    else:
        raise ValueError("give jira_user, internal_id or email")
    row = session.scalars(stmt.order_by(t.identities.c.id).limit(1)).first()
    return cv.identity_record(row) if row else None


def list_identities(session: Session, connection: str) -> list[cv.IdentityRecord]:
    """Every identity of a connection."""
    from jira_console.store import models as m

    stmt = (
        select(m.Identity).where(t.identities.c.connection == connection).order_by(t.identities.c.jira_user)
    )
    return [cv.identity_record(r) for r in session.scalars(stmt)]


def known_names(
    session: Session, connection: str, people: Collection[str] = (), sprints: Collection[int] = ()
) -> tuple[dict[str, str], dict[int, str]]:
    """Display names of ``people`` (accountId on Cloud, user name on Server) and names of ``sprints`` (by
    id) as far as the store knows them: the identity table first, then the name Jira gave the person on
    an issue assigned to them. Unknown ones are left out."""
    # Core reads (``issues show`` makes them; see :mod:`.state`).
    ids_, issues, sprints_ = (tb.c for tb in (t.identities, t.issues, t.sprints))
    names: dict[str, str] = {}
    wanted = {str(p) for p in people if p}
    if wanted:
        found = session.execute(
            select(ids_.jira_user, ids_.display_name).where(
                ids_.connection == connection, ids_.jira_user.in_(wanted), ids_.display_name.is_not(None)
            )
        )
        names.update({user: name for user, name in found if name})
    missing = wanted - set(names)
    if missing:
        person = issues.raw["fields"]["assignee"]
        shown = person["displayName"].as_string()
        # Only a version of the issue Jira assigned to that very person names them: a local assignment
        # not yet pushed (or refused) sits beside Jira's version naming someone else.
        same_person = or_(
            person["accountId"].as_string() == issues.assignee, person["name"].as_string() == issues.assignee
        )
        found = session.execute(
            select(issues.assignee, func.max(shown))
            .where(issues.connection == connection, issues.assignee.in_(missing), same_person)
            .group_by(issues.assignee)
        )
        names.update({user: name for user, name in found if user and name})
    sprint_names: dict[int, str] = {}
    ids = {int(i) for i in sprints if isinstance(i, int) or str(i).isdigit()}
    if ids:
        rows = session.execute(
            select(sprints_.jira_id, sprints_.name).where(
                sprints_.connection == connection, sprints_.jira_id.in_(ids)
            )
        )
        sprint_names = {int(jira_id): name for jira_id, name in rows if name}
    return names, sprint_names
