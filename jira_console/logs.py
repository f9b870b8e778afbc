"""Structured logging (structlog over the standard library) with secret scrubbing on every record."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from jira_console import redact
from jira_console.controls import visible
from jira_console.files import ensure_private_file


def _scrub_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = redact.scrub_any(event_dict)
    return scrubbed


def _visible_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Console format only (JSON escapes by itself): a Jira text in a log line cannot drive the terminal."""
    return {k: visible(v) if isinstance(v, str) else v for k, v in event_dict.items()}


class ScrubbingFilter(logging.Filter):
    """Scrubs records from libraries that log through the standard library (httpx, uvicorn, apscheduler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True  # a structlog event: already scrubbed by the processor chain
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not kill logging
            message = str(record.msg)
        record.msg = redact.scrub(message)
        record.args = None
        # Tracebacks are rendered by the processor chain (format_exc_info), which scrubs them after.
        return True


def configure(level: str = "INFO", fmt: str = "console", file: str | None = None) -> None:
    """Route structlog and stdlib logging to one handler; JSON lines or human-readable console output."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _scrub_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    if fmt != "json":
        shared.append(_visible_processor)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    if file:
        ensure_private_file(file)
    handler: logging.Handler = logging.FileHandler(file) if file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(ScrubbingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "uvicorn.access", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
