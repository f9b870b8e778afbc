"""One rate-limit wait per Jira site across processes (issue 11, item 10), both flavors and both databases:
a ``Retry-After`` one process receives holds every other process using the same store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jira_console.jira.errors import JiraRateLimited
from jira_console.jira.resilience import AdaptiveRateLimiter
from jira_console.store.db import Database
from jira_console.sync.connection import open_connection
from tests.fixtures.simulator import connection_for


@pytest.fixture(params=["cloud", "server"])
async def site(db, db_url, sim_factory, monkeypatch, request) -> AsyncIterator[tuple[Any, Any, Any]]:
    """(simulator, daemon, cli): two processes, each its own database handle (pool) and its own client on
    the same site and account, each having called Jira once."""
    sim = sim_factory(request.param, issues=5)
    cli_db = Database(db_url)
    conn = connection_for(sim, monkeypatch, max_attempts=1)
    daemon = open_connection(db, conn, owner="daemon")
    cli = open_connection(cli_db, conn, owner="cli")
    try:
        await daemon.client.server_info()
        await cli.client.server_info()
        yield sim, daemon, cli
    finally:
        await daemon.client.aclose()
        await cli.client.aclose()
        cli_db.close()


def _after_429(sim, before: int, wait: float) -> None:
    """The one request sent since ``before`` succeeded and went out only once Jira's wait was over."""
    told = max(r["at"] for r in sim.requests if r["status"] == 429)
    [after] = sim.requests[before:]
    assert after["status"] == 200
    assert after["at"] - told >= wait - 0.1
    assert sim.violations == []


async def test_a_retry_after_seen_by_one_process_holds_the_other(site) -> None:
    sim, daemon, cli = site
    sim.faults.set(rate_limit_rate=1.0, retry_after=2.0)
    with pytest.raises(JiraRateLimited):
        await cli.client.myself()  # the CLI is told to wait (and, with one attempt, gives up)
    sim.faults.clear()
    before = len(sim.requests)
    await daemon.client.myself()  # the daemon never saw that 429: the store holds it back
    _after_429(sim, before, 2.0)
    assert daemon.client.api_calls == 2


class HeldLimiter(AdaptiveRateLimiter):
    """A token bucket whose next token comes when the test says so (a slowed bucket, many callers)."""

    def __init__(self) -> None:
        super().__init__(10.0)
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def acquire(self) -> None:
        self.waiting.set()
        await self.release.wait()


async def test_a_retry_after_stored_while_a_request_waits_for_a_token_holds_that_request(site) -> None:
    """The push campaign's early requests: a request read the shared deadline, then waited for a token
    while another process received a 429, then went out without looking again."""
    sim, daemon, cli = site
    held = HeldLimiter()
    cli.client.limiter = held
    waiting = asyncio.ensure_future(cli.client.myself())
    await held.waiting.wait()  # the CLI's request waits for its token
    sim.faults.set(rate_limit_rate=1.0, retry_after=1.0)
    with pytest.raises(JiraRateLimited):
        await daemon.client.myself()  # meanwhile the daemon is told to wait (and stores it)
    sim.faults.clear()
    before = len(sim.requests)
    held.release.set()
    await waiting
    _after_429(sim, before, 1.0)


async def test_connections_to_one_site_share_its_waits_and_its_budget(
    db, db_url, sim_factory, monkeypatch
) -> None:
    """A JQL per team, two connections to one site: Jira's Retry-After is the site's. In the process that
    holds both, their clients share one gate and one token bucket; another process, which holds only the
    second, finds the wait stored under its name too."""
    sim = sim_factory("server", issues=5)
    eng = connection_for(sim, monkeypatch, max_attempts=1, name="eng")
    ops = connection_for(sim, monkeypatch, max_attempts=1, name="ops")
    other_db = Database(db_url)
    first = open_connection(db, eng, site_peers=["ops"])
    second = open_connection(db, ops, site_peers=["eng"], share_with=first.client)
    elsewhere = open_connection(other_db, ops, site_peers=["eng"])
    try:
        assert second.client.limiter is first.client.limiter and second.client.gate is first.client.gate
        await elsewhere.client.server_info()
        sim.faults.set(rate_limit_rate=1.0, retry_after=1.5)
        with pytest.raises(JiraRateLimited):
            await first.client.myself()
        sim.faults.clear()
        assert second.client.gate.remaining() > 1.0  # the same process: the same gate
        before = len(sim.requests)
        await elsewhere.client.myself()  # another process's ops: held by the row stored for it
        _after_429(sim, before, 1.5)
    finally:
        for engine in (first, second, elsewhere):
            await engine.client.aclose()
        other_db.close()


async def test_the_engine_gives_connections_to_one_site_one_budget(db_url, sim_factory, monkeypatch) -> None:
    from jira_console.config import Settings
    from jira_console.facade import Engine

    sim = sim_factory("cloud", issues=5)
    other = sim_factory("cloud", issues=5)
    teams = [connection_for(sim, monkeypatch, name=n, jql=f"project = {n.upper()}") for n in ("eng", "ops")]
    alone = connection_for(other, monkeypatch, name="elsewhere")
    settings = Settings(database={"url": db_url}, jira=[c.model_dump() for c in (*teams, alone)])
    engine = Engine(settings, owner="test-sites")
    await engine.start(attach=False)
    try:
        clients = engine.clients
        assert clients["eng"].limiter is clients["ops"].limiter and clients["eng"].gate is clients["ops"].gate
        assert clients["elsewhere"].gate is not clients["eng"].gate
        assert clients["ops"].shared.site_peers == ("eng",) and clients["elsewhere"].shared.site_peers == ()
    finally:
        await engine.stop()


def test_on_a_server_site_connections_logging_in_as_other_users_keep_their_own_budgets() -> None:
    # Server/DC counts requests in a token bucket per user; Cloud's quotas count the whole site. A bearer
    # token's user is not known from the configuration, nor the flavor left to detection: shared then.
    from jira_console.config import Settings

    def conn(name: str, **values: str) -> dict[str, str]:
        return {"name": name, "url": "https://jira.example.com", "token_env": "T"} | values

    settings = Settings(
        jira=[
            conn("alice", flavor="server", user="alice"),
            conn("alice2", flavor="server", user="Alice"),
            conn("bob", flavor="server", user="bob"),
            conn("pat", flavor="server", auth="bearer"),
            conn("auto", user="carol"),
        ]
    )
    peers = {c.name: settings.site_peers(c) for c in settings.jira}
    assert peers == {
        "alice": ["alice2", "pat", "auto"],
        "alice2": ["alice", "pat", "auto"],
        "bob": ["pat", "auto"],
        "pat": ["alice", "alice2", "bob", "auto"],
        "auto": ["alice", "alice2", "bob", "pat"],
    }
    cloud = Settings(
        jira=[
            {"name": n, "url": "https://acme.atlassian.net", "flavor": "cloud", "user": f"{n}@acme.test"}
            for n in ("one", "two")
        ]
    )
    assert cloud.site_peers(cloud.jira[0]) == ["two"]  # a Cloud site's quota is the site's
