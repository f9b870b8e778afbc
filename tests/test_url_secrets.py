"""A password inside a URL (database or Jira) never reaches the screen, a log or an error (canary)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jira_console import redact
from jira_console.cli import app
from tests.cli_isolation import restore_logging  # noqa: F401 - autouse

CANARY = "canary-pw-5b1d-SECRET"  # unique: found nowhere unless leaked


def _config(tmp_path: Path, db_url: str) -> Path:
    log = tmp_path / "jc.log"
    path = tmp_path / "c.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[[jira]]
name = "site"
url = "https://bot:{CANARY}-jira@jira.invalid"
user = "bot"
token_env = "JC_URL_TEST_TOKEN"
[logging]
level = "DEBUG"
format = "json"
file = "{log}"
"""
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("where", ["file", "env"])
def test_database_and_jira_url_passwords_never_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # Port 9 (discard) on loopback: nothing listens, so commands that touch the database fail with an error.
    db_url = f"postgresql+psycopg://jc_user:{CANARY}@127.0.0.1:9/jc"
    monkeypatch.delenv("JIRA_CONSOLE_CONFIG", raising=False)
    if where == "env":
        monkeypatch.setenv("JIRA_CONSOLE_DATABASE__URL", db_url)
        config = _config(tmp_path, "sqlite:///unused.db")
    else:
        config = _config(tmp_path, db_url)
    runner = CliRunner()
    outputs = []
    for args in (
        ["config", "show"],
        ["config", "show", "--json"],
        ["config", "check", "--offline", "--json"],
        ["-v", "status"],
        ["-v", "issues", "list", "--json"],
    ):
        result = runner.invoke(app, ["--config", str(config), *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        outputs.append((args, result.exit_code, result.stdout + result.stderr))
    shown = "\n".join(text for _, _, text in outputs)
    assert "jc_user:****@127.0.0.1:9/jc" in shown  # the URL is shown, its password is not
    assert outputs[3][1] != 0 and "cannot connect" in outputs[3][2]  # the failure was reached and reported
    logged = (tmp_path / "jc.log").read_text() if (tmp_path / "jc.log").exists() else ""
    for text in (shown, logged):
        assert CANARY not in text


def test_scrub_masks_url_passwords_it_was_never_told_about() -> None:
    text = "connect to postgresql://u:n0t-registered@db:5432/x failed; see https://a:b@jira.example/rest"
    assert redact.scrub(text) == (
        "connect to postgresql://u:****@db:5432/x failed; see https://a:****@jira.example/rest"
    )
    assert redact.mask_value("url", "sqlite:///plain.db") == "sqlite:///plain.db"


def test_a_registered_url_password_is_hidden_without_its_url() -> None:
    redact.register_url("postgresql://u:pa%24%24word-77@db/x")
    assert redact.scrub("FATAL: password pa$$word-77 rejected") == "FATAL: password **** rejected"
