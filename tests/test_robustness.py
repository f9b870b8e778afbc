"""A CLI command waits out a short SQLite write lock; /healthz tells a database that cannot write; list items
take environment overrides; a sync whose process died shows as interrupted."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import event

from jira_console.config import load_config
from jira_console.store import Database
from jira_console.store import state as st
from jira_console.store.liveness import shown_status
from jira_console.store.models import utcnow
from jira_console.webhooks.listener import create_listener_app
from tests.test_webhook_helpers import SECRET, SECRET_ENV, issue_event, make_settings, post

MAPPING = '[[mapping]]\nname = "pts"\njira_field = "customfield_10016"\ninternal_field = "pts"\n'


def test_a_cli_command_waits_out_a_short_write_lock(tmp_path: Path) -> None:
    db_path = tmp_path / "locked.db"
    Database(f"sqlite:///{db_path}").migrate()
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{db_path}"\n[logging]\nlevel = "ERROR"\n')
    config.chmod(0o600)
    (tmp_path / "m.toml").write_text(MAPPING)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program's write transaction
    holder.execute("UPDATE sync_state SET scope = scope")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIRA_CONSOLE_")}
    args = ["--config", str(config), "mapping", "import", "m.toml", "--json"]
    command = subprocess.Popen(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "jira_console", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        proc = psutil.Process(command.pid)
        # Condition, not a sleep: the command has opened the database (and so meets the lock).
        for _ in range(3000):
            opened = {Path(f.path).name for f in proc.open_files()} if command.poll() is None else set()
            if "locked.db" in opened or command.poll() is not None:
                break
            psutil.wait_procs([proc], timeout=0.01)
        # Given a second past that, a command without a busy timeout would have failed ("database is
        # locked"); this one is still waiting (the bound only ever lets a broken build pass, never fails a
        # good one: the busy timeout is 10 s).
        psutil.wait_procs([proc], timeout=1.0)
        assert command.poll() is None, command.communicate()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    out, err = command.communicate(timeout=60)
    assert command.returncode == 0, err
    assert json.loads(out)[0]["name"] == "pts"


async def test_healthz_reports_a_database_that_cannot_write(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    db = Database(f"sqlite:///{tmp_path / 'full.db'}")
    db.migrate()
    full = {"on": False}

    @event.listens_for(db.engine, "connect")
    def _cap(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        if full["on"]:  # SQLite's own "database or disk is full": no page may be added
            count = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(f"PRAGMA max_page_count = {count}")

    app = create_listener_app(db, make_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        full["on"] = True
        db.engine.dispose()
        big = issue_event("FULL-1", 1)
        big["issue"]["fields"]["description"] = "x" * 200_000
        assert (await post(client, big, identifier="f1")).status_code == 503
        health = await client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert health.json()["database"].startswith("cannot write:") and "full" in health.json()["database"]
        full["on"] = False
        db.engine.dispose()
        assert (await post(client, issue_event("FULL-2", 2), identifier="f2")).status_code == 202
        assert (await client.get("/healthz")).status_code == 200
    await app.state.listener.batcher.close()


def test_environment_overrides_reach_one_connection_of_the_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[jira]]\nname = "a"\nurl = "https://a.example"\nuser = "u"\n'
        '[[jira]]\nname = "b"\nurl = "https://b.example"\nuser = "u"\n'
    )
    path.chmod(0o600)
    for name in [k for k in os.environ if k.startswith("JIRA_CONSOLE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__1__URL", "https://b2.example")
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__1__TOKEN", "env-token-for-b-1234")
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__0__PAGE_SIZE", "50")
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__0__PROJECT_KEYS", '["ENG", "OPS"]')
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__2__NAME", "c")
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__2__URL", "https://c.example")
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__2__AUTH", "bearer")
    loaded = load_config(path)
    a, b, c = loaded.settings.jira
    assert (a.name, a.page_size, a.project_keys) == ("a", 50, ["ENG", "OPS"])
    assert (b.name, b.url) == ("b", "https://b2.example")
    resolved = b.resolve_token()
    assert resolved is not None and resolved.get_secret_value() == "env-token-for-b-1234"
    assert (c.name, c.auth) == ("c", "bearer")
    assert loaded.source_of("jira.1.url") == "env JIRA_CONSOLE_JIRA__1__URL"
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__7__URL", "https://z.example")
    with pytest.raises(Exception, match=r"JIRA_CONSOLE_JIRA__7__\*: there are 3 connections"):
        load_config(path)


def test_a_sync_whose_process_died_shows_interrupted(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    db.migrate()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603 - a process that has ended
    dead.wait()
    import socket

    with db.session(write=True) as s:
        for connection, owner in (
            ("killed", f"{socket.gethostname()}:{dead.pid}"),
            ("alive", "other-host:1"),
        ):
            st.acquire_lease(s, connection, "issues", owner, ttl=600)
            st.mark_sync_started(s, connection, "issues")
    with db.session() as s:
        records = {r.connection: r for r in st.list_sync_states(s)}
    now = utcnow()
    shown = {
        name: shown_status(r.last_status, r.lease_owner, r.lease_expires_at, now=now)
        for name, r in records.items()
    }
    assert shown == {"killed": "interrupted", "alive": "running"}
    later = now + timedelta(seconds=601)  # the other host's lease expired: nobody renews it
    alive = records["alive"]
    assert (
        shown_status(alive.last_status, alive.lease_owner, alive.lease_expires_at, now=later) == "interrupted"
    )
    assert shown_status("ok", None, None, now=now) == "ok"
