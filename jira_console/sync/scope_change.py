"""A connection's JQL changed since its last sync: the next run reads everything the JQL now selects (a full
sync) instead of what changed since the watermark, which would miss the issues the new JQL takes in and keep
the ones it leaves out.

The JQL the last completed pull used is kept as a digest in the issue scope's ``sync_state.cursor``
(``jql``), written with the mappings' digest by :func:`jira_console.sync.backfill.done`, so the decision
survives the process. A store from before this digest existed takes the current JQL as its own (no full
sync for it).
"""

from __future__ import annotations

import hashlib

from jira_console.jql_scope import scope_filter
from jira_console.store import models as m
from jira_console.store.db import Database
from jira_console.sync.context import ISSUES_SCOPE, SyncContext

ANNOUNCEMENT = "the JQL changed since the last sync: reading everything it now selects (full sync)"
CURSOR_KEY = "jql"


def digest(ctx: SyncContext) -> str:
    """The connection's filter, whitespace runs made one space (``ORDER BY`` and spacing change nothing)."""
    text = " ".join(scope_filter(ctx.conn.jql).split())
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def changed(db: Database, ctx: SyncContext) -> bool:
    """Whether the last completed pull used another JQL."""
    with db.session() as s:
        row = s.get(m.SyncState, (ctx.name, ISSUES_SCOPE))
        if row is None or row.watermark_ms is None:
            return False  # nothing read yet: this pull reads everything the JQL selects anyway
        stored = (row.cursor or {}).get(CURSOR_KEY)
    return stored is not None and stored != digest(ctx)
