"""``config check``'s work: every configured connection tried against its site at once."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from jira_console.config import JiraConnection, Settings

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
    if settings.webhooks.enabled:
        reachable = [c for c, r in zip(settings.jira, results, strict=True) if r["ok"]]
        stale = await asyncio.gather(*(_stale_webhooks(c) for c in reachable))
        for conn, said in zip(reachable, stale, strict=True):
            next(r for r in results if r["name"] == conn.name)["warnings"] = said
    return list(results)


async def _stale_webhooks(conn: JiraConnection) -> list[str]:
    """Why Jira's webhooks for ``conn`` deliver another scope than its JQL (its JQL changed since they were
    registered); empty when they do not, or when the account may not list them. Never raises."""
    from jira_console.jira import JiraClient
    from jira_console.jql_scope import scope_filter
    from jira_console.redact import scrub
    from jira_console.webhooks.registration import stale_filters

    wanted = scope_filter(conn.jql) or None
    try:
        async with JiraClient(conn) as client:
            stale = await stale_filters(client, conn.name, wanted)
    except Exception as exc:  # noqa: BLE001 - the check reports, it does not crash the CLI
        return [scrub(f"{conn.name}: the registered webhooks could not be listed: {exc}")]
    return [
        f"{conn.name}: Jira's webhook #{hook.id} filters by {hook.jql or '(nothing)'}, not by the "
        f"connection's JQL {wanted or '(nothing)'} (changes to issues only the JQL selects wait for the next "
        f"poll); `jira-console webhooks register -C {conn.name}` updates it"
        for hook in stale
    ]


def check_database(url: str, *, offline: bool = False) -> tuple[dict[str, Any], Database | None]:
    """``config check``'s line for the database: the URL usable, and (unless ``offline``) the database
    answering. Returns the result (``name`` "database", ``ok``, ``summary``, ``exit_code`` when it fails)
    and the store when it exists and answers (nothing is created: a SQLite file not there yet is reported
    as such, its folder checked). Never raises."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from jira_console.store.db import Database, StoreConfigError, StoreError, mask_url, sqlite_folder_problem

    def failed(summary: str, exit_code: int) -> tuple[dict[str, Any], None]:
        return {"name": "database", "ok": False, "summary": summary, "exit_code": exit_code}, None

    shown = mask_url(url)
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database or "")
            if not path.exists() and not parsed.database.startswith("file:"):  # type: ignore[union-attr]
                folder = sqlite_folder_problem(parsed.database)
                if folder is not None:
                    return failed(f"{shown}: {folder}", 2)
                summary = f"{shown}: not created yet (the first sync creates it)"
                return {"name": "database", "ok": True, "summary": summary}, None
        db = Database(url)
    except StoreConfigError as exc:
        return failed(str(exc), 2)
    except Exception as exc:  # noqa: BLE001 - make_url's own complaint, in words
        return failed(f"database URL {shown!r} is not valid: {exc}", 2)
    if offline:
        db.close()
        return {"name": "database", "ok": True, "summary": f"{shown}: valid URL (not contacted)"}, None
    try:
        db.ping()
    except Exception as exc:  # noqa: BLE001 - said in words below
        db.close()
        if isinstance(exc, StoreConfigError):
            return failed(str(exc), 2)
        return failed(str(exc) if isinstance(exc, StoreError) else f"{shown}: {db.driver_reason(exc)}", 1)
    return {"name": "database", "ok": True, "summary": f"{shown}: answers"}, db
