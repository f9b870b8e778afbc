"""The facade's counts of what host programs have left for the push: issues edited here and outbox rows
(the creation requests are :mod:`jira_console.facade.creations`'). ``status``, the operations API's sync
overview and the console's Sync screen show them."""

from __future__ import annotations

from jira_console.store import local_work, outbox
from jira_console.store.db import Database


class LocalWorkMethods:
    """Mixed into :class:`~jira_console.facade.engine.Engine`."""

    db: Database

    def outbox_counts(self) -> dict[str, dict[str, int]]:
        """connection -> ``pending`` and ``refused`` rows of the ``local_changes`` outbox (connections with
        any; a connection not configured has only pending ones: nothing takes them)."""
        with self.db.session() as s:
            return outbox.outbox_counts(s)

    def local_edit_counts(self) -> dict[str, int]:
        """connection -> issues edited here that the push has not written to Jira yet (connections with
        any)."""
        with self.db.session() as s:
            return local_work.dirty_counts(s)
