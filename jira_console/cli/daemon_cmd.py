"""``jira-console daemon``: run headless (scheduler, webhook listener, workers). Never imports Textual."""

from __future__ import annotations

import typer

from jira_console.cli.common import EXIT_USAGE, fail, friendly_errors, no_connections, state


def register(app: typer.Typer) -> None:
    @app.command("daemon")
    def daemon(
        no_listen: bool = typer.Option(False, "--no-listen", help="Do not start the webhook listener."),
        name: str | None = typer.Option(None, "--name", help="Daemon name in the heartbeat table."),
    ) -> None:
        """Run the sync engine headless until SIGTERM/SIGINT (which drain and exit cleanly); SIGHUP reads the
        configuration file (and the secret files it names) again and, when it is valid, drains and starts
        again with it."""
        import asyncio

        from jira_console.daemon import Daemon

        settings = state.configure_logging().settings
        if not settings.jira:
            fail(no_connections(), EXIT_USAGE)
        if name:
            daemon_cfg = settings.daemon.model_copy(update={"name": name})
            settings = settings.model_copy(update={"daemon": daemon_cfg})
        with friendly_errors():  # building it opens the store: a database URL that cannot be used says so
            daemon = Daemon(settings, listen=False if no_listen else None)
        daemon.reload_check = _reload_check
        with friendly_errors():
            try:
                import uvloop  # faster event loop for the listener and workers, when installed
            except ImportError:
                asyncio.run(daemon.run())
            else:
                uvloop.run(daemon.run())
        if daemon.restart_requested:  # SIGHUP with a valid file: drained; the same command starts again
            from jira_console.reload import restart_in_place

            restart_in_place()


def _reload_check() -> str | None:
    """What stops a restart with the configuration file as it is now (SIGHUP), or None."""
    from jira_console.config import ConfigError, load_config
    from jira_console.housekeeping import api_token

    try:
        loaded = load_config(state.config_path)
        if not loaded.settings.jira:
            return no_connections()
        api_token(loaded.settings)
    except ConfigError as exc:
        return str(exc)
    return None
