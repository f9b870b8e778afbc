"""Issue identity and set-aside issues: an issue is its Jira id, its key can change (a move to another
project, a project key renamed), and the keys it had stay as aliases; an issue version that could not be
applied is quarantined with a typed cause until a later sync applies it.

Blocking SQLAlchemy code for the sync engine's sessions (see :mod:`jira_console.store.issues`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CompoundSelect, Connection, Select, delete, func, select, union_all, update
from sqlalchemy.orm import Session, defer

from jira_console.store import repo
from jira_console.store import tables as t
from jira_console.store.bulk import among
from jira_console.store.converters import IssueRecord
from jira_console.store.tables import utcnow

if TYPE_CHECKING:
    from jira_console.store import models as m

# --- identity ---------------------------------------------------------------------------------------------


def locked_in_id_order(stmt: Select[Any]) -> Select[Any]:
    """``stmt`` (a select of issue rows) locking its rows for the transaction, in the order of their ids.

    Two processes applying overlapping batches (two daemons sharing one webhook queue on PostgreSQL) then
    take the row locks in the same order and wait for each other instead of deadlocking; without an order,
    PostgreSQL locks rows as its plan meets them (for a look-up by a list of keys, the list's order)."""
    return stmt.order_by(t.issues.c.id).with_for_update()


def issues_by_jira_id(
    session: Session, connection: str, jira_ids: Iterable[str], *, lock: bool = False
) -> dict[str, m.Issue]:
    """The rows of the given Jira ids (deleted ones included), by id."""
    from jira_console.store import models as m

    ids = [str(i) for i in jira_ids if i]
    if not ids:
        return {}
    stmt = select(m.Issue).where(t.issues.c.connection == connection, among(session, t.issues.c.jira_id, ids))
    if lock:
        stmt = locked_in_id_order(stmt)
    return {str(row.jira_id): row for row in session.scalars(stmt)}


def ids_by_key_or_jira_id(
    session: Session | Connection, connection: str, keys: Collection[str], jira_ids: Collection[str]
) -> CompoundSelect[tuple[int]]:
    """The row ids of the connection's issues with one of ``keys`` or one of ``jira_ids``, as a subquery.

    Two index searches joined, not ``key IN (...) OR jira_id IN (...)``: for that SQLite picks the index on
    ``connection`` alone and reads every row of the connection, once per page of a sync (quadratic in a
    first import)."""
    c = t.issues.c
    return union_all(
        select(c.id).where(c.connection == connection, among(session, c.key, keys)),
        select(c.id).where(c.connection == connection, among(session, c.jira_id, jira_ids)),
    )


def issues_by_key_and_jira_id(
    session: Session,
    connection: str,
    keys: Iterable[str],
    jira_ids: Iterable[str],
    *,
    lock: bool = False,
    with_raw: bool = True,
) -> tuple[dict[str, m.Issue], dict[str, m.Issue]]:
    """The rows of ``keys`` by key and the rows of ``jira_ids`` by Jira id (deleted ones included), read in
    one statement: a batch of versions needs both, and each row read is decoded once. ``with_raw=False``
    leaves each row's stored Jira JSON unread until something asks for it (decoding it was a tenth of
    applying a batch that only replaces it)."""
    from jira_console.store import models as m

    wanted_keys = list(keys)
    ids = [str(i) for i in jira_ids if i]
    if not wanted_keys and not ids:
        return {}, {}
    found = ids_by_key_or_jira_id(session, connection, wanted_keys, ids)
    if lock and session.get_bind().dialect.name == "postgresql":
        # Locked by their ids, found first: locking through the look-up itself (``id IN (union)``) can
        # silently drop a row that another transaction updated while this one waited for its lock (with
        # some PostgreSQL plans the recheck of the new row version does not find it in the union again),
        # and a row dropped here is taken for a new issue. (SQLite has no row locks: its write lock is
        # the whole database, so one statement does there.)
        row_ids = list(set(session.execute(found).scalars()))  # ids come twice from the union
        if not row_ids:
            return {}, {}
        stmt = locked_in_id_order(select(m.Issue).where(among(session, t.issues.c.id, row_ids)))
    else:
        stmt = select(m.Issue).where(t.issues.c.id.in_(found))
    if not with_raw:
        stmt = stmt.options(defer(m.Issue.raw))
    by_key: dict[str, m.Issue] = {}
    by_id: dict[str, m.Issue] = {}
    key_set, id_set = set(wanted_keys), set(ids)
    for row in session.scalars(stmt):
        if row.key in key_set:
            by_key[row.key] = row
        if row.jira_id is not None and str(row.jira_id) in id_set:
            by_id[str(row.jira_id)] = row
    return by_key, by_id


def rekey(session: Session, row: m.Issue, new_key: str, new_project: str | None, *, actor: str) -> str:
    """The issue now has ``new_key`` in Jira (same id): the row keeps everything it has and takes the new key
    and project; the old key becomes an alias; open conflicts and waiting outbox lines follow. Returns the
    old key."""
    from jira_console.store import models as m

    old_key = row.key
    connection = row.connection
    session.execute(
        delete(m.IssueAlias).where(
            t.issue_aliases.c.connection == connection, t.issue_aliases.c.old_key == new_key
        )
    )
    session.execute(
        delete(m.IssueAlias).where(
            t.issue_aliases.c.connection == connection, t.issue_aliases.c.old_key == old_key
        )
    )
    session.add(m.IssueAlias(connection=connection, old_key=old_key, issue_id=row.id, moved_at=utcnow()))
    row.key = new_key
    if new_project:
        row.project_key = new_project
    session.execute(
        update(m.Conflict)
        .where(t.conflicts.c.issue_id == row.id, t.conflicts.c.status == "open")
        .values(issue_key=new_key, revision=t.conflicts.c.revision + 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(m.LocalChange)
        .where(
            t.local_changes.c.connection == connection,
            t.local_changes.c.issue_key == old_key,
            t.local_changes.c.processed_at.is_(None),
        )
        .values(issue_key=new_key)
        .execution_options(synchronize_session=False)
    )
    # No field named: the key is Jira's to give, nothing an undo could set back.
    repo.append_audit(
        session, connection, "local", None, old_key, new_key, issue_key=new_key,
        reason=f"moved in Jira: {old_key} is now {new_key}", actor=actor,
    )  # fmt: skip
    session.flush()
    return old_key


@dataclass(frozen=True)
class Alias:
    """An old key and the issue it now names."""

    old_key: str
    current_key: str
    moved_at: datetime


def forget_aliases(session: Session, connection: str, keys: Iterable[str]) -> None:
    """These keys name issues of their own now: they are nobody's alias any more."""
    wanted = list(keys)
    if wanted:  # a Core delete, as in :func:`release` (every page of new issues runs this)
        aliases = t.issue_aliases
        session.execute(
            delete(aliases).where(
                aliases.c.connection == connection, among(session, aliases.c.old_key, wanted)
            )
        )


def resolve_alias(session: Session, connection: str, key: str) -> Alias | None:
    """The issue an old key now names, or None when ``key`` is no alias."""
    aliases, issues = t.issue_aliases, t.issues  # a Core read
    found = session.execute(
        select(aliases.c.old_key, issues.c.key, aliases.c.moved_at)
        .join(issues, issues.c.id == aliases.c.issue_id)
        .where(aliases.c.connection == connection, aliases.c.old_key == key)
    ).first()
    return Alias(*found) if found else None


def issue_under_old_key(session: Session, connection: str, key: str) -> m.Issue | None:
    """The row of the issue a key it had before it moved now names, or None."""
    from jira_console.store import models as m

    return session.scalars(
        select(m.Issue)
        .join(t.issue_aliases, t.issue_aliases.c.issue_id == t.issues.c.id)
        .where(t.issue_aliases.c.connection == connection, t.issue_aliases.c.old_key == key)
    ).first()


def aliases_of(session: Session, issue_id: int) -> list[str]:
    """The keys an issue had before its current one, oldest move first."""
    return list(
        session.scalars(
            select(t.issue_aliases.c.old_key)
            .where(t.issue_aliases.c.issue_id == issue_id)
            .order_by(t.issue_aliases.c.id)
        )
    )


def keys_of(session: Session, key: str, connection: str | None = None) -> list[str]:
    """Every key the issue ``key`` names has had (its current key and its aliases), ``key`` first; just
    ``[key]`` when it never moved."""
    stmt = select(t.issue_aliases.c.issue_id).where(t.issue_aliases.c.old_key == key)
    current = select(t.issues.c.id).where(t.issues.c.key == key)
    if connection is not None:
        stmt = stmt.where(t.issue_aliases.c.connection == connection)
        current = current.where(t.issues.c.connection == connection)
    ids = set(session.scalars(stmt)) | set(session.scalars(current))
    if not ids:
        return [key]
    keys = set(session.scalars(select(t.issues.c.key).where(t.issues.c.id.in_(ids))))
    keys |= set(session.scalars(select(t.issue_aliases.c.old_key).where(t.issue_aliases.c.issue_id.in_(ids))))
    return [key, *sorted(keys - {key})]


# --- quarantine -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarantined:
    """An issue set aside: its key, Jira id, the kind of failure and its cause (no field values)."""

    connection: str
    issue_key: str
    jira_id: str | None
    kind: str
    cause: str
    attempts: int
    first_at: datetime
    last_at: datetime


def quarantine(
    session: Session, connection: str, issue_key: str, *, jira_id: str | None, kind: str, cause: str
) -> None:
    """Set an issue aside (or count one more failed attempt)."""
    from jira_console.store import models as m

    now = utcnow()
    row = session.scalars(
        select(m.QuarantinedIssue).where(
            t.quarantined_issues.c.connection == connection, t.quarantined_issues.c.issue_key == issue_key
        )
    ).first()
    if row is None:
        session.add(
            m.QuarantinedIssue(
                connection=connection,
                issue_key=issue_key,
                jira_id=jira_id,
                kind=kind[:64],
                cause=cause,
                attempts=1,
                first_at=now,
                last_at=now,
            )  # fmt: skip
        )
        return
    row.kind, row.cause, row.last_at = kind[:64], cause, now
    row.attempts = (row.attempts or 0) + 1
    row.jira_id = jira_id or row.jira_id


def release(session: Session, connection: str, keys: Iterable[str]) -> int:
    """Issues applied after all: no longer set aside. Returns how many were."""
    wanted = list(keys)
    if not wanted:
        return 0
    # A Core delete (every applied page runs this): the ORM's bulk delete would first look for the rows
    # among the session's objects, and no quarantine object of an applied issue is ever loaded here.
    q = t.quarantined_issues
    result = session.execute(
        delete(q).where(q.c.connection == connection, among(session, q.c.issue_key, wanted))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_quarantined(session: Session, connection: str | None = None) -> list[Quarantined]:
    """Issues set aside (of one connection), oldest first."""
    q = t.quarantined_issues.c  # Core read, as in :mod:`.state`
    stmt = select(q.connection, q.issue_key, q.jira_id, q.kind, q.cause, q.attempts, q.first_at, q.last_at)
    stmt = stmt.order_by(q.connection, q.first_at)
    if connection is not None:
        stmt = stmt.where(q.connection == connection)
    return [Quarantined(*r) for r in session.execute(stmt)]


def quarantine_counts(session: Session) -> Mapping[str, int]:
    """Connection -> how many of its issues are set aside."""
    rows = session.execute(
        select(t.quarantined_issues.c.connection, func.count()).group_by(t.quarantined_issues.c.connection)
    )
    return {str(conn): int(n) for conn, n in rows}


def quarantined_keys(session: Session, connection: str) -> dict[str, Any]:
    """Key -> Jira id of a connection's set-aside issues."""
    rows = session.execute(
        select(t.quarantined_issues.c.issue_key, t.quarantined_issues.c.jira_id).where(
            t.quarantined_issues.c.connection == connection
        )
    )
    return {str(k): i for k, i in rows}


def find_issues(
    session: Session, key: str, connection: str | None, connections: Sequence[str]
) -> list[IssueRecord]:
    """The issues ``key`` names (in ``connection``, else in any, deleted ones included): the issue with
    that key, or else the one it names now (a key an issue had before it moved; the record's key then
    differs from ``key``). Several when the key exists in several connections."""
    if connection:
        found = [r for r in [repo.get_issue(session, connection, key)] if r]
    else:
        found = repo.list_issues(session, repo.IssueQuery(keys=[key], include_deleted=True, limit=2))
    if not found:
        for name in [connection] if connection else connections:
            alias = resolve_alias(session, name, key)
            moved = repo.get_issue(session, name, alias.current_key) if alias else None
            found += [moved] if moved else []
    return found
