"""The webhook listener: size limit, signature before parsing, durable de-duplicated storage, health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from jira_console.store import Database
from jira_console.store.outage import DatabaseOutage
from jira_console.webhooks import listener as listener_module
from jira_console.webhooks.listener import create_listener_app, serve_listener
from jira_console.webhooks.processor import EventProcessor
from jira_console.webhooks.server import ListenerStartError
from jira_console.webhooks.signature import sign
from tests.ports import unreachable_postgres
from tests.test_webhook_helpers import (
    PATH,
    PREVIOUS,
    PREVIOUS_ENV,
    SECRET,
    SECRET_ENV,
    FakeApplier,
    issue_event,
    make_settings,
    post,
    rows,
)
from tests.waiting import until, until_sync


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv(PREVIOUS_ENV, PREVIOUS)


@pytest.fixture
async def app_client(db: Database, secrets_env: None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_listener_app(db, make_settings(max_body_bytes=64 * 1024))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://listener") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.listener.batcher.close()


async def test_signed_issue_event_is_stored_with_indexed_columns(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    response = await post(app_client, issue_event("ENG-1", 1_700_000_000_000), identifier="42")
    assert response.status_code == 202
    assert response.json() == {"status": "stored"}
    (row,) = rows(db)
    assert (row.status, row.connection, row.event_type, row.issue_key) == (
        "received",
        "cloud",
        "jira:issue_updated",
        "ENG-1",
    )
    assert row.identifier == "cloud:42"
    assert row.event_ts_ms == 1_700_000_000_000
    assert row.headers["x-atlassian-webhook-identifier"] == "42"
    assert orjson.loads(row.payload)["issue"]["key"] == "ENG-1"


async def test_previous_secret_is_accepted_during_rotation(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    response = await post(app_client, issue_event("ENG-2", 1), secret=PREVIOUS)
    assert response.status_code == 202
    assert len(rows(db)) == 1


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
async def test_bad_signature_is_refused_before_parsing(
    app_client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    parsed: list[bytes] = []

    def spy(body: bytes):  # noqa: ANN202 - stands in for classify()
        parsed.append(body)
        raise AssertionError("the body was parsed before the signature was checked")

    monkeypatch.setattr(listener_module, "classify", spy)
    # Not JSON at all: parsing it would also have failed loudly.
    response = await post(app_client, b"\xff{not json", secret=secret)
    assert response.status_code == 401
    assert parsed == []
    assert rows(db) == []


async def test_required_signature_without_configured_secret_refuses_all(db: Database) -> None:
    app = create_listener_app(db, make_settings(secret_env=None, previous_secret_env=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        assert (await post(client, issue_event("ENG-3", 1), secret=None)).status_code == 401
        assert (await post(client, issue_event("ENG-3", 1), secret="anything")).status_code == 401
    assert rows(db) == []


async def test_unsigned_accepted_when_not_required_and_no_secret(db: Database) -> None:
    settings = make_settings(secret_env=None, previous_secret_env=None, require_signature=False)
    app = create_listener_app(db, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        assert (await post(client, issue_event("ENG-4", 1), secret=None)).status_code == 202
    await app.state.listener.batcher.close()
    assert [r.issue_key for r in rows(db)] == ["ENG-4"]


async def test_over_limit_with_content_length_is_413_unread(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    body = orjson.dumps({"webhookEvent": "jira:issue_updated", "pad": "x" * (70 * 1024)})
    response = await post(app_client, body)
    assert response.status_code == 413
    assert rows(db) == []


async def test_over_limit_streamed_without_length_stops_reading(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    consumed = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(100):
            consumed += 1
            yield b"x" * 8192

    response = await app_client.post(
        PATH, content=chunks(), headers={"X-Hub-Signature": "sha256=" + "0" * 64}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert consumed < 100  # 64 KiB limit / 8 KiB chunks: it stopped at the 9th
    assert rows(db) == []


async def test_a_body_in_several_chunks_is_stored_whole_and_other_methods_are_refused(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    body = orjson.dumps(issue_event("ENG-7", 1_700_000_000_000) | {"pad": "y" * 20_000})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    headers = {"X-Hub-Signature": sign(body, SECRET), "X-Atlassian-Webhook-Identifier": "chunked",
               "X-Atlassian-Webhook-Identifier-Extra": "ignored"}  # fmt: skip
    response = await app_client.post(PATH, content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 202, response.text
    (row,) = rows(db)
    assert row.payload.encode() == body and row.identifier == "cloud:chunked"
    assert set(row.headers) == {"x-atlassian-webhook-identifier", "user-agent"}
    assert (await app_client.get(PATH)).status_code == 405
    assert len(rows(db)) == 1


async def test_same_delivery_three_times_is_one_event_and_one_effect(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    event = issue_event("ENG-5", 1_700_000_000_000)
    answers = [
        (
            await post(app_client, event, identifier="dup-1", headers={"X-Atlassian-Webhook-Retry": str(n)})
        ).json()
        for n in range(3)
    ]
    assert [a["status"] for a in answers] == ["stored", "duplicate", "duplicate"]
    assert len(rows(db)) == 1
    applier = FakeApplier()
    await EventProcessor(db, applier).drain()
    assert applier.effects == 1
    assert applier.calls["ENG-5"] == 1


async def test_without_identifier_dedupe_falls_back_to_content_hash(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    event = issue_event("ENG-6", 5)
    statuses = [(await post(app_client, event)).json()["status"] for _ in range(2)]
    other = (await post(app_client, issue_event("ENG-6", 6))).json()["status"]
    assert statuses == ["stored", "duplicate"] and other == "stored"
    assert len(rows(db)) == 2
    assert all(r.identifier.startswith("cloud:sha256:") for r in rows(db))


async def test_concurrent_duplicates_in_one_batch_store_once(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    event = issue_event("ENG-7", 7)
    answers = await asyncio.gather(*(post(app_client, event, identifier="same") for _ in range(20)))
    assert sorted(a.json()["status"] for a in answers) == ["duplicate"] * 19 + ["stored"]
    assert len(rows(db)) == 1


async def test_out_of_order_deliveries_leave_the_newest_state(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    base = 1_700_000_000_000
    for n in (3, 1, 2):
        await post(app_client, issue_event("ENG-8", base + n * 1000, summary=f"v{n}"), identifier=f"o{n}")
    applier = FakeApplier()
    await EventProcessor(db, applier).drain()
    assert applier.issues[("cloud", "ENG-8")]["fields"]["summary"] == "v3"
    assert [r.status for r in rows(db)] == ["applied", "stale", "stale"]


async def test_malformed_json_is_stored_failed_and_acknowledged(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    response = await post(app_client, b'{"webhookEvent": "jira:issue_updated", ', identifier="bad")
    assert response.status_code == 202
    (row,) = rows(db)
    assert row.status == "failed"
    assert row.last_error.startswith("malformed JSON")
    assert row.payload == '{"webhookEvent": "jira:issue_updated", '


async def test_connection_from_query_and_unknown_name(app_client: httpx.AsyncClient, db: Database) -> None:
    await post(app_client, issue_event("ENG-9", 1), identifier="q1", path=f"{PATH}?connection=server")
    await post(app_client, issue_event("ENG-9", 1), identifier="q1", path=f"{PATH}?connection=nope")
    stored = {r.identifier: r for r in rows(db)}
    assert stored["server:q1"].connection == "server" and stored["server:q1"].status == "received"
    assert stored["nope:q1"].status == "failed" and "unknown connection" in stored["nope:q1"].last_error


async def test_a_delivery_for_an_unknown_connection_is_failed_whatever_its_body(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    """One that would be ignored (no issue, a comment event) or that does not parse is kept as failed too,
    the unknown connection said first: an ignored event is purged, a failed one waits for the operator to
    fix the configuration and retry it."""
    unknown = f"{PATH}?connection=nosuch"
    bodies = {
        "no-issue": {"webhookEvent": "jira:issue_updated", "timestamp": 1},
        "comment": {"webhookEvent": "comment_created", "timestamp": 1},
    }
    for ident, body in bodies.items():
        answer = await post(app_client, body, identifier=ident, path=unknown)
        assert answer.status_code == 202 and "unknown connection 'nosuch'" in answer.json()["note"]
    await post(app_client, b'{"webhookEvent": ', identifier="cut", path=unknown)
    stored = {r.identifier: r for r in rows(db)}
    said = "unknown connection 'nosuch' in ?connection= (not in the configuration); "
    assert sorted(stored) == ["nosuch:comment", "nosuch:cut", "nosuch:no-issue"]
    assert all(r.status == "failed" and r.last_error.startswith(said) for r in stored.values())
    assert stored["nosuch:no-issue"].last_error == said + "jira:issue_updated without an issue"
    assert stored["nosuch:comment"].last_error.startswith(said + "comment events are not processed")
    assert stored["nosuch:cut"].last_error.startswith(said + "malformed JSON")


async def test_connection_named_among_other_query_parameters(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    """Jira may add its own parameters (``user_id``, ``user_key``) to a registered URL; an encoded name is
    decoded, and a repeated ``connection`` counts with its last value, as Starlette reads a query."""
    await post(
        app_client, issue_event("ENG-9", 1), identifier="q2", path=f"{PATH}?user_id=abc&connection=se%72ver"
    )
    await post(
        app_client, issue_event("ENG-9", 1), identifier="q3", path=f"{PATH}?connection=nope&connection=cloud"
    )
    await post(app_client, issue_event("ENG-9", 1), identifier="q4", path=f"{PATH}?connection=&user_id=x")
    stored = {r.identifier: r for r in rows(db)}
    assert stored["server:q2"].connection == "server" and stored["server:q2"].status == "received"
    assert stored["cloud:q3"].connection == "cloud" and stored["cloud:q3"].status == "received"
    assert stored["cloud:q4"].status == "received"  # a blank name: the connection inferred from the links


async def test_a_query_seen_before_names_the_same_connection_and_unknown_names_are_not_remembered(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    handlers = app_client.app.state.listener  # type: ignore[attr-defined]
    for n in range(3):
        await post(app_client, issue_event("ENG-9", n), identifier=f"r{n}", path=f"{PATH}?connection=server")
    for n in range(listener_module._MAX_REMEMBERED_QUERIES + 5):
        await post(app_client, issue_event("ENG-9", n), identifier=f"u{n}", path=f"{PATH}?connection=x{n}")
    stored = {r.identifier: r for r in rows(db)}
    assert [stored[f"server:r{n}"].connection for n in range(3)] == ["server"] * 3
    assert stored["x7:u7"].status == "failed" and "unknown connection 'x7'" in stored["x7:u7"].last_error
    assert handlers._named_by_query == {b"connection=server": "server"}


async def test_answers_built_once_are_not_changed_by_a_middleware_that_edits_headers(
    db: Database, secrets_env: None
) -> None:
    """The common answers are shared between requests; a middleware adding a header to the list in the
    message it passes on (as plain ASGI middleware may) must add it once to each answer, not once more to
    every later one."""
    app = create_listener_app(db, make_settings())

    async def tagging(scope, receive, send):  # type: ignore[no-untyped-def]
        async def tagged(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                message["headers"].append((b"x-tag", b"1"))
            await send(message)

        await app(scope, receive, tagged)

    transport = httpx.ASGITransport(app=tagging)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://listener") as client:
            answers = [await post(client, issue_event("ENG-9", 1), identifier="t1") for _ in range(3)]
    finally:
        await app.state.listener.batcher.close()
    assert [a.json()["status"] for a in answers] == ["stored", "duplicate", "duplicate"]
    assert [a.headers.get_list("x-tag") for a in answers] == [["1"], ["1"], ["1"]]
    assert all(a.status_code == 202 and a.headers["content-type"] == "application/json" for a in answers)


async def test_unknown_host_leaves_connection_null(app_client: httpx.AsyncClient, db: Database) -> None:
    event = issue_event("ENG-10", 1)
    event["issue"]["self"] = "https://elsewhere.example/rest/api/2/issue/1"
    event["user"]["self"] = "https://elsewhere.example/rest/api/2/user?x=1"
    await post(app_client, event, identifier="h1")
    (row,) = rows(db)
    assert row.connection is None and row.identifier == "-:h1"


async def test_acknowledged_event_is_visible_to_a_fresh_database(
    app_client: httpx.AsyncClient, db: Database, db_url: str
) -> None:
    response = await post(app_client, issue_event("ENG-11", 11), identifier="durable")
    assert response.status_code == 202
    fresh = Database(db_url)
    try:
        assert [r.identifier for r in rows(fresh)] == ["cloud:durable"]
    finally:
        fresh.close()


async def test_storage_failure_answers_503_so_jira_retries(sqlite_url: str, secrets_env: None) -> None:
    unmigrated = Database(sqlite_url)  # no webhook_events table: every insert fails
    app = create_listener_app(unmigrated, make_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        response = await post(client, issue_event("ENG-12", 1))
    await app.state.listener.batcher.close()
    unmigrated.close()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


async def test_postgresql_unreachable_answers_503_without_the_password(
    secrets_env: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    password = "pw-" + "q7Zr" * 6
    down = unreachable_postgres(password)
    app = create_listener_app(down, make_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        response = await post(client, issue_event("ENG-13", 1))
        health = await client.get("/healthz")
    await app.state.listener.batcher.close()
    assert (response.status_code, response.headers["retry-after"]) == (503, "5")
    assert health.status_code == 503
    shown = capsys.readouterr()
    logged = shown.out + shown.err + caplog.text  # the console renderer, or the stdlib handlers once set up
    assert "storing a webhook delivery failed" in logged and "Connection refused" in logged
    assert password not in logged + health.text + response.text


async def test_a_daemons_listener_says_an_outage_once_not_at_every_refused_delivery(
    secrets_env: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    password = "pw-" + "k3Vx" * 6
    down = unreachable_postgres(password)
    app = create_listener_app(down, make_settings())
    app.state.listener.outage = outage = DatabaseOutage()  # as the daemon sets it
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        answers = [
            (await post(client, issue_event("ENG-14", n), identifier=f"o{n}")).status_code for n in range(5)
        ]
    await app.state.listener.batcher.close()
    assert answers == [503] * 5 and outage.since is not None
    shown = capsys.readouterr()
    logged = shown.out + shown.err + caplog.text
    assert logged.count("the database is unavailable") == 1 and "storing webhook deliveries" in logged
    assert "storing a webhook delivery failed" not in logged and password not in logged


@pytest.mark.conformance
async def test_every_recorded_payload_is_accepted_and_applied_or_explained(
    app_client: httpx.AsyncClient, db: Database, samples: Path
) -> None:
    files = sorted((samples / "webhooks").rglob("*.json"))
    assert len(files) >= 60
    for path in files:
        response = await post(app_client, path.read_bytes(), identifier=path.name)
        assert response.status_code == 202, path
    applier = FakeApplier()
    await EventProcessor(db, applier).drain()
    stored = rows(db)
    assert len(stored) == len(files)  # two byte-identical files would still differ by identifier
    for row in stored:
        assert row.status in {"applied", "stale", "ignored"}, (row.identifier, row.status, row.last_error)
        if row.status == "ignored":
            assert row.last_error, row.identifier
    by_name = {r.identifier.split(":", 1)[1]: r for r in stored}
    # Several samples are edits of one BUG-15 with equal times: the first applies, the others are stale.
    assert by_name["issue_created.json"].status in {"applied", "stale"}
    assert sum(r.status == "applied" for r in stored) >= 15
    assert by_name["deleted_v2.json"].status in {"applied", "stale"}
    assert "not a Jira webhook payload" in by_name["example_anomalous_payload.json"].last_error
    assert "no webhookEvent" in by_name["change_status_v1.json"].last_error
    assert by_name["comment_created.json"].status == "ignored"
    # String timestamps are not guessed at.
    assert by_name["issue__created.json"].event_ts_ms is None
    assert by_name["issue__created.json"].connection == "server"
    # BUG-15 comes from a self-hosted Jira that is not configured: no connection is guessed.
    assert by_name["deleted_v2.json"].connection is None
    assert (None, "BUG-15") in applier.deleted


async def test_healthz_and_metrics(db: Database, secrets_env: None) -> None:
    registry = CollectorRegistry()
    app = create_listener_app(
        db,
        make_settings(),
        health=lambda: {"cloud": "closed", "server": "open"},
        metrics=registry,
        api_calls=lambda: {("cloud", "200"): 7},
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        await post(client, issue_event("ENG-13", 1), identifier="m1")
        await post(client, issue_event("ENG-13", 1), identifier="m1")
        await post(client, issue_event("ENG-13", 1), secret="bad")
        health = await client.get("/healthz")
        metrics = (await client.get("/metrics")).text
    await app.state.listener.batcher.close()
    assert health.status_code == 200
    body = health.json()
    assert body["database"] == "ok" and body["queue"]["depth"] == 1
    assert body["breakers"] == {"cloud": "closed", "server": "open"}
    assert (
        'jira_webhook_events_received_total{event_type="jira:issue_updated",outcome="stored"} 1.0' in metrics
    )
    assert (
        'jira_webhook_events_received_total{event_type="jira:issue_updated",outcome="duplicate"} 1.0'
        in metrics
    )
    assert 'jira_webhook_deliveries_rejected_total{reason="signature"} 1.0' in metrics
    assert "jira_webhook_queue_depth 1.0" in metrics
    assert 'jira_breaker_state{connection="server",state="open"} 1.0' in metrics
    assert 'jira_api_calls{connection="cloud",status="200"} 7.0' in metrics


async def test_healthz_503_when_database_unreachable(tmp_path: Path, secrets_env: None) -> None:
    broken = Database(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    app = create_listener_app(broken, make_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://l") as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


async def test_end_to_end_real_server_in_the_running_loop(db: Database, secrets_env: None) -> None:
    applier = FakeApplier()
    processor = EventProcessor(db, applier, poll_seconds=0.05)
    app = create_listener_app(db, make_settings(), on_event=processor.wake)
    server = await serve_listener(app, "127.0.0.1", 0)
    processor.start(2)
    try:
        assert server.task.get_loop() is asyncio.get_running_loop()
        async with httpx.AsyncClient(base_url=server.url) as client:
            answers = await asyncio.gather(
                *(post(client, issue_event(f"E2E-{n}", 1_000 + n), identifier=f"e{n}") for n in range(30))
            )
            assert {a.status_code for a in answers} == {202}
            assert (await client.get("/healthz")).status_code == 200
        await until(lambda: len(applier.issues) == 30, "the workers to apply all 30 events")
    finally:
        await processor.stop()
        await server.stop()
    assert server.task.done()
    assert {r.status for r in rows(db)} == {"applied"}


async def test_deliveries_still_being_read_join_the_commit_under_way(db: Database) -> None:
    """The ingest writer lets the loop run a few passes before it cuts a batch, so requests already taken
    in but a step or two short of storing (reading their body, checking the signature) share one commit
    instead of each paying its own; a lone delivery still commits at once."""
    from jira_console.store.models import utcnow
    from jira_console.webhooks.ingest import IngestBatcher

    commits: list[int] = []
    batcher = IngestBatcher(db, on_commit=commits.append)

    def row(n: int) -> dict[str, object]:
        return {"connection": "cloud", "identifier": f"cloud:batch-{n}", "payload": "{}",
                "status": "received", "attempts": 0, "received_at": utcnow(), "headers": {}}  # fmt: skip

    async def delivery(n: int) -> bool:
        for _ in range(n % 3):  # steps of a request before it stores its row
            await asyncio.sleep(0)
        return (await batcher.submit(row(n))).duplicate

    assert await asyncio.gather(*(delivery(n) for n in range(12))) == [False] * 12
    assert commits == [12]
    assert (await batcher.submit(row(99))).id is not None and commits == [12, 1]
    await batcher.close()


async def test_a_sender_gone_mid_commit_loses_no_row_and_fails_no_other(db: Database) -> None:
    """A request cancelled while its row waits for the shared commit (its client hung up) cancels only its
    own wait: its row and the rows committed with it are stored, the others are answered."""
    from jira_console.store.models import utcnow
    from jira_console.webhooks.ingest import IngestBatcher

    batcher = IngestBatcher(db)

    def row(n: int) -> dict[str, object]:
        return {"connection": "cloud", "identifier": f"cloud:gone-{n}", "payload": "{}",
                "status": "received", "attempts": 0, "received_at": utcnow(), "headers": {}}  # fmt: skip

    waits = [asyncio.ensure_future(batcher.submit(row(n))) for n in range(6)]
    await asyncio.sleep(0)  # every row is queued
    waits[2].cancel()
    done = await asyncio.gather(*waits, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert all(not r.duplicate and r.id is not None for i, r in enumerate(done) if i != 2)  # type: ignore[union-attr]
    await batcher.close()
    assert sorted(r.identifier for r in rows(db)) == [f"cloud:gone-{n}" for n in range(6)]


async def test_postgresql_connection_dropped_by_the_server_loses_no_delivery(
    pg_url: str, secrets_env: None
) -> None:
    """On PostgreSQL the listener commits on a connection of its own (psycopg's asyncio one). When the server
    drops it (a restart, a failover, an idle-session timeout), the next delivery is stored on a new one and
    acknowledged; nothing is answered 202 without its row."""
    import psycopg

    db = Database(pg_url)
    db.migrate()
    app = create_listener_app(db, make_settings())
    batcher = app.state.listener.batcher
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://listener") as client:
        assert (await post(client, issue_event("ENG-1", 1), identifier="before")).status_code == 202
        first = batcher._postgres._conn.info.backend_pid
        with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone() == (True,)
            until_sync(
                lambda: (
                    admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (first,)).fetchone()
                    == (0,)
                ),
                "the server to end the listener's connection",
            )
        answer = await post(client, issue_event("ENG-2", 2), identifier="after")
        assert (answer.status_code, answer.json()) == (202, {"status": "stored"})
        assert batcher._postgres._conn.info.backend_pid != first
    await batcher.close()
    assert batcher._postgres._conn is None
    assert sorted(r.identifier for r in rows(db)) == ["cloud:after", "cloud:before"]
    db.engine.dispose()


async def test_a_port_already_taken_is_said_and_the_event_loop_runs_on(
    db: Database, secrets_env: None
) -> None:
    first = await serve_listener(create_listener_app(db, make_settings()), "127.0.0.1", 0)
    second_app = create_listener_app(db, make_settings())
    try:
        # uvicorn ends a failed bind with sys.exit(): in a task that stopped the whole loop, with a traceback.
        with pytest.raises(ListenerStartError) as refused:
            await serve_listener(second_app, "127.0.0.1", first.port, what="the operations API")
        assert str(refused.value).startswith(f"the operations API cannot listen on 127.0.0.1:{first.port}: ")
        assert "another program or daemon listens there" in str(refused.value)
        async with httpx.AsyncClient(base_url=first.url) as client:  # this loop and the first server live on
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await first.stop()
        await second_app.state.listener.batcher.close()
