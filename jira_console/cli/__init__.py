"""The scriptable command line. Every command prints plain words, takes ``--json`` where it reports data,
and exits 0 on success, 1 on an operational failure (Jira or database error), 2 on a usage/config error,
3 when the thing asked for does not exist."""

from __future__ import annotations

import typer

from jira_console.cli import config_cmd
from jira_console.cli.common import state

app = typer.Typer(
    name="jira-console",
    help="Keep a SQL database and Jira (Cloud and Server/DC) in two-way sync.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
) -> None:
    state.config_path = config
    state._loaded = None
    state.verbose = verbose
    if ctx.invoked_subcommand is None:
        from jira_console.cli.console_cmd import open_console

        open_console()


app.add_typer(config_cmd.app, name="config")


def _register_optional() -> None:
    """Sub-commands live in their own modules; each registers itself on ``app``."""
    import importlib

    for module in (
        "jira_console.cli.simulate_cmd",
        "jira_console.cli.sync_cmd",
        "jira_console.cli.mapping_cmd",
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
    app()
