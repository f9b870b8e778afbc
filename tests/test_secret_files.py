"""Secrets read from files (``token_file``, ``webhooks.secret_file``, ``api.token_file``): what each source
gives and in which order, an unusable file named with its reason, nothing of the secret in the words, and a
webhook secret rotated in its file taking effect at SIGHUP without a restart."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import orjson
import pytest

from jira_console import redact
from jira_console.cli.config_cmd import check_warnings
from jira_console.config import ApiConfig, ConfigError, JiraConnection, Settings, load_config
from jira_console.housekeeping import api_token
from jira_console.jira import JiraClient
from jira_console.store import Database
from jira_console.webhooks.listener import create_listener_app
from jira_console.webhooks.signature import sign
from tests.test_daemon import daemons, port_of, wait_for, write_config  # noqa: F401 - daemons is a fixture
from tests.test_webhook_helpers import PATH, issue_event, make_settings, post, rows

NOT_SET_TAIL = "(the listener refuses unsigned deliveries while webhooks.require_signature is on)"


def secret_file(tmp_path: Path, name: str, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(content)
    path.chmod(mode)
    return path


def connection(**options: object) -> JiraConnection:
    return JiraConnection(name="c", url="https://example.atlassian.net", user="ops@example.com", **options)


def test_a_token_file_is_read_stripped_after_the_environment_and_before_the_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = secret_file(tmp_path, "jira-token", "tok-from-file-9f2c\n")
    monkeypatch.setenv("JC_CREDS_DIR", str(tmp_path))
    monkeypatch.delenv("JC_TOKEN_UNSET", raising=False)
    conn = connection(
        token_env="JC_TOKEN_UNSET", token_file="${JC_CREDS_DIR}/jira-token", keyring_service="x"
    )
    token = conn.resolve_token()
    assert token is not None and token.get_secret_value() == "tok-from-file-9f2c"
    assert conn.token_source() == "file ${JC_CREDS_DIR}/jira-token"
    assert "tok-from-file-9f2c" not in redact.scrub("auth failed for tok-from-file-9f2c")

    monkeypatch.setenv("JC_TOKEN_UNSET", "tok-from-env")
    token = conn.resolve_token()
    assert token is not None and token.get_secret_value() == "tok-from-env"
    assert conn.token_source() == "env JC_TOKEN_UNSET"

    monkeypatch.delenv("JC_TOKEN_UNSET")
    path.write_text("tok-rotated\n")  # read again when asked again: no cached copy
    token = conn.resolve_token()
    assert token is not None and token.get_secret_value() == "tok-rotated"


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file or directory"), ("  \n", "is empty"), ("x" * 70_000, "more than a secret")],
)
def test_an_unusable_token_file_gives_no_token_and_says_why(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    conn = connection(token_file=str(path))
    assert conn.resolve_token() is None
    assert conn.token_hint().startswith(f"token_file: {path}") and reason in conn.token_hint()
    assert "unusable" in conn.token_source() and reason in conn.token_source()


def test_a_directory_is_not_a_token_file(tmp_path: Path) -> None:
    conn = connection(token_file=str(tmp_path))
    assert conn.resolve_token() is None
    assert conn.token_hint() == f"token_file: {tmp_path} is not a regular file"


def test_without_any_token_the_hint_names_every_configured_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JC_NO_SUCH_TOKEN", raising=False)
    assert connection(token_env="JC_NO_SUCH_TOKEN").token_hint() == (
        "set the environment variable JC_NO_SUCH_TOKEN"
    )
    assert connection().token_hint() == "configure token_env, token_file or keyring_service"


async def test_a_client_with_a_token_file_is_let_in_by_the_simulator(sim_factory, tmp_path: Path) -> None:
    sim = sim_factory("server", issues=1)
    user, token = sim.credentials["basic"]
    path = secret_file(tmp_path, "token", token + "\n")
    conn = JiraConnection(name="s", url=sim.url, user=user, token_file=str(path), flavor="server")
    async with JiraClient(conn) as client:
        me = await client.myself()
    assert me["name"] == user


async def test_a_client_whose_token_file_is_missing_says_so_without_calling_jira(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    async with JiraClient(connection(token_file=str(missing))) as client:
        with pytest.raises(Exception, match="absent: No such file") as raised:
            await client.myself()
    assert "no token for connection 'c'" in str(raised.value)


async def test_the_listener_checks_deliveries_with_the_secrets_in_its_files(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JC_WH_NONE", raising=False)
    monkeypatch.delenv("JC_WH_NONE_PREV", raising=False)
    current = secret_file(tmp_path, "wh", "file-secret-current-0123456789\n")
    previous = secret_file(tmp_path, "wh-prev", "file-secret-previous-0123456789")
    settings = make_settings(
        secret_env="JC_WH_NONE", previous_secret_env="JC_WH_NONE_PREV",
        secret_file=str(current), previous_secret_file=str(previous),
    )  # fmt: skip
    app = create_listener_app(db, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        ok = await post(client, issue_event("ENG-1", 1), secret="file-secret-current-0123456789")
        old = await post(client, issue_event("ENG-2", 2), secret="file-secret-previous-0123456789")
        bad = await post(client, issue_event("ENG-3", 3), secret="not-the-secret")
    await app.state.listener.batcher.close()
    assert (ok.status_code, old.status_code, bad.status_code) == (202, 202, 401)
    assert [r.issue_key for r in rows(db)] == ["ENG-1", "ENG-2"]


def test_the_api_token_comes_from_its_file_and_an_unusable_one_stops_the_daemon_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JC_API_NONE", raising=False)
    path = secret_file(tmp_path, "api", "api-token-from-file\n")
    api = ApiConfig(listen="127.0.0.1:9", token_env="JC_API_NONE", token_file=str(path))
    assert api_token(Settings(api=api)) == "api-token-from-file"
    path.unlink()
    with pytest.raises(ConfigError, match=r"token_file cannot be used \(.*api: No such file or directory\)"):
        api_token(Settings(api=api))


def test_config_check_names_secret_files_other_users_can_read_or_that_give_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JC_WH_NONE", raising=False)
    token = secret_file(tmp_path, "token", "t0k3n-value", mode=0o644)
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[[jira]]
name = "main"
url = "https://example.atlassian.net"
user = "ops@example.com"
token_file = "{token}"
[webhooks]
secret_env = "JC_WH_NONE"
secret_file = "{tmp_path / "missing-secret"}"
previous_secret_env = "JC_WH_NONE"
previous_secret_file = "{tmp_path / "missing-previous"}"
"""
    )
    config.chmod(0o600)
    said = check_warnings(load_config(config))
    assert f"{token} is readable by other users (mode 644); run: chmod 600 {token}" in said
    missing = f"webhooks.secret_file: {tmp_path / 'missing-secret'}: No such file or directory"
    assert [w for w in said if "missing-secret" in w] == [
        f"webhook secret not set: {missing} " + NOT_SET_TAIL
    ]
    assert (
        f"webhooks.previous_secret_file: {tmp_path / 'missing-previous'}: No such file or directory" in said
    )
    assert not any("t0k3n-value" in w for w in said)


def test_a_webhook_secret_rotated_in_its_file_is_taken_at_sighup_without_a_restart(
    sim_factory,
    sqlite_url: str,
    tmp_path: Path,
    daemons,  # noqa: F811 - the fixture imported above
) -> None:
    sim = sim_factory("server", issues=2)
    current = secret_file(tmp_path, "wh-current", "first-secret-0123456789abcdef\n")
    previous = tmp_path / "wh-previous"
    config = write_config(tmp_path, sim, sqlite_url)
    config.write_text(
        config.read_text()
        .replace('secret_env = "JC_DAEMON_TEST_SECRET"', 'secret_env = "JC_SECRET_FILES_NO_ENV"')
        .replace(
            "workers = 2", f'workers = 2\nsecret_file = "{current}"\nprevious_secret_file = "{previous}"'
        )
    )
    url = f"http://127.0.0.1:{port_of(config)}{PATH}"

    def deliver(secret: str, n: int) -> int:
        body = orjson.dumps(issue_event(f"ENG-{n}", 1_700_000_000_000 + n))
        headers = {"Content-Type": "application/json", "X-Hub-Signature": sign(body, secret)}
        try:
            return httpx.post(url, content=body, headers=headers, timeout=5).status_code
        except httpx.HTTPError:
            return 0  # restarting in place: not listening for a moment

    d = daemons(config, "d-secret-files", sim)
    assert wait_for(lambda: deliver("first-secret-0123456789abcdef", 1), "the listener", daemons=(d,)) == 202
    assert deliver("second-secret-0123456789abcdef", 2) == 401

    # The rotation: the new secret in the file, the old one kept as the previous one, then SIGHUP.
    previous.write_text("first-secret-0123456789abcdef\n")
    previous.chmod(0o600)
    current.write_text("second-secret-0123456789abcdef\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: deliver("second-secret-0123456789abcdef", 3) == 202, "the new secret accepted", daemons=(d,)
    )
    assert deliver("first-secret-0123456789abcdef", 4) == 202
    assert deliver("third-secret-0123456789abcdef", 5) == 401
    assert "second-secret" not in d.tail() and "first-secret" not in d.tail()


def test_a_changed_token_file_path_lifts_a_credentials_block_and_no_file_keeps_earlier_fingerprints() -> None:
    import hashlib
    import json

    from jira_console.sync.guard import config_fingerprint

    plain = connection(token_env="JC_T")
    recorded_before = json.dumps([plain.url, plain.auth, plain.user, "JC_T", None]).encode()
    assert config_fingerprint(plain) == hashlib.sha256(recorded_before).hexdigest()[:32]
    one, other = connection(token_env="JC_T", token_file="/a"), connection(token_env="JC_T", token_file="/b")
    assert len({config_fingerprint(plain), config_fingerprint(one), config_fingerprint(other)}) == 3


@pytest.mark.parametrize("flavor", ["cloud", "server"])
async def test_a_token_file_written_after_jira_denied_the_token_lets_a_reloaded_process_try_the_new_one(
    engine_factory, db_url: str, flavor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from jira_console.facade import Engine
    from jira_console.jira.errors import JiraAuthError

    monkeypatch.delenv("JC_NO_TOKEN", raising=False)
    token = secret_file(tmp_path, "token", "not-the-token\n")
    engine, sim = await engine_factory(flavor, conn={"token_env": "JC_NO_TOKEN", "token_file": str(token)})
    denied = lambda: sum(1 for r in sim.requests if r["status"] in (401, 403))  # noqa: E731
    with pytest.raises(JiraAuthError):
        await engine.run_sync()
    assert denied() == 1
    from jira_console.store import guard as sg

    with engine.db.session() as s:
        [(_reason, blocked_at)] = sg.all_blocks(s).values()
    assert blocked_at is not None
    if blocked_at.tzinfo is None:  # SQLite keeps naive UTC
        from datetime import UTC

        blocked_at = blocked_at.replace(tzinfo=UTC)

    async def reloaded() -> Engine:
        process = Engine(engine.settings, owner=f"reloaded-{os.urandom(3).hex()}")
        await process.start(attach=False)
        return process

    # A reload with the file as it was when Jira denied it: still held back, nothing sent.
    os.utime(token, (blocked_at.timestamp() - 5,) * 2)
    same = await reloaded()
    try:
        with pytest.raises(JiraAuthError, match="stopped sending its Basic credentials"):
            await same.run_sync()
    finally:
        await same.stop()
    assert denied() == 1

    # The operator's fix: the right token written into the file, then a reload.
    token.write_text(sim.credentials["basic"][1] + "\n")
    os.utime(token, (blocked_at.timestamp() + 1,) * 2)
    with pytest.raises(JiraAuthError, match="stopped sending"):  # read its token before the fix: holds back
        await engine.run_sync()
    fixed = await reloaded()
    try:
        [report] = await fixed.run_sync()
        assert report.status == "ok" and fixed.auth_blocks() == {}
    finally:
        await fixed.stop()
    assert denied() == 1
