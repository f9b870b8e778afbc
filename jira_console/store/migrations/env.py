"""Alembic environment.

:meth:`jira_console.store.db.Database.migrate` passes an open connection (already inside a transaction that
holds the migration lock) through ``config.attributes["connection"]``. Run from the ``alembic`` command line
instead, the URL comes from ``sqlalchemy.url`` or ``JIRA_CONSOLE_DATABASE__URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from jira_console.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # noqa: ANN001 - alembic hands us a SQLAlchemy Connection
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables when a migration needs it.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("JIRA_CONSOLE_DATABASE__URL")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("JIRA_CONSOLE_DATABASE__URL")
    if not url:
        raise SystemExit("set sqlalchemy.url or JIRA_CONSOLE_DATABASE__URL")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
