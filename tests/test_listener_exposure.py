"""Warnings for risky listener settings (config check, daemon start) and an idempotent webhooks register."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jira_console.config import ApiConfig, Settings, WebhookConfig
from jira_console.webhooks.exposure import exposure_warnings
from tests.cli_isolation import restore_logging  # noqa: F401 - autouse
from tests.test_cli import SECRET_ENV, Cli, cli_env  # noqa: F401, F811 - the fixture


def _settings(**webhooks: object) -> Settings:
    options: dict[str, object] = {"secret_env": "JC_EXPO_SECRET", "previous_secret_env": "JC_EXPO_PREV"}
    options.update(webhooks)
    return Settings(webhooks=WebhookConfig(**options))  # type: ignore[arg-type]


def test_safe_settings_give_no_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JC_EXPO_SECRET", "a" * 32)
    assert exposure_warnings(_settings()) == []


def test_each_risk_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JC_EXPO_SECRET", raising=False)
    unsigned = exposure_warnings(_settings(require_signature=False))
    assert len(unsigned) == 1 and "unsigned deliveries" in unsigned[0]
    refused = exposure_warnings(_settings())
    assert len(refused) == 1 and "every delivery will be refused" in refused[0]
    monkeypatch.setenv("JC_EXPO_SECRET", "k9Zq-w")
    weak = exposure_warnings(_settings())
    assert len(weak) == 1 and "shorter than 16" in weak[0]
    monkeypatch.setenv("JC_EXPO_SECRET", "b" * 40)
    public = exposure_warnings(_settings(listen="0.0.0.0:8765"))
    assert len(public) == 1 and "binds 0.0.0.0:8765" in public[0]
    api = Settings(webhooks=WebhookConfig(secret_env="JC_EXPO_SECRET"), api=ApiConfig(listen="[::]:9000"))
    assert [w for w in exposure_warnings(api) if "operations API" in w]


def test_two_connections_on_one_site_are_told_to_name_theirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JC_EXPO_SECRET", "a" * 32)
    site = {"url": "https://jira.example.com", "auth": "bearer", "token_env": "JC_EXPO_TOKEN"}
    teams = [{"name": "eng", "jql": "project = ENG", **site}, {"name": "ops", "jql": "project = OPS", **site}]
    other = {"name": "dc", "url": "https://dc.example.com", "auth": "bearer", "token_env": "JC_EXPO_TOKEN"}
    hooks = WebhookConfig(secret_env="JC_EXPO_SECRET")
    [warning] = exposure_warnings(Settings(webhooks=hooks, jira=[*teams, other]))
    assert warning.startswith("connections eng, ops sync the same site (https://jira.example.com)")
    assert "is taken as eng's" in warning and "webhooks register -C NAME" in warning
    assert exposure_warnings(Settings(webhooks=hooks, jira=[other])) == []


def test_config_check_reports_the_warnings(cli_env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    _, cli, _ = cli_env
    assert isinstance(cli, Cli)
    monkeypatch.setenv(SECRET_ENV, "Qx7v-2")
    text = cli("config", "check", "--offline")
    assert text.exit_code == 0 and "warning: the current webhook secret is shorter than 16" in text.stderr
    data = json.loads(cli("config", "check", "--offline", "--json").stdout)
    assert any("shorter than 16" in w for w in data["warnings"])


def _daemon_start_log(tmp_path: Path, capfd, caplog, webhooks: WebhookConfig, *, listen: bool) -> str:
    """What a daemon logs while it starts and stops, with logging as the daemon command sets it up (a test
    before may have left the root logger at WARNING, or writing to a stream since closed)."""
    import asyncio

    from jira_console import logs
    from jira_console.daemon import Daemon

    logs.configure("INFO", "console", None)
    settings = Settings(database={"url": f"sqlite:///{tmp_path / 'd.db'}"}, webhooks=webhooks)  # type: ignore[arg-type]

    async def run() -> None:
        daemon = Daemon(settings, listen=listen)
        await daemon.start()
        await daemon.shutdown(grace_seconds=1)

    asyncio.run(run())
    out, err = capfd.readouterr()
    seen = "\n".join([out, err, caplog.text])
    assert "daemon started" in seen  # the log was captured at all
    return seen


def test_daemon_start_logs_the_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd, caplog
) -> None:
    monkeypatch.delenv("JC_EXPO_SECRET", raising=False)
    hooks = WebhookConfig(secret_env="JC_EXPO_SECRET", require_signature=False, listen="127.0.0.1:18799")
    assert "unsigned deliveries" in _daemon_start_log(tmp_path, capfd, caplog, hooks, listen=False)


def test_a_daemon_without_its_webhook_secret_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd, caplog
) -> None:
    from tests.ports import free_port

    monkeypatch.delenv("JC_EXPO_SECRET", raising=False)
    hooks = WebhookConfig(secret_env="JC_EXPO_SECRET", listen=f"127.0.0.1:{free_port()}")
    seen = _daemon_start_log(tmp_path, capfd, caplog, hooks, listen=True)
    said = [line for line in seen.splitlines() if "will be refused" in line]
    assert len(said) == 1, said
    assert "JC_EXPO_SECRET is unset: every delivery will be refused (401)" in said[0]


def test_webhooks_register_twice_leaves_one_webhook(cli_env) -> None:  # noqa: F811
    sim, cli, _ = cli_env
    first = cli.json("webhooks", "register")
    second = cli.json("webhooks", "register")
    assert second["id"] == first["id"] and second["existing"] is True and first["existing"] is False
    admin = [t for t in sim.hooks.targets.values() if t.kind == "admin"]
    assert len(admin) == 1
    again = cli("webhooks", "register")
    assert again.exit_code == 0 and "already registered" in again.stdout
    other = cli.json("webhooks", "register", "--events", "jira:issue_deleted")  # other events: a new one
    assert (
        other["id"] != first["id"] and len([t for t in sim.hooks.targets.values() if t.kind == "admin"]) == 2
    )

    dynamic = cli.json("webhooks", "register", "--dynamic", "--jql", "project = OPS")
    assert cli.json("webhooks", "register", "--dynamic", "--jql", "project = OPS")["id"] == dynamic["id"]
    assert len([t for t in sim.hooks.targets.values() if t.kind == "dynamic"]) == 1


def test_registering_again_after_the_jql_changed_updates_the_webhooks_filter(cli_env) -> None:  # noqa: F811
    sim, cli, _ = cli_env
    first = cli.json("webhooks", "register")
    [hook] = [t for t in sim.hooks.targets.values() if t.kind == "admin"]
    assert hook.jql == "project in (ENG, OPS)" and hook.secret
    was = 'jql = "project in (ENG, OPS) order by updated"'
    cli.config.write_text(cli.config.read_text().replace(was, 'jql = "project = ENG"'))

    again = cli("webhooks", "register")

    assert again.exit_code == 0, again.stderr
    assert "its filter updated to project = ENG (was project in (ENG, OPS))" in again.stdout
    [updated] = [t for t in sim.hooks.targets.values() if t.kind == "admin"]
    assert (updated.id, updated.jql, updated.secret) == (first["id"], "project = ENG", hook.secret)
    assert cli.json("webhooks", "register")["filter_was"] is None  # up to date: nothing changed


def test_config_check_tells_of_a_webhook_whose_filter_the_jql_left_behind(cli_env) -> None:  # noqa: F811
    _sim, cli, _ = cli_env
    hook = cli.json("webhooks", "register")
    assert not cli.json("config", "check")["warnings"]
    was = 'jql = "project in (ENG, OPS) order by updated"'
    cli.config.write_text(cli.config.read_text().replace(was, 'jql = "project = ENG"'))

    checked = cli("config", "check")

    assert checked.exit_code == 0, checked.stderr  # a warning, not a failure
    said = (
        f"warning: sim: Jira's webhook #{hook['id']} filters by project in (ENG, OPS), not by the "
        "connection's JQL project = ENG (changes to issues only the JQL selects wait for the next poll); "
        "`jira-console webhooks register -C sim` updates it"
    )
    assert said in checked.stderr.splitlines(), checked.stderr
    cli("webhooks", "register")
    assert not cli.json("config", "check")["warnings"]


def test_register_refuses_a_loopback_url_for_a_site_elsewhere(tmp_path: Path) -> None:
    # A Jira on another machine can never call 127.0.0.1 (the default listen address): registering it would
    # leave the operator waiting for deliveries that cannot come.
    from typer.testing import CliRunner

    from jira_console.cli import app

    config = tmp_path / "jc.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n'
        '[[jira]]\nname = "acme"\nurl = "https://acme.atlassian.net"\nuser = "ops@acme.test"\n'
        'token_env = "JC_EXPO_TOKEN"\njql = "project = ENG"\n'
        '[webhooks]\nsecret_env = "JC_EXPO_SECRET"\nlisten = "0.0.0.0:8765"\n'
    )
    config.chmod(0o600)
    runner = CliRunner()
    for extra in ([], ["--url", "http://localhost:8765/webhooks/jira"]):
        result = runner.invoke(app, ["--config", str(config), "webhooks", "register", *extra])
        assert result.exit_code == 2, result.output
        assert "cannot call" in result.stderr and "--url" in result.stderr and "public_url" in result.stderr
    assert not (tmp_path / "x.db").exists()  # refused before touching the database or Jira
