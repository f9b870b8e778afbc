"""Per connection: the generation of its mappings and the site's cached field list (``mapping_state``).

Every change to a stored mapping bumps a generation: the connection's own for a connection's mapping, the
global row ``*`` for a global one. A connection's generation is the sum of both (each only grows, so the sum
changes whenever either does), read by every process before it syncs. The field list is what the last sync
read from ``GET /field``: it lets a process that has no Jira client resolve field selectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jira_console.store import tables as t
from jira_console.store.repo import dialect_insert
from jira_console.store.tables import utcnow

GLOBAL = "*"
"""The row counting changes to global mappings (no connection name can be ``*``)."""


def bump_generation(session: Session, connection: str | None) -> None:
    """A mapping of ``connection`` (None: a global one) changed."""
    now = utcnow()
    stmt = dialect_insert(session, t.mapping_state).values(
        connection=connection or GLOBAL, generation=1, changed_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection"],
        set_={"generation": t.mapping_state.c.generation + 1, "changed_at": now},
    )
    session.execute(stmt)


def generation(session: Session, connection: str) -> int:
    """The generation of the mappings that apply to ``connection`` (its own and the global ones)."""
    found = session.scalar(
        select(func.coalesce(func.sum(t.mapping_state.c.generation), 0)).where(
            t.mapping_state.c.connection.in_((connection, GLOBAL))
        )
    )
    return int(found or 0)


def generations(session: Session) -> dict[str, int]:
    """Every row's own generation (``*`` included), for a cheap "did anything change" look."""
    rows = session.execute(select(t.mapping_state.c.connection, t.mapping_state.c.generation))
    return {name: int(gen) for name, gen in rows}


def store_field_list(session: Session, connection: str, flavor: str, field_list: Sequence[Any]) -> None:
    """Keep the site's ``/field`` list (as plain dicts) as a sync just read it."""
    now = utcnow()
    data = {"flavor": flavor, "field_list": list(field_list), "fields_at": now}
    stmt = dialect_insert(session, t.mapping_state).values(connection=connection, generation=0, **data)
    stmt = stmt.on_conflict_do_update(index_elements=["connection"], set_=data)
    session.execute(stmt)


def cached_field_list(
    session: Session, connection: str
) -> tuple[str | None, list[dict[str, Any]] | None, datetime | None]:
    """(flavor, field list, when read) as the last sync stored them; Nones before any."""
    c = t.mapping_state.c
    row = session.execute(
        select(c.flavor, c.field_list, c.fields_at).where(c.connection == connection)
    ).first()
    if row is None or row.field_list is None:
        return None, None, None
    return row.flavor, list(row.field_list), row.fields_at
