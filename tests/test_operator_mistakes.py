"""Mistakes a new operator makes in the configuration: each ends in one plain line and exit 2 (a
configuration error), naming what to write instead; never a traceback, never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jira_console.cli import app
from jira_console.store.db import Database, StoreConfigError


def _config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "mistake.toml"
    path.write_text(
        f"""
[database]
url = "{database_url}"
[[jira]]
name = "cld"
url = "http://127.0.0.1:9"
user = "ops@example.com"
token_env = "JC_MISTAKE_TOKEN"
jql = "project = ENG"
[webhooks]
enabled = false
"""
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://root:pw-s3cret@127.0.0.1/test", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://root:pw-s3cret@127.0.0.1/test", "postgresql+psycopg://"),
    ],
)
def test_the_daemon_refuses_an_unusable_database_url_in_one_line(tmp_path: Path, url: str, said: str) -> None:
    result = CliRunner().invoke(app, ["--config", str(_config(tmp_path, url)), "daemon", "--no-listen"])
    assert result.exit_code == 2, (result.exception, result.stderr)
    assert said in result.stderr
    assert "Traceback" not in result.stderr and "pw-s3cret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_driver_that_is_not_installed_is_a_configuration_error_naming_the_one_to_use() -> None:
    with pytest.raises(StoreConfigError) as info:
        Database("postgresql+psycopg2://root:pw-s3cret@127.0.0.1/test")
    said = str(info.value)
    assert "psycopg2" in said and "postgresql+psycopg://" in said
    assert said.count("database URL") == 1 and "pw-s3cret" not in said


def test_a_postgres_url_without_the_ql_names_the_scheme_to_write() -> None:
    with pytest.raises(StoreConfigError, match=r"postgresql\+psycopg://"):
        Database("postgres://root@127.0.0.1/test")


def test_an_absolute_sqlite_path_written_with_three_slashes_is_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sqlite:///tmp/x.db is tmp/x.db under the current folder; `sync` cannot create it, `status` must not
    # tell the operator to run `sync`, and both name the four-slash URL meant.
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    meant = str(tmp_path / "jc.db").lstrip("/")
    config = _config(tmp_path, f"sqlite:///{meant}")
    runner = CliRunner()
    for command in (["status"], ["sync"]):
        result = runner.invoke(app, ["--config", str(config), *command])
        assert result.exit_code == 2, (command, result.exception, result.stderr)
        assert f"sqlite:////{meant}" in result.stderr, result.stderr
        assert "run `jira-console sync`" not in result.stderr
    assert not (tmp_path / "jc.db").exists()


def test_a_summary_longer_than_jira_keeps_is_refused_when_the_edit_is_made() -> None:
    from jira_console.sync.fields import local_edit_problem

    assert local_edit_problem("summary", "x" * 255) is None
    said = local_edit_problem("summary", "x" * 256)
    assert said == "summary holds at most 255 characters (Jira's limit), not 256"
    # Jira counts UTF-16 units: 128 emoji are 256 of them.
    assert "not 256" in (local_edit_problem("summary", "\U0001f600" * 128) or "")


@pytest.mark.parametrize(("site", "pinned"), [("cloud", "server"), ("server", "cloud")])
def test_a_sync_with_a_flavor_pinned_against_the_site_says_which_to_set(
    tmp_path: Path, sim_factory, monkeypatch, sqlite_url, site: str, pinned: str
) -> None:
    # Pinned to server on a Cloud site, every sync failed with Cloud's 410 for Server's search ("The requested
    # API has been removed"), naming nothing the operator had written; only `config check` said why.
    sim = sim_factory(site, issues=2)
    user, token = sim.credentials["basic"]
    monkeypatch.setenv("JC_MISTAKE_TOKEN", token)
    cfg = _config(tmp_path, sqlite_url)
    text = cfg.read_text().replace("http://127.0.0.1:9", sim.url).replace("ops@example.com", user)
    cfg.write_text(text.replace('jql = "project = ENG"', f'jql = "project = ENG"\nflavor = "{pinned}"'))
    result = CliRunner().invoke(app, ["--config", str(cfg), "sync"])
    assert result.exit_code != 0, result.output
    said = (
        f'flavor = \'{pinned}\', but the site says it is {site} (serverInfo): set flavor = "{site}" or "auto"'
    )
    assert said in result.output, result.output
    assert "Traceback" not in result.output and token not in result.output
