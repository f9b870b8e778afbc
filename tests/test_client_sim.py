"""The client against the built-in simulator (real HTTP on loopback), both flavors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from jira_console.config import JiraConnection
from jira_console.jira import JiraClient
from jira_console.jira.errors import CircuitOpenError, JiraError, JiraUnavailable
from tests.waiting import until

sim_mod = pytest.importorskip("jira_console.simulator")
Simulator, SimConfig, FIELD_IDS = sim_mod.Simulator, sim_mod.SimConfig, sim_mod.FIELD_IDS


@pytest.fixture(params=["cloud", "server"])
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def serve(flavor: str, **cfg: object) -> Iterator:
    sim = Simulator(SimConfig(flavor=flavor, **cfg))  # type: ignore[arg-type]
    return sim.serve()


def client_for(sim, *, auth: str = "basic", url: str | None = None, token: str | None = None, **kw: object):
    user, secret = sim.credentials["basic"]
    settings: dict[str, object] = {
        "name": "sim",
        "url": url or sim.url,
        "auth": auth,
        "user": user if auth == "basic" else None,
        "rate_limit_per_second": 200,
        "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.2,
    }
    settings.update(kw)
    chosen = token or (secret if auth == "basic" else sim.credentials["bearer"])
    return JiraClient(JiraConnection(**settings), token=SecretStr(chosen))  # type: ignore[arg-type]


async def test_paging_with_clamped_pages_sees_every_issue_once(flavor: str) -> None:
    with serve(flavor, issues=57, max_page_size=7) as sim:
        async with client_for(sim) as client:
            keys: list[str] = []
            sizes = set()
            async for page in client.search_pages(
                "project in (ENG, OPS) ORDER BY updated ASC, key ASC",
                fields=["summary", "updated"],
                page_size=50,
            ):
                keys += [i["key"] for i in page.issues]
                sizes.add(page.max_results)
            assert client.flavor == flavor
        assert len(keys) == len(set(keys)) == 57
        assert max(sizes) == 7
        assert sim.violations == []


async def test_epoch_millisecond_bounds(flavor: str) -> None:
    with serve(flavor, issues=30) as sim:
        async with client_for(sim) as client:
            future = int((time.time() + 86400 * 365) * 1000)
            none = [
                i
                async for p in client.search_pages(f"updated >= {future}", fields=["updated"])
                for i in p.issues
            ]
            every = [
                i
                async for p in client.search_pages("updated >= 946684800000", fields=["updated"])
                for i in p.issues
            ]
        assert none == [] and len(every) == 30
        assert sim.violations == []


@pytest.mark.parametrize("auth", ["basic", "bearer"])
async def test_auth_kinds(flavor: str, auth: str) -> None:
    with serve(flavor, issues=5) as sim:
        url = f"{sim.url}/ex/jira/sim-cloud-id" if (flavor == "cloud" and auth == "bearer") else None
        async with client_for(sim, auth=auth, url=url) as client:
            me = await client.myself()
            info = await client.server_info()
        assert info.flavor == flavor
        assert ("accountId" in me) if flavor == "cloud" else ("name" in me)


async def test_wrong_token_is_an_auth_error_without_the_token(flavor: str) -> None:
    with serve(flavor, issues=5) as sim:
        async with client_for(sim, token="definitely-wrong-secret") as client:
            with pytest.raises(JiraError) as info:
                await client.myself()
        assert info.value.status == 401
        assert "definitely-wrong-secret" not in str(info.value) + repr(info.value)


async def test_fields_transitions_and_sprints(flavor: str) -> None:
    with serve(flavor, issues=20) as sim:
        async with client_for(sim) as client:
            roles = await client.discover_fields()
            for role in ("story_points", "sprint"):
                assert roles[role] == FIELD_IDS[flavor][role]
            page = await anext(client.search_pages('status = "To Do"', fields=["status"]))
            key = page.issues[0]["key"]
            assert await client.transition_to(key, "Done")
            assert (await client.get_issue(key, fields=["status"]))["fields"]["status"]["name"] == "Done"
            boards = await client.boards()
            assert boards
            open_sprints = [
                s for b in boards for s in await client.sprints(b.id, states=["active", "future"])
            ]
            assert open_sprints
            target = open_sprints[0]
            keys = [
                i["key"]
                async for p in client.search_pages("project = ENG", fields=["summary"])
                for i in p.issues
            ]
            await client.move_to_sprint(target.id, keys[:3])
            got = await client.bulk_fetch(keys[:3], [roles["sprint"]])
            assert len(got) == 3
            await client.move_to_backlog(keys[:3])
        assert sim.violations == []


async def test_retry_after_honoured_with_no_early_retry(flavor: str) -> None:
    with serve(flavor, issues=10) as sim:
        async with client_for(sim, max_attempts=10, operation_deadline_seconds=30) as client:
            sim.faults.set(rate_limit_rate=0.5, retry_after=1.0)
            # Sequential on purpose: requests already in flight when a 429 is sent cannot know about it, and
            # the simulator would count them as early. Concurrent callers are covered in test_resilience.
            results = [await client.myself() for _ in range(8)]
            sim.faults.clear()
        assert len(results) == 8
        assert sim.request_count(method="GET") > 8  # some were rate limited and retried
        assert [v for v in sim.violations if v["kind"] == "early_retry"] == []


@pytest.mark.timing
async def test_outage_opens_breaker_then_one_probe_closes_it(flavor: str) -> None:
    events: list = []
    with serve(flavor, issues=5) as sim:
        client = client_for(
            sim, max_attempts=1, breaker_failure_threshold=3, breaker_recovery_seconds=0.5, flavor=flavor
        )
        client.on_event = events.append
        client.breaker._on_event = events.append
        async with client:
            sim.faults.set(outage=True)
            for _ in range(3):
                with pytest.raises(JiraUnavailable):
                    await client.myself()
            sent = sim.request_count()
            with pytest.raises(CircuitOpenError):
                await client.myself()
            assert sim.request_count() == sent
            sim.faults.set(outage=False)
            await until(lambda: not client.health.opens_in_seconds, "the breaker to admit a probe")
            results = await asyncio.gather(*(client.myself() for _ in range(5)), return_exceptions=True)
            assert sim.request_count() == sent + 1  # exactly one probe
            assert sum(isinstance(r, dict) for r in results) == 1
            assert client.health.breaker_state == "closed"
    assert [(e.old, e.new) for e in events] == [
        ("closed", "open"),
        ("open", "half-open"),
        ("half-open", "closed"),
    ]


async def test_create_not_retried_blindly(flavor: str) -> None:
    with serve(flavor, issues=5) as sim:
        async with client_for(sim, max_attempts=5) as client:
            await client.server_info()
            sim.faults.set(error_rate=1.0, error_status=500)
            project_field = {"key": "ENG"}
            with pytest.raises(JiraUnavailable):
                await client.create_issue(
                    {"project": project_field, "summary": "x", "issuetype": {"name": "Task"}}
                )
            sim.faults.clear()
        assert sim.request_count(method="POST") == 1


async def test_canary_token_stays_out_of_logs_and_errors(
    flavor: str, canary_token: str, caplog, capsys
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(flavor, issues=5) as sim:
        conn_kw = {"token_env": "JIRA_TEST_TOKEN"}
        user, _ = sim.credentials["basic"]
        conn = JiraConnection(
            name="canary",
            url=sim.url,
            auth="basic",
            user=user,
            max_attempts=2,
            backoff_base_seconds=0.01,
            **conn_kw,
        )
        client = JiraClient(conn)  # token from the environment: the canary (wrong for the simulator)
        async with client:
            with pytest.raises(JiraError) as info:
                await client.myself()
            sim.faults.set(error_rate=1.0)
            with pytest.raises(JiraError) as info2:
                await client.request("GET", "/rest/api/2/field")
    blobs = [
        str(info.value),
        repr(info.value),
        str(info2.value),
        repr(client),
        repr(client.health),
        caplog.text,
    ]
    out = capsys.readouterr()
    blobs += [out.out, out.err]
    assert all(canary_token not in b for b in blobs)
