"""Back-fill after a mapping change: when the fields a pull fills, or how it fills them, differ from what the
last completed pull used, every issue of the connection is read again once.

What the pull used is kept as a digest in the issue scope's ``sync_state.cursor`` (``mappings``), so the
decision survives the process: a mapping imported by the CLI and synced by a daemon, or the other way round,
back-fills just the same. A first import needs none (it reads everything with the current mappings).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from jira_console.store import models as m
from jira_console.store import state as st
from jira_console.store.db import Database
from jira_console.sync import scope_change
from jira_console.sync.context import ISSUES_SCOPE, SyncContext

ANNOUNCEMENT = "the mappings changed since the last sync: re-reading every issue once (back-fill)"
CURSOR_KEY = "mappings"


def digest(ctx: SyncContext) -> str:
    """What decides the pulled local values: each pulling field, its Jira field and its mapping's whole
    definition (a changed step changes the digest; a push-only mapping does not count), and the identity
    table when a mapping reads it."""
    parts: list[Any] = []
    for codec in ctx.codecs:
        if codec.direction not in ("pull", "both"):
            continue
        compiled = getattr(codec, "compiled", None)
        definition = compiled.definition.to_data() if compiled is not None else None
        read = list(getattr(codec, "by_project", ()))  # story points per board: which field per project
        parts.append([codec.name, codec.jira_field, type(codec).__name__, definition, read])
    parts.sort(key=lambda p: json.dumps(p, sort_keys=True, default=str))
    if '"op": "user"' in json.dumps(parts, sort_keys=True, default=str):
        # A ``user`` step reads the identity table: a person mapped since the last sync changes the values.
        rows = getattr(ctx.mapping_ctx.identities, "rows", ())
        parts.append(sorted(json.dumps(dataclasses.asdict(r), sort_keys=True) for r in rows))
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def needed(db: Database, ctx: SyncContext) -> bool:
    """Whether this run must re-read every issue; when so, the scope's ``reapply`` flag is set (it stays set
    until a pull completes, so a back-fill cut short is taken up by the next run)."""
    current = digest(ctx)
    with db.session(write=True) as s:
        if st.reapply_pending(s, ctx.name, ISSUES_SCOPE):
            return True
        row = s.get(m.SyncState, (ctx.name, ISSUES_SCOPE))
        if row is None or row.watermark_ms is None:
            return False  # nothing read yet: this pull reads everything with these mappings anyway
        if (row.cursor or {}).get(CURSOR_KEY) == current:
            return False
        st.set_reapply(s, ctx.name, ISSUES_SCOPE, True)
        return True


def done(db: Database, ctx: SyncContext) -> None:
    """A pull completed with ``ctx``: remember its mappings and its JQL (see
    :mod:`jira_console.sync.scope_change`) and clear the back-fill request, in one transaction."""
    used = {CURSOR_KEY: digest(ctx), scope_change.CURSOR_KEY: scope_change.digest(ctx)}
    with db.session(write=True) as s:
        st.set_reapply(s, ctx.name, ISSUES_SCOPE, False)
        row = s.get(m.SyncState, (ctx.name, ISSUES_SCOPE))
        if row is not None and any((row.cursor or {}).get(k) != v for k, v in used.items()):
            row.cursor = {**(row.cursor or {}), **used}
