"""Resilience of the Jira client against scripted transports (no simulator needed)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pydantic import SecretStr

from jira_console.config import JiraConnection
from jira_console.jira import BreakerStateChanged, JiraClient
from jira_console.jira.errors import (
    CircuitOpenError,
    JiraNotFound,
    JiraRateLimited,
    JiraUnavailable,
    transport_failure,
)
from jira_console.jira.resilience import AdaptiveRateLimiter, path_template, retry_after_seconds
from tests.waiting import until


def make_conn(**overrides: object) -> JiraConnection:
    base: dict[str, object] = {
        "name": "t",
        "url": "https://jira.example.com",
        "flavor": "server",
        "auth": "bearer",
        "rate_limit_per_second": 1000,
        "backoff_base_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "max_attempts": 5,
        "operation_deadline_seconds": 10,
        "breaker_failure_threshold": 50,
        "breaker_recovery_seconds": 0.3,
    }
    base.update(overrides)
    return JiraConnection(**base)  # type: ignore[arg-type]


def make_client(handler, events: list | None = None, **overrides: object) -> JiraClient:
    return JiraClient(
        make_conn(**overrides),
        token=SecretStr("unit-test-token"),
        transport=httpx.MockTransport(handler),
        on_event=(events.append if events is not None else None),
    )


class Recorder:
    """A scripted handler that records (monotonic time, method, path) of every request it sees."""

    def __init__(self, script):
        self.script = script
        self.seen: list[tuple[float, str, str]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((time.monotonic(), request.method, request.url.path))
        result = self.script(len(self.seen), request)
        if asyncio.iscoroutine(result):
            result = await result
        return result


@pytest.mark.timing
async def test_retry_after_gate_holds_every_concurrent_request() -> None:
    rejected_at: list[float] = []

    def script(n: int, request: httpx.Request) -> httpx.Response:
        if n == 1:
            rejected_at.append(time.monotonic())
            return httpx.Response(429, headers={"Retry-After": "0.4"}, json={"errorMessages": ["slow down"]})
        return httpx.Response(200, json={"ok": n})

    rec = Recorder(script)
    async with make_client(rec) as client:
        first = asyncio.create_task(client.request("GET", "/rest/api/2/myself"))
        await until(lambda: client.health.not_before_in_seconds > 0, "the 429 to set the gate")
        others = [asyncio.create_task(client.request("GET", f"/rest/api/2/issue/ENG-{i}")) for i in range(4)]
        await asyncio.gather(first, *others)
    assert len(rec.seen) == 6
    later = [t for t, _, _ in rec.seen[1:]]
    assert min(later) >= rejected_at[0] + 0.4, "a request went out before Retry-After elapsed"


async def test_retry_after_http_date_and_reset_are_parsed() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "3"}, now) == 3
    assert (
        retry_after_seconds({"Retry-After": format_datetime(now + timedelta(seconds=7), usegmt=True)}, now)
        == 7
    )
    assert retry_after_seconds({"X-RateLimit-Reset": "2025-01-01T12:01Z"}, now) == 60
    assert retry_after_seconds({"Beta-Retry-After": "2"}, now) == 2
    assert retry_after_seconds({}, now) is None


async def test_create_is_not_retried_on_500_or_read_timeout() -> None:
    def script(n: int, request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"errorMessages": ["boom"]})

    rec = Recorder(script)
    async with make_client(rec) as client:
        with pytest.raises(JiraUnavailable):
            await client.create_issue({"summary": "x"})
    assert len(rec.seen) == 1

    def timeout(n: int, request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    rec = Recorder(timeout)
    async with make_client(rec) as client:
        with pytest.raises(JiraUnavailable) as info:
            await client.create_issue({"summary": "x"})
    assert len(rec.seen) == 1
    assert "ReadTimeout" in str(info.value)


async def test_create_is_retried_when_jira_provably_did_not_process_it() -> None:
    def script(n: int, request: httpx.Request) -> httpx.Response:
        if n == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if n == 2:
            return httpx.Response(429, headers={"Retry-After": "0.05"})
        if n == 3:
            return httpx.Response(503, headers={"Retry-After": "0.05"})
        return httpx.Response(201, json={"id": "1", "key": "ENG-1"})

    rec = Recorder(script)
    async with make_client(rec) as client:
        created = await client.create_issue({"summary": "x"})
    assert created["key"] == "ENG-1"
    assert [m for _, m, _ in rec.seen] == ["POST"] * 4


async def test_idempotent_reads_retry_on_5xx_and_resets() -> None:
    def script(n: int, request: httpx.Request) -> httpx.Response:
        if n == 1:
            return httpx.Response(502)
        if n == 2:
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(200, json={"key": "ENG-1", "fields": {}})

    rec = Recorder(script)
    async with make_client(rec) as client:
        issue = await client.get_issue("ENG-1")
        # bulkfetch-style reads are POSTs that may be retried when flagged idempotent
        resp = await client.request("POST", "/rest/api/3/search/jql", json={"jql": "x"}, idempotent=True)
    assert issue["key"] == "ENG-1"
    assert resp.status_code == 200
    assert len(rec.seen) == 4


async def test_backoff_sleeps_are_full_jitter_within_bounds() -> None:
    def script(n: int, request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    rec = Recorder(script)
    client = make_client(rec, max_attempts=8, backoff_base_seconds=0.1, backoff_max_seconds=0.5)
    client._sleep = fake_sleep
    async with client:
        with pytest.raises(JiraUnavailable):
            await client.request("GET", "/rest/api/2/myself")
    assert len(rec.seen) == 8 and len(sleeps) == 7
    for i, s in enumerate(sleeps):
        assert 0 <= s <= min(0.5, 0.1 * 2**i) + 1e-9
    assert len(set(sleeps)) > 1, "jitter should vary the sleeps"


@pytest.mark.timing
async def test_deadline_bounds_the_whole_operation() -> None:
    def script(n: int, request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    rec = Recorder(script)
    client = make_client(
        rec,
        max_attempts=50,
        backoff_base_seconds=0.2,
        backoff_max_seconds=0.2,
        operation_deadline_seconds=0.6,
    )
    async with client:
        with pytest.raises(JiraUnavailable):
            await client.request("GET", "/rest/api/2/myself")
    # The deadline ended the retries, not max_attempts (a wall-clock bound here would be a race on a busy
    # machine; the time it takes is for benchmarks).
    assert 1 <= len(rec.seen) < 50


async def test_retry_after_beyond_deadline_fails_fast_without_early_request() -> None:
    def script(n: int, request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "30"})

    rec = Recorder(script)
    async with make_client(rec, operation_deadline_seconds=1) as client:
        with pytest.raises(JiraRateLimited):
            await client.request("GET", "/rest/api/2/myself")
        # another operation on the same connection respects the same gate and does not send either
        with pytest.raises(JiraRateLimited):
            await client.request("GET", "/rest/api/2/field")
    assert len(rec.seen) == 1


@pytest.mark.timing
async def test_breaker_opens_fails_fast_then_one_probe_closes_it() -> None:
    state = {"healthy": False}
    release_probe = asyncio.Event()

    async def script(n: int, request: httpx.Request) -> httpx.Response:
        if state["healthy"]:
            await release_probe.wait()  # the probe stays in flight until the others have failed fast
            return httpx.Response(200, json={})
        return httpx.Response(500)

    rec = Recorder(script)
    events: list[BreakerStateChanged] = []
    client = make_client(
        rec, events, max_attempts=1, breaker_failure_threshold=3, breaker_recovery_seconds=1.0
    )
    async with client:
        for _ in range(3):
            with pytest.raises(JiraUnavailable):
                await client.request("GET", "/rest/api/2/myself")
        assert client.health.breaker_state == "open"
        with pytest.raises(CircuitOpenError) as info:
            await client.request("GET", "/rest/api/2/myself")
        assert "half-opens in" in str(info.value)
        assert len(rec.seen) == 3  # failed fast, nothing sent
        assert 0 <= (client.health.opens_in_seconds or 0) <= 1.0

        await until(lambda: not client.health.opens_in_seconds, "the recovery time to pass")
        state["healthy"] = True
        calls = [asyncio.ensure_future(client.request("GET", "/rest/api/2/myself")) for _ in range(6)]
        await until(lambda: sum(c.done() for c in calls) == 5, "all but the probe to fail fast")
        release_probe.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
        ok = [r for r in results if isinstance(r, httpx.Response)]
        fast = [r for r in results if isinstance(r, CircuitOpenError)]
        assert len(ok) == 1 and len(fast) == 5
        assert len(rec.seen) == 4  # exactly one probe reached Jira
        assert client.health.breaker_state == "closed"
        await client.request("GET", "/rest/api/2/myself")
    transitions = [(e.old, e.new) for e in events]
    assert transitions == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    assert all(e.connection == "t" for e in events)


@pytest.mark.timing
async def test_failed_probe_reopens_the_breaker() -> None:
    rec = Recorder(lambda n, r: httpx.Response(503))
    events: list[BreakerStateChanged] = []
    client = make_client(
        rec, events, max_attempts=1, breaker_failure_threshold=2, breaker_recovery_seconds=0.2
    )
    async with client:
        for _ in range(2):
            with pytest.raises(JiraUnavailable):
                await client.request("GET", "/rest/api/2/myself")
        await until(lambda: not client.health.opens_in_seconds, "the recovery time to pass")
        with pytest.raises(JiraUnavailable):
            await client.request("GET", "/rest/api/2/myself")  # the probe
        assert client.health.breaker_state == "open"
        with pytest.raises(CircuitOpenError):
            await client.request("GET", "/rest/api/2/myself")
    assert len(rec.seen) == 3
    assert [(e.old, e.new) for e in events][-2:] == [("open", "half-open"), ("half-open", "open")]


async def test_4xx_and_429_do_not_open_the_breaker() -> None:
    def script(n: int, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/myself"):
            return httpx.Response(429, headers={"Retry-After": "0"})
        return httpx.Response(404, json={"errorMessages": ["Issue does not exist"]})

    rec = Recorder(script)
    async with make_client(rec, max_attempts=2, breaker_failure_threshold=2) as client:
        for _ in range(4):
            with pytest.raises(JiraNotFound):
                await client.get_issue("ENG-404")
            with pytest.raises(JiraRateLimited):
                await client.request("GET", "/rest/api/2/myself")
        assert client.health.breaker_state == "closed"
        health = client.health
    assert health.calls_by_status == {404: 4, 429: 8}
    assert health.total_calls == 12 == client.api_calls
    assert {c.path for c in health.recent_calls} == {"/rest/api/2/issue/{key}", "/rest/api/2/myself"}


async def test_limiter_adapts_to_rate_limit_headers() -> None:
    limiter = AdaptiveRateLimiter(20)
    limiter.observe({"X-RateLimit-NearLimit": "true"})
    assert limiter.rate == pytest.approx(10)
    limiter.observe({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "2"})
    assert limiter.rate == pytest.approx(2)
    limiter.observe({"Beta-RateLimit": '"default";r=1;t=10'})
    assert limiter.rate < 2
    slow = limiter.rate
    for _ in range(30):
        limiter.observe({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "90"})
    assert slow < limiter.rate == pytest.approx(20)
    limiter.on_rate_limited()
    assert limiter.rate == pytest.approx(10)


async def test_limiter_spaces_requests() -> None:
    limiter = AdaptiveRateLimiter(20)
    started = time.monotonic()
    for _ in range(30):  # 20 burst tokens, then 10 more at 20/s
        await limiter.acquire()
    assert time.monotonic() - started >= 0.45


def test_path_template_groups_keys_and_ids() -> None:
    assert path_template("/rest/api/3/issue/ENG-12/transitions") == "/rest/api/3/issue/{key}/transitions"
    assert path_template("/rest/agile/1.0/sprint/42/issue") == "/rest/agile/1.0/sprint/{id}/issue"


async def test_an_open_breaker_says_the_failure_that_opened_it() -> None:
    def script(n: int, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed", request=request)

    client = make_client(
        Recorder(script), max_attempts=1, breaker_failure_threshold=2, breaker_recovery_seconds=60.0
    )
    refused = "ConnectError: All connection attempts failed — nothing accepts connections at the URL's host"
    async with client:
        for _ in range(2):
            with pytest.raises(JiraUnavailable) as failed:
                await client.request("GET", "/rest/api/2/serverInfo")
            assert refused in str(failed.value)
        assert client.health.breaker_state == "open"
        with pytest.raises(CircuitOpenError) as info:
            await client.request("GET", "/rest/api/2/serverInfo")
    # What the operator has to fix, not only that the breaker is open (config check printed only that).
    assert info.value.last_failure is not None and info.value.last_failure.startswith(refused)
    assert str(info.value).endswith(f"; the last failure: {info.value.last_failure}")


@pytest.mark.parametrize(
    ("kind", "detail", "says"),
    [
        (
            "ConnectError",
            "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
            "start with http://",
        ),
        ("ConnectError", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "not trusted"),
        ("ConnectError", "[Errno -2] Name or service not known", "host name does not resolve"),
        ("ConnectError", "[Errno 111] Connection refused", "nothing accepts connections"),
        ("ConnectTimeout", "timed out", "got no answer"),
    ],
)
def test_a_request_without_answer_says_what_its_cause_means(kind: str, detail: str, says: str) -> None:
    text = transport_failure(kind, detail)
    assert text.startswith(f"{kind}: {detail} — ") and says in text


def test_a_transport_failure_without_a_known_cause_is_given_as_it_came() -> None:
    assert transport_failure("ReadError", "") == "ReadError: no detail"
    assert transport_failure("RemoteProtocolError", "peer closed") == "RemoteProtocolError: peer closed"
