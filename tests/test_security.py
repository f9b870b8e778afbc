"""Secrets stay secret (logs, exception text, the database, ``config show``, the console), the webhook
endpoint survives any input, files the tool writes are private, the listener binds loopback by default."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import stat
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from jira_console.config import JiraConnection, Settings, WebhookConfig, load_config
from jira_console.store import models as m
from jira_console.store.db import Database
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
SIM_USER = {"cloud": "ops@example.com", "server": "ops"}


def leak_forms(secret: str, user: str) -> list[str]:
    """The secret as it could leak: bare, base64 alone, and inside a Basic header value."""
    return [
        secret,
        base64.b64encode(secret.encode()).decode().rstrip("="),
        base64.b64encode(f"{user}:{secret}".encode()).decode().rstrip("="),
    ]


def assert_clean(haystack: str, secret: str, user: str, where: str) -> None:
    for form in leak_forms(secret, user):
        assert form not in haystack, f"secret leaked into {where}"


@pytest.fixture
def canary_sim(sim_factory, canary_token: str, monkeypatch: pytest.MonkeyPatch):
    """A simulator whose API token *is* the canary (so every authenticated request carries it)."""
    import jira_console.simulator.server as server

    monkeypatch.setattr(server, "API_TOKEN", canary_token)

    def make(flavor: str = "cloud", **cfg: Any):
        return sim_factory(flavor, **cfg)

    return make


def canary_connection(sim, **overrides: Any) -> JiraConnection:
    values: dict[str, Any] = {
        "name": "canary",
        "url": sim.url,
        "auth": "basic",
        "user": SIM_USER[sim.config.flavor],
        "token_env": "JIRA_TEST_TOKEN",
        "overlap_seconds": 0,
        "timeout_seconds": 1.0,
        "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.3,
        "max_attempts": 8,
        "breaker_recovery_seconds": 0.5,
        "breaker_failure_threshold": 50,
        "rate_limit_per_second": 200,
    }
    return JiraConnection(**(values | overrides))


# ------------------------------------------------------------------------------------------ logs etc.


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_canary_never_in_logs_exceptions_or_database(
    canary_sim, canary_token: str, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flavor: str
) -> None:
    import jira_console.simulator.server as server
    from jira_console import logs
    from jira_console.jira import JiraClient
    from jira_console.jira.check import check_connection
    from jira_console.jira.errors import JiraAuthError
    from jira_console.sync.engine import SyncEngine
    from jira_console.webhooks.listener import create_listener_app

    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", canary_token)
    user = SIM_USER[flavor]
    log_file = tmp_path / "console.log"
    logs.configure("DEBUG", "json", str(log_file))
    sim = canary_sim(flavor, issues=25, max_page_size=10)
    conn = canary_connection(sim)
    db = Database(db_url)
    db.migrate()
    failures: list[str] = []
    client = JiraClient(conn)
    try:
        engine = SyncEngine(db, conn, client)
        # Failures and retries on every path: 5xx, 429 with Retry-After, resets and time-outs.
        sim.faults.set(error_rate=0.2, rate_limit_rate=0.1, retry_after=0.0, reset_rate=0.05)
        for _ in range(4):
            try:
                await engine.run(full=True)
                break
            except Exception:  # noqa: BLE001 - a run may fail under faults; its text is checked below
                failures.append(traceback.format_exc())
        sim.faults.clear()
        await engine.run(full=True)
        key = sorted(sim.site.issues)[0]
        with db.engine.begin() as c:
            c.execute(m.Issue.__table__.update().where(m.Issue.key == key).values(summary="pushed by canary"))
        await engine.run()
        assert sim.issue(key)["summary"] == "pushed by canary"
        # Webhook traffic signed with the canary as the HMAC secret, through the listener into the store.
        settings = Settings(database={"url": db_url}, jira=[conn.model_dump()])
        app = create_listener_app(db, settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://hook") as hc:
            for i in range(5):
                body = json.dumps(
                    {
                        "timestamp": 1,
                        "webhookEvent": "jira:issue_updated",
                        "issue": {"key": key, "fields": {}},
                    }
                ).encode()
                sig = "sha256=" + hmac.new(canary_token.encode(), body, hashlib.sha256).hexdigest()
                r = await hc.post(
                    "/webhooks/jira?connection=canary",
                    content=body,
                    headers={"X-Hub-Signature": sig, "X-Atlassian-Webhook-Identifier": f"id-{i}"},
                )
                assert r.status_code == 202
            await app.state.listener.batcher.close()
        # Persistent failures: a 503 after every retry, then a transport error, then a 401.
        sim.faults.set(outage=True)
        try:
            await client.server_info()
        except Exception:  # noqa: BLE001
            failures.append(traceback.format_exc())
        sim.faults.set(outage=False, reset_rate=1.0)
        try:
            await client.fields()
        except Exception:  # noqa: BLE001
            failures.append(traceback.format_exc())
        sim.faults.clear()
        monkeypatch.setattr(server, "API_TOKEN", "not-the-canary")
        with pytest.raises(JiraAuthError) as caught:
            await client.fields()
        failures.append("".join(traceback.format_exception(caught.value)))
        failures.append(repr(caught.value) + str(vars(caught.value)) + repr(client))
        checked = await check_connection(conn)
        failures.append(json.dumps(checked, default=str))
        assert not checked["ok"]
    finally:
        await client.aclose()
        logging.getLogger().handlers.clear()
    assert len(failures) >= 4
    for i, text_ in enumerate(failures):
        assert_clean(text_, canary_token, user, f"exception text #{i}")
    logged = log_file.read_text()
    assert "jira.retry" in logged and "503" in logged  # the failures were logged at all
    assert_clean(logged, canary_token, user, "the log file")
    # Every text/JSON column of every table.
    dump: list[str] = []
    with db.engine.connect() as c:
        for table in m.Base.metadata.sorted_tables:
            for row in c.execute(select(table)):
                dump.append(repr(tuple(row)))
        events = c.execute(text("SELECT COUNT(*) FROM webhook_events")).scalar()
    db.close()
    assert events == 5 and len(dump) > 25
    assert_clean("\n".join(dump), canary_token, user, "the database")


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jira_console", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_config_show_and_check_never_print_the_canary(tmp_path: Path, canary_token: str, sim_factory) -> None:
    sim = sim_factory("server", issues=3)
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "db.sqlite"}"
[[jira]]
name = "env-token"
url = "{sim.url}"
user = "ops"
token_env = "JIRA_TEST_TOKEN"
[[jira]]
name = "inline-token"
url = "{sim.url}"
user = "ops"
token = "{canary_token}"
allow_inline_token = true
"""
    )
    config.chmod(0o600)
    env = dict(os.environ, JIRA_TEST_TOKEN=canary_token)
    outputs = []
    for args in (
        ["config", "show"],
        ["config", "show", "--json"],
        ["config", "check"],
        ["config", "check", "--json"],
    ):
        proc = _cli(["--config", str(config), *args], env, tmp_path)
        outputs.append(proc.stdout + proc.stderr)
    assert "env-token" in outputs[0] and "inline-token" in outputs[1]
    assert "FAIL" in outputs[2]  # the canary is not the simulator's token: a 401 was reported
    for args, out in zip(("show", "show --json", "check", "check --json"), outputs, strict=True):
        assert_clean(out, canary_token, "ops", f"config {args}")


async def test_console_screens_never_show_the_canary(canary_sim, canary_token: str, db_url: str) -> None:
    """The console over an engine whose connection fails (401 with the canary as token)."""
    pytest.importorskip("textual")
    import jira_console.simulator.server as server
    from jira_console.facade import Engine
    from jira_console.tui.app import JiraConsoleApp

    sim = canary_sim("cloud", issues=5)
    conn = canary_connection(sim, max_attempts=2)
    engine = Engine(Settings(database={"url": db_url}, jira=[conn.model_dump()]), owner="canary-console")
    await engine.start(attach=False)
    await engine.run_sync(full=True)
    server.API_TOKEN = "something-else"  # restored by the fixture's monkeypatch at teardown
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure; only its text matters
        await engine.run_sync()
    shots: list[str] = []
    try:
        app = JiraConsoleApp(engine)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause(0.3)
            shots.append(app.export_screenshot())
            for key in ("h", "s", "c", "w", "m", "l", "2", "3", "4", "5"):
                await pilot.press(key)
                await pilot.pause(0.1)
                shots.append(app.export_screenshot())
    finally:
        await engine.stop()
    assert any("canary" in s for s in shots)  # the connection is on screen at all
    for i, shot in enumerate(shots):
        assert_clean(shot, canary_token, SIM_USER["cloud"], f"console screenshot #{i}")


# ----------------------------------------------------------------------------------------- webhook fuzz

FUZZ_SECRET = "fuzz-secret"  # noqa: S105


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(FUZZ_SECRET.encode(), body, hashlib.sha256).hexdigest()


_header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
# Numbers stay inside 64-bit range here: out-of-range timestamps are a known bug with its own repro below
# (test_signed_delivery_with_out_of_range_timestamp_is_stored_not_503).
_ints = st.integers(min_value=-(2**62), max_value=2**62)
_floats = st.floats(min_value=-1e17, max_value=1e17, allow_nan=False)
_json_values = st.recursive(
    st.none() | st.booleans() | _ints | _floats | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5),
    max_leaves=30,
)
_jira_like = st.fixed_dictionaries(
    {},
    optional={
        "webhookEvent": st.sampled_from(
            ["jira:issue_updated", "jira:issue_created", "jira:issue_deleted", "sprint_started", "x", ""]
        )
        | _json_values,
        "timestamp": _ints | st.text(max_size=20) | _floats | st.just(float("nan")),
        "issue": st.fixed_dictionaries(
            {},
            optional={
                "key": st.text(max_size=300) | st.integers() | st.none(),
                "id": _json_values,
                "self": st.sampled_from(["http://sim/rest/api/2/issue/1", "nope", ""]) | _json_values,
                "fields": _json_values,
            },
        )
        | _json_values,
        "changelog": _json_values,
        "sprint": _json_values,
        "user": _json_values,
    },
)
_bodies = st.one_of(
    st.binary(max_size=3000),
    st.binary(min_size=4097, max_size=9000),  # over max_body_bytes
    _jira_like.map(lambda d: json.dumps(d).encode()),
    _json_values.map(lambda d: json.dumps(d).encode()),
    st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, dict[str, str], str]:
    body = draw(_bodies)
    headers: dict[str, str] = {}
    sig = draw(st.sampled_from(["valid", "none", "garbage", "wrong-algo", "empty"]))
    if sig == "valid":
        headers["X-Hub-Signature"] = _sign(body)
    elif sig == "garbage":
        headers["X-Hub-Signature"] = draw(_header_text)
    elif sig == "wrong-algo":
        headers["X-Hub-Signature"] = "sha1=" + hashlib.sha1(body).hexdigest()  # noqa: S324
    elif sig == "empty":
        headers["X-Hub-Signature"] = ""
    if draw(st.booleans()):
        headers["Content-Type"] = draw(
            st.sampled_from(["application/json", "text/plain", "multipart/form-data; boundary=x", ""])
            | _header_text
        )
    if draw(st.booleans()):
        headers["X-Atlassian-Webhook-Identifier"] = draw(_header_text | st.just("x" * 2000))
    extra = draw(st.dictionaries(st.from_regex(r"\AX-[A-Za-z-]{1,20}\Z"), _header_text, max_size=4))
    headers.update(extra)
    query = draw(
        st.sampled_from(["", "?connection=fuzz", "?connection=nope", "?connection=" + "z" * 500, "?a=%ff"])
    )
    return body, headers, query


@pytest.fixture
def fuzz_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")
    db.migrate()
    yield db
    db.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(deliveries(), min_size=1, max_size=4))
def test_webhook_endpoint_fuzzed_never_5xx_never_crashes(
    fuzz_db: Database, monkeypatch: pytest.MonkeyPatch, batch: list[tuple[bytes, dict[str, str], str]]
) -> None:
    from jira_console.webhooks.listener import create_listener_app

    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", FUZZ_SECRET)
    cfg = Settings(
        database={"url": "sqlite://"},
        jira=[{"name": "fuzz", "url": "http://sim", "user": "u", "token_env": "NOPE"}],
        webhooks={"max_body_bytes": 4096},
    )

    async def post_all() -> list[int]:
        app = create_listener_app(fuzz_db, cfg)
        statuses = []
        transport = httpx.ASGITransport(app)  # raises any exception the app lets escape
        async with httpx.AsyncClient(transport=transport, base_url="http://listener") as client:
            for body, headers, query in batch:
                r = await client.post("/webhooks/jira" + query, content=body, headers=headers)
                statuses.append(r.status_code)
                if r.status_code == 202:
                    assert r.json()["status"] in ("stored", "duplicate")
            await app.state.listener.batcher.close()
        return statuses

    statuses = asyncio.run(post_all())
    for (body, headers, _q), status in zip(batch, statuses, strict=True):
        assert status in (202, 401, 413), status
        if status == 202:
            assert headers.get("X-Hub-Signature") == _sign(body) and len(body) <= 4096
        if headers.get("X-Hub-Signature") != _sign(body) and len(body) <= 4096:
            assert status == 401


async def test_signed_delivery_with_out_of_range_timestamp_is_stored_not_503(
    db, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jira_console.webhooks.listener import create_listener_app

    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", FUZZ_SECRET)
    app = create_listener_app(db, Settings(database={"url": "sqlite://"}))
    body = b'{"timestamp":1e20}'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://listener") as client:
        r = await client.post("/webhooks/jira", content=body, headers={"X-Hub-Signature": _sign(body)})
    await app.state.listener.batcher.close()
    assert r.status_code == 202


# ------------------------------------------------------------------------------------------ files


def test_load_config_warns_on_group_or_world_readable_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[database]\nurl = "sqlite:///x.db"\n')
    for mode, warns in ((0o644, True), (0o640, True), (0o604, True), (0o600, False), (0o400, False)):
        config.chmod(mode)
        warnings = load_config(config).warnings
        assert bool(warnings) is warns, oct(mode)
        if warns:
            assert "chmod 600" in warnings[0]


def _world_or_group_readable(root: Path, before: set[Path]) -> dict[str, str]:
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and path not in before:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                out[path.name] = oct(mode)
    return out


def _run_tool_writing_files(tmp_path: Path, sim, what: str) -> dict[str, str]:
    """Run ``jira-console`` under umask 022 in a private directory; the files it created that others could
    read."""
    config = tmp_path / "c.toml"
    log_file = tmp_path / "jira-console.log"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "store.db"}"
[[jira]]
name = "files"
url = "{sim.url}"
user = "{SIM_USER[sim.config.flavor]}"
token_env = "JIRA_FILES_TOKEN"
[logging]
file = "{log_file}"
"""
    )
    config.chmod(0o600)
    before = set(tmp_path.rglob("*"))
    env = dict(os.environ, JIRA_FILES_TOKEN=sim.credentials["basic"][1])
    old = os.umask(0o022)
    try:
        if what == "sync":
            proc = _cli(["--config", str(config), "sync", "--full"], env, tmp_path)
        else:
            proc = _cli(["--config", str(config), "sync", "--full"], env, tmp_path)
            assert proc.returncode == 0, proc.stderr
            before = set(tmp_path.rglob("*"))
            proc = _cli(
                ["--config", str(config), "mapping", "export", "--output", str(tmp_path / "maps.toml")],
                env,
                tmp_path,
            )
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _world_or_group_readable(tmp_path, before)


def test_sync_writes_no_group_or_world_readable_files(tmp_path: Path, sim_factory) -> None:
    sim = sim_factory("server", issues=5)
    assert _run_tool_writing_files(tmp_path, sim, "sync") == {}


def test_mapping_export_writes_a_private_file(tmp_path: Path, sim_factory) -> None:
    sim = sim_factory("server", issues=3)
    assert _run_tool_writing_files(tmp_path, sim, "mapping-export") == {}


# ------------------------------------------------------------------------------------------ listener


def test_listener_binds_loopback_by_default(db_url: str) -> None:
    default = WebhookConfig()
    assert default.host == "127.0.0.1" and Settings().webhooks.listen == default.listen

    from jira_console.daemon import Daemon

    port = free_port()
    # Default host, a free port (the default 8765 may be taken on a test machine).
    cfg = Settings(database={"url": db_url}, webhooks={"listen": f"{default.host}:{port}"})

    async def bound() -> list[str]:
        daemon = Daemon(cfg)
        await daemon.engine.start(attach=False)
        try:
            await daemon._start_listener()
            return [sock.getsockname()[0] for srv in daemon.listener.server.servers for sock in srv.sockets]
        finally:
            if daemon.listener is not None:
                await daemon.listener.stop()
            await daemon.engine.stop()

    addresses = asyncio.run(bound())
    assert addresses and all(a == "127.0.0.1" for a in addresses), addresses
