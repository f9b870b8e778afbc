"""Configuration: TOML, environment overrides, provenance, readable errors, secrets masked."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jira_console.cli import app
from jira_console.cli.config_cmd import iter_effective
from jira_console.config import ConfigError, Settings, load_config

GOOD = """
[database]
url = "sqlite:///x.db"
[[jira]]
name = "cloud"
url = "https://example.atlassian.net/"
auth = "basic"
user = "ops@example.com"
token_env = "JIRA_TEST_TOKEN"
jql = "project in (ENG, OPS)"
rate_limit_per_second = 10
[[jira]]
name = "dc"
url = "https://jira.example.com"
auth = "bearer"
token_env = "JIRA_TEST_TOKEN"
[webhooks]
listen = "127.0.0.1:8765"
secret_env = "JIRA_WEBHOOK_SECRET"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jira-console.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_loads_connections_side_by_side(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, GOOD))
    s = loaded.settings
    assert [c.name for c in s.jira] == ["cloud", "dc"]
    assert s.jira[0].url == "https://example.atlassian.net"  # trailing slash dropped
    assert s.connection("dc").auth == "bearer"
    assert loaded.warnings == ()


def test_environment_overrides_the_file_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_CONSOLE_DATABASE__URL", "sqlite:///from-env.db")
    loaded = load_config(write(tmp_path, GOOD))
    assert loaded.settings.database.url == "sqlite:///from-env.db"
    sources = {k: src for k, _v, src in iter_effective(loaded)}
    assert sources["database.url"] == "env JIRA_CONSOLE_DATABASE__URL"
    assert sources["jira.0.jql"].startswith("file ")
    assert sources["webhooks.max_body_bytes"] == "default"


def test_environment_tables_top_level_values_and_any_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("jira_console_logging__level", "DEBUG")  # names in any case, as before
    monkeypatch.setenv("JIRA_CONSOLE_DAEMON", '{"heartbeat_seconds": 7}')  # a whole table as JSON
    monkeypatch.setenv("JIRA_CONSOLE_RICH_TEXT_POLICY", "markdown_wins")  # a top-level value
    monkeypatch.setenv("JIRA_CONSOLE_API_TOKEN_FOR_SOMETHING_ELSE", "x")  # not a setting: ignored
    loaded = load_config(write(tmp_path, GOOD))
    s = loaded.settings
    assert (s.logging.level, s.daemon.heartbeat_seconds, s.rich_text_policy) == ("DEBUG", 7, "markdown_wins")
    assert {c.rich_text_policy for c in s.jira} == {"markdown_wins"}  # inherited by each connection
    assert s.database.url == load_config(write(tmp_path, GOOD)).settings.database.url  # the file's, untouched
    monkeypatch.setenv("JIRA_CONSOLE_DAEMON__HEARTBEAT_SECONDS", "-1")
    with pytest.raises(ConfigError, match="daemon.heartbeat_seconds"):
        load_config(write(tmp_path, GOOD))


def test_a_mistyped_environment_override_names_the_variable_never_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, GOOD)
    # A section no setting has: refused like a file's unknown table, not left to do nothing.
    monkeypatch.setenv("JIRA_CONSOLE_DATABSE__URL", "sqlite:///meant.db")
    with pytest.raises(ConfigError) as typo:
        load_config(path)
    assert str(typo.value) == (
        "JIRA_CONSOLE_DATABSE__URL: no setting 'databse'; did you mean JIRA_CONSOLE_DATABASE__URL? "
        "(see config.example.toml for the keys)"
    )
    monkeypatch.delenv("JIRA_CONSOLE_DATABSE__URL")
    monkeypatch.setenv("jira_console_logging__level", "DEBUG")  # known: any case, as before
    monkeypatch.setenv("JIRA_CONSOLE_API_TOKEN", "t")  # no nesting: the API's token, not a setting
    assert load_config(path).settings.logging.level == "DEBUG"
    # A key the section does not have: the variable is named, since the file does not hold it.
    monkeypatch.setenv("JIRA_CONSOLE_DATABASE__URI", "sqlite:///meant.db")
    with pytest.raises(ConfigError) as nested:
        load_config(path)
    assert "database.uri (environment variable JIRA_CONSOLE_DATABASE__URI): unknown key" in str(nested.value)
    monkeypatch.delenv("JIRA_CONSOLE_DATABASE__URI")
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__1__TOKN_ENV", "X")
    with pytest.raises(ConfigError) as listed:
        load_config(path)
    assert "jira.1.tokn_env (environment variable JIRA_CONSOLE_JIRA__1__TOKN_ENV): unknown key" in str(
        listed.value
    )


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("JIRA_CONSOLE_CONFIG", str(path))
    assert load_config().path == path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace('flavor = "auto"', "")
            + '\n[[jira]]\nname="x"\nurl="https://a"\nflavor="saas"\nauth="bearer"\n',
            "jira.2.flavor: Input should be 'auto', 'cloud' or 'server'",
        ),
        ("[database]\nurll = 'x'\n", "database.urll: unknown key; did you mean url?"),
        (
            "[[jira]]\nname='a'\nurl='https://a'\nauth='bearer'\npage_sise=5\n",
            "page_sise: unknown key; did you mean page_size?",
        ),
        ("[databse]\nurl = 'x'\n", "databse: unknown key; did you mean database?"),
        ("[api]\nzzz = 1\n", "api.zzz: unknown key (see config.example.toml"),  # nothing close: no guess
        ("[[jira]]\nname='a'\nurl='https://a'\nuser='u'\ntoken='abc'\n", "inline 'token' is refused"),
        ("[[jira]]\nname='a'\nurl='https://a'\n", "auth = 'basic' needs 'user'"),
        ("[webhooks]\nlisten='nope'\n", "listen must be host:port"),
        ("[database\nurl=1", "not valid TOML"),
        (GOOD + '\n[[jira]]\nname="cloud"\nurl="https://b"\nauth="bearer"\n', "repeated: cloud"),
    ],
)
def test_bad_config_gets_a_clear_message(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert expected in str(err.value)
    assert "Traceback" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace('jql = "project in (ENG, OPS)"', 'verify_tls = "false"'),
            "jira.0.verify_tls: takes true or false without quotes (a TOML boolean), got 'false'",
        ),
        (
            "[database]\necho = 'no'\n",
            "database.echo: takes true or false without quotes (a TOML boolean), got 'no'",
        ),
        ("[webhooks]\nrequire_signature = 0\n", "webhooks.require_signature: takes true or false, got 0"),
        ("[webhooks]\nenabled = 'on'\n", "webhooks.enabled: takes true or false without quotes"),
    ],
)
def test_a_true_or_false_setting_takes_a_toml_boolean_only(tmp_path: Path, text: str, expected: str) -> None:
    # Lax parsing read "no", "off" or 0 as false: in a TOML file, where true and false are written bare, a
    # quoted or numeric value is a mistake to point out, not to guess at.
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert expected in str(err.value)
    path = write(tmp_path, text)
    for command in (["config", "check", "--offline"], ["config", "check", "--offline", "--json"]):
        result = CliRunner().invoke(app, ["--config", str(path), *command])
        assert result.exit_code == 2 and expected in result.output, result.output


def test_a_true_or_false_setting_from_the_environment_takes_the_usual_spellings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An environment variable is text: "false", "no", "off" and "0" (and their opposites) stay accepted there.
    monkeypatch.setenv("JIRA_CONSOLE_DATABASE__ECHO", "yes")
    monkeypatch.setenv("JIRA_CONSOLE_WEBHOOKS__REQUIRE_SIGNATURE", "off")
    monkeypatch.setenv("JIRA_CONSOLE_WEBHOOKS", '{"enabled": "false"}')
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__0__VERIFY_TLS", "0")
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__1__NOTIFY_WATCHERS", "False")
    s = load_config(write(tmp_path, GOOD)).settings
    assert (s.database.echo, s.webhooks.require_signature, s.webhooks.enabled) == (True, False, False)
    assert [(c.verify_tls, c.notify_watchers) for c in s.jira] == [(False, True), (True, False)]
    monkeypatch.setenv("JIRA_CONSOLE_JIRA__1__NOTIFY_WATCHERS", "maybe")
    with pytest.raises(ConfigError, match="JIRA_CONSOLE_JIRA__1__NOTIFY_WATCHERS: takes true or false"):
        load_config(write(tmp_path, GOOD))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_world_readable_config_warns(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    path.chmod(0o644)
    assert any("chmod 600" in w for w in load_config(path).warnings)


def test_config_show_masks_the_secret_and_names_its_source(tmp_path: Path, canary_token: str) -> None:
    path = write(tmp_path, GOOD)
    result = CliRunner().invoke(app, ["--config", str(path), "config", "show"])
    assert result.exit_code == 0, result.output
    assert canary_token not in result.output
    assert "env JIRA_TEST_TOKEN" in result.output and "****" in result.output
    as_json = CliRunner().invoke(app, ["--config", str(path), "config", "show", "--json"])
    assert canary_token not in as_json.output and '"database.url"' in as_json.output


def test_cli_reports_bad_config_with_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[database]\nurll = 1\n")
    result = CliRunner().invoke(app, ["--config", str(path), "config", "show"])
    assert result.exit_code == 2
    assert "unknown key" in result.output


def test_config_check_offline_validates(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--config", str(write(tmp_path, GOOD)), "config", "check", "--offline"])
    assert result.exit_code == 0 and "valid" in result.output


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    loaded = load_config(example)
    # One connection as shipped: a copied example must not carry a second site that fails with "no token".
    assert {c.name for c in loaded.settings.jira} == {"cloud"}
    text = example.read_text()
    second = text[text.index("# [[jira]]") :].split("\n\n", 1)[0]
    uncommented = "\n".join(line.removeprefix("# ") for line in second.splitlines())
    assert {c.name for c in Settings(**tomllib.loads(text + "\n" + uncommented)).jira} == {"cloud", "dc"}


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_config_check_against_the_simulator(tmp_path: Path, sim_factory, monkeypatch, flavor) -> None:
    from tests.fixtures.simulator import connection_for

    sim = sim_factory(flavor, issues=5)
    conn = connection_for(sim, monkeypatch)
    text = f'[[jira]]\nname = "s"\nurl = "{conn.url}"\nuser = "{conn.user}"\ntoken_env = "{conn.token_env}"\n'
    good = CliRunner().invoke(app, ["--config", str(write(tmp_path, text)), "config", "check", "--json"])
    assert good.exit_code == 0, good.output
    assert '"ok": true' in good.output and f'"flavor": "{flavor}"' in good.output
    monkeypatch.setenv(conn.token_env, "wrong-token")
    bad = CliRunner().invoke(app, ["--config", str(write(tmp_path, text)), "config", "check"])
    assert bad.exit_code == 1 and "FAIL" in bad.output and "wrong-token" not in bad.output
    monkeypatch.delenv(conn.token_env)
    missing = CliRunner().invoke(app, ["--config", str(write(tmp_path, text)), "config", "check"])
    assert missing.exit_code == 1 and conn.token_env in missing.output
