"""One connection's health as several daemons sharing the database report it.

Daemons on one PostgreSQL database split the work: one of them holds a connection's sync lease at a time,
and a load balancer hands each webhook delivery to any of them. Each heartbeat carries only its own
client's view, so the view of the daemon a console happens to be attached to can show no calls and
credentials "not checked yet" while another daemon syncs the connection every minute. The console shows
them combined instead:

* traffic (requests, throttled and failed calls, webhooks, per bucket of the activity window) and call
  counts are summed; a bucket's latency is the mean over every daemon's calls in it;
* the latency and the rate budget are those of the daemon that called Jira last;
* the breaker, the client's verdict and the credentials are the worst any daemon reports (a breaker open
  in one daemon is a fault an operator must see, even while another still gets through);
* the flavor and version are the first any daemon learnt; recent errors are each daemon's, named;
* the report's time is the oldest of the heartbeats combined, so stale figures are never shown as fresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jira_console.activity import Activity
from jira_console.facade.views import ConnectionStatus

_BREAKER_RANK = {"closed": 0, "half-open": 1, "open": 2}
_AUTH_RANK = {"unknown": 0, "ok": 1, "no token": 2, "rejected": 3, "blocked": 4}
MAX_ERRORS = 5
"""Recent errors kept from all the daemons together (the card shows the last two)."""


def combine(reports: Sequence[ConnectionStatus]) -> ConnectionStatus:
    """The reports of one connection by several daemons as one (see the module docstring); the first
    report (the attached daemon's) gives what cannot be combined (the sync's health, read from the shared
    database by each)."""
    if not reports:
        raise ValueError("no report to combine")
    first = reports[0]
    if len(reports) == 1:
        return first
    latest = max(reports, key=_last_call_at)
    breaker = max(reports, key=lambda r: _BREAKER_RANK.get(r.breaker_state, 2))
    auth = max(reports, key=lambda r: _AUTH_RANK.get(r.auth_state, 0))
    calls: dict[str, int] = {}
    for r in reports:
        for code, n in r.calls_by_status.items():
            calls[code] = calls.get(code, 0) + n
    errors = [f"{r.reported_by}: {e}" if r.reported_by else e for r in reports for e in r.recent_errors]
    times = [r.reported_at for r in reports]
    return replace(
        first,
        flavor=next((r.flavor for r in reports if r.flavor), None),
        version=next((r.version for r in reports if r.version), None),
        ok=all(r.ok for r in reports),
        breaker_state=breaker.breaker_state,
        opens_in_seconds=breaker.opens_in_seconds,
        last_latency_ms=latest.last_latency_ms,
        rate_limit_remaining=latest.rate_limit_remaining,
        calls_by_status=calls,
        total_calls=sum(r.total_calls for r in reports),
        recent_errors=errors[-MAX_ERRORS:],
        auth_state=auth.auth_state,
        auth_note=auth.auth_note,
        activity=combine_activity([r.activity for r in reports]),
        combined_from=tuple(r.reported_by for r in reports if r.reported_by),
        reported_at=None if any(t is None for t in times) else min(t for t in times if t is not None),
    )


def _last_call_at(report: ConnectionStatus) -> tuple[float, int]:
    """When the report's daemon last called Jira, as far as its activity window tells (the end of the
    newest bucket with a call; -1 when none has one), then how many calls it made in all."""
    a = report.activity
    last = -1.0
    if a.ends_at is not None:
        n = len(a.requests)
        for i in range(n - 1, -1, -1):
            if a.requests[i]:
                last = a.ends_at - (n - 1 - i) * a.bucket_seconds
                break
    return last, report.total_calls


def combine_activity(windows: Sequence[Activity]) -> Activity:
    """Several daemons' activity windows as one: bucket by bucket, aligned on the newest window's end
    (a heartbeat written a bucket earlier is shifted by one); windows of another bucket width, or with no
    end, are left out."""
    dated = [a for a in windows if a.ends_at is not None and (a.requests or a.webhooks)]
    if not dated:
        return windows[0]
    newest = max(dated, key=lambda a: a.ends_at or 0.0)
    width = newest.bucket_seconds
    size = max(len(a.requests or a.webhooks) for a in dated if a.bucket_seconds == width)
    requests, throttled, failed, webhooks = [0] * size, [0] * size, [0] * size, [0] * size
    latency_total = [0.0] * size
    for a in dated:
        if a.bucket_seconds != width:
            continue
        shift = round(((newest.ends_at or 0.0) - (a.ends_at or 0.0)) / width)
        length = len(a.requests or a.webhooks)
        for i in range(length):
            at = size - length + i - shift
            if not 0 <= at < size:
                continue
            n = _count(a.requests, i)
            requests[at] += n
            latency_total[at] += (a.latency_ms[i] if i < len(a.latency_ms) else 0.0) * n
            throttled[at] += _count(a.throttled, i)
            failed[at] += _count(a.failed, i)
            webhooks[at] += _count(a.webhooks, i)
    latency = [total / n if n else 0.0 for total, n in zip(latency_total, requests, strict=True)]
    return Activity(
        bucket_seconds=width, ends_at=newest.ends_at, requests=tuple(requests), latency_ms=tuple(latency),
        throttled=tuple(throttled), failed=tuple(failed), webhooks=tuple(webhooks),
    )  # fmt: skip


def _count(series: Sequence[int], i: int) -> int:
    return series[i] if i < len(series) else 0
