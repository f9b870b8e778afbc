"""``jira-console simulate``: run the built-in Jira simulator in the foreground."""

from __future__ import annotations

import threading

import typer

from jira_console.cli.safe_text import echo


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate")
    def simulate(
        flavor: str = typer.Option("cloud", "--flavor", help="cloud (REST v3) or server (REST v2)."),
        port: int = typer.Option(8089, "--port", help="TCP port (0 picks a free one)."),
        issues: int = typer.Option(500, "--issues", min=0, help="Number of seeded issues."),
        seed: int = typer.Option(1, "--seed", help="Seed of the generated data."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    ) -> None:
        """Serve a simulated Jira site until interrupted, printing its URL and credentials."""
        if flavor not in ("cloud", "server"):
            echo(f"error: --flavor must be cloud or server, got {flavor!r}", err=True)
            raise typer.Exit(2)
        from jira_console.simulator import SimConfig, Simulator

        sim = Simulator(SimConfig(flavor=flavor, issues=issues, seed=seed, host=host, port=port))  # type: ignore[arg-type]
        try:
            sim.serve()
        except OSError as exc:
            echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from None
        user, token = sim.credentials["basic"]
        echo(f"Jira simulator ({flavor}) at {sim.url}")
        echo(f"  basic auth: {user} / {token}")
        echo(f"  bearer token: {sim.credentials['bearer']}")
        projects = ", ".join(sim.site.projects)
        echo(f"  {issues} issues in projects {projects} (JQL: project in ({projects})), seed {seed}")
        echo(f"  fault control at {sim.url}/_sim/faults. Ctrl-C stops.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            sim.stop()
