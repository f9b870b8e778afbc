"""Repository functions for issues, sprints, field errors, audit log and conflicts.

Every function takes an open :class:`~sqlalchemy.orm.Session` (the caller owns the transaction, normally
through :meth:`Database.session`) and returns records from :mod:`jira_console.store.converters`.

Engine writes to ``issues`` go through :func:`write_issue` / :func:`upsert_issue`, which increment
``sync_stamp`` in the same UPDATE so the change-capture trigger knows the sync engine, not a host program,
made the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jira_console.store import converters as cv
from jira_console.store import models as m
from jira_console.store.models import utcnow

ENGINE_WRITABLE_ISSUE_COLUMNS = frozenset(
    {
        "jira_id",
        "project_key",
        "issue_type",
        "raw",
        "base",
        "jira_updated_ms",
        "jira_created_ms",
        "deleted",
        "local_dirty",
        "local_changed_at",
        *m.SYNCED_ISSUE_COLUMNS,
    }
)
"""Columns :func:`write_issue` and :func:`upsert_issue` accept."""


def dialect_insert(session: Session, table: Any) -> Any:
    """``INSERT`` construct of the session's dialect (it carries ``on_conflict_do_*``)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported dialect {name}")


def _check_columns(values: Mapping[str, Any]) -> None:
    unknown = set(values) - ENGINE_WRITABLE_ISSUE_COLUMNS
    if unknown:
        raise ValueError(f"not writable issue columns: {', '.join(sorted(unknown))}")


# --- issues -------------------------------------------------------------------------------------------


def get_issue(session: Session, connection: str, key: str) -> cv.IssueRecord | None:
    """The issue ``key`` of ``connection`` (deleted ones included), or None."""
    row = session.scalars(select(m.Issue).where(m.Issue.connection == connection, m.Issue.key == key)).first()
    return cv.issue_record(row) if row else None


def get_issue_by_id(session: Session, issue_id: int) -> cv.IssueRecord | None:
    """The issue with local id ``issue_id``, or None."""
    row = session.get(m.Issue, issue_id, populate_existing=True)
    return cv.issue_record(row) if row else None


def get_issue_by_jira_id(session: Session, connection: str, jira_id: str) -> cv.IssueRecord | None:
    """The issue with Jira id ``jira_id`` (survives key changes on move), or None."""
    row = session.scalars(
        select(m.Issue).where(m.Issue.connection == connection, m.Issue.jira_id == str(jira_id))
    ).first()
    return cv.issue_record(row) if row else None


def _issue_filters(
    stmt: Select[Any],
    connection: str | None,
    keys: Iterable[str] | None,
    project_key: str | None,
    status: str | None,
    assignee: str | None,
    sprint_id: int | None,
    dirty: bool | None,
    include_deleted: bool,
    text: str | None,
    updated_since_ms: int | None,
) -> Select[Any]:
    if connection is not None:
        stmt = stmt.where(m.Issue.connection == connection)
    if keys is not None:
        stmt = stmt.where(m.Issue.key.in_(list(keys)))
    if project_key is not None:
        stmt = stmt.where(m.Issue.project_key == project_key)
    if status is not None:
        stmt = stmt.where(m.Issue.status == status)
    if assignee is not None:
        stmt = stmt.where(m.Issue.assignee == assignee)
    if sprint_id is not None:
        stmt = stmt.where(m.Issue.sprint_id == sprint_id)
    if dirty is not None:
        stmt = stmt.where(m.Issue.local_dirty.is_(dirty))
    if not include_deleted:
        stmt = stmt.where(m.Issue.deleted.is_(False))
    if text:
        pattern = f"%{text.lower()}%"
        stmt = stmt.where(
            or_(func.lower(m.Issue.summary).like(pattern), func.lower(m.Issue.key).like(pattern))
        )
    if updated_since_ms is not None:
        stmt = stmt.where(m.Issue.jira_updated_ms >= updated_since_ms)
    return stmt


def list_issues(
    session: Session,
    connection: str | None = None,
    *,
    keys: Iterable[str] | None = None,
    project_key: str | None = None,
    status: str | None = None,
    assignee: str | None = None,
    sprint_id: int | None = None,
    dirty: bool | None = None,
    include_deleted: bool = False,
    text: str | None = None,
    updated_since_ms: int | None = None,
    limit: int | None = 100,
    offset: int = 0,
) -> list[cv.IssueRecord]:
    """Issues matching every given filter, by key. ``text`` searches summary and key, case-insensitively."""
    stmt = _issue_filters(
        select(m.Issue), connection, keys, project_key, status, assignee, sprint_id, dirty,
        include_deleted, text, updated_since_ms,
    )  # fmt: skip
    stmt = stmt.order_by(m.Issue.connection, m.Issue.key).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [cv.issue_record(r) for r in session.scalars(stmt)]


def count_issues(
    session: Session,
    connection: str | None = None,
    *,
    project_key: str | None = None,
    status: str | None = None,
    dirty: bool | None = None,
    include_deleted: bool = False,
    text: str | None = None,
) -> int:
    """Number of issues :func:`list_issues` would return without a limit."""
    stmt = _issue_filters(
        select(func.count()).select_from(m.Issue), connection, None, project_key, status, None, None, dirty,
        include_deleted, text, None,
    )  # fmt: skip
    return int(session.execute(stmt).scalar_one())


def upsert_issue(session: Session, connection: str, key: str, values: Mapping[str, Any]) -> cv.IssueRecord:
    """Engine write: create the issue or update it, bumping ``sync_stamp`` (not captured as a local change).

    An existing row is found by ``jira_id`` first (keys change when an issue moves project), then by key.
    """
    _check_columns(values)
    row = None
    if values.get("jira_id") is not None:
        row = session.scalars(
            select(m.Issue).where(m.Issue.connection == connection, m.Issue.jira_id == str(values["jira_id"]))
        ).first()
    if row is None:
        row = session.scalars(
            select(m.Issue).where(m.Issue.connection == connection, m.Issue.key == key)
        ).first()
    if row is None:
        row = m.Issue(connection=connection, key=key, **values)
        session.add(row)
        session.flush()
        return cv.issue_record(row)
    write_issue(session, row.id, {**values, "key": key} if row.key != key else values)
    return get_issue_by_id(session, row.id)  # type: ignore[return-value]


def write_issue(session: Session, issue_id: int, values: Mapping[str, Any]) -> None:
    """Engine write to one issue: ``values`` plus ``sync_stamp + 1`` in a single UPDATE."""
    extra = {k: v for k, v in values.items() if k != "key"}
    _check_columns(extra)
    session.execute(
        update(m.Issue)
        .where(m.Issue.id == issue_id)
        .values(**values, sync_stamp=m.Issue.sync_stamp + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def clear_dirty(
    session: Session, issue_id: int, seen_changed_at: datetime | None, values: Mapping[str, Any] | None = None
) -> bool:
    """Mark a pushed issue clean, unless a host program changed it again since the engine read it.

    ``seen_changed_at`` is the ``local_changed_at`` the engine read before pushing. When it no longer matches,
    a newer local edit arrived and the issue stays dirty (returns False). ``values`` (e.g. the new ``base``)
    are written in the same UPDATE, and only when the row is cleared, so a stale push cannot overwrite newer
    bookkeeping.
    """
    if values:
        _check_columns(values)
    cond = (
        m.Issue.local_changed_at.is_(None)
        if seen_changed_at is None
        else m.Issue.local_changed_at == seen_changed_at
    )
    result = session.execute(
        update(m.Issue)
        .where(m.Issue.id == issue_id, cond)
        .values(**(values or {}), local_dirty=False, sync_stamp=m.Issue.sync_stamp + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_issue_deleted(session: Session, issue_id: int, deleted: bool = True) -> None:
    """Flag an issue deleted (or restored) in Jira; the row is kept for the host program's references."""
    write_issue(session, issue_id, {"deleted": deleted})


# --- sprints, boards, connections -----------------------------------------------------------------------


def upsert_sprint(session: Session, connection: str, jira_id: int, values: Mapping[str, Any]) -> None:
    """Create or update a sprint by its Jira id."""
    data = {
        **values,
        "connection": connection,
        "jira_id": jira_id,
        "synced_at": values.get("synced_at") or utcnow(),
    }
    stmt = dialect_insert(session, m.Sprint).values(**data)
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection", "jira_id"], set_={k: stmt.excluded[k] for k in data if k != "jira_id"}
    )
    session.execute(stmt)


def list_sprints(
    session: Session, connection: str, *, board_jira_id: int | None = None, state: str | None = None
) -> list[cv.SprintRecord]:
    """Sprints of a connection, optionally of one board and/or state, by start date."""
    stmt = select(m.Sprint).where(m.Sprint.connection == connection)
    if board_jira_id is not None:
        stmt = stmt.where(m.Sprint.board_jira_id == board_jira_id)
    if state is not None:
        stmt = stmt.where(m.Sprint.state == state)
    stmt = stmt.order_by(m.Sprint.start_date, m.Sprint.jira_id)
    return [cv.sprint_record(r) for r in session.scalars(stmt)]


def upsert_board(session: Session, connection: str, jira_id: int, values: Mapping[str, Any]) -> None:
    """Create or update a board by its Jira id."""
    data = {**values, "connection": connection, "jira_id": jira_id}
    stmt = dialect_insert(session, m.Board).values(**data)
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection", "jira_id"], set_={k: stmt.excluded[k] for k in data if k != "jira_id"}
    )
    session.execute(stmt)


def upsert_connection(
    session: Session, name: str, *, flavor: str | None, base_url: str | None, server_version: str | None
) -> None:
    """Record what was detected about a connection (flavor, URL, server version)."""
    data = {"name": name, "flavor": flavor, "base_url": base_url, "server_version": server_version}
    stmt = dialect_insert(session, m.Connection).values(**data, detected_at=utcnow())
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
) -> None:
    """Remember that mapping ``field`` of an issue failed (replacing the previous failure of that field)."""
    data = {"issue_id": issue_id, "field": field, "message": message, "mapping": mapping, "step": step,
            "value": value, "at": utcnow()}  # fmt: skip
    stmt = dialect_insert(session, m.FieldError).values(**data)
    stmt = stmt.on_conflict_do_update(
        index_elements=["issue_id", "field"],
        set_={k: stmt.excluded[k] for k in ("message", "mapping", "step", "value", "at")},
    )
    session.execute(stmt)


def clear_field_error(session: Session, issue_id: int, field: str | None = None) -> int:
    """Forget the failure of one field (or all fields) of an issue; returns how many were removed."""
    from sqlalchemy import delete

    stmt = delete(m.FieldError).where(m.FieldError.issue_id == issue_id)
    if field is not None:
        stmt = stmt.where(m.FieldError.field == field)
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def list_field_errors(
    session: Session, *, issue_id: int | None = None, connection: str | None = None, limit: int = 500
) -> list[cv.FieldErrorRecord]:
    """Recorded mapping failures, newest first."""
    stmt = select(m.FieldError)
    if issue_id is not None:
        stmt = stmt.where(m.FieldError.issue_id == issue_id)
    if connection is not None:
        stmt = stmt.join(m.Issue, m.Issue.id == m.FieldError.issue_id).where(m.Issue.connection == connection)
    stmt = stmt.order_by(m.FieldError.at.desc(), m.FieldError.id.desc()).limit(limit)
    return [cv.field_error_record(r) for r in session.scalars(stmt)]


# --- audit log ------------------------------------------------------------------------------------------


def append_audit(
    session: Session,
    connection: str,
    side: Literal["jira", "local"],
    field: str | None,
    old: Any,
    new: Any,
    *,
    issue_key: str | None = None,
    reason: str | None = None,
    actor: str | None = None,
    at: datetime | None = None,
) -> int:
    """Append one line to the audit log; returns its id. ``side`` is the side that was written to."""
    if side not in ("jira", "local"):
        raise ValueError(f"side must be 'jira' or 'local', got {side!r}")
    row = m.AuditLog(
        connection=connection, side=side, field=field, old=old, new=new, issue_key=issue_key,
        reason=reason, actor=actor, at=at or utcnow(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row.id


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
) -> list[cv.AuditEntry]:
    """Audit lines matching every given filter, newest first."""
    stmt = select(m.AuditLog)
    if connection is not None:
        stmt = stmt.where(m.AuditLog.connection == connection)
    if issue_key is not None:
        stmt = stmt.where(m.AuditLog.issue_key == issue_key)
    if field is not None:
        stmt = stmt.where(m.AuditLog.field == field)
    if side is not None:
        stmt = stmt.where(m.AuditLog.side == side)
    if since is not None:
        stmt = stmt.where(m.AuditLog.at >= since)
    stmt = stmt.order_by(m.AuditLog.id.desc()).limit(limit).offset(offset)
    return [cv.audit_entry(r) for r in session.scalars(stmt)]


# --- conflicts ------------------------------------------------------------------------------------------


def _open_conflict_row(session: Session, issue_id: int, field: str) -> m.Conflict | None:
    return session.scalars(
        select(m.Conflict).where(
            m.Conflict.issue_id == issue_id, m.Conflict.field == field, m.Conflict.status == "open"
        )
    ).first()


def open_conflict(
    session: Session, issue_id: int, field: str, *, base: Any, local: Any, jira: Any
) -> cv.ConflictRecord:
    """Record a conflict on an issue field, or refresh the values of the one already open there.

    At most one conflict per issue and field is open; the partial unique index backs this up when two
    writers race, in which case the loser refreshes the winner's row.
    """
    issue = session.get(m.Issue, issue_id)
    if issue is None:
        raise LookupError(f"no issue with id {issue_id}")
    for _ in range(2):
        existing = _open_conflict_row(session, issue_id, field)
        if existing is not None:
            existing.base, existing.local, existing.jira = base, local, jira
            session.flush()
            return cv.conflict_record(existing)
        try:
            with session.begin_nested():
                row = m.Conflict(
                    issue_id=issue_id, connection=issue.connection, issue_key=issue.key, field=field,
                    base=base, local=local, jira=jira, status="open", detected_at=utcnow(),
                )  # fmt: skip
                session.add(row)
            return cv.conflict_record(row)
        except IntegrityError:
            continue  # another writer opened it between our SELECT and INSERT: refresh theirs
    raise RuntimeError(f"could not open a conflict on issue {issue_id} field {field!r}")


def get_conflict(session: Session, conflict_id: int) -> cv.ConflictRecord | None:
    """One conflict by id, or None."""
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
    if resolution not in ("jira", "local", "value"):
        raise ValueError(f"resolution must be jira, local or value, got {resolution!r}")
    result = session.execute(
        update(m.Conflict)
        .where(m.Conflict.id == conflict_id, m.Conflict.status == "open")
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


def _conflict_filters(
    stmt: Select[Any], connection: str | None, field: str | None, issue_key: str | None, status: str | None
) -> Select[Any]:
    if connection is not None:
        stmt = stmt.where(m.Conflict.connection == connection)
    if field is not None:
        stmt = stmt.where(m.Conflict.field == field)
    if issue_key is not None:
        stmt = stmt.where(m.Conflict.issue_key == issue_key)
    if status is not None:
        stmt = stmt.where(m.Conflict.status == status)
    return stmt


def list_conflicts(
    session: Session,
    *,
    connection: str | None = None,
    field: str | None = None,
    issue_key: str | None = None,
    status: str | None = "open",
    limit: int = 100,
    offset: int = 0,
) -> list[cv.ConflictRecord]:
    """Conflicts matching the filters (open ones by default), oldest first."""
    stmt = _conflict_filters(select(m.Conflict), connection, field, issue_key, status)
    stmt = stmt.order_by(m.Conflict.detected_at, m.Conflict.id).limit(limit).offset(offset)
    return [cv.conflict_record(r) for r in session.scalars(stmt)]


def count_conflicts(
    session: Session,
    *,
    connection: str | None = None,
    field: str | None = None,
    issue_key: str | None = None,
    status: str | None = "open",
) -> int:
    """Number of conflicts matching the filters (open ones by default)."""
    stmt = _conflict_filters(
        select(func.count()).select_from(m.Conflict), connection, field, issue_key, status
    )
    return int(session.execute(stmt).scalar_one())
