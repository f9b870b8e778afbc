"""``init`` writes a private, valid configuration from flags or answers; ``config check`` refuses a file
without connections and warns about an unset webhook secret; ``demo`` says where its files are and removes
them when it ends unless --keep. Through the real commands (CliRunner, and a subprocess for the demo)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jira_console.cli import app, init_cmd
from jira_console.config import load_config

runner = CliRunner()


def test_init_from_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIRA_WEBHOOK_SECRET", raising=False)
    path = tmp_path / "jc.toml"
    args = ["init", "--path", str(path), "--url", "https://acme.atlassian.net", "--user", "ops@acme.test",
            "--jql", 'project = "ENG"', "--database", f"sqlite:///{tmp_path / 'x.db'}"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert path.stat().st_mode & 0o777 == 0o600
    settings = load_config(path).settings
    (conn,) = settings.jira
    assert (conn.name, conn.url, conn.auth, conn.user, conn.token_env, conn.jql) == (
        "cloud", "https://acme.atlassian.net", "basic", "ops@acme.test", "JIRA_CLOUD_TOKEN", 'project = "ENG"'
    )  # fmt: skip
    assert settings.webhooks.secret_env == "JIRA_WEBHOOK_SECRET"
    assert "export JIRA_CLOUD_TOKEN=" in result.stdout and f"-c {path} sync --full" in result.stdout
    assert not (tmp_path / "x.db").exists()

    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert runner.invoke(app, [*args, "--force", "--name", "acme"]).exit_code == 0
    assert load_config(path).settings.jira[0].token_env == "JIRA_ACME_TOKEN"

    checked = runner.invoke(app, ["--config", str(path), "config", "check", "--offline"])
    assert checked.exit_code == 0 and "webhook secret not set: export JIRA_WEBHOOK_SECRET" in checked.stderr
    as_json = json.loads(
        runner.invoke(app, ["--config", str(path), "config", "check", "--offline", "--json"]).stdout
    )
    assert any("webhook secret not set" in w for w in as_json["warnings"])
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", "s3cret-value-long-enough-to-resist-guessing")
    quiet = runner.invoke(app, ["--config", str(path), "config", "check", "--offline"])
    assert quiet.exit_code == 0 and "webhook secret" not in quiet.output


def test_init_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    path = tmp_path / "jc.toml"
    no_url = runner.invoke(app, ["init", "--path", str(path)])
    assert no_url.exit_code == 2 and "--url is required" in no_url.stderr and not path.exists()
    bad_url = runner.invoke(app, ["init", "--path", str(path), "--url", "acme.atlassian.net"])
    assert bad_url.exit_code == 2 and "https://" in bad_url.stderr and not path.exists()
    bad_auth = runner.invoke(app, ["init", "--path", str(path), "--url", "https://j.example", "--auth", "x"])
    assert bad_auth.exit_code == 2 and not path.exists()
    no_user = runner.invoke(
        app, ["init", "--path", str(path), "--url", "https://j.example", "--auth", "basic"]
    )
    assert no_user.exit_code == 2 and "--user" in no_user.stderr and not path.exists()
    # No JQL assumed from a script: a whole-site default would import every project at the first sync.
    no_jql = runner.invoke(
        app, ["init", "--path", str(path), "--url", "https://j.example", "--auth", "bearer"]
    )
    assert no_jql.exit_code == 2 and "--jql is required" in no_jql.stderr and not path.exists()


def test_init_from_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(init_cmd, "interactive", lambda: True)
    monkeypatch.chdir(tmp_path)
    answers = "https://jira.example.com\n\n\n\nproject = OPS\n"  # URL, then name/auth/token defaults
    result = runner.invoke(app, ["init"], input=answers)
    assert result.exit_code == 0, result.output
    path = tmp_path / "jira-console.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    (conn,) = load_config(path).settings.jira
    assert (conn.name, conn.auth, conn.token_env, conn.jql) == (
        "jira",
        "bearer",
        "JIRA_TOKEN",
        "project = OPS",
    )
    assert "jira-console config check" in result.stdout and "-c " not in result.stdout


def test_config_check_without_connections_fails(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    path.chmod(0o600)
    result = runner.invoke(app, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2 and "no [[jira]] connections configured" in result.stdout
    as_json = runner.invoke(app, ["--config", str(path), "config", "check", "--json"])
    assert as_json.exit_code == 2 and json.loads(as_json.stdout)["ok"] is False


STOP_SIGNALS = pytest.mark.parametrize(
    ("how", "ignored"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["sigint-in-background", "sigterm"],
)
"""SIGINT to a demo started as a background job (SIGINT inherited ignored), and SIGTERM."""


class Demo:
    """``jira-console demo --headless`` in a subprocess, its output lines read by a thread."""

    def __init__(self, *args: str, cwd: Path, sigint_ignored: bool = False) -> None:
        # PYTHONFAULTHANDLER: a demo that does not stop can be made to print every thread's stack (SIGABRT).
        env = {
            **os.environ,
            "XDG_STATE_HOME": str(cwd / "state"),
            "TMPDIR": str(cwd),
            "PYTHONFAULTHANDLER": "1",
        }
        # sigint_ignored: started as a shell starts a background job (`demo --headless &`, nohup), which
        # inherits SIGINT ignored; Python then never raises KeyboardInterrupt for it.
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jira_console", "demo", "--headless", "--issues", "10", *args],
            preexec_fn=ignore,  # noqa: PLW1509 - a signal disposition, set before exec
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("<eof>")

    def wait_for(self, start: str, timeout: float = 120) -> str:
        seen = []
        while True:
            line = self.lines.get(timeout=timeout)
            seen.append(line)
            if line.startswith(start):
                return line
            assert line != "<eof>", seen

    def stop(self, how: signal.Signals = signal.SIGINT) -> None:
        self.proc.send_signal(how)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # the stacks of every thread, read below
            self.proc.wait(timeout=30)
            output = []
            while True:
                line = self.lines.get(timeout=30)
                if line == "<eof>":
                    break
                output.append(line)
            stacks = "\n".join(output[-150:])
            raise AssertionError(f"the demo did not stop within 120 s of {how.name}:\n" + stacks) from None


@STOP_SIGNALS
def test_a_headless_demo_stops_cleanly_on_sigint_started_in_the_background_and_on_sigterm(
    tmp_path: Path, how: signal.Signals, ignored: bool
) -> None:
    # Started from a background shell, the demo once ignored Ctrl-C for good (found as demos still running
    # an hour after a test sent SIGINT); SIGTERM ended it without its clean-up.
    demo = Demo(cwd=tmp_path, sigint_ignored=ignored)
    folder = Path(demo.wait_for("demo files in ").removeprefix("demo files in ").split(" (")[0])
    demo.wait_for("demo running")
    demo.stop(how)
    assert demo.wait_for("demo files ") == f"demo files removed from {folder}" and not folder.exists()


@STOP_SIGNALS
def test_a_stop_asked_for_while_the_demo_starts_is_kept(
    tmp_path: Path, how: signal.Signals, ignored: bool
) -> None:
    # Sent while the simulated sites and the engine start (seconds): a background-started demo once ignored
    # SIGINT then and ran on; SIGTERM ended it without removing its files.
    demo = Demo(cwd=tmp_path, sigint_ignored=ignored)
    demo.wait_for("starting the demo")
    demo.stop(how)
    assert demo.proc.returncode == 0
    folder = Path(demo.wait_for("demo files in ").removeprefix("demo files in ").split(" (")[0])
    assert demo.wait_for("demo files ") == f"demo files removed from {folder}" and not folder.exists()


@pytest.mark.parametrize("keep", [False, True], ids=["cleaned", "kept"])
def test_demo_says_where_its_files_are_and_cleans_up(tmp_path: Path, keep: bool) -> None:
    demo = Demo(*(["--keep"] if keep else []), cwd=tmp_path)
    try:
        folder = Path(demo.wait_for("demo files in ").removeprefix("demo files in ").split(" (")[0])
        demo.wait_for("demo running")
        assert (folder / "demo.db").exists() and folder.is_relative_to(tmp_path)
    finally:
        demo.stop()
    last = demo.wait_for("demo files ")
    if keep:
        assert last == f"demo files kept in {folder}" and (folder / "demo.db").exists()
    else:
        assert last == f"demo files removed from {folder}" and not folder.exists()


def test_config_check_looks_at_the_database_and_the_api_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database URL the store cannot use, a folder that is not there, a PostgreSQL database never created
    # and an API without its token each stopped the first command after a "valid" check.
    from tests.conftest import PG_URL, pg_ok

    monkeypatch.delenv("JC_CHECK_API_TOKEN", raising=False)
    path = tmp_path / "jc.toml"

    def check(url: str, *extra: str) -> tuple[int, dict[str, Any]]:
        path.write_text(f'[database]\nurl = "{url}"\n{"".join(extra)}')
        path.chmod(0o600)
        result = runner.invoke(app, ["--config", str(path), "config", "check", "--offline", "--json"])
        return result.exit_code, json.loads(result.stdout)

    code, out = check("sqlit:///b.db")
    assert (
        code == 2
        and not out["database"]["ok"]
        and "unsupported database 'sqlit'" in out["database"]["summary"]
    )
    code, out = check(f"sqlite:///{tmp_path / 'nodir' / 'b.db'}")
    assert code == 2 and "does not exist" in out["database"]["summary"]
    code, out = check(f"sqlite:///{tmp_path / 'b.db'}", '[api]\nlisten = "127.0.0.1:9999"\n',
                      'token_env = "JC_CHECK_API_TOKEN"\n')  # fmt: skip
    assert out["database"]["ok"] and "not created yet" in out["database"]["summary"]
    assert code == 2 and "JC_CHECK_API_TOKEN" in out["api"]["problem"]
    assert not (tmp_path / "b.db").exists()  # the check creates nothing
    if pg_ok():
        missing = PG_URL.rsplit("/", 1)[0] + "/jc_never_created_db"
        path.write_text(f'[database]\nurl = "{missing}"\n')
        result = runner.invoke(app, ["--config", str(path), "config", "check"])
        assert result.exit_code == 2 and "'jc_never_created_db' does not exist" in result.stdout
        status = runner.invoke(app, ["--config", str(path), "status"])
        assert status.exit_code == 2 and "createdb" in status.stderr
