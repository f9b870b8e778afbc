"""The daemon's JSON operations API (``/api/v1``): field mappings, webhook events and the Jira integration's
health, syncs and conflicts, for the team's own programs.

A FastAPI app (:func:`~jira_console.api.app.create_api_app`) served by the daemon on its own address, in
the daemon's event loop beside the webhook listener. Every route goes through the engine facade, the one
the CLI and the console use; the OpenAPI document is generated from the typed models in :mod:`.models`.
"""

from jira_console.api.app import API_PREFIX, create_api_app

__all__ = ["API_PREFIX", "create_api_app"]
