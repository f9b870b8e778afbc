"""Statements over many rows at the driver's speed.

Bulk inserts of many rows with the same columns (a first import's issues and their audit lines): the
statement is compiled once per batch and each value goes through the bind processor the dialect gives its
column type, exactly as SQLAlchemy's own executemany would, but without its per-row parameter bookkeeping
(a third of the time of inserting 20,000 issues). A value repeated from the row before (the batch's
timestamp, the connection, an unset column) is converted once.

Conditions on many values (:func:`among`) whose statement text does not depend on how many there are."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, Connection, Dialect, String, Table, any_, bindparam, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def among(
    bind: Session | Connection, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one bound array, so that the
    statement's text is the same whatever the number of values. psycopg parses a statement's text in Python
    and caches that by the text: an IN list of a hundred ids is new text for every length, and parsing it
    was most of the driver's time in a batch's queue and look-up statements."""
    wanted = list(values)
    engine_bind = bind if isinstance(bind, Connection) else bind.get_bind()
    if engine_bind.dialect.name == "postgresql":
        # Without the column's length: a cast to varchar(n)[] would cut a longer value down silently, and
        # the cut value could match a stored one.
        element = String() if isinstance(column.type, String) else column.type
        return column == any_(bindparam(None, wanted, type_=ARRAY(element)))
    return column.in_(wanted)


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, each a column of ``table``) in one executemany on the
    session's connection, after flushing the session. A column left out that has a Python-side default gets
    it (evaluated once for the batch); the others get their server default."""
    if not rows:
        return
    session.flush()  # as session.execute would: the ORM's pending changes (a key moved away) come first
    conn = session.connection()
    dialect = conn.dialect
    names = list(rows[0])
    constants = _defaults(table, names)
    keys = names + list(constants)
    plan = _plan(table, tuple(keys), dialect)
    params = _converted(rows, names, constants, plan.processors)
    values: list[Any]
    if plan.positions is not None:
        values = [tuple(row[i] for i in plan.positions) for row in params]
    else:
        values = [{name: row[i] for name, i in plan.named} for row in params]
    conn.exec_driver_sql(plan.sql, values)


@dataclass(frozen=True)
class _Plan:
    """An INSERT of some columns of a table, compiled for a dialect, and where each value goes."""

    sql: str
    processors: Mapping[str, Callable[[Any], Any] | None]
    positions: tuple[int, ...] | None
    """For a positional paramstyle: the index, in a row's values, of each placeholder's value."""
    named: tuple[tuple[str, int], ...]
    """For a named paramstyle: each placeholder's name and the index of its value."""


@functools.lru_cache(maxsize=64)
def _plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> _Plan:
    """Compiled once per table, columns and dialect (compiling was a tenth of a webhook batch's write)."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    processors = {key: table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys}
    index = {key: i for i, key in enumerate(keys)}
    column_of = {name: bind.key for name, bind in compiled.binds.items()}
    if compiled.positional:
        positions = tuple(index[column_of[name]] for name in compiled.positiontup or ())
        return _Plan(compiled.string, processors, positions, ())
    escaped = compiled.escaped_bind_names
    named = tuple((escaped.get(name, name), index[key]) for name, key in column_of.items())
    return _Plan(compiled.string, processors, None, named)


def _defaults(table: Table, names: Sequence[str]) -> dict[str, Any]:
    """The Python-side insert defaults of the columns not in ``names`` (a callable one called once)."""
    out: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.key in names or default is None:
            continue
        if default.is_scalar:
            out[column.key] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            out[column.key] = default.arg(None)  # type: ignore[attr-defined]
    return out


def _converted(
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    constants: Mapping[str, Any],
    processors: Mapping[str, Callable[[Any], Any] | None],
) -> list[list[Any]]:
    """Each row's values for ``names`` then ``constants``, converted for the driver; a value that is the
    same object as the previous row's reuses its conversion."""
    fixed = [processors[k](v) if processors[k] else v for k, v in constants.items()]  # type: ignore[misc]
    plan = [(name, processors[name]) for name in names]
    last_in: list[Any] = [object()] * len(plan)
    last_out: list[Any] = [None] * len(plan)
    out: list[list[Any]] = []
    for row in rows:
        values: list[Any] = []
        for i, (name, process) in enumerate(plan):
            value = row[name]
            if value is last_in[i]:
                values.append(last_out[i])
                continue
            converted = process(value) if process is not None else value
            last_in[i], last_out[i] = value, converted
            values.append(converted)
        out.append(values + fixed)
    return out
