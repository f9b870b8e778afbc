"""The daemon's start-up refusals and bookkeeping rows: its name, claimed at start
(:func:`refuse_taken_name`), the operations API's token (:func:`api_token`), and the retention job: what it
deletes, and after how long (blocking functions: run them in a thread).

* webhook events processed more than ``[webhooks] retention_days`` ago (parked failures stay);
* outbox rows taken more than ``[daemon] outbox_retention_days`` ago;
* the rows of daemons silent for more than :data:`GONE_DAEMON_DAYS` days, stopped or killed: a daemon
  named after its host and pid gets a row of its own at every start, and ``status`` and the console listed
  every daemon that ever ran on the database;
* runs that changed nothing (no audit line names them), finished more than :data:`QUIET_RUN_DAYS` days
  ago: a daemon's scheduled syncs add one a connection every interval.

Importing it also quiets APScheduler's "skipped" warnings for the short housekeeping jobs
(:data:`HOUSEKEEPING_JOBS`).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from jira_console.config import ConfigError, DaemonConfig, Settings
from jira_console.health import daemon_alive
from jira_console.logs import get_logger
from jira_console.secret_files import secret_file_problem
from jira_console.store import Database, runs
from jira_console.store import state as st
from jira_console.store.liveness import owner_is_dead
from jira_console.store.models import utcnow
from jira_console.store.outbox import purge_outbox
from jira_console.webhooks.processor import purge

log = get_logger(__name__)

HOUSEKEEPING_JOBS = frozenset({"heartbeat", "commands", "mappings", "local-work"})
"""Short jobs run every second or few: when one overruns its interval (a slow database), skipping the next
run is what is wanted."""


class _SkippedHousekeeping(logging.Filter):
    """APScheduler warns at every run it skips because the previous one still runs; for the housekeeping
    jobs that would flood the log of a daemon whose database is slow, so those become debug lines. Skipped
    syncs never happen (a sync runs as a task of its own, see ``Daemon._sync_job``) and stay warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = record.args[0] if isinstance(record.args, tuple) and record.args else None
        if "maximum number of running instances" in str(record.msg) and getattr(job, "id", None) in (
            HOUSEKEEPING_JOBS
        ):
            log.debug("housekeeping run skipped: the previous one still runs", job=getattr(job, "id", None))
            return False
        return True


_SKIPPED_FILTER = _SkippedHousekeeping()
logging.getLogger("apscheduler.scheduler").addFilter(_SKIPPED_FILTER)


class NameTaken(RuntimeError):
    """Another process runs under the name a daemon would start with."""

    exit_code = 2


def refuse_taken_name(db: Database, name: str, config: DaemonConfig) -> None:
    """NameTaken while a daemon named ``name`` runs elsewhere: its heartbeat is fresh and it did not stop.
    Two daemons under one name would each overwrite the other's heartbeat. The name is free when its row is
    this very process (a SIGHUP restart in place) or a process of this host that no longer exists (a daemon
    restarted right after a crash, before its heartbeat went stale)."""
    with db.session() as session:
        row = next((d for d in st.list_daemons(session) if d.name == name), None)
    if row is None or not daemon_alive(row, config.heartbeat_seconds):
        return
    this_process = row.pid == os.getpid() and row.host == socket.gethostname()
    if this_process or owner_is_dead(f"{row.host}:{row.pid}"):
        return
    raise NameTaken(
        f"a daemon named {name!r} runs on {row.host} (pid {row.pid}); give this one another name "
        "(daemon --name, or [daemon] name), or stop that one first"
    )


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


def api_token(settings: Settings) -> str | None:
    """The operations API's bearer token; None when the API is off. Checked before anything starts (and
    before a SIGHUP restart), so a missing token stops the daemon with a clear message instead of serving
    an API nobody can use."""
    api = settings.api
    if api.listen is None:
        return None
    token = api.token()
    if not token:
        problem = secret_file_problem(api.token_file)
        source = (
            f"its token_file cannot be used ({problem})"
            if problem
            else f"the environment variable {api.token_env} (the API's bearer token) is empty"
        )
        raise ConfigError(
            f"[api] listen is set but {source}; set it, or remove [api] listen to run without the API"
        )
    return token
