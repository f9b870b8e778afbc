"""Repository functions for issues (reading), connections, field errors, the audit log and conflicts.

Every function takes an open :class:`~sqlalchemy.orm.Session` (the caller owns the transaction, normally
through :meth:`Database.session`) and returns records from :mod:`jira_console.store.converters`. The sync
engine's writes to ``issues`` themselves are in :mod:`jira_console.store.issues`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, Select, delete, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jira_console.store import bulk, cause
from jira_console.store import converters as cv
from jira_console.store import tables as t
from jira_console.store.tables import utcnow

if TYPE_CHECKING:
    from jira_console.store import models as m

_AUDIT = t.audit_log
# The reads ``issues show`` and ``issues list`` make go through the tables (Core), as in :mod:`.state`.
_ISSUES = t.issues
_FIELD_ERRORS = t.field_errors


def dialect_insert(session: Session | Connection, table: Any) -> Any:
    """``INSERT`` construct of the session's (or connection's) dialect (it carries ``on_conflict_do_*``)."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    name = bind.dialect.name  # imported here: the dialect is loaded already
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise NotImplementedError(f"unsupported dialect {name}")


# --- issues -------------------------------------------------------------------------------------------


def get_issue(session: Session, connection: str, key: str) -> cv.IssueRecord | None:
    """The issue ``key`` of ``connection`` (deleted ones included), or None."""
    c = _ISSUES.c
    row = session.execute(select(_ISSUES).where(c.connection == connection, c.key == key)).first()
    return cv.issue_record(row) if row else None


@dataclass(frozen=True)
class IssueQuery:
    """Which issues :func:`list_issues` and :func:`count_issues` return: every given filter must match.
    ``text`` searches summary and key and ``status`` matches a name, both case-insensitively; deleted
    issues only with ``include_deleted``."""

    connection: str | None = None
    keys: Sequence[str] | None = None
    project_key: str | None = None
    status: str | None = None
    assignee: str | None = None
    sprint_id: int | None = None
    dirty: bool | None = None
    include_deleted: bool = False
    text: str | None = None
    updated_since_ms: int | None = None
    failing: str | None = None
    """Only issues with a field error: of this field, or of any (``""``)."""
    limit: int | None = 100
    offset: int = 0


def _issue_filters(stmt: Select[Any], q: IssueQuery) -> Select[Any]:
    c = _ISSUES.c
    equal = {
        c.connection: q.connection, c.project_key: q.project_key, c.assignee: q.assignee,
        c.sprint_id: q.sprint_id,
    }  # fmt: skip
    for column, value in equal.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if q.status is not None:  # a status name in any case, as JQL reads it ("done" is Done)
        stmt = stmt.where(func.lower(c.status) == q.status.lower())
    if q.keys is not None:
        stmt = stmt.where(c.key.in_(list(q.keys)))
    if q.dirty is not None:
        stmt = stmt.where(c.local_dirty.is_(q.dirty))
    if not q.include_deleted:
        stmt = stmt.where(c.deleted.is_(False))
    if q.text:
        pattern = f"%{q.text.lower()}%"
        stmt = stmt.where(or_(func.lower(c.summary).like(pattern), func.lower(c.key).like(pattern)))
    if q.updated_since_ms is not None:
        stmt = stmt.where(c.jira_updated_ms >= q.updated_since_ms)
    if q.failing is not None:
        fe = t.field_errors.c
        stmt = stmt.where(c.id.in_(select(fe.issue_id).where(fe.field == q.failing if q.failing else true())))
    return stmt


def list_issues(session: Session, query: IssueQuery | None = None) -> list[cv.IssueRecord]:
    """Issues matching the query, by connection and key in natural order (ENG-2 before ENG-10: the key
    without its number, then shorter keys first), a page (``limit``, ``offset``) at a time."""
    q = query or IssueQuery()
    key = _ISSUES.c.key
    natural = (func.rtrim(key, "0123456789"), func.length(key), key)
    stmt = _issue_filters(select(_ISSUES), q).order_by(_ISSUES.c.connection, *natural).offset(q.offset)
    if q.limit is not None:
        stmt = stmt.limit(q.limit)
    return [cv.issue_record(r) for r in session.execute(stmt)]


def count_issues(session: Session, query: IssueQuery | None = None) -> int:
    """Number of issues :func:`list_issues` would return without a limit."""
    stmt = _issue_filters(select(func.count()).select_from(_ISSUES), query or IssueQuery())
    return int(session.execute(stmt).scalar_one())


def issue_connections(
    session: Session, query: IssueQuery | None = None, limit: int | None = None
) -> list[str]:
    """The connections of the issues :func:`list_issues` would return without a limit (at most ``limit``
    of them: two tell whether a list spans several)."""
    stmt = _issue_filters(select(_ISSUES.c.connection).distinct(), query or IssueQuery()).limit(limit)
    return sorted(str(c) for c in session.execute(stmt).scalars())


# --- connections (sprints and boards: :mod:`jira_console.store.sprints`) ----------------------------


def upsert_connection(
    session: Session, name: str, *, flavor: str | None, base_url: str | None, server_version: str | None
) -> None:
    """Record what was detected about a connection (flavor, URL, server version)."""
    data = {"name": name, "flavor": flavor, "base_url": base_url, "server_version": server_version}
    stmt = dialect_insert(session, t.connections).values(**data, detected_at=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={k: stmt.excluded[k] for k in ("flavor", "base_url", "server_version", "detected_at")},
    )
    session.execute(stmt)


# --- field errors ---------------------------------------------------------------------------------------


def record_field_error(
    session: Session,
    issue_id: int,
    field: str,
    message: str,
    *,
    mapping: str | None = None,
    step: str | None = None,
    value: Any = None,
    at: datetime | None = None,
) -> None:
    """Remember that mapping ``field`` of an issue failed (replacing the previous failure of that field);
    ``at`` puts back a failure recorded earlier (an undo that changed nothing), the default is now."""
    data = {"issue_id": issue_id, "field": field, "message": message, "mapping": mapping, "step": step,
            "value": value, "at": at or utcnow()}  # fmt: skip
    stmt = dialect_insert(session, t.field_errors).values(**data)
    stmt = stmt.on_conflict_do_update(
        index_elements=["issue_id", "field"],
        set_={k: stmt.excluded[k] for k in ("message", "mapping", "step", "value", "at")},
    )
    session.execute(stmt)


def clear_field_error(session: Session, issue_id: int, field: str | None = None) -> int:
    """Forget the failure of one field (or all fields) of an issue; returns how many were removed."""
    from jira_console.store import models as m

    stmt = delete(m.FieldError).where(t.field_errors.c.issue_id == issue_id)
    if field is not None:
        stmt = stmt.where(t.field_errors.c.field == field)
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def issues_with_field_errors(session: Session, issue_ids: Iterable[int]) -> set[int]:
    """Which of these issues have a recorded field error."""
    wanted = list(issue_ids)
    if not wanted:
        return set()
    stmt = select(t.field_errors.c.issue_id).where(bulk.among(session, t.field_errors.c.issue_id, wanted))
    return set(session.scalars(stmt))


def list_field_errors(
    session: Session, *, issue_id: int | None = None, connection: str | None = None, limit: int = 500
) -> list[cv.FieldErrorRecord]:
    """Recorded mapping failures, newest first."""
    e = _FIELD_ERRORS.c
    stmt = select(_FIELD_ERRORS)
    if issue_id is not None:
        stmt = stmt.where(e.issue_id == issue_id)
    if connection is not None:
        stmt = stmt.join(_ISSUES, _ISSUES.c.id == e.issue_id).where(_ISSUES.c.connection == connection)
    stmt = stmt.order_by(e.at.desc(), e.id.desc()).limit(limit)
    return [cv.field_error_record(r) for r in session.execute(stmt)]


def field_errors_of(session: Session, issue_ids: Sequence[int]) -> dict[int, list[cv.FieldErrorRecord]]:
    """Issue id -> its recorded field errors (by field), for a page of issues at once."""
    found: dict[int, list[cv.FieldErrorRecord]] = {}
    if not issue_ids:
        return found
    e = _FIELD_ERRORS.c
    stmt = select(_FIELD_ERRORS).where(bulk.among(session, e.issue_id, list(issue_ids))).order_by(e.field)
    for row in session.execute(stmt):
        found.setdefault(int(row.issue_id), []).append(cv.field_error_record(row))
    return found


# --- audit log ------------------------------------------------------------------------------------------


def append_audit(
    to: Session | list[dict[str, Any]],
    connection: str,
    side: Literal["jira", "local"],
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    *,
    issue_key: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one line to the audit log; ``side`` is the side that was written to. ``to`` a session: the line
    is added to it, not flushed (a page's lines go out together at commit). ``to`` a list: the line's column
    values (the cause in effect now included) are collected there, for a batch's one
    :func:`append_audit_rows` (the ORM's insert of a hundred lines costs three times the CPU on
    PostgreSQL)."""
    if side not in ("jira", "local"):
        raise ValueError(f"side must be 'jira' or 'local', got {side!r}")
    line = {
        "connection": connection, "issue_key": issue_key, "side": side, "field": field, "old": old,
        "new": new, "reason": reason[:255] if reason else reason, "actor": actor, "at": at or utcnow(),
    } | cause.columns(issue_key, field, side)  # fmt: skip
    if isinstance(to, list):
        to.append(line)
        return
    from jira_console.store import models as m

    to.add(m.AuditLog(**line))


def append_audit_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append many audit lines (dicts of column values, the same keys in each) in one executemany; the
    cause in effect (:mod:`~jira_console.store.cause`) fills the cause columns the rows leave out."""
    if rows:
        bulk.insert_rows(
            session,
            _AUDIT,
            [cause.columns(r.get("issue_key"), r.get("field"), str(r.get("side"))) | dict(r) for r in rows],
        )


def list_audit(
    session: Session,
    *,
    connection: str | None = None,
    issue_key: str | None = None,
    field: str | None = None,
    side: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
    run_id: int | None = None,
) -> list[cv.AuditEntry]:
    """Audit lines matching every given filter, newest first."""
    from jira_console.store import models as m

    stmt = select(m.AuditLog)
    if run_id is not None:
        stmt = stmt.where(t.audit_log.c.run_id == run_id)
    if connection is not None:
        stmt = stmt.where(t.audit_log.c.connection == connection)
    if issue_key is not None:
        stmt = stmt.where(t.audit_log.c.issue_key == issue_key)
    if field is not None:
        stmt = stmt.where(t.audit_log.c.field == field)
    if side is not None:
        stmt = stmt.where(t.audit_log.c.side == side)
    if since is not None:
        stmt = stmt.where(t.audit_log.c.at >= since)
    stmt = stmt.order_by(t.audit_log.c.id.desc()).limit(limit).offset(offset)
    return [cv.audit_entry(r) for r in session.scalars(stmt)]


# --- conflicts ------------------------------------------------------------------------------------------


def _open_conflict_row(session: Session, issue_id: int, field: str) -> m.Conflict | None:
    from jira_console.store import models as m

    return session.scalars(
        select(m.Conflict).where(
            t.conflicts.c.issue_id == issue_id, t.conflicts.c.field == field, t.conflicts.c.status == "open"
        )
    ).first()


def open_conflict(
    session: Session,
    issue_id: int,
    field: str,
    *,
    base: Any,
    local: Any,
    jira: Any,
    jira_edited_at: datetime | None = None,
) -> cv.ConflictRecord:
    """Record a conflict on an issue field, or refresh the values of the one already open there.

    At most one conflict per issue and field is open; the partial unique index backs this up when two
    writers race, in which case the loser refreshes the winner's row. The local edit's time is the issue's
    last local change; ``jira_edited_at`` is the Jira version's ``updated``. A refresh keeps the time of a
    side whose value has not changed: both move with edits of the issue's other fields (our own push of one
    among them), which are not the edit that conflicts. A refresh adds one to ``revision`` (in SQL, so two
    writers both count): the queue's change marker moves with it.
    """
    from jira_console.store import models as m

    issue = session.get(m.Issue, issue_id)
    if issue is None:
        raise LookupError(f"no issue with id {issue_id}")
    edited = {"local_edited_at": issue.local_changed_at, "jira_edited_at": jira_edited_at}
    for _ in range(2):
        existing = _open_conflict_row(session, issue_id, field)
        if existing is not None:
            if existing.local != local or existing.local_edited_at is None:
                existing.local_edited_at = edited["local_edited_at"]
            if existing.jira != jira or existing.jira_edited_at is None:
                existing.jira_edited_at = edited["jira_edited_at"]
            existing.base, existing.local, existing.jira = base, local, jira
            existing.revision = m.Conflict.revision + 1
            session.flush()
            return cv.conflict_record(existing)
        try:
            with session.begin_nested():
                row = m.Conflict(
                    issue_id=issue_id, connection=issue.connection, issue_key=issue.key, field=field,
                    base=base, local=local, jira=jira, status="open", detected_at=utcnow(), **edited,
                )  # fmt: skip
                session.add(row)
            return cv.conflict_record(row)
        except IntegrityError:
            continue  # another writer opened it between our SELECT and INSERT: refresh theirs
    raise RuntimeError(f"could not open a conflict on issue {issue_id} field {field!r}")


def close_converged_conflicts(session: Session, issue_id: int, agreed: Mapping[str, Any], actor: str) -> None:
    """Open conflicts of an issue on fields where both sides now hold the same value (``agreed``: field ->
    that value) need no person any more: resolved as ``converged``."""
    from jira_console.store import models as m

    if not agreed:
        return
    for c in session.scalars(
        select(m.Conflict).where(
            t.conflicts.c.issue_id == issue_id,
            t.conflicts.c.status == "open",
            t.conflicts.c.field.in_(list(agreed)),
        )
    ):
        c.status = "resolved"
        c.resolution = "converged"
        c.resolved_value = agreed[c.field]
        c.resolved_by = actor
        c.resolved_at = utcnow()


def issues_with_open_conflicts(session: Session, issue_ids: Iterable[int]) -> set[int]:
    """Which of these issues have an open conflict."""
    wanted = list(issue_ids)
    if not wanted:
        return set()
    stmt = select(t.conflicts.c.issue_id).where(
        bulk.among(session, t.conflicts.c.issue_id, wanted), t.conflicts.c.status == "open"
    )
    return set(session.scalars(stmt))


def open_conflict_fields(session: Session, connection: str) -> set[tuple[int, str]]:
    """(issue id, field) of every open conflict of a connection."""
    stmt = select(t.conflicts.c.issue_id, t.conflicts.c.field).where(
        t.conflicts.c.connection == connection, t.conflicts.c.status == "open"
    )
    return {(int(i), str(f)) for i, f in session.execute(stmt)}


def get_conflict(session: Session, conflict_id: int) -> cv.ConflictRecord | None:
    """One conflict by id, or None."""
    from jira_console.store import models as m

    row = session.get(m.Conflict, conflict_id, populate_existing=True)
    return cv.conflict_record(row) if row else None


def resolve_conflict(
    session: Session,
    conflict_id: int,
    resolution: Literal["jira", "local", "value"],
    *,
    resolved_value: Any = None,
    resolved_by: str | None = None,
) -> cv.ConflictRecord | None:
    """Close an open conflict; None when it does not exist or was already resolved (by someone else)."""
    from jira_console.store import models as m

    if resolution not in ("jira", "local", "value"):
        raise ValueError(f"resolution must be jira, local or value, got {resolution!r}")
    result = session.execute(
        update(m.Conflict)
        .where(t.conflicts.c.id == conflict_id, t.conflicts.c.status == "open")
        .values(
            status="resolved",
            resolution=resolution,
            resolved_value=resolved_value,
            resolved_by=resolved_by,
            resolved_at=utcnow(),
        )  # fmt: skip
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return get_conflict(session, conflict_id)


# --- reads and a local edit for the facade (the console's and the CLI's queries) ------------------------


def detected_sites(session: Session) -> dict[str, tuple[str | None, str | None]]:
    """What the sync detected about each Jira site: connection name -> (flavor, server version)."""
    from jira_console.store import models as m

    return {row.name: (row.flavor, row.server_version) for row in session.scalars(select(m.Connection))}


def stored_connections(session: Session) -> set[str]:
    """Every connection the database holds rows of: each one a sync has reached (``connections``), and any
    that issues or mappings name (a connection whose ``[[jira]]`` table is gone keeps them)."""
    names = select(t.connections.c.name).union(
        select(_ISSUES.c.connection).distinct(),
        select(t.mappings.c.connection).where(t.mappings.c.connection.is_not(None)).distinct(),
    )
    return {str(name) for name in session.execute(names).scalars()}


def stored_flavor(session: Session, connection: str) -> str | None:
    """The flavor detected for ``connection`` by an earlier sync, or None before the first one."""
    return session.scalars(select(t.connections.c.flavor).where(t.connections.c.name == connection)).first()


def recent_field_errors(
    session: Session, connection: str | None = None, limit: int = 50
) -> list[tuple[str, str, cv.FieldErrorRecord]]:
    """The newest field errors, each with its issue's connection and key, newest first."""
    from jira_console.store import models as m

    stmt = (
        select(m.FieldError, t.issues.c.key, t.issues.c.connection)
        .join(t.issues, t.issues.c.id == t.field_errors.c.issue_id)
        .order_by(t.field_errors.c.at.desc())
        .limit(limit)
    )
    if connection:
        stmt = stmt.where(t.issues.c.connection == connection)
    return [(conn, key, cv.field_error_record(error)) for error, key, conn in session.execute(stmt)]


def field_error_counts(session: Session) -> dict[str, dict[str, int]]:
    """connection -> field -> issues failing it, by connection and field (``status`` and the API)."""
    stmt = (
        select(t.issues.c.connection, t.field_errors.c.field, func.count())
        .join(t.issues, t.issues.c.id == t.field_errors.c.issue_id)
        .group_by(t.issues.c.connection, t.field_errors.c.field)
        .order_by(t.issues.c.connection, t.field_errors.c.field)
    )
    counts: dict[str, dict[str, int]] = {}
    for conn, name, n in session.execute(stmt):
        counts.setdefault(str(conn), {})[str(name)] = int(n)
    return counts
