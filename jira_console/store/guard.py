"""What every process talking to one Jira site must respect, kept on the connection's row so a CLI run, the
console and the daemon see it alike: Jira's ``Retry-After`` deadline and a block on Basic credentials Jira
denied (see :mod:`jira_console.sync.guard`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jira_console.store import tables as t
from jira_console.store.repo import dialect_insert
from jira_console.store.tables import utcnow

_CONNECTIONS = t.connections  # Core reads, as in :mod:`.state`


@dataclass(frozen=True)
class GuardRow:
    """The shared facts of one connection."""

    rate_limited_until: datetime | None = None
    auth_blocked: str | None = None
    auth_blocked_at: datetime | None = None
    auth_blocked_config: str | None = None


def load(session: Session, connection: str) -> GuardRow:
    """One indexed read of the connection's row (cheap enough to do before every request)."""
    row = session.execute(
        select(
            t.connections.c.rate_limited_until,
            t.connections.c.auth_blocked,
            t.connections.c.auth_blocked_at,
            t.connections.c.auth_blocked_config,
        ).where(t.connections.c.name == connection)
    ).first()
    return GuardRow(*row) if row is not None else GuardRow()


def block_auth(session: Session, connection: str, reason: str, fingerprint: str) -> None:
    """Stop every process from sending this connection's Basic credentials (creating the row if needed)."""
    values = {"auth_blocked": reason[:2000], "auth_blocked_at": utcnow(), "auth_blocked_config": fingerprint}
    stmt = dialect_insert(session, t.connections).values(name=connection, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values))


def clear_auth_block(session: Session, connection: str) -> bool:
    """Lift the block (``config check`` ran, or the configuration changed); True if one was set."""
    from jira_console.store import models as m

    result = session.execute(
        update(m.Connection)
        .where(t.connections.c.name == connection, t.connections.c.auth_blocked.is_not(None))
        .values(auth_blocked=None, auth_blocked_at=None, auth_blocked_config=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def all_blocks(session: Session) -> dict[str, tuple[str, datetime | None]]:
    """Connection -> (reason, since) for every blocked connection."""
    c = _CONNECTIONS.c
    stmt = select(c.name, c.auth_blocked, c.auth_blocked_at).where(c.auth_blocked.is_not(None))
    return {name: (str(reason), at) for name, reason, at in session.execute(stmt)}
