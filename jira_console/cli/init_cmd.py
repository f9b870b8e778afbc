"""``jira-console init``: write a first configuration (owner-only, 0600) from flags, or by asking on a
terminal, with one connection and the webhook secret's variable; the token itself stays in the
environment."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import typer

from jira_console.cli.common import EXIT_USAGE, fail
from jira_console.cli.safe_text import echo

DEFAULT_PATH = "jira-console.toml"


def _quoted(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def render_config(
    *, name: str, url: str, flavor: str, auth: str, user: str | None, token_env: str, jql: str, database: str
) -> str:
    """The configuration file's text: one connection, the database, the webhook secret's variable."""
    lines = [
        "# Written by `jira-console init`. Every key is described in config.example.toml.",
        "# Secrets never go in this file: the token is read from the environment variable named below.",
        "",
        "[database]",
        f"url = {_quoted(database)}",
        "",
        "[[jira]]",
        f"name = {_quoted(name)}",
        f"url = {_quoted(url)}",
        f"flavor = {_quoted(flavor)}",
        f"auth = {_quoted(auth)}",
    ]
    if auth == "basic" and user:
        lines.append(f"user = {_quoted(user)}")
    lines += [
        f"token_env = {_quoted(token_env)}",
        f"jql = {_quoted(jql)}",
        "",
        "[webhooks]",
        'secret_env = "JIRA_WEBHOOK_SECRET"          # HMAC secret Jira signs deliveries with',
        "",
    ]
    return "\n".join(lines)


def interactive() -> bool:
    """Whether to ask: standard input is a terminal."""
    return sys.stdin.isatty()


def _ask(value: str | None, flag: str, prompt: str, default: str | None) -> str:
    """The flag's value; else the answer on a terminal; else the default; else a usage error."""
    if value is not None:
        return value
    if interactive():
        return str(typer.prompt(prompt, default=default))
    if default is not None:
        return default
    fail(f"{flag} is required when not run on a terminal", EXIT_USAGE)


def register(app: typer.Typer) -> None:
    """Add ``init`` to the root app."""

    @app.command("init")
    def init(
        *,
        path: Path = typer.Option(Path(DEFAULT_PATH), "--path", "-o", help="Where to write the file."),
        name: str | None = typer.Option(None, "--name", help="Short connection name (e.g. cloud)."),
        url: str | None = typer.Option(None, "--url", help="Jira base URL."),
        flavor: str = typer.Option("auto", "--flavor", help="auto, cloud (REST v3) or server (REST v2)."),
        auth: str | None = typer.Option(None, "--auth", help="basic (user + API token) or bearer (PAT)."),
        user: str | None = typer.Option(None, "--user", help="E-mail (Cloud) or user name (Server)."),
        token_env: str | None = typer.Option(None, "--token-env", help="Variable holding the token."),
        jql: str | None = typer.Option(None, "--jql", help="What this connection syncs."),
        database: str = typer.Option(
            "sqlite:///jira-console.db", "--database", help="SQLAlchemy URL of the local database."
        ),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write a configuration file (0600) with one Jira connection, asking for what the flags do not
        give when run on a terminal (elsewhere, what they do not give takes its default; --url, --jql and,
        with basic auth, --user have none)."""
        if path.exists() and not force:
            fail(f"{path} exists; pass --force to overwrite it", EXIT_USAGE)
        url = _ask(url, "--url", "Jira URL (https://...)", None).strip()
        if not url.startswith(("https://", "http://")):
            fail(f"the Jira URL must start with https:// or http://, got {url!r}", EXIT_USAGE)
        cloud = ".atlassian.net" in url or flavor == "cloud"
        name = _ask(name, "--name", "Connection name", "cloud" if cloud else "jira")
        auth = _ask(auth, "--auth", "Auth (basic or bearer)", "basic" if cloud else "bearer")
        if auth not in ("basic", "bearer"):
            fail(f"--auth must be basic or bearer, not {auth!r}", EXIT_USAGE)
        if auth == "basic":
            user = _ask(user, "--user", "User (e-mail on Cloud)", None)
        word = re.sub(r"\W", "_", name.upper())
        default_env = "JIRA_TOKEN" if word == "JIRA" else f"JIRA_{word}_TOKEN"  # not JIRA_JIRA_TOKEN
        token_env = _ask(token_env, "--token-env", "Token variable", default_env)
        # No default: one would import the whole site (every project) at the first `sync --full`.
        jql = _ask(jql, "--jql", "JQL of the issues to sync (e.g. project in (ENG, OPS))", None)
        text = render_config(
            name=name, url=url, flavor=flavor, auth=auth, user=user, token_env=token_env, jql=jql,
            database=database,
        )  # fmt: skip
        _write_checked(path, text)
        echo(f"wrote {path} (readable by you only)")
        echo("next:")
        echo(f"  export {token_env}=...        # the token; it never goes in the file")
        option = "" if path == Path(DEFAULT_PATH) else f"-c {path} "
        echo(f"  jira-console {option}config check")
        echo(f"  jira-console {option}sync --full")


def _write_checked(path: Path, text: str) -> None:
    """Write the file, then load it as the tool will; a file the tool would refuse is removed again."""
    from jira_console.config import ConfigError, load_config
    from jira_console.files import write_private_text

    existed = path.exists()
    try:
        write_private_text(path, text)
        path.chmod(0o600)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}", EXIT_USAGE)
    try:
        load_config(path, require_file=True)
    except ConfigError as exc:
        if not existed:
            path.unlink(missing_ok=True)
        fail(f"the answers do not make a valid configuration: {exc}", EXIT_USAGE)
