"""Shared CLI plumbing: loading config once, printing JSON or text, exit codes, error wording."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from typing import Any, NoReturn, TypeVar

import typer

from jira_console import redact
from jira_console.config import ConfigError, LoadedConfig, load_config

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3

T = TypeVar("T")


class _State:
    config_path: str | None = None
    verbose: bool = False
    _loaded: LoadedConfig | None = None

    def config(self) -> LoadedConfig:
        if self._loaded is None:
            try:
                self._loaded = load_config(self.config_path)
            except ConfigError as exc:
                fail(str(exc), EXIT_USAGE)
            for warning in self._loaded.warnings:
                typer.echo(f"warning: {warning}", err=True)
            from jira_console import logs

            cfg = self._loaded.settings.logging
            logs.configure("DEBUG" if self.verbose else cfg.level, cfg.format, cfg.file)
        return self._loaded


state = _State()


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    typer.echo(f"error: {redact.scrub(message)}", err=True)
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
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn engine exceptions into one plain line and an exit code scripts can trust."""
    try:
        yield
    except typer.Exit:
        raise
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI
        code = getattr(exc, "exit_code", EXIT_FAILURE)
        if state.verbose:
            import traceback

            typer.echo(redact.scrub("".join(traceback.format_exception(exc))), err=True)
        fail(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc), code)


def run_async(factory: Callable[[], Any]) -> Any:
    import asyncio

    return asyncio.run(factory())
