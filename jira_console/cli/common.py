"""Shared CLI plumbing: loading config once, running a command against the engine facade, printing JSON
or text, exit codes, error wording.

Imported by every command module when the CLI starts, so it imports nothing heavy at module level: the
configuration (pydantic), the store and the engine are imported where a command needs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from jira_console.cli.safe_text import echo, one_line

if TYPE_CHECKING:
    from jira_console.config import LoadedConfig
    from jira_console.facade import Engine
    from jira_console.store.db import Database

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3

T = TypeVar("T")


class _State:
    config_path: str | None = None
    verbose: bool = False
    json: bool = False
    """``--json`` was given: errors are printed as a JSON object too."""
    leave_quickly: bool = False
    """Set by a one-shot command once its work is stored and printed (``sync``): the console script then
    exits without the interpreter's object-by-object teardown (see :func:`jira_console.cli.main`)."""
    own_process: bool = False
    """The command runs as the console script, in a process of its own (not a test's in-process run): once
    the engine has started, what is alive then is frozen out of the garbage collector (see
    :func:`with_engine`)."""
    _loaded: LoadedConfig | None = None

    def config(self) -> LoadedConfig:
        if self._loaded is None:
            from jira_console.config import ConfigError, load_config

            try:
                self._loaded = load_config(self.config_path)
            except ConfigError as exc:
                fail(str(exc), EXIT_USAGE)
            for warning in self._loaded.warnings:
                echo(f"warning: {warning}", err=True)
        return self._loaded

    def configure_logging(self) -> LoadedConfig:
        """The configuration, with logging set up as it says (``--verbose``: DEBUG). Only commands that
        run engine code need it; reading the store logs nothing (and skips importing structlog)."""
        loaded = self.config()
        from jira_console import logs

        cfg = loaded.settings.logging
        logs.configure("DEBUG" if self.verbose else cfg.level, cfg.format, cfg.file)
        return loaded


state = _State()


def issue_key(value: str | None) -> str | None:
    """An issue key as typed, in Jira's case (a Typer callback): project keys are upper case, and Jira reads
    ``eng-1`` as ENG-1 wherever a key is given, so the local database does too."""
    return value.strip().upper() if value else value


def none_found(
    what: str, connection: str | None, filtered: bool, empty: str = " in the local database"
) -> str:
    """What an empty read says: ``no <what>`` that match, or none stored. (A connection no configuration
    names never gets here: :func:`stored_connection` refused it.)"""
    return f"no {what}" + (" match" if filtered or connection is not None else empty)


def configured_connection(name: str | None) -> str | None:
    """``--connection`` checked against the configuration, for commands that write or ask Jira (None stays
    None: every connection, or the command's own default). A name no ``[[jira]]`` table has is a usage
    error (exit 2) in the words of :meth:`~jira_console.config.Settings.connection`, as ``sync`` and the
    HTTP API say it, instead of an answer that looks like nothing is there."""
    if name is not None and name not in _configured():
        _refuse_unknown(name)
    return name


def stored_connection(name: str | None, db: Database) -> str | None:
    """:func:`configured_connection` for commands that read the database (or act on the mappings it
    stores): a connection that is no longer configured is taken too while the database holds rows of it,
    so what it synced (issues, sprints, audit lines, conflicts, mappings) stays readable after its
    ``[[jira]]`` table is removed."""
    if name is None or name in _configured():
        return name
    from jira_console.store import repo

    with db.session() as session:
        stored = repo.stored_connections(session) - set(_configured())
    if name not in stored:
        _refuse_unknown(name, sorted(stored))
    return name


def _configured() -> list[str]:
    return [c.name for c in state.config().settings.jira]


def _refuse_unknown(name: str, stored: list[str] | None = None) -> NoReturn:
    from jira_console.config import ConfigError

    try:
        state.config().settings.connection(name)
    except ConfigError as exc:
        also = f" (the database also holds {', '.join(stored)})" if stored else ""
        fail(f"{exc}{also}", EXIT_USAGE)
    raise AssertionError(f"{name!r} is configured")


def no_connections() -> str:
    """Why a command that talks to Jira has nothing to do, and what to run."""
    path = state.config().path
    found = f"{path} configures none" if path else "no configuration file found (./jira-console.toml)"
    return (
        f"no [[jira]] connections configured: {found}. `jira-console init` writes one "
        "(see config.example.toml), or try `jira-console demo`"
    )


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Say what went wrong (on stderr; with ``--json``, a JSON object on stdout) and exit. The first line
    starts with ``error:``; a message that lists problems one per line (``"...:\n  a\n  b"``) keeps its
    indented lines, each escaped as one line, so no text inside it can start a line of its own."""
    from jira_console import redact

    text = redact.scrub(message)
    if state.json:
        emit_json({"error": text, "exit_code": code})
    else:
        first, *listed = text.split("\n  ")
        echo("\n  ".join([f"error: {one_line(first)}", *(one_line(line) for line in listed)]), err=True)
    raise typer.Exit(code)


def _default(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def emit_json(data: Any) -> None:
    """``--json`` output: every control character in the data escaped (:mod:`~jira_console.cli.safe_text`)."""
    from jira_console.cli import safe_text

    safe_text.emit_json(data, _default)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn engine exceptions into one plain line and an exit code scripts can trust."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI
        from jira_console.config import ConfigError

        code = EXIT_USAGE if isinstance(exc, ConfigError) else getattr(exc, "exit_code", EXIT_FAILURE)
        if state.verbose and not isinstance(exc, ConfigError):
            import traceback

            echo("".join(traceback.format_exception(exc)), err=True)
        fail(_described(exc), code)


def _described(exc: BaseException) -> str:
    """An exception in plain words. A database error says what the database said, without the statement
    and its parameters SQLAlchemy adds (issue contents, on the screen and in a script's logs)."""
    from sqlalchemy.exc import StatementError

    if isinstance(exc, StatementError) and exc.orig is not None:
        said = str(exc.orig).strip().splitlines()
        return f"database error ({type(exc.orig).__name__}): {said[0] if said else 'no message'}"
    return f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)


def with_engine(
    work: Callable[[Engine], Awaitable[T]], *, attach: bool | None = False, read_only: bool = False
) -> T:
    """Start the engine facade, run ``work(engine)``, stop it; errors become plain words and exit codes.

    ``attach``: ``True`` only reads and writes the database (no Jira clients are built; operator actions
    are queued for a daemon), ``False`` runs the engine in this process, ``None`` attaches when a daemon
    is alive. ``read_only``: the command only reads, so a database that does not exist is an error (exit
    2, saying what to run) rather than created empty. Every command reaches the engine this way."""
    import asyncio
    import gc

    settings = state.configure_logging().settings
    if read_only:
        require_store()
    from jira_console.facade import Engine

    async def run() -> T:
        engine = Engine(settings)
        try:
            await engine.start(attach=attach)
            if state.own_process:
                # Modules, settings, the store, clients and sync engines live as long as the process: frozen
                # out of the collector, its full collections do not walk them again and again while a sync
                # parses and writes pages (about a tenth of a 4,000-issue first import's time).
                gc.freeze()
            return await work(engine)
        finally:
            await engine.stop()

    with friendly_errors():
        return asyncio.run(run())
    raise AssertionError("unreachable")


def require_store() -> None:
    """Fail with a clear message when the configured database does not exist yet (a read-only command must
    not create an empty one): a SQLite file that is not there, or a PostgreSQL schema without tables."""
    from jira_console.cli.store_reader import missing_store

    with friendly_errors():
        missing = missing_store(state.config().settings.database.url)
    if missing is not None:
        from sqlalchemy.engine import make_url

        from jira_console.store.db import sqlite_folder_problem

        parsed = make_url(state.config().settings.database.url)  # it parsed in missing_store
        folder = sqlite_folder_problem(parsed.database) if parsed.get_backend_name() == "sqlite" else None
        if folder is not None:  # `sync` could not create it there either
            fail(f"no store at {missing}: {folder}", EXIT_USAGE)
        if state.config().path is None:
            todo = "`jira-console init` writes a configuration, then `jira-console sync` creates it"
        else:
            todo = "run `jira-console sync` to create it and import from Jira"
        fail(f"no store at {missing}: {todo}", EXIT_USAGE)
