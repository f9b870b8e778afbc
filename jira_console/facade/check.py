"""``config check``'s work: every configured connection tried against its site at once."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from jira_console.config import Settings

if TYPE_CHECKING:
    from jira_console.store.db import Database


async def check_connections(settings: Settings, db: Database | None = None) -> list[dict[str, Any]]:
    """Check every configured connection against its site (token, auth, flavor, version, permissions,
    JQL), all at once; never raises for Jira or network errors. With the database, credentials held back
    after Jira denied them are tried once more (the operator's go-ahead), and held back again if denied."""
    from jira_console.jira.check import check_connection
    from jira_console.sync.guard import StoreGuard, clear_auth_blocks
    from jira_console.sync.jql import bounded_jql

    lifted: set[str] = set()
    if db is not None:
        lifted = set(await asyncio.to_thread(clear_auth_blocks, db, [c.name for c in settings.jira]))
    sent = [
        (c, StoreGuard(db, c, site_peers=settings.site_peers(c)) if db is not None else None,
         bounded_jql(c.jql, None))
        for c in settings.jira
    ]  # fmt: skip
    results = await asyncio.gather(*(check_connection(*one) for one in sent))  # Jira parses what a sync sends
    for result in results:
        if result["name"] in lifted:
            result["resumed"] = "credentials were held back after Jira denied them; tried again now"
    return list(results)
