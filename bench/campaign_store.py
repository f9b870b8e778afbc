"""One seeded campaign run (shared by the lifecycle and push campaigns): its store, a fresh SQLite file (in a
folder removed when the run ends) or a fresh schema of a PostgreSQL database (dropped when the run ends), and
the run played and audited on it."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from jira_console.store import Database


@contextmanager
def run_store(prefix: str, seed: int, db_base: str | None) -> Iterator[str]:
    """The database URL of one run; ``db_base`` a PostgreSQL URL (a schema per run) or None (SQLite)."""
    if not db_base:
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as folder:
            yield f"sqlite:///{folder}/store.db"
        return
    schema = f"{prefix}_{seed}_{uuid.uuid4().hex[:6]}"
    admin = Database(db_base)
    try:
        with admin.engine.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in db_base else "?"
        try:
            yield f"{db_base}{sep}options=-csearch_path%3D{schema}"
        finally:
            with admin.engine.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.close()


async def play_and_audit(make: Callable[[str], Any], prefix: str, seed: int, db_base: str | None) -> Any:
    """``make(url)`` is a run (``play``, ``audit``, ``close``); returns it with its findings, its store
    gone."""
    with run_store(prefix, seed, db_base) as url:
        run = make(url)
        try:
            await run.play()
            return run, run.audit()
        finally:
            await run.close()
