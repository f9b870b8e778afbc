"""``jira-console demo``: everything working with no Jira at hand.

Two simulated sites (Cloud and Server/DC) on loopback, a temporary SQLite database, the mapping templates
applied, a first full sync, a few conflicts made on purpose (both sides editing the same field), webhooks
flowing from the simulators into the in-process listener, other users editing issues in the background,
and the team's own program changing an issue's priority in the database now and then (pushed within
seconds). Engine side only: the console is opened by the CLI on top of :func:`start_demo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, update

from jira_console.config import Settings
from jira_console.daemon import Daemon
from jira_console.facade import Engine
from jira_console.logs import get_logger
from jira_console.simulator import FIELD_IDS, SimConfig, Simulator
from jira_console.store import tables as t

log = get_logger("jira_console.demo")
DEMO_TOKEN_ENV = "JIRA_CONSOLE_DEMO_TOKEN"
DEMO_SECRET_ENV = "JIRA_CONSOLE_DEMO_WEBHOOK_SECRET"
DEMO_API_TOKEN_ENV = "JIRA_CONSOLE_API_TOKEN"


@dataclass
class DemoRig:
    """The running demo: simulators, daemon (engine, listener, workers, scheduler) and temp folder."""

    sims: dict[str, Simulator]
    daemon: Daemon
    workdir: Path
    settings: Settings
    notes: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    """The team's program (see :func:`_host_program`)."""

    @property
    def engine(self) -> Engine:
        return self.daemon.engine

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sim in self.sims.values():
            sim.stop_activity()
        await self.daemon.shutdown(grace_seconds=5)
        for sim in self.sims.values():
            sim.stop()


def demo_settings(
    sims: dict[str, Simulator],
    db_path: Path,
    port: int,
    *,
    api_port: int | None = None,
    database_url: str | None = None,
) -> Settings:
    """A config like an operator would write, pointing at the simulators (with the operations API on
    ``api_port`` when given; its token in ``JIRA_CONSOLE_API_TOKEN``)."""
    jira = []
    for name, sim in sims.items():
        user, _token = sim.credentials["basic"]
        jira.append(
            {
                "name": name,
                "url": sim.url,
                "flavor": "auto",
                "auth": "basic",
                "user": user,
                "token_env": DEMO_TOKEN_ENV,
                "jql": "project in (ENG, OPS) ORDER BY updated",
                "sync_interval_seconds": 15,
                "reconcile_interval_seconds": 600,
                "breaker_recovery_seconds": 10,
                "overlap_seconds": 30,
            }
        )
    return Settings.model_validate(
        {
            "database": {"url": database_url or f"sqlite:///{db_path}"},
            "jira": jira,
            "webhooks": {
                "listen": f"127.0.0.1:{port}",
                "secret_env": DEMO_SECRET_ENV,
                "previous_secret_env": None,
            },
            "api": {"listen": f"127.0.0.1:{api_port}" if api_port else None},
            "daemon": {"name": "demo", "heartbeat_seconds": 2},
            "logging": {"level": "WARNING"},
        }
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_demo(
    *,
    issues: int = 300,
    activity_per_second: float = 0.5,
    seed: int = 7,
    workdir: Path | None = None,
    api: bool = False,
    database_url: str | None = None,
    host_edit_seconds: float = 0.0,
) -> DemoRig:
    """Start everything and return once the first sync has run and conflicts are waiting;
    ``host_edit_seconds`` (0: never) is how often the team's program edits an issue. ``api`` also
    serves the operations API (``rig.daemon.api.url``; the token in ``JIRA_CONSOLE_API_TOKEN``, made up
    when unset); ``database_url`` replaces the temporary SQLite file (an empty database)."""
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="jira-console-demo-"))
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "demo.db").unlink(missing_ok=True)
    sims = {
        "cloud": Simulator(SimConfig(flavor="cloud", seed=seed, issues=issues)).serve(),
        "server": Simulator(SimConfig(flavor="server", seed=seed + 1, issues=issues)).serve(),
    }
    # Both simulators accept the same API token; it lives in the environment like a real one would.
    os.environ[DEMO_TOKEN_ENV] = sims["cloud"].credentials["basic"][1]
    webhook_secret = secrets.token_hex(16)
    os.environ[DEMO_SECRET_ENV] = webhook_secret
    port = _free_port()
    api_port = _free_port() if api else None
    if api and not os.environ.get(DEMO_API_TOKEN_ENV):
        os.environ[DEMO_API_TOKEN_ENV] = secrets.token_urlsafe(24)
    settings = demo_settings(sims, workdir / "demo.db", port, api_port=api_port, database_url=database_url)
    daemon = Daemon(settings)
    rig = DemoRig(sims, daemon, workdir, settings)
    await daemon.start()
    await _apply_templates(rig)
    await daemon.engine.run_sync(full=True)
    await _make_conflicts(rig, seed)
    for name, sim in sims.items():
        sim.add_webhook_target(
            f"{daemon.listener.url}{settings.webhooks.path}?connection={name}", secret=webhook_secret
        )
        if activity_per_second > 0:
            sim.start_activity(activity_per_second)
    if host_edit_seconds > 0:
        rig.tasks.append(asyncio.ensure_future(_host_program(rig, host_edit_seconds, seed)))
    return rig


DEMO_PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")


async def _host_program(rig: DemoRig, every_seconds: float, seed: int) -> None:
    """The team's own program: every ``every_seconds`` it sets an issue's priority with a plain SQL UPDATE,
    as a host program does (docs/schema.md). The capture trigger marks the issue, the daemon finds it within
    ``local_check_seconds`` and pushes it: the Sync screen's "local change" run, the audit log's line. Jira's
    simulated users never edit the priority, so these edits make no conflicts."""
    rng = random.Random(seed ^ 0x4057)
    names = [c.name for c in rig.settings.jira]
    issues = t.issues.c

    def edit() -> None:
        name = rng.choice(names)
        with rig.engine.db.engine.begin() as conn:
            key = conn.execute(
                select(issues.key)
                .where(issues.connection == name, issues.deleted.is_(False))
                .order_by(func.random())
                .limit(1)
            ).scalar()
            if key is not None:
                conn.execute(
                    update(t.issues)
                    .where(issues.connection == name, issues.key == key)
                    .values(priority=rng.choice(DEMO_PRIORITIES))
                )

    while True:
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(edit)
        except Exception as exc:  # noqa: BLE001 - a busy database: the next edit comes all the same
            log.warning("the demo's host program could not edit an issue", error=str(exc))


async def _apply_templates(rig: DemoRig) -> None:
    """Team and components mappings from the templates, for each site (fields found by schema, not name)."""
    from jira_console.mapping import templates

    for conn in rig.settings.jira:
        flavor, field_list = await rig.engine.site_fields(conn.name)
        ids = templates.discover_field_ids(flavor, field_list)
        for build in (templates.team, templates.components):
            try:
                defn = build(flavor, ids)
            except ValueError as exc:
                rig.notes.append(f"{conn.name}: template skipped: {exc}")
                continue
            await rig.engine.save_mapping(defn.to_data() | {"connection": conn.name}, actor="demo")


async def _make_conflicts(rig: DemoRig, seed: int) -> None:
    """Edit the same fields on both sides of a few issues, then sync: the conflict queue fills (and an
    issue requested from the database is created in Jira)."""
    rng = random.Random(seed)
    for name, sim in rig.sims.items():
        keys = [i.key for i in rig.engine.list_issues(name, limit=40)]
        for key in rng.sample(keys, min(4, len(keys))):
            rig.engine.set_local(key, {"summary": f"Local rewording of {key}"}, connection=name)
            sim.edit_issue(key, {"summary": f"Jira rewording of {key}"}, by="other")
        for key in rng.sample(keys, min(2, len(keys))):
            rig.engine.set_local(key, {"story_points": 8}, connection=name)
            sim.edit_issue(key, {FIELD_IDS[sim.config.flavor]["story_points"]: 3}, by="other")
        # An issue the team's database asks Jira to create (a host program inserts into new_issues).
        rig.engine.request_issue(
            "ENG", "Task", {"summary": "Asked for by the team's database", "status": "In Progress"},
            connection=name, requested_by="demo",
        )  # fmt: skip
    await rig.engine.run_sync()
