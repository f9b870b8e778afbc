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
        """Run the sync engine headless until SIGTERM/SIGINT (which drain and exit cleanly)."""
        import asyncio

        from jira_console.daemon import Daemon

        settings = state.configure_logging().settings
        if not settings.jira:
            fail(no_connections(), EXIT_USAGE)
        if name:
            daemon_cfg = settings.daemon.model_copy(update={"name": name})
            settings = settings.model_copy(update={"daemon": daemon_cfg})
        main = Daemon(settings, listen=False if no_listen else None).run()
        with friendly_errors():
            try:
                import uvloop  # faster event loop for the listener and workers, when installed
            except ImportError:
                asyncio.run(main)
            else:
                uvloop.run(main)
