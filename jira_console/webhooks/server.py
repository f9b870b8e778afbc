"""Serving an ASGI app (the webhook listener, the operations API) on the running event loop with uvicorn,
behind the connection guard; a port that cannot be bound is said in words, not as uvicorn's exit."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from jira_console.webhooks.guard import ConnectionGuard, ListenerLimits, guarded_protocol


class ListenerStartError(OSError):
    """The server could not start listening (the address is taken, or not this machine's)."""


def _bind_problem(host: str, port: int) -> str:
    """Why ``host:port`` cannot be bound now (the operating system's words), for a server that failed to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        taken = " (another program or daemon listens there: give a free port in the configuration)"
        return (exc.strerror or str(exc)) + (taken if exc.errno == errno.EADDRINUSE else "")
    return "uvicorn could not start it (its log says why)"


class _InLoopServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the host program owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn ends a failed bind with sys.exit(): inside a task, SystemExit would stop the whole event
        # loop (and the daemon with a traceback). An exception of the task instead, saying why.
        try:
            await super().startup(sockets)
        except SystemExit:
            host, port = self.config.host, self.config.port
            raise ListenerStartError(f"{host}:{port}: {_bind_problem(host, port)}") from None


@dataclass
class ListenerServer:
    """A running in-loop uvicorn server."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int
    guard: ConnectionGuard | None = None
    """The connection limits' counts (tests and diagnostics)."""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop accepting, finish in-flight requests (and their commits), wait for the task."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace_seconds)
        except TimeoutError:
            self.server.force_exit = True
            await self.task


async def serve_listener(
    app: Starlette,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    log_level: str = "warning",
    backlog: int = 2048,
    limits: ListenerLimits | None = None,
    what: str = "the webhook listener",
) -> ListenerServer:
    """Start uvicorn as a task of the running event loop (never a second loop) and wait until it listens.

    ``port=0`` picks a free port (see ``.port``). Stop with ``await server.stop()``. ``limits``: the
    connection ceilings (:mod:`jira_console.webhooks.guard`); dropped connections are counted into the app's
    ``/metrics`` when it has them (``app.state.metrics``). ``what`` names the server in the
    :class:`ListenerStartError` raised when it cannot listen.
    """
    limits = limits or ListenerLimits()
    counted = getattr(app.state, "metrics", None)
    guard = ConnectionGuard(
        limits, on_drop=(lambda reason: counted.dropped.labels(reason).inc()) if counted else None
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        log_level=log_level,
        access_log=False,
        backlog=backlog,
        server_header=False,
        date_header=False,
        http=guarded_protocol(guard),
        timeout_keep_alive=max(1, round(limits.keep_alive)),
        # uvicorn's own backstop (503): the guard keeps connections at its cap, but an evicted connection
        # stays in uvicorn's count until the loop reports it lost, so leave room for a burst of evictions.
        limit_concurrency=limits.max_connections * 2,
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    server = _InLoopServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(), name=what)
    while not server.started:
        if task.done():
            error = task.exception() if not task.cancelled() else None
            why = str(error) if isinstance(error, ListenerStartError) else f"{host}:{port}: {error!r}"
            raise ListenerStartError(f"{what} cannot listen on {why}")
        await asyncio.sleep(0.01)
    bound = port
    for srv in server.servers:
        for sock in srv.sockets:
            bound = sock.getsockname()[1]
            break
    return ListenerServer(server=server, task=task, host=host, port=bound, guard=guard)
