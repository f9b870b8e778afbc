"""The listener's connection limits (jira_console.webhooks.guard): a slowloris set cannot starve it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from jira_console.store import Database
from jira_console.webhooks.guard import ListenerLimits
from jira_console.webhooks.listener import ListenerServer, create_listener_app, serve_listener
from tests.test_webhook_helpers import PATH, SECRET, SECRET_ENV, issue_event, make_settings, post, rows

CAP = 8
STALL = (
    f"POST {PATH} HTTP/1.1\r\nHost: listener\r\nContent-Type: application/json\r\n"
    'Content-Length: 100000\r\n\r\n{"webhookEvent":'
).encode()


@pytest.fixture
async def server(db: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ListenerServer]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    app = create_listener_app(db, make_settings())
    limits = ListenerLimits(
        max_connections=CAP, max_connections_per_client=CAP // 2, request_timeout=30, max_header_bytes=2048
    )
    running = await serve_listener(app, "127.0.0.1", 0, limits=limits)
    yield running
    await running.stop(grace_seconds=2)


async def _stall(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that announces 100000 bytes of body, sends 16 and stalls."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(STALL)
    await writer.drain()
    return reader, writer


async def _wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_slowloris_set_twice_the_cap_cannot_stop_a_signed_delivery(
    server: ListenerServer, db: Database
) -> None:
    # 2x the connection cap of stalled uploads, from four other addresses (each up to its per-address cap,
    # then more: the excess is refused), all still open when the real delivery comes.
    stalled = [await _stall(server.port, f"127.0.0.{2 + n % 4}") for n in range(2 * CAP)]
    guard = server.guard
    assert guard is not None
    await _wait_until(lambda: len(guard.open) == CAP, "the listener to fill up to its cap")
    async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(1.0)) as client:
        # The timeout is the bound: the answer must come within one second while the set stalls.
        answer = await post(client, issue_event("SLOW-1", 1_000), identifier="real-1")
    assert answer.status_code == 202
    assert [r.issue_key for r in rows(db)] == ["SLOW-1"]
    assert guard.dropped["evicted"] >= 1  # the real delivery took a stalled connection's slot
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        metrics = (await client.get("/metrics")).text
    assert 'jira_listener_connections_dropped_total{reason="evicted"}' in metrics
    for _, writer in stalled:
        writer.close()


async def test_per_client_cap_refuses_the_excess_of_one_address(server: ListenerServer) -> None:
    held = [await _stall(server.port, "127.0.0.9") for _ in range(CAP // 2)]
    guard = server.guard
    assert guard is not None
    await _wait_until(lambda: guard.per_client["127.0.0.9"] == CAP // 2, "the address's connections")
    reader, writer = await _stall(server.port, "127.0.0.9")
    assert await reader.read() == b""  # closed at once, without an answer
    assert guard.dropped["per_client"] == 1
    assert guard.per_client["127.0.0.9"] == CAP // 2
    for _, w in (*held, (reader, writer)):
        w.close()


async def test_a_stalled_upload_is_dropped_at_the_read_deadline_and_counted(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    app = create_listener_app(db, make_settings())
    server = await serve_listener(app, "127.0.0.1", 0, limits=ListenerLimits(request_timeout=0.3))
    try:
        reader, writer = await _stall(server.port, "127.0.0.1")
        assert await asyncio.wait_for(reader.read(), timeout=20) == b""
        writer.close()
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            metrics = (await client.get("/metrics")).text
        assert 'jira_listener_connections_dropped_total{reason="slow"} 1.0' in metrics
        assert rows(db) == []
    finally:
        await server.stop(grace_seconds=2)


async def test_oversized_headers_close_the_connection(server: ListenerServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: l\r\nX-Pad: {'a' * 4096}".encode())
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), timeout=20) == b""
    assert server.guard is not None and server.guard.dropped["headers_too_large"] == 1
    writer.close()


async def test_a_keep_alive_client_keeps_working_within_the_limits(server: ListenerServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        for n in range(3 * CAP):  # one connection reused, and never counted as dropped
            assert (
                await post(client, issue_event(f"KA-{n}", 1_000 + n), identifier=f"ka{n}")
            ).status_code == 202
    assert server.guard is not None and sum(server.guard.dropped.values()) == 0
