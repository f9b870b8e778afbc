"""Async Jira client (Cloud REST v3 and Server/DC REST v2) with retries, rate limiting and a breaker."""

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
