"""Custom field contexts: a custom field exists for some issue types only. Outside its context Jira leaves
the field out of the issue entirely (absent, not null), out of the issue's editmeta, and refuses to set it.
Which (role, issue type) pairs are outside is ``SimConfig.out_of_context`` (e.g. story points on a Bug)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jira_console.simulator.model import FIELD_IDS


def hidden_fields(site: Any, issuetype: str) -> set[str]:
    """Field ids outside their context for ``issuetype`` on this site."""
    ids = FIELD_IDS[site.flavor]
    return {ids[role] for role, kind in site.cfg.out_of_context if kind == issuetype and role in ids}


def refused(field_id: str) -> str:
    return f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."


def out_of_context_errors(site: Any, issuetype: str, field_ids: Iterable[str]) -> dict[str, str]:
    """Jira's 400 ``errors`` for an edit naming fields outside their context (empty when none)."""
    hidden = hidden_fields(site, issuetype)
    return {f: refused(f) for f in field_ids if f in hidden}
