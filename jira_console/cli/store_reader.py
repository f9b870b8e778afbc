"""Read-only commands' way into the store: no engine, no Jira clients, no Alembic unless the schema is
behind, and never a new database.

``status`` and ``issues`` only read tables, so they open the database and call the store's table modules
(the store's own API for every reader, see :mod:`jira_console.store`) instead of starting the engine facade,
which would import the whole engine (sync, Jira client, mappings, webhooks) to answer a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from jira_console.cli.common import friendly_errors, require_store, state

if TYPE_CHECKING:
    from jira_console.store.db import Database

T = TypeVar("T")

_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def missing_store(url: str) -> str | None:
    """Where the configured database should be, when it is not there (None when it exists): a SQLite file
    that does not exist, or a PostgreSQL database without the schema's version table."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # opening it says what is wrong with the URL
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path.startswith("file:"):
            return None
        if path in ("", ":memory:"):
            return "an in-memory SQLite database (nothing lasts between runs)"
        return None if Path(path).is_file() else str(Path(path).resolve())
    from sqlalchemy import inspect

    from jira_console.store.db import Database

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return None if inspect(conn).has_table("alembic_version") else db.url
    finally:
        db.close()


def shipped_head(versions: Path | None = None) -> str | None:
    """The newest schema revision shipped with this version, read from the migration files' ``revision``
    and ``down_revision`` lines (what Alembic finds, without importing Alembic)."""
    if versions is None:
        import jira_console.store.migrations as migrations

        versions = Path(migrations.__file__).resolve().parent / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        for kind, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revisions if kind == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _bring_up_to_date(db: Database) -> None:
    """Upgrade a schema an older version left behind; a no-op (and no Alembic import) when at the head."""
    from sqlalchemy import text

    with db.engine.connect() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if current is None or current != shipped_head():
        db.migrate()


@contextmanager
def open_store() -> Iterator[Database]:
    """The configured database for reading: refuses (exit 2, with what to run) when it does not exist."""
    require_store()
    settings = state.config().settings
    with friendly_errors():
        from jira_console.store.db import Database

        db = Database(settings.database.url, echo=settings.database.echo, pool_size=1)
        try:
            _bring_up_to_date(db)
            yield db
        finally:
            db.close()


def read_store(work: Callable[[Database], T]) -> T:
    """Run ``work(db)`` against the existing store; errors become plain words and exit codes."""
    with open_store() as db, friendly_errors():
        return work(db)
    raise AssertionError("unreachable")
