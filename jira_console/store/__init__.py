"""The store: the shared SQL database (models, migrations, repositories).

Host programs see tables (docs/schema.md); the rest of jira-console sees :class:`Database`, the repository
functions and the record dataclasses of :mod:`jira_console.store.converters` - never ORM rows.
"""

from jira_console.store.db import Database, StoreError, mask_url

__all__ = ["Database", "StoreError", "mask_url"]
