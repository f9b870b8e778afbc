"""A new database's schema at the head in one step: the tables, the change-capture trigger, the guards on
host programs' values and Alembic's version row, without importing Alembic and replaying every migration.

A first ``sync`` into a new SQLite file otherwise spends a fifth of a second or more of its start-up
importing Alembic and running the chain. The result is the schema the migrations build (tests compare the
two on SQLite and PostgreSQL: tables, columns, defaults, indexes, constraints, the trigger, the version
row), and the database is then upgraded by the migrations like any other. Only an empty database is
created so; anything else goes through Alembic.
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect
from sqlalchemy.engine import Connection

from jira_console.store import capture, host_guards, local_notify, tables

_version_metadata = MetaData()
VERSION_TABLE = Table(
    "alembic_version",
    _version_metadata,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
"""Alembic's own bookkeeping table, as Alembic creates it."""


def is_empty(conn: Connection) -> bool:
    """No table of this tool's schema (nor Alembic's version table) exists yet: other tables a host program
    keeps in the same database or schema do not count."""
    ours = set(tables.metadata.tables) | {VERSION_TABLE.name}
    return not ours & set(inspect(conn).get_table_names())


def create_at_head(conn: Connection, head: str) -> None:
    """Create the whole schema at revision ``head`` on ``conn`` (inside the caller's transaction)."""
    tables.metadata.create_all(conn)
    for statement in capture.trigger_statements(conn.dialect.name, tables.SYNCED_ISSUE_COLUMNS):
        conn.exec_driver_sql(statement)
    for statement in host_guards.head_guard_statements(conn.dialect.name):
        conn.exec_driver_sql(statement)
    for statement in local_notify.notify_statements(conn.dialect.name):
        conn.exec_driver_sql(statement)
    VERSION_TABLE.create(conn)
    conn.execute(VERSION_TABLE.insert().values(version_num=head))
