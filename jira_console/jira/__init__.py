"""Async Jira client (Cloud REST v3 and Server/DC REST v2) with retries, rate limiting and a breaker.

The package's names are loaded on first use, so a module that only needs a light part of it (the error
types, the rich-text codecs, the held-back credentials message) does not import the HTTP stack."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jira_console.jira.client import JiraClient
    from jira_console.jira.models import (
        Board,
        BreakerStateChanged,
        CallRecord,
        ConnectionHealth,
        JiraField,
        SearchPage,
        ServerInfo,
        Sprint,
        Transition,
    )

_MODELS = ("Board", "BreakerStateChanged", "CallRecord", "ConnectionHealth", "JiraField", "SearchPage")
_WHERE = {"JiraClient": "jira_console.jira.client"} | {
    name: "jira_console.jira.models" for name in (*_MODELS, "ServerInfo", "Sprint", "Transition")
}

__all__ = [
    "Board",
    "BreakerStateChanged",
    "CallRecord",
    "ConnectionHealth",
    "JiraClient",
    "JiraField",
    "SearchPage",
    "ServerInfo",
    "Sprint",
    "Transition",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
