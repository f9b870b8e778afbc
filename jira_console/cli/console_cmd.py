"""The operations console (``jira-console`` with no arguments) and ``jira-console demo``.

This is the only CLI module that imports Textual, and only inside the commands."""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from jira_console.cli.common import EXIT_USAGE, fail, friendly_errors, state


def console_log_file(configured: str | None) -> str:
    """Where the console logs while it owns the terminal (stderr would draw over the screen): the configured
    file, else ``$XDG_STATE_HOME/jira-console/console.log``, created private."""
    import os
    from pathlib import Path

    if configured:
        return configured
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "jira-console"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = base / "console.log"
    path.touch(mode=0o600, exist_ok=True)
    return str(path)


async def _run_console(engine: Any, *, demo: bool = False) -> None:
    from jira_console.tui.app import JiraConsoleApp

    await JiraConsoleApp(engine, demo=demo).run_async()


def open_console() -> None:
    """Open the console on the configured database: attached to a running daemon if one is alive,
    otherwise running the engine in this process."""
    from jira_console import logs
    from jira_console.facade import Engine

    settings = state.config().settings
    logs.configure(settings.logging.level, settings.logging.format, console_log_file(settings.logging.file))
    if not settings.jira:
        fail(
            "no [[jira]] connections configured. Try `jira-console demo`, or write a config "
            "(see config.example.toml) and pass --config PATH",
            EXIT_USAGE,
        )

    async def run() -> None:
        engine = Engine(settings)
        await engine.start()
        try:
            await _run_console(engine)
        finally:
            await engine.stop()

    with friendly_errors():
        asyncio.run(run())


def register(app: typer.Typer) -> None:
    @app.command("console")
    def console() -> None:
        """Open the operations console (the same as running jira-console with no command)."""
        open_console()

    @app.command("demo")
    def demo(
        issues: int = typer.Option(300, "--issues", min=10, max=100_000, help="Issues per simulated site."),
        activity: float = typer.Option(
            0.5, "--activity", min=0.0, help="Background edits per second per site."
        ),
        headless: bool = typer.Option(False, "--headless", help="Run the demo engine without the console."),
        workdir: str | None = typer.Option(
            None, "--workdir", help="Folder for the demo database (default: a temp dir)."
        ),
    ) -> None:
        """Start two simulated Jira sites (Cloud and Server), a temporary database, the daemon machinery
        and the console: every screen live within seconds, no Jira needed."""
        from jira_console import logs
        from jira_console.demo import start_demo

        logs.configure("WARNING", "console", None if headless else console_log_file(None))

        async def run() -> None:
            from pathlib import Path

            rig = await start_demo(
                issues=issues, activity_per_second=activity, workdir=Path(workdir) if workdir else None
            )
            try:
                if headless:
                    typer.echo(f"demo running; database {rig.workdir / 'demo.db'}; Ctrl-C to stop")
                    for name, sim in rig.sims.items():
                        typer.echo(f"  {name}: {sim.url}")
                    await asyncio.Event().wait()
                else:
                    await _run_console(rig.engine, demo=True)
            finally:
                await rig.stop()

        with friendly_errors():
            asyncio.run(run())
