"""The store: the shared SQL database and the one persistence path to each of its tables.

Host programs see tables (docs/schema.md); the rest of jira-console sees :class:`Database` (``db``), the
table modules (``issues`` for the engine's writes to issues, ``repo`` for the other records, ``sprints`` for
sprints and boards, ``state`` for run state and leases, ``queue`` for webhook events, ``outbox`` for
``local_changes``, ``catalog`` for mappings and identities) and the record dataclasses of ``converters``.
Only the sync works on ORM rows (the issue rows it merges into, loaded and written through ``issues``);
everyone else gets records.
"""

from jira_console.store.db import Database, StoreError, mask_url

__all__ = ["Database", "StoreError", "mask_url"]
