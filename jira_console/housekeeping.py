"""The daemon's retention job: what it deletes, and after how long (run it in a thread: blocking).

* webhook events processed more than ``[webhooks] retention_days`` ago (parked failures stay);
* outbox rows taken more than ``[daemon] outbox_retention_days`` ago;
* the rows of daemons silent for more than :data:`GONE_DAEMON_DAYS` days, stopped or killed: a daemon
  named after its host and pid gets a row of its own at every start, and ``status`` and the console listed
  every daemon that ever ran on the database;
* runs that changed nothing (no audit line names them), finished more than :data:`QUIET_RUN_DAYS` days
  ago: a daemon's scheduled syncs add one a connection every interval.
"""

from __future__ import annotations

from datetime import timedelta

from jira_console.config import Settings
from jira_console.store import Database, runs
from jira_console.store import state as st
from jira_console.store.models import utcnow
from jira_console.store.outbox import purge_outbox
from jira_console.webhooks.processor import purge

GONE_DAEMON_DAYS = 7
"""How long the row of a daemon that no longer beats is kept (``status`` shows it meanwhile)."""
QUIET_RUN_DAYS = 7
"""How long a run that changed nothing is kept (``audit runs --all`` shows it meanwhile)."""


def retention(db: Database, settings: Settings) -> dict[str, int]:
    """Delete what is past its retention; returns how many of each were deleted."""
    now = utcnow()
    with db.session(write=True) as session:
        gone = st.forget_gone_daemons(session, now - timedelta(days=GONE_DAEMON_DAYS))
        quiet = runs.forget_quiet_runs(session, now - timedelta(days=QUIET_RUN_DAYS))
    return {
        "webhook_events": purge(db, settings.webhooks.retention_days),
        "outbox_rows": purge_outbox(db, settings.daemon.outbox_retention_days),
        "daemon_rows": gone,
        "quiet_runs": quiet,
    }
