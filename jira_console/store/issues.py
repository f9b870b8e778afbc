"""The sync engine's writes to ``issues``: the engine session that stamps them, the rows a merge works on,
new issues, deletions, re-flagged rows, and how a synced field is read from and written to a row.

Change capture (migration 0002): a trigger marks a row ``local_dirty`` when a synced column changes while
``sync_stamp`` stays the same, so the engine's own writes must change ``sync_stamp`` in the same UPDATE. The
one place that does so is :func:`_stamp_engine_writes`, a ``before_flush`` hook that acts only in sessions
opened by :func:`engine_session` (or marked with :func:`as_engine_write`): every issue row such a session
updates is written with ``sync_stamp + 1``. Nothing else touches ``sync_stamp``. Writes that must count as
local edits (the outbox, an operator's edit) go through ordinary sessions, where the trigger sees them.
New rows are inserted with the column's default stamp (the trigger watches updates only).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Select, String, Text, cast, event, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, UOWTransaction

from jira_console.logs import get_logger
from jira_console.store import bulk, identity, repo
from jira_console.store import models as m
from jira_console.store.db import Database, UnreadableJson, load_json

log = get_logger(__name__)

CORE_FIELDS: tuple[str, ...] = tuple(c for c in m.SYNCED_ISSUE_COLUMNS if c != "fields")
"""Local column names of the synced core fields; every other synced field lives in ``issues.fields``."""

_ENGINE_WRITE = "jira_console.engine_write"
_ISSUES = m.Issue.__table__

TEXT_FIELDS = frozenset(c for c in CORE_FIELDS if isinstance(_ISSUES.c[c].type, String))
"""Core fields whose column holds text."""


# --- the engine session ---------------------------------------------------------------------------------


@contextlib.contextmanager
def engine_session(db: Database) -> Iterator[Session]:
    """A write session whose updates of issue rows are the engine's own (stamped, not captured)."""
    with db.session(write=True) as session:
        as_engine_write(session)
        yield session


def as_engine_write(session: Session) -> None:
    """Mark a session handed in by a caller as an engine write (see the module docstring)."""
    session.info[_ENGINE_WRITE] = True


@event.listens_for(Session, "before_flush")
def _stamp_engine_writes(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    if not session.info.get(_ENGINE_WRITE):
        return
    for obj in session.dirty:
        if isinstance(obj, m.Issue) and session.is_modified(obj, include_collections=False):
            obj.sync_stamp = (obj.sync_stamp or 0) + 1


# --- a synced field of a row ----------------------------------------------------------------------------


def local_form(name: str, value: Any) -> Any:
    """A stored local value as the engine compares it: NULL ``labels`` (how a host program may clear them; the
    guards take it) is no labels, ``[]``, which is how Jira's labels field, always a list, reads. Other
    fields keep NULL: for them it is a value of its own, and a field Jira leaves out is not an empty one."""
    return [] if value is None and name == "labels" else value


def local_value(row: m.Issue, name: str) -> Any:
    if name in CORE_FIELDS:
        return local_form(name, getattr(row, name))
    return (row.fields or {}).get(name)


def set_local_value(row: m.Issue, name: str, value: Any) -> None:
    if name in CORE_FIELDS:
        setattr(row, name, value)
    else:
        fields = dict(row.fields or {})
        fields[name] = value
        row.fields = fields


def local_value_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be a local edit of field ``name`` (a core field: see :func:`issue_value_problem`;
    labels are a list of texts besides), or None when it can: the wrong type would fail in PostgreSQL or be
    kept as given in SQLite. A mapped field (in ``issues.fields``, JSON) takes any JSON value here; its
    mapping says at the push whether it can be written."""
    if name not in CORE_FIELDS:
        number = unsendable_number(value)
        return None if number is None else f"{name} holds {_number_name(number)}: JSON numbers must be finite"
    labels_ok = value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    if name == "labels" and not labels_ok:
        return f'labels holds a list of texts (JSON: ["a", "b"]), not {shown_value(value)}'
    return issue_value_problem(name, value)


def typed_input(name: str, text: str) -> tuple[Any, bool]:
    """What ``text``, typed by a person for the synced field ``name``, stands for, and whether it was read
    as JSON: JSON when it parses, else the text as typed. A text field (summary, status…) takes the text
    as typed (``2024`` is "2024"), except ``null`` (no value) and a quoted JSON string."""
    try:
        value = json.loads(text)
    except ValueError:
        return text, False
    if name in TEXT_FIELDS and value is not None and not isinstance(value, str):
        return text, False
    return value, True


def local_values(row: m.Issue, names: Iterable[str]) -> dict[str, Any]:
    return {name: local_value(row, name) for name in names}


def set_local_values(session: Session, issue_id: int, changes: Mapping[str, Any]) -> None:
    """A local edit, as a host program makes one: synced values (core columns or mapped fields) set and the
    issue marked dirty so the next push sends them. Not an engine write: ``sync_stamp`` is left alone."""
    row = session.get(m.Issue, issue_id)
    if row is None:
        raise LookupError(f"no issue with id {issue_id}")
    for name, value in changes.items():
        set_local_value(row, name, value)
    row.local_dirty = True
    row.local_changed_at = m.utcnow()


# --- reading rows ---------------------------------------------------------------------------------------


def _sweep(session: Session, stmt: Select[Any]) -> Iterable[Any]:
    """Plain rows of a statement that reads a column or two of every issue of a connection: run on the
    session's connection after a flush, so the ORM's per-row result machinery (a fifth of a 20,000-issue
    reconciliation) is not paid for tuples."""
    session.flush()
    return session.connection().execute(stmt)


def issues_by_key(
    session: Session, connection: str, keys: Iterable[str], *, lock: bool = False
) -> dict[str, m.Issue]:
    """The rows of ``keys`` (deleted ones included); ``lock`` holds them until the session ends."""
    stmt = select(m.Issue).where(m.Issue.connection == connection, bulk.among(session, _ISSUES.c.key, keys))
    if lock:
        stmt = identity.locked_in_id_order(stmt)
    return {row.key: row for row in session.scalars(stmt)}


def issue_versions(session: Session, connection: str) -> dict[str, tuple[int | None, bool]]:
    """Every issue key of a connection with its Jira ``updated`` and whether it is marked deleted."""
    rows = _sweep(
        session,
        select(_ISSUES.c.key, _ISSUES.c.jira_updated_ms, _ISSUES.c.deleted).where(
            _ISSUES.c.connection == connection
        ),
    )
    return {key: (updated, bool(deleted)) for key, updated, deleted in rows}


def jira_ids(session: Session, connection: str) -> dict[str, str]:
    """Every issue key of a connection with its Jira id (where known)."""
    rows = _sweep(
        session,
        select(_ISSUES.c.key, _ISSUES.c.jira_id).where(
            _ISSUES.c.connection == connection, _ISSUES.c.jira_id.is_not(None)
        ),
    )
    return {str(key): str(jira_id) for key, jira_id in rows}


def partial_keys(session: Session, connection: str) -> set[str]:
    """Keys of issues stored without some synced fields (``stale_fields``): the next read applies them."""
    rows = _sweep(
        session,
        select(_ISSUES.c.key, cast(_ISSUES.c.stale_fields, Text)).where(
            _ISSUES.c.connection == connection, _ISSUES.c.stale_fields.is_not(None)
        ),
    )
    return {str(key) for key, stale in rows if _stale(stale)}


def _stale(text: str | None) -> bool:
    """Whether ``stale_fields`` (as text) names any field; one the engine cannot read counts (the issue is
    read again, and that read sets it aside if its row stays unreadable)."""
    try:
        return bool(load_json(text)) if text is not None else False
    except UnreadableJson:
        return True


def holds_issues(session: Session, connection: str) -> bool:
    """Whether any issue of the connection is stored (deleted ones included)."""
    found = session.execute(select(_ISSUES.c.id).where(_ISSUES.c.connection == connection).limit(1))
    return found.first() is not None


def dirty_batch(
    session: Session, connection: str, after_id: int, limit: int, *, skip: Collection[str] = ()
) -> list[tuple[int, str]]:
    """(id, key) of up to ``limit`` locally changed issues with an id above ``after_id`` (but those whose key
    is in ``skip``), by id."""
    stmt = (
        select(m.Issue.id, m.Issue.key)
        .where(m.Issue.connection == connection, m.Issue.local_dirty.is_(True), m.Issue.id > after_id)
        .order_by(m.Issue.id)
        .limit(limit)
    )
    if skip:
        stmt = stmt.where(m.Issue.key.not_in(list(skip)))
    return [(int(i), str(k)) for i, k in session.execute(stmt)]


def clean_values(
    session: Session, connection: str, names: Sequence[str]
) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(id, base, local values of ``names``) of every issue not flagged dirty: plain tuples, not ORM
    objects, since this reads every row of the connection."""
    core = [n for n in names if n in CORE_FIELDS]
    # The JSON columns as text, decoded here: a row holding a value the engine cannot read is skipped (the
    # sync that reads that issue sets it aside) instead of failing the sweep of every row.
    columns = [_ISSUES.c[n] for n in ("base", "fields", *core)]
    query = select(_ISSUES.c.id, *[cast(c, Text) if isinstance(c.type, JSON) else c for c in columns]).where(
        _ISSUES.c.connection == connection, _ISSUES.c.local_dirty.is_(False)
    )
    decoded = [isinstance(c.type, JSON) for c in columns]
    for issue_id, *stored in _sweep(session, query.execution_options(yield_per=1000)):
        try:
            base, fields, *values = [
                load_json(v) if json and v is not None else v for v, json in zip(stored, decoded, strict=True)
            ]
        except UnreadableJson:
            continue
        local = {name: local_form(name, value) for name, value in zip(core, values, strict=True)}
        for name in names:
            if name not in local:
                local[name] = (fields or {}).get(name)
        yield int(issue_id), dict(base or {}), local


def project_keys(session: Session, connection: str) -> list[str]:
    """The projects a connection's stored issues belong to."""
    rows = session.scalars(
        select(m.Issue.project_key)
        .where(m.Issue.connection == connection, m.Issue.project_key.is_not(None))
        .distinct()
    )
    return sorted(str(k) for k in rows)


def project_issue_keys(session: Session, connection: str, project: str) -> list[str]:
    """The keys of a connection's stored issues in ``project`` (deleted ones too: their numbers were used)."""
    rows = session.scalars(
        select(m.Issue.key).where(m.Issue.connection == connection, m.Issue.project_key == project)
    )
    return [str(k) for k in rows]


# --- writing rows ---------------------------------------------------------------------------------------


def insert_issues(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new issues (dicts of column values, the same keys in each) in one executemany: a first import
    of tens of thousands of issues must not pay the ORM's bookkeeping per row."""
    bulk.insert_rows(session, _ISSUES, rows)


def refresh_statistics(db: Database) -> bool:
    """Let PostgreSQL's planner see how many issues there are now (``ANALYZE issues``); returns whether it
    ran. A first import grows the table faster than autovacuum re-reads its statistics, and a planner that
    still believes it small reads the per-page look-ups through the wrong index. SQLite's plans do not
    depend on statistics here (the look-ups name their indexes), so nothing is done there."""
    if db.dialect != "postgresql":
        return False
    try:
        with db.session(write=True) as session:
            session.execute(text("ANALYZE issues"))
    except SQLAlchemyError as exc:  # only the planner's figures are at stake: the sync goes on
        log.warning("could not refresh the planner's statistics of issues", error=type(exc).__name__)
        return False
    return True


GONE = "deleted in Jira, or no longer visible to the connection's account"
"""Why a row is marked deleted when Jira no longer returns the issue: Jira answers a deleted issue and one the
account may no longer browse alike (a read, a bulk read and a search all leave it out)."""


def mark_deleted(session: Session, row: m.Issue, *, reason: str, actor: str) -> bool:
    """Flag an issue deleted in Jira, or no longer selected by the connection's JQL (``reason`` says which;
    the row stays for the host program's references), and audit it; False when it already was."""
    if row.deleted:
        return False
    row.deleted = True
    row.deleted_at = m.utcnow()
    repo.append_audit(session, row.connection, issue_key=row.key, side="local", reason=reason, actor=actor)
    return True


def mark_dirty(session: Session, issue_ids: Sequence[int]) -> None:
    """Flag issues as locally changed (their local values differ from the base) so the push looks at them."""
    for start in range(0, len(issue_ids), 500):
        chunk = list(issue_ids[start : start + 500])
        for row in session.scalars(select(m.Issue).where(m.Issue.id.in_(chunk))):
            row.local_dirty = True


_INT64 = (-(2**63), 2**63 - 1)
_HOLDS: dict[type, str] = {bool: "true or false", int: "whole numbers", float: "numbers", str: "text"}
"""What a column of each type holds, in the words of a message to a person."""


def shown_value(value: Any, width: int = 60) -> str:
    """``value`` in a message as it would be typed (JSON: ``"abc"``, ``1.5``, ``["a b"]``), cut short."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else f"{text[: width - 1]}…"


_FLOAT_MAX = 1.7976931348623157e308


def unsendable_number(value: Any) -> float | int | None:
    """The first number in ``value`` (a JSON value, nested or not) that JSON cannot carry to Jira nor the
    store read back: NaN, an infinity, or one beyond a 64-bit float's range; None when there is none."""
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    if isinstance(value, int) and not isinstance(value, bool):
        return None if -_FLOAT_MAX <= value <= _FLOAT_MAX else value
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, list | tuple) else ()
    return next((n for n in map(unsendable_number, items) if n is not None), None)


def _number_name(value: float | int) -> str:
    """A number JSON cannot carry, named as a person typed it (NaN, Infinity)."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return "a number beyond ±1.8e308"


def issue_value_problem(column: str, value: Any) -> str | None:
    """Why ``value`` cannot be stored in the ``issues`` column ``column`` (its type, its range, its length),
    or None when it can. JSON columns take any JSON value."""
    kind = _ISSUES.c[column].type
    if value is None or isinstance(kind, JSON):
        return None
    expected = kind.python_type
    if expected is bool:
        fits = isinstance(value, bool)
    elif expected is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
        if fits and not _INT64[0] <= value <= _INT64[1]:
            return f"{column} holds 64-bit integers; {value} is out of range"
    elif expected is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and unsendable_number(value) is None:
            return None
        said = _number_name(value) if number else shown_value(value)
        return f"{column} takes a finite number, not {said}"
    else:
        length = getattr(kind, "length", None)
        if isinstance(value, str) and length is not None and len(value) > length:
            return f"{column} holds at most {length} characters, not {len(value)}"
        fits = isinstance(value, expected)
    holds = _HOLDS.get(expected, "values of another kind")
    return None if fits else f"{column} holds {holds}, not {shown_value(value)}"
