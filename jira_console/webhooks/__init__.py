"""Real-time webhooks: a signed, size-limited listener that stores deliveries durably (batched commits),
workers that apply them through the sync engine's :class:`~jira_console.webhooks.processor.EventApplier`,
and registration of admin and Cloud dynamic webhooks.

Data flow: Jira -> ``listener`` (verify, classify, dedupe, commit, 202) -> ``webhook_events`` table ->
``processor`` (claim with a lease, apply, finish | back off | park).
"""

from jira_console.webhooks.listener import Delivery, ListenerServer, create_listener_app, serve_listener
from jira_console.webhooks.processor import EventApplier, EventProcessor, purge
from jira_console.webhooks.registration import (
    needs_refresh,
    refresh_dynamic_webhooks,
    register_webhook,
)
from jira_console.webhooks.signature import sign, verify_signature

__all__ = [
    "Delivery",
    "EventApplier",
    "EventProcessor",
    "ListenerServer",
    "create_listener_app",
    "needs_refresh",
    "purge",
    "refresh_dynamic_webhooks",
    "register_webhook",
    "serve_listener",
    "sign",
    "verify_signature",
]
