"""How the operations API answers what it cannot do: always JSON ``{"error": ...}`` with the status that
says why (400 bad input, 401 no token, 404 nothing there, 409 contradicts the stored state, 422 invalid
values, 502 Jira failed, 503 the database is unreachable or busy: another writer holds its lock).

Each exception the engine raises for a request it refuses is mapped here by its class; nothing catches
"any exception": an unexpected one is a defect to fix, not an answer to dress up. Messages pass through
:func:`jira_console.redact.scrub`, so no registered secret reaches a client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from jira_console import redact
from jira_console.facade.errors import NotFound, StateConflict
from jira_console.jira.errors import JiraBadRequest, JiraError, JiraNotFound
from jira_console.logs import get_logger
from jira_console.mapping import MappingDefinitionError, MappingError
from jira_console.store.outage import database_busy, outage_reason
from jira_console.sync.conflicts import ConflictNotFound, InvalidResolution, ResolutionError

log = get_logger(__name__)


class ApiError(Exception):
    """A refusal with its HTTP status, raised by routes and dependencies."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = list(details) if details else None
        self.headers = dict(headers or {})


def error_response(
    status: int,
    message: str,
    details: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": redact.scrub(message)}
    if details:
        body["details"] = redact.scrub_any(list(details))
    return Response(orjson.dumps(body), status, headers=dict(headers or {}), media_type="application/json")


def invalid_values(errors: Sequence[Mapping[str, Any]], prefix: Sequence[str] = ()) -> ApiError:
    """422 naming each invalid value (pydantic's errors); the input itself is not echoed (it may be large
    or private)."""
    details = [
        {"loc": [*prefix, *(str(p) for p in e.get("loc", ()))], "message": str(e.get("msg", ""))}
        for e in errors
    ]
    first = details[0] if details else {"loc": [], "message": "invalid request"}
    where = ".".join(first["loc"])
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ApiError(422, f"invalid request: {where}: {first['message']}{more}", details=details)


def _validation_details(exc: RequestValidationError) -> tuple[int, str, list[Mapping[str, Any]]]:
    """(status, message, details) for a request FastAPI could not read: 400 when the body is not JSON at
    all, 422 when values do not fit."""
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "the body is not valid JSON", []
    invalid = invalid_values(errors)
    return invalid.status, invalid.message, invalid.details or []


def _jira_status(exc: JiraError) -> int:
    if isinstance(exc, JiraNotFound):
        return 404
    if isinstance(exc, JiraBadRequest):
        return 400
    return 502  # auth refused, rate limited, unavailable, breaker open: Jira's side, not the caller's


def _routing_message(request: Request, exc: HTTPException) -> str:
    """What a refusal by the router itself says: a path no route has names where the routes are listed, and
    a method a route does not take names those it does (Starlette's own words are "Not Found" and "Method
    Not Allowed", which leave a caller guessing whether the id, the path or the method is wrong)."""
    detail = str(exc.detail)
    path = request.url.path[:200]
    prefix = getattr(request.app.state, "prefix", "")
    if exc.status_code == 404 and detail == "Not Found":
        return (
            f"no route {request.method} {path}; the routes are listed at {prefix}/docs "
            f"(OpenAPI: {prefix}/openapi.json)"
        )
    if exc.status_code == 405 and detail == "Method Not Allowed":
        allowed = (exc.headers or {}).get("Allow", "")
        return f"{request.method} is not allowed on {path}" + (f"; it takes {allowed}" if allowed else "")
    return detail


def install_error_handlers(app: FastAPI) -> None:
    """Register one handler per refusal the engine can raise (see the module docstring)."""

    async def api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.details, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, _routing_message(request, exc), headers=exc.headers)

    async def invalid_request(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        status, message, details = _validation_details(exc)
        return error_response(status, message, details)

    async def invalid_mapping(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, MappingDefinitionError)
        details = [{"loc": ["definition"], "message": p} for p in exc.problems]
        return error_response(422, str(exc), details)

    def fixed(status: int, message: str | None = None) -> Any:
        async def handler(_: Request, exc: Exception) -> Response:
            return error_response(status, message or str(exc))

        return handler

    async def jira_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, JiraError)
        return error_response(_jira_status(exc), f"Jira: {exc}")

    async def database_down(_: Request, exc: Exception) -> Response:
        if database_busy(exc):
            log.warning("API request failed: database busy (lock wait timed out)", error=outage_reason(exc))
            return error_response(
                503,
                "the database is busy: another writer holds its lock and the wait for it timed out; "
                "retry later",
                headers={"Retry-After": "5"},
            )
        log.warning("API request failed: database unreachable", error=type(exc).__name__)
        return error_response(503, "the database is unreachable; retry later", headers={"Retry-After": "5"})

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(MappingDefinitionError, invalid_mapping)
    app.add_exception_handler(MappingError, fixed(422))
    app.add_exception_handler(NotFound, fixed(404))
    app.add_exception_handler(ConflictNotFound, fixed(404))
    app.add_exception_handler(StateConflict, fixed(409))
    app.add_exception_handler(ResolutionError, fixed(409))  # no longer open
    app.add_exception_handler(InvalidResolution, fixed(422))  # a value the field cannot take
    app.add_exception_handler(
        IntegrityError, fixed(409, "the change collides with a concurrent one; read again and retry")
    )
    app.add_exception_handler(JiraError, jira_error)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(InterfaceError, database_down)
