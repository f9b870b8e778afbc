"""The operations console (``jira-console`` with no arguments) and ``jira-console demo``.

This is the only CLI module that imports Textual, and only inside the commands."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from jira_console.cli.common import EXIT_USAGE, fail, friendly_errors, no_connections, state
from jira_console.cli.safe_text import echo

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Iterator

    from jira_console.facade import ConsoleEngine


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


async def _run_console(engine: ConsoleEngine, *, demo: bool = False) -> None:
    """Run the Textual console on ``engine`` until the operator quits."""
    from jira_console.tui.app import JiraConsoleApp, spare_the_collector

    app = JiraConsoleApp(engine, demo=demo)
    spare_the_collector()
    await app.run_async()


def open_console() -> None:
    """Open the console on the configured database: attached to a running daemon if one is alive,
    otherwise running the engine in this process."""
    import asyncio

    from jira_console import logs
    from jira_console.facade import Engine

    settings = state.config().settings
    logs.configure(settings.logging.level, settings.logging.format, console_log_file(settings.logging.file))
    if not settings.jira:
        fail(no_connections(), EXIT_USAGE)

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
            0.5,
            "--activity",
            min=0.0,
            help="Background edits per second per site by Jira's users (0 also stops the team's program, "
            "which sets an issue's priority in the database every 15 s).",
        ),
        headless: bool = typer.Option(False, "--headless", help="Run the demo engine without the console."),
        workdir: str | None = typer.Option(
            None, "--workdir", help="Folder for the demo database (default: a temp dir)."
        ),
        keep: bool = typer.Option(
            False, "--keep", help="Keep the temporary folder when the demo ends (--workdir is always kept)."
        ),
    ) -> None:
        """Start two simulated Jira sites (Cloud and Server), a temporary database, the daemon machinery
        and the console: every screen live within seconds, no Jira needed. Its temporary folder is removed
        when it ends, unless --keep."""
        import asyncio

        from jira_console import logs
        from jira_console.demo import start_demo

        logs.configure("WARNING", "console", None if headless else console_log_file(None))

        folders: list[Path] = [Path(workdir)] if workdir else []

        async def run() -> None:
            with contextlib.ExitStack() as signals:
                # From the start: a stop asked for while the sites and the engine start is kept, and the
                # demo stops as soon as it has started (nothing half-started is left behind).
                stopped = signals.enter_context(_stop_signals())
                echo("starting the demo: two simulated Jira sites, a database, the engine", err=True)
                rig = await start_demo(
                    issues=issues,
                    activity_per_second=activity,
                    workdir=Path(workdir) if workdir else None,
                    host_edit_seconds=15.0 if activity > 0 else 0.0,
                )
                folders[:] = [rig.workdir]
                echo(f"demo files in {rig.workdir} (database demo.db)", err=True)
                try:
                    if stopped.is_set():
                        return
                    if headless:
                        echo(f"demo running; database {rig.workdir / 'demo.db'}; Ctrl-C to stop")
                        for name, sim in rig.sims.items():
                            echo(f"  {name}: {sim.url}")
                        await stopped.wait()
                    else:
                        signals.close()  # the console reads Ctrl-C as a key; signals are Python's again
                        await _run_console(rig.engine, demo=True)
                finally:
                    await rig.stop()

        try:
            with friendly_errors():
                asyncio.run(run())
        finally:
            _clean_up(folders[0] if folders else None, created=workdir is None, keep=keep)


@contextlib.contextmanager
def _stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (the demo then stops cleanly: its daemon
    records its stop, its files are removed).

    Installed on the loop, not left to Python's KeyboardInterrupt: a process started in the background by a
    shell (``demo --headless &``, nohup, a test runner launched so) inherits SIGINT as ignored, and Python
    then never turns Ctrl-C into an interrupt, so the demo would not stop at all; SIGTERM would end it with
    no clean-up."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def _clean_up(folder: Path | None, *, created: bool, keep: bool) -> None:
    """Remove the temporary folder the demo made (unless --keep); a folder given with --workdir is the
    operator's and stays. Either way, say where the files are or were."""
    import shutil

    if folder is None or not folder.exists():
        return
    if keep or not created:
        echo(f"demo files kept in {folder}", err=True)
        return
    shutil.rmtree(folder, ignore_errors=True)
    echo(f"demo files removed from {folder}", err=True)
