"""The operations API's app factory: the routers under ``/api/v1``, bearer authentication on every route
but Jira's receiver, JSON error answers, and the OpenAPI document at ``/api/v1/openapi.json`` with its
docs page at ``/api/v1/docs`` (both readable without the token: they describe the API, nothing stored)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from jira_console import __version__
from jira_console.api import audit, creations, integration, mappings, webhooks
from jira_console.api.auth import BearerToken
from jira_console.api.deps import storable_body
from jira_console.api.errors import install_error_handlers
from jira_console.api.limits import BodyLimit
from jira_console.api.webhooks import Receiver
from jira_console.facade import Engine

API_PREFIX = "/api/v1"

DESCRIPTION = """\
The jira-console daemon's operations API: field mappings, webhook events, the Jira integration's
health, syncs and conflicts, and the audit log with undo. Every route but `POST /api/v1/webhooks/jira`
(which Jira signs) needs `Authorization: Bearer <token>`. Errors are `{"error": "..."}` with the status
saying why.
"""


def create_api_app(engine: Engine, token: str, *, receiver: Receiver | None = None) -> FastAPI:
    """The API over a started ``engine``. ``token`` is the bearer token every call must send;
    ``receiver`` is the webhook listener's handler (None: this daemon takes no webhooks). Bodies are
    bounded by ``[webhooks] max_body_bytes``, the listener's own limit."""
    app = FastAPI(
        title="jira-console operations API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.receiver = receiver
    app.state.prefix = API_PREFIX
    install_error_handlers(app)
    receiver_path = f"{API_PREFIX}/webhooks{webhooks.RECEIVER_PATH}"
    app.add_middleware(BodyLimit, limit=engine.settings.webhooks.max_body_bytes, exempt=[receiver_path])
    protected = [Depends(BearerToken(token)), Depends(storable_body)]
    app.include_router(mappings.router, prefix=f"{API_PREFIX}/field-mappings", dependencies=protected)
    app.include_router(webhooks.receiver_router, prefix=f"{API_PREFIX}/webhooks")
    app.include_router(webhooks.router, prefix=f"{API_PREFIX}/webhooks", dependencies=protected)
    app.include_router(integration.router, prefix=f"{API_PREFIX}/integration/jira", dependencies=protected)
    app.include_router(
        creations.router, prefix=f"{API_PREFIX}/integration/jira/issue-requests", dependencies=protected
    )
    app.include_router(audit.router, prefix=f"{API_PREFIX}/audit", dependencies=protected)
    names = [c.name for c in engine.settings.jira]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = with_connections(doc, names)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


# Request bodies whose ``connection`` chooses the site to ask (or to create in): required when several are
# configured.
_SITE_CHOOSERS = ("ValidateRequest", "TrialRequest", "CreationIn")


def with_connections(doc: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The OpenAPI document told this daemon's connection names: every ``connection`` a route looks up
    (query parameter or body field) lists them, and the bodies that choose a site require one when
    several are configured. Jira's receiver keeps its free-form ``connection`` (it stores unknown ones)."""
    named = {"type": "string", "enum": names}

    def narrow(schema: dict[str, Any]) -> dict[str, Any]:
        branches = schema.get("anyOf")
        if branches and any(b.get("pattern") for b in branches):
            rest = [b for b in branches if not b.get("pattern")]
            return {**{k: v for k, v in schema.items() if k != "anyOf"}, "anyOf": [named, *rest]}
        if schema.get("pattern"):
            return {**{k: v for k, v in schema.items() if k != "pattern"}, **named}
        return schema

    receiver = f"{API_PREFIX}/webhooks/jira"
    for path, item in doc.get("paths", {}).items():
        for operation in item.values() if path != receiver else ():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "connection":
                    parameter["schema"] = narrow(parameter["schema"])
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        properties = schema.get("properties", {})
        if "connection" not in properties or name.startswith(("Mapping", "ErrorBody")):
            continue
        if name in _SITE_CHOOSERS and len(names) > 1:
            properties["connection"] = {
                **named,
                "description": properties["connection"].get("description", ""),
            }
            schema["required"] = sorted({*schema.get("required", []), "connection"})
        else:
            properties["connection"] = narrow(properties["connection"])
    return doc
