"""Several daemons on one database: a console attached to one of them shows each connection's health as
all the live daemons report it (the one holding the sync lease makes the calls, the others none)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

from jira_console.activity import Activity
from jira_console.facade import ConnectionStatus
from jira_console.facade.combined import combine, combine_activity
from jira_console.facade.health import _jsonable
from jira_console.health import SyncHealth
from jira_console.store import models as m
from jira_console.store import state as st
from jira_console.tui.widgets.connection_card import ConnectionCard

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _status(name: str, **kw: object) -> ConnectionStatus:
    fields: dict[str, object] = {"reported_by": name, "reported_at": T0, **kw}
    return replace(ConnectionStatus("sim", "http://jira", "basic"), **fields)  # type: ignore[arg-type]


def _window(ends_at: float, requests: list[int], latency: list[float], webhooks: list[int]) -> Activity:
    n = len(requests)
    return Activity(
        bucket_seconds=10, ends_at=ends_at, requests=tuple(requests), latency_ms=tuple(latency),
        throttled=(0,) * n, failed=(0,) * n, webhooks=tuple(webhooks),
    )  # fmt: skip


def test_traffic_is_summed_bucket_by_bucket_aligned_on_the_newest_window() -> None:
    newest = _window(1000.0, [0, 2, 4], [0.0, 10.0, 30.0], [1, 0, 0])
    # Written one bucket earlier: its last bucket is the newest window's middle one.
    older = _window(990.0, [1, 2, 6], [5.0, 40.0, 20.0], [0, 3, 0])
    both = combine_activity([newest, older])
    assert both.ends_at == 1000.0
    assert both.requests == (2, 8, 4)  # older's first bucket fell out of the window
    assert both.webhooks == (4, 0, 0)
    assert both.latency_ms == (40.0, (2 * 10.0 + 6 * 20.0) / 8, 30.0)  # a mean over both daemons' calls


def test_one_report_is_taken_as_it_is_and_an_idle_window_is_not_counted() -> None:
    alone = _status("d1", total_calls=3)
    assert combine([alone]) is alone
    busy = _window(1000.0, [1, 1], [2.0, 2.0], [0, 0])
    assert combine_activity([Activity(), busy]) == busy


def test_the_daemon_that_calls_jira_gives_the_figures_and_the_worst_verdicts_win() -> None:
    attached = _status(
        "d2", auth_state="unknown", activity=_window(1000.0, [0, 0], [0.0, 0.0], [0, 2]),
        recent_errors=["ReadTimeout: no answer"],
    )  # fmt: skip
    worker = _status(
        "d1", flavor="cloud", version="1001", auth_state="ok", last_latency_ms=42.0, rate_limit_remaining=17,
        total_calls=5, calls_by_status={"200": 4, "429": 1},
        activity=_window(1000.0, [3, 2], [40.0, 42.0], [0, 0]), reported_at=T0 - timedelta(seconds=4),
    )  # fmt: skip
    both = combine([attached, worker])
    assert (both.flavor, both.version, both.auth_state) == ("cloud", "1001", "ok")
    assert (both.last_latency_ms, both.rate_limit_remaining) == (42.0, 17)
    assert (both.total_calls, both.calls_by_status) == (5, {"200": 4, "429": 1})
    assert both.activity.requests == (3, 2) and both.activity.webhooks == (0, 2)
    assert both.recent_errors == ["d2: ReadTimeout: no answer"]
    assert both.combined_from == ("d2", "d1") and both.reported_by == "d2"
    assert both.reported_at == T0 - timedelta(seconds=4)
    assert both.verdict == attached.sync.verdict  # the breakers are closed, the credentials work
    card = ConnectionCard(both, T0)
    assert "via daemons d2, d1 reported 4s ago" in card.render_status(T0).plain
    assert (
        "via daemon d1 reported 0s ago"
        in ConnectionCard(worker, T0).render_status(T0 - timedelta(seconds=4)).plain
    )

    opened = combine([attached, replace(worker, breaker_state="open", opens_in_seconds=12.0, ok=False)])
    assert (opened.breaker_state, opened.opens_in_seconds, opened.verdict) == ("open", 12.0, "down")
    refused = combine([replace(attached, auth_state="rejected"), worker])
    assert (refused.auth_state, refused.verdict) == ("rejected", "auth")


async def test_an_attached_console_shows_the_work_of_every_live_daemon(engine_factory) -> None:
    owner, _ = await engine_factory("cloud")
    name = owner.settings.jira[0].name
    sync = SyncHealth(last_status="ok", last_success_at=datetime.now(UTC))

    def report(listener: str | None = None, **kw: object) -> dict[str, object]:
        status = ConnectionStatus(name, owner.settings.jira[0].url, "basic", sync=sync, **kw)  # type: ignore[arg-type]
        return {"connections": [_jsonable(asdict(status))], "listener": listener}

    now = datetime.now(UTC).timestamp()
    with owner.db.session(write=True) as s:
        st.heartbeat(
            s,
            "d-idle",
            status=report("http://h1:8765/hook", auth_state="unknown"),
            started_at=datetime.now(UTC),
        )
        st.heartbeat(
            s, "d-busy", started_at=datetime.now(UTC),
            status=report("http://h2:8765/hook", auth_state="ok", flavor="cloud", total_calls=7,
                          calls_by_status={"200": 7}, last_latency_ms=9.0,
                          activity=_window(now, [3, 4], [8.0, 9.0], [0, 0])),
        )  # fmt: skip
        st.heartbeat(
            s,
            "d-gone",
            status=report("http://h3:8765/hook", auth_state="rejected"),
            started_at=datetime.now(UTC),
        )
    with owner.db.session(write=True) as s:
        s.query(m.Daemon).filter(m.Daemon.name == "d-gone").update(
            {m.Daemon.heartbeat_at: datetime.now(UTC) - timedelta(minutes=5)}
        )
    engine, _ = await engine_factory("cloud", attach=None)
    [status] = engine.connections()
    assert set(status.combined_from) == {"d-idle", "d-busy"}  # the dead one's old report is left out
    assert status.combined_from[0] == status.reported_by == engine.engine_state().daemon
    assert (status.auth_state, status.total_calls, status.last_latency_ms) == ("ok", 7, 9.0)
    assert status.activity.requests == (3, 4)
    assert ConnectionStatus.from_json(json.loads(json.dumps(_jsonable(asdict(status))))) == status
    # Each live daemon listens for webhooks (a load balancer in front): the console names every listener.
    listeners = engine.listener_status().address or ""
    assert sorted(listeners.split(", ")) == ["http://h1:8765/hook", "http://h2:8765/hook"]
    assert listeners.startswith({"d-idle": "http://h1", "d-busy": "http://h2"}[status.reported_by])
