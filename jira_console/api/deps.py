"""What every route needs: the engine facade (the one the CLI and console use), connection names checked
against the configuration, and request bodies that the database can store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from pydantic import TypeAdapter, ValidationError

from jira_console.api.errors import ApiError, invalid_values
from jira_console.facade import Engine

R = TypeVar("R")
M = TypeVar("M")

MAX_ID = 2**31 - 1
"""Largest id of the Integer primary keys (PostgreSQL ``integer``); larger ones cannot exist."""


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def blocking(function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Run a blocking facade read or write off the event loop the daemon's listener and syncs share."""
    return await asyncio.to_thread(function, *args, **kwargs)


def connection_name(engine: Engine, name: str | None) -> str:
    """A configured connection's name (the only one when ``name`` is None): 404 for an unknown name, 422
    when several are configured and none is named."""
    names = [c.name for c in engine.settings.jira]
    if name is None:
        if len(names) == 1:
            return names[0]
        raise ApiError(
            422, f"{len(names)} connections are configured; name one ({', '.join(names) or 'none'})"
        )
    if name not in names:
        raise ApiError(404, f"no connection named {name!r}; configured: {', '.join(names) or 'none'}")
    return name


def known_connection(engine: Engine, name: str | None) -> str | None:
    """``name`` when it is configured (404 otherwise); None stays None (no filter)."""
    return None if name is None else connection_name(engine, name)


def utc_moment(moment: datetime | None) -> datetime | None:
    """A query's moment in UTC (naive ones are UTC); 422 when it lies outside what UTC can hold."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ApiError(422, f"{moment.isoformat()} is out of range") from None


def _unstorable(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored (PostgreSQL refuses NUL characters in text and JSON)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "text with a NUL character (\\u0000) cannot be stored"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


async def storable_body(request: Request) -> None:
    """400 for a body that is not strict JSON (``NaN``, ``Infinity`` and numbers beyond a double are not
    JSON, though Python reads them), 422 for one holding text no database column can keep."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    body = await request.body()
    if not body.strip():
        return
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    reason = _unstorable(value)
    if reason is not None:
        raise ApiError(422, reason)


async def strictly(request: Request, shape: TypeAdapter[M]) -> M:
    """The JSON body read again in pydantic's strict JSON mode, so that what the document says holds: a
    ``false`` is no number and ``"3"`` no integer (FastAPI reads bodies leniently; a TOML file read by the
    CLI keeps the lenient reading). 422 naming each invalid value."""
    try:
        return shape.validate_json(await request.body(), strict=True)
    except ValidationError as exc:
        raise invalid_values(exc.errors(include_url=False, include_input=False), ("body",)) from None
