"""The database handle: engine, sessions, migrations.

One :class:`Database` per process. SQLite is tuned for several processes sharing one file (WAL, a busy
timeout, foreign keys on); PostgreSQL gets a pool that pings a connection left idle before handing it out.
The schema is upgraded only by the Alembic migrations shipped in :mod:`jira_console.store.migrations`, so
that host programs and every installed version of the tool agree on it; an empty database is created at
the head in one step (:mod:`jira_console.store.fresh`), a schema the tests hold equal to the migrations'.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from jira_console import redact
from jira_console.files import ensure_private_file

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's write transaction before failing."""

_MIGRATE_LOCK_PREFIX = "jira_console.migrate."

SCHEMA_HEAD = "0018_story_points_not_a_number"
"""The newest revision of the shipped migrations (a test holds it to the Alembic scripts): a database
already there is recognised without loading Alembic, which is slow to import."""

PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out (a server
restart or an idle timeout is then met with a fresh connection, not a failed statement). One in steady use
is not: a ping is a round trip, and a busy listener or worker takes a connection many times a second."""
_IDLE_SINCE = "jira_console.idle_since"


_MISSING_DATABASE = re.compile(r'database "([^"]+)" does not exist')
"""PostgreSQL's refusal of a connection to a database that is not there (sent at connect, no SQLSTATE)."""


_USE = "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/dbname"
"""What a database URL may be: the two databases, PostgreSQL with its installed driver (psycopg 3)."""


def sqlite_folder_problem(database: str | None) -> str | None:
    """Why SQLite cannot create the file ``database`` (a URL's path) here, or None: its folder does not exist.
    A relative path that is an existing folder once read from ``/`` was meant as an absolute one, and the
    text says so (``sqlite:///tmp/x.db`` is ``tmp/x.db`` under the current folder; ``/tmp/x.db`` takes four
    slashes)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    folder = Path(database).resolve().parent
    if folder.is_dir():
        return None
    said = f"the folder {folder} does not exist: create it, or correct [database] url"
    if not Path(database).is_absolute() and Path("/", database).parent.is_dir():
        said += f" (an absolute path takes four slashes: sqlite:////{database})"
    return said


class StoreError(Exception):
    """A database problem worded for the operator; never contains the URL's password."""


class StoreConfigError(StoreError):
    """A database URL that cannot be used as configured (not a URL, another database, a driver that is not
    installed, a PostgreSQL database that does not exist): a configuration error, not an outage."""

    exit_code = 2  # the CLI's "usage or configuration error"


def mask_url(url: str | URL) -> str:
    """``url`` with its password replaced by ``***`` (or a generic text when it cannot be parsed)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL must still be shown without leaking anything
        text_url = str(url)
        if "@" in text_url and "://" in text_url:
            scheme, rest = text_url.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return text_url


def load_json(value: Any) -> Any:
    """A JSON column's stored value decoded, as the column type decodes it; :class:`UnreadableJson` when the
    engine cannot read it."""
    # A column declared JSON has NUMERIC affinity in SQLite, so a scalar JSON number ("8") is stored and
    # returned as the number itself, not as text. It already is the decoded value.
    if isinstance(value, int | float):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        # A plain-SQL write the guards did not stop: text that is not JSON (SQLite, before migration 0010,
        # or in a column they do not watch) or a number beyond a float (PostgreSQL's JSONB keeps 1e400).
        # The message names no value (issue data stays out of logs).
        raise UnreadableJson(NOT_JSON) from exc


class UnreadableJson(ValueError):
    """A JSON column holds a value the engine cannot read. Raised while rows are read, so it cannot say
    which: the sync finds the issue and column (:mod:`jira_console.store.unreadable`) and sets it aside."""


NOT_JSON = (
    "a JSON column holds a value the engine cannot read (text that is not JSON, or a number beyond "
    "±1.8e308), stored with plain SQL; a sync that meets it sets its issue aside and `jira-console status` "
    "names the issue and the column"
)


def dump_json(value: Any) -> str:
    """A value as the JSON text the engine stores in a JSON column (also for statements that bypass the
    column types)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
    # orjson stops at 64-bit integers; JSON does not, and a program calling the API may send any number
    # (it reads back as a float, as every JSON number that large does here).
    import json

    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):  # what orjson writes for datetimes, dates and times
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def migrations_dir() -> Path:
    """Directory of the Alembic environment shipped with the package."""
    from jira_console.store import migrations

    return Path(migrations.__file__).resolve().parent


class Database:
    """Engine, session factory and migrations for one database URL.

    ``Database("sqlite:///jira-console.db")`` or ``Database("postgresql+psycopg://user@host/db")``.
    Nothing connects until the first session or :meth:`migrate`.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 5) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreConfigError(
                f"database URL {mask_url(url)!r} is not valid; expected e.g. sqlite:///jira-console.db "
                "or postgresql+psycopg://user@host/dbname"
            ) from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise StoreConfigError(
                f"database URL {mask_url(parsed)!r}: unsupported database {backend!r} ({_USE})"
            )
        if backend == "postgresql" and parsed.drivername == "postgresql":
            # The bare name would pick psycopg2, which is not a dependency; psycopg 3 is.
            parsed = parsed.set(drivername="postgresql+psycopg")
        self._url = parsed
        self.dialect: Literal["sqlite", "postgresql"] = backend  # type: ignore[assignment]
        kwargs: dict[str, Any] = {
            "echo": echo,
            "json_serializer": dump_json,
            "json_deserializer": load_json,
        }
        if backend == "postgresql":
            kwargs.update(pool_size=pool_size)
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except NoSuchModuleError:
            raise StoreConfigError(
                f"database URL {mask_url(parsed)!r}: driver {parsed.drivername!r} is not installed; {_USE}"
            ) from None
        except ImportError as exc:  # a driver SQLAlchemy knows, not installed here (psycopg2, asyncpg)
            raise StoreConfigError(
                f"database URL {mask_url(parsed)!r}: its driver is not installed ({exc}); {_USE}"
            ) from None
        except ArgumentError as exc:
            raise StoreError(f"database URL {mask_url(parsed)!r} cannot be used: {exc}") from None
        if backend == "sqlite":
            if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                # Synced Jira data: owner-only. SQLite gives its -wal/-shm files the main file's mode.
                ensure_private_file(parsed.database, make_parents=False)
            _tune_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine)
        event.listen(self.engine, "handle_error", self._translate_connect_error)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )

    @property
    def url(self) -> str:
        """The URL with its password masked (safe to log and show)."""
        return mask_url(self._url)

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def _translate_connect_error(self, context: Any) -> BaseException | None:
        # Only failures to open a connection become StoreError; errors of a statement stay what they are
        # so callers can catch IntegrityError and the like.
        if context.connection is None and isinstance(context.sqlalchemy_exception, DBAPIError):
            reason = self.driver_reason(context.original_exception)
            missing = _MISSING_DATABASE.search(reason)
            if missing:  # the server answers, the name is wrong or not created: configuration, not outage
                name = missing.group(1)
                return StoreConfigError(
                    f"the database {name!r} does not exist on the server at {self.url}: create it "
                    f"(e.g. `createdb {name}`) or correct [database] url"
                )
            folder = sqlite_folder_problem(self._url.database) if self.dialect == "sqlite" else None
            if folder is not None:
                return StoreConfigError(f"cannot connect to the database at {self.url}: {folder}")
            return StoreError(f"cannot connect to the database at {self.url}: {reason}")
        return None

    def driver_reason(self, exc: BaseException | None) -> str:
        """A driver error's first line, safe to show: the URL's password and registered secrets masked."""
        lines = str(exc or "").strip().splitlines()
        reason = lines[0] if lines else "unknown error"
        if self._url.password:
            reason = reason.replace(str(self._url.password), "***")
        return redact.scrub(reason)

    @contextlib.contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back if it raises.

        ``write=True`` matters on SQLite only: the transaction starts with ``BEGIN IMMEDIATE``, taking the
        write lock up front, so a read-then-write transaction cannot fail half-way with "database is locked"
        when another process wrote in between.
        """
        factory = self._write_sessions if write else self._sessions
        with factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextlib.contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in one write transaction (``BEGIN IMMEDIATE`` on SQLite, as ``session(write=
        True)``): for a hot path of plain statements that needs no ORM session (the webhook listener's
        SQLite commits, which wait on it before acknowledging; on PostgreSQL the listener commits through
        an asyncio connection of its own, see :mod:`jira_console.webhooks.ingest`)."""
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            yield conn

    def ping(self) -> None:
        """Open a connection and run a trivial query; raises :class:`StoreError` when unreachable."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (default: the newest). A no-op when already there.

        Safe to run from several processes at once: PostgreSQL serialises them with a transaction-level
        advisory lock (per schema), SQLite with ``BEGIN IMMEDIATE``. The whole upgrade is one transaction,
        so a failure leaves the schema as it was.

        An empty database asked for ``"head"`` gets the head's schema in one step (:mod:`.fresh`, the same
        schema as the migrations build); a named revision, ``SCHEMA_HEAD`` included, always goes through
        the migrations.
        """
        if revision == "head" and self._at_head():
            return
        from jira_console.store import fresh

        opts = {"sqlite_begin": "IMMEDIATE"} if self.dialect == "sqlite" else {}
        try:
            with self.engine.connect().execution_options(**opts) as conn, conn.begin():
                self._lock_for_migration(conn)
                if revision == "head" and fresh.is_empty(conn):
                    fresh.create_at_head(conn, SCHEMA_HEAD)
                    return
                from alembic import command
                from alembic.config import Config

                cfg = Config()
                cfg.set_main_option("script_location", str(migrations_dir()))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except StoreError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"migrating the database at {self.url} failed: {exc}") from exc

    def _at_head(self) -> bool:
        """Whether the schema is at :data:`SCHEMA_HEAD` already (False when there is no schema yet)."""
        try:
            with self.engine.connect() as conn:
                versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except (OperationalError, ProgrammingError):  # no version table: a new database
            return False
        return list(versions) == [SCHEMA_HEAD]

    def _lock_for_migration(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            # Keyed by schema so that separate schemas (tests, tenants) do not wait for each other.
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:prefix || current_schema()))"),
                {"prefix": _MIGRATE_LOCK_PREFIX},
            )

    def current_revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest revision shipped with this version of the tool."""
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(migrations_dir()))
        return ScriptDirectory.from_config(cfg).get_current_head()

    def close(self) -> None:
        """Close every pooled connection. The object must not be used afterwards."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _set_wal(cur: Any) -> None:
    """Switch the file to WAL (persistent, so a no-op after the first time). While another connection is
    creating the same new file, SQLite answers "database is locked" here without waiting on
    ``busy_timeout``, so the switch is retried within that timeout."""
    import sqlite3

    try:
        cur.execute("PRAGMA journal_mode = WAL")
        return
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

    for attempt in Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, sqlite3.OperationalError) and "locked" in str(e)),
        wait=wait_random_exponential(multiplier=0.01, max=0.25),
        stop=stop_after_delay(SQLITE_BUSY_TIMEOUT_MS / 1000),
        reraise=True,
    ):
        with attempt:
            cur.execute("PRAGMA journal_mode = WAL")


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _set_wal(cur)
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling on checkout, skipped while a connection is in steady use (see
    :data:`PING_AFTER_IDLE_SECONDS`). A failed ping makes the pool drop the connection and open another."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("a pooled connection failed its ping") from exc
