"""The models' column type and index that differ between SQLite and PostgreSQL (JSON/JSONB, partial
indexes), declared without importing either dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Dialect, Index, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.types import TypeDecorator, TypeEngine

# Nothing here names a dialect's own module: importing ``sqlalchemy.dialects.postgresql`` (for JSONB, or to
# check an Index's ``postgresql_*`` keywords) loads PostgreSQL's dialect and all its drivers, about a tenth
# of what importing SQLAlchemy's ORM, httpx and typer costs, in every SQLite process (bench/cli_bench.py).


class _JSONB(TypeDecorator[Any]):
    """PostgreSQL's JSONB, its dialect imported when a PostgreSQL connection first uses the type."""

    impl = JSON
    cache_ok = True
    render_bind_cast = True  # ``%(v)s::JSONB``, as the dialect's own JSONB renders it with psycopg

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        from sqlalchemy.dialects.postgresql import JSONB

        return dialect.type_descriptor(JSONB())


JSONType = JSON().with_variant(_JSONB(), "postgresql")
"""Portable JSON column type (JSONB on PostgreSQL)."""


def partial_index(name: str, *columns: str, where: str) -> Index:
    """A unique index over the rows matching ``where`` (both databases have partial indexes).

    The predicate waits in ``info`` until the index's DDL is compiled for a dialect (see
    :func:`_compile_partial_index`): ``sqlite_where=``/``postgresql_where=`` given here would import both
    dialects into every process."""
    return Index(name, *columns, unique=True, info={"where": where})


@compiles(CreateIndex, "sqlite")
@compiles(CreateIndex, "postgresql")
def _compile_partial_index(create: CreateIndex, compiler: DDLCompiler, **kw: Any) -> str:
    """``CREATE INDEX ... WHERE`` for :func:`partial_index`: its predicate becomes the dialect's ``where``
    option (that dialect is loaded, since it compiles) before the dialect's own compiler renders it."""
    index = create.element
    where = index.info.get("where")
    if where is not None:
        index.dialect_options[compiler.dialect.name]["where"] = text(where)
    return str(compiler.visit_create_index(create, **kw))  # type: ignore[no-untyped-call]
