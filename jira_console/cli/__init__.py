"""The scriptable command line. Every command prints plain words, takes ``--json`` where it reports data,
and exits 0 on success, 1 on an operational failure (Jira or database error), 2 on a usage/config error,
3 when the thing asked for does not exist.

Starting it must stay cheap (``bench/cli_bench.py``): the command modules import only typer and
:mod:`.common` at module level; the configuration, the store and the engine are imported by the commands
that use them."""

from __future__ import annotations

import typer

from jira_console import __version__
from jira_console.cli import config_cmd
from jira_console.cli.common import state
from jira_console.cli.safe_text import echo
from jira_console.cli.usage import OneLineErrors

app = typer.Typer(
    name="jira-console",
    help="Keep a SQL database and Jira (Cloud and Server/DC) in two-way sync. With no command, opens the "
    "operations console.",
    no_args_is_help=False,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=OneLineErrors,
)


def _print_version(value: bool) -> None:
    if value:
        echo(f"jira-console {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    config: str | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Config file (TOML). Default: $JIRA_CONSOLE_CONFIG or ./jira-console.toml.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug output to stderr."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    state.config_path = config
    state._loaded = None
    state.verbose = verbose
    state.leave_quickly = False
    if ctx.invoked_subcommand is None:
        from jira_console.cli.console_cmd import open_console

        open_console()


app.add_typer(config_cmd.app, name="config")


def _register_optional() -> None:
    """Sub-commands live in their own modules; each registers itself on ``app``."""
    import importlib

    for module in (
        "jira_console.cli.init_cmd",
        "jira_console.cli.simulate_cmd",
        "jira_console.cli.read_cmd",
        "jira_console.cli.sprints_cmd",
        "jira_console.cli.sync_cmd",
        "jira_console.cli.audit_cmd",
        "jira_console.cli.mapping_cmd",
        "jira_console.cli.identities_cmd",
        "jira_console.cli.webhooks_cmd",
        "jira_console.cli.daemon_cmd",
        "jira_console.cli.console_cmd",
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(app)


_register_optional()


def main() -> None:
    """The console script. After a command that set ``state.leave_quickly`` (a sync, whose process holds
    thousands of issues' objects), the process ends without the interpreter freeing them one by one: 0.5 s
    after a 4,000-issue sync on a quiet machine, twice that under load. Exit handlers still run and the
    streams are flushed first; long-running commands (daemon, console, demo) never set it, so their own
    shutdown (a daemon recording its stop) is untouched."""
    from jira_console.cli.common import state

    state.own_process = True
    try:
        app()
    except SystemExit as done:
        if state.leave_quickly:
            _leave_now(done.code)
        raise


def _leave_now(code: object) -> None:
    import atexit
    import logging
    import os
    import sys

    if isinstance(code, str):
        from jira_console.cli.safe_text import echo

        echo(code, err=True)
    status = code if isinstance(code, int) else 0 if code is None else 1
    atexit._run_exitfuncs()  # what an ordinary exit runs (logging's shutdown among them)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(status)
