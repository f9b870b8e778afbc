"""HTTP helpers shared by the simulator's route modules: JSON answers, Jira errors, parameter checks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from jira_console.simulator.server import Simulator


class JiraHTTPError(Exception):
    """Raised inside a handler to answer with Jira's error shape."""

    def __init__(self, status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None):
        super().__init__(f"{status}: {messages or errors}")
        self.status = status
        self.messages = messages or []
        self.errors = errors or {}

    def response(self) -> Response:
        return JSONResponse({"errorMessages": self.messages, "errors": self.errors}, status_code=self.status)


def sim_of(request: Request) -> Simulator:
    return request.app.state.sim  # type: ignore[no-any-return]


def base_of(request: Request) -> str:
    """The public base URL the client used (with the OAuth /ex/jira/{cloudId} prefix when present)."""
    return str(request.scope.get("sim_base") or str(request.base_url).rstrip("/"))


def version_of(request: Request) -> str:
    """API version of the path; Server has no v3, so that path does not exist there."""
    v = str(request.path_params.get("v", "2"))
    sim = sim_of(request)
    if v not in ("2", "3") or (v == "3" and sim.config.flavor == "server"):
        raise JiraHTTPError(404, ["null for uri: " + request.url.path])
    return v


def check_params(request: Request, allowed: set[str]) -> None:
    """Jira ignores unknown query parameters; we answer normally but count the mistake."""
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        sim_of(request).violate(
            "unknown_parameter", request, f"unknown query parameter(s): {', '.join(unknown)}"
        )


async def json_body(request: Request, *, allowed: set[str] | None = None, kind: type = dict) -> Any:
    """The parsed JSON body; malformed or unexpected bodies are a 400 and a ``bad_body`` violation."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except ValueError as exc:
        sim_of(request).violate("bad_body", request, f"malformed JSON: {exc}")
        raise JiraHTTPError(400, [f"Unexpected character: {exc}"]) from None
    if not isinstance(data, kind):
        sim_of(request).violate("bad_body", request, f"expected a JSON {kind.__name__}")
        raise JiraHTTPError(400, [f"Can not deserialize instance of {kind.__name__} from the request body"])
    if allowed is not None and isinstance(data, dict):
        extra = sorted(set(data) - allowed)
        if extra:
            sim_of(request).violate("bad_body", request, f"unrecognized field(s): {', '.join(extra)}")
            raise JiraHTTPError(
                400, [f'Unrecognized field "{extra[0]}" (Class SearchRequestBean), not marked as ignorable']
            )
    return data


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise JiraHTTPError(400, [f"The value '{raw}' is invalid for the parameter '{name}'."]) from None


def csv_param(request: Request, name: str) -> list[str] | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def expand_set(raw: Any) -> set[str]:
    """``expand`` as a set, from a comma-separated string or a JSON list."""
    if raw is None:
        return set()
    if isinstance(raw, list):
        return {str(x).strip() for x in raw}
    return {x.strip() for x in str(raw).split(",") if x.strip()}


def ok(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


def not_found_issue() -> JiraHTTPError:
    return JiraHTTPError(404, ["Issue does not exist or you do not have permission to see it."])
