"""The fake engine's starting data, built from the real record classes: two connections (one healthy, one
with an open breaker whose syncs have failed for twelve minutes), each with five minutes of activity, three
sync scopes, a conflict queue (with edit times, and people the store knows by name), a dozen issues, two
mappings and ten webhook events over both connections. Every timestamp derives from ``FIXED_NOW`` so
screenshots are stable."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from jira_console.facade import Activity, ConnectionStatus, SyncHealth, SyncStateView
from jira_console.mapping import parse_definition
from jira_console.store.converters import (
    AuditEntry,
    ConflictRecord,
    IssueRecord,
    MappingRecord,
    WebhookEventRecord,
)

FIXED_NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
INJECTION = "[@click=app.quit]x[/]"
STORY_POINTS_FIELD = "customfield_10016"

_FIELDS = ("summary", "story_points", "status", "assignee", "priority")
PEOPLE = {"acct-ana": "Ana Lopez", "acct-bo": "Bo Chen"}
"""People the fake store knows by name (``acct-cy`` it does not)."""


def conflicts(count: int) -> dict[int, ConflictRecord]:
    """Conflicts spread over two connections and five fields, with values of several JSON shapes."""
    out = {}
    for i in range(1, count + 1):
        name = _FIELDS[i % len(_FIELDS)]
        base: Any = {"summary": f"Title {i}", "story_points": i % 13, "status": "To Do"}.get(name, f"v{i}")
        local: Any = f"{base}-local" if isinstance(base, str) else base + 1
        jira: Any = f"{base}-jira" if isinstance(base, str) else {"value": base + 2}
        if name == "assignee":
            base, local, jira = "acct-ana", "acct-bo", "acct-cy"
        out[i] = conflict(
            i,
            connection="cloud" if i % 3 else "dc",
            issue_key=f"{'OPS' if i % 3 else 'DC'}-{i}",
            field=name,
            base=base,
            local=local,
            jira=jira,
            detected_at=FIXED_NOW - timedelta(minutes=count + 1 - i),
            local_edited_at=FIXED_NOW - timedelta(minutes=count + 4 - i),
            jira_edited_at=FIXED_NOW - timedelta(minutes=count + 2 - i - i % 5),
        )
    return out


def conflict(conflict_id: int, *, detected_at: datetime = FIXED_NOW, **values: Any) -> ConflictRecord:
    """An open conflict; ``values`` gives connection, issue_key, field, base, local and jira (and may give
    the two edit times)."""
    values.setdefault("local_edited_at", detected_at - timedelta(minutes=2))
    values.setdefault("jira_edited_at", detected_at - timedelta(minutes=1))
    return ConflictRecord(
        id=conflict_id,
        issue_id=conflict_id,
        detected_at=detected_at,
        status="open",
        resolution=None,
        resolved_value=None,
        resolved_by=None,
        resolved_at=None,
        **values,
    )


def issue(issue_id: int, key: str, jira_fields: dict[str, Any], **values: Any) -> IssueRecord:
    """A stored issue whose raw Jira JSON holds ``jira_fields`` (what mapping previews read)."""
    return IssueRecord(
        id=issue_id,
        connection=values.pop("connection", "cloud"),
        key=key,
        raw={"key": key, "fields": jira_fields},
        jira_updated_ms=1000 * issue_id,
        **values,
    )


def issues() -> list[IssueRecord]:
    out = []
    for i in range(1, 13):
        points = None if i == 7 else (i % 8) + 0.5 * (i % 2)
        jira = {STORY_POINTS_FIELD: points if i != 9 else "lots", "summary": f"Issue {i}"}
        out.append(
            issue(i, f"OPS-{i}", jira, summary=f"Issue {i}", status="In Progress", assignee="ana",
                  sprint_id=4, story_points=points)
        )  # fmt: skip
    return out


def webhook(event_id: int, *, received_at: datetime = FIXED_NOW, **values: Any) -> WebhookEventRecord:
    """A stored delivery; ``values`` gives connection, identifier, event_type, issue_key, status, attempts,
    last_error and payload."""
    done = values["status"] in ("applied", "ignored", "stale")
    return WebhookEventRecord(
        id=event_id,
        content_hash=None,
        event_ts_ms=int(received_at.timestamp() * 1000),
        received_at=received_at,
        headers={},
        next_attempt_at=None,
        claimed_by=None,
        claimed_until=None,
        processed_at=received_at + timedelta(seconds=1) if done else None,
        **values,
    )


def webhooks() -> list[WebhookEventRecord]:
    out = []
    for i in range(1, 11):
        failed, ignored = i in (3, 8), i == 6
        payload = {"webhookEvent": "jira:issue_updated", "issue": {"key": f"OPS-{i}", "fields": {"n": i}}}
        reason = "mapping story-points: expected a number, got 'lots'" if failed else None
        if ignored:
            reason = "event jira:worklog_updated does not change synced fields"
        out.append(
            webhook(
                i,
                received_at=FIXED_NOW - timedelta(seconds=30 * (11 - i)),
                connection="dc" if i % 4 == 0 else "cloud",
                identifier=f"wh-{i:04d}",
                event_type="jira:worklog_updated" if ignored else "jira:issue_updated",
                issue_key=f"OPS-{i}",
                status="failed" if failed else "ignored" if ignored else "applied",
                attempts=2 if failed else 1,
                last_error=reason,
                payload=json.dumps(payload),
            )
        )
    return out


def activity(seed: int, *, failing: bool = False) -> Activity:
    """Five minutes of made-up but plausible traffic (deterministic, so screenshots are stable)."""
    requests = tuple(4 + (seed * 7 + n * 5) % 11 for n in range(30))
    return Activity(
        ends_at=FIXED_NOW.timestamp(),
        requests=requests,
        latency_ms=tuple(
            150.0 + ((seed + n) % 6) * 40 + (2500 if failing and n > 22 else 0) for n in range(30)
        ),
        throttled=tuple(1 if (n + seed) % 9 == 0 else 0 for n in range(30)),
        failed=tuple(r if failing and n > 22 else 0 for n, r in enumerate(requests)),
        webhooks=tuple((n * 3 + seed) % 5 for n in range(30)),
    )


def mapping_record(
    mapping_id: int, definition: dict[str, Any], *, version: int = 1, updated_by: str | None = "lead"
) -> MappingRecord:
    """A stored mapping as the store returns it (the definition validated like every saved one)."""
    defn = parse_definition(definition)
    return MappingRecord(
        id=mapping_id,
        connection=defn.connection,
        name=defn.name,
        jira_field=defn.field_label(),
        internal_field=defn.internal_field,
        direction=defn.direction,
        definition=defn.to_data(),
        enabled=True,
        version=version,
        updated_at=FIXED_NOW,
        updated_by=updated_by,
    )


def mappings() -> list[MappingRecord]:
    points = {
        "name": "story-points",
        "connection": "cloud",
        "jira_field": STORY_POINTS_FIELD,
        "internal_field": "story_points",
        "steps": [{"op": "to_float"}, {"op": "scale", "factor": 1.0}],
        "validate": {"type": "number", "required": True, "max": 20},
    }
    summary = {"name": "summary", "connection": "cloud", "jira_field": "summary", "internal_field": "title"}
    return [mapping_record(1, points), mapping_record(2, summary)]


def connections() -> dict[str, ConnectionStatus]:
    return {
        "cloud": ConnectionStatus(
            name="cloud",
            url="https://acme.atlassian.net",
            auth="api-token",
            flavor="cloud",
            version="1001.0.0-SNAPSHOT",
            ok=True,
            breaker_state="closed",
            last_latency_ms=182.0,
            rate_limit_remaining=940,
            calls_by_status={"200": 1210, "429": 3},
            last_webhook_at=FIXED_NOW - timedelta(seconds=12),
            total_calls=1213,
            auth_state="ok",
            sync=SyncHealth(
                last_status="ok",
                last_finished_at=FIXED_NOW - timedelta(minutes=4),
                last_success_at=FIXED_NOW - timedelta(minutes=4),
            ),
            activity=activity(1),
        ),
        "dc": ConnectionStatus(
            name="dc",
            url="https://jira.acme.internal",
            auth="pat",
            flavor="server",
            version="9.12.4",
            ok=False,
            breaker_state="open",
            opens_in_seconds=42.0,
            last_latency_ms=3012.0,
            calls_by_status={"200": 300, "503": 9},
            recent_errors=["503 Service Unavailable", "timeout after 10s"],
            total_calls=309,
            auth_state="ok",
            sync=SyncHealth(
                last_status="failed",
                last_finished_at=FIXED_NOW - timedelta(minutes=1),
                last_success_at=FIXED_NOW - timedelta(minutes=13),
                failing_since=FIXED_NOW - timedelta(minutes=12),
                failures=11,
                last_error="Jira is unavailable: GET /rest/api/2/search answered 503 Service Unavailable",
                degraded=True,
            ),
            activity=activity(2, failing=True),
        ),
    }


def sync_states() -> dict[tuple[str, str], SyncStateView]:
    """Two scopes of ``cloud`` going well; ``dc``'s failing like its connection (:func:`connections`)."""
    out = {
        (c, s): SyncStateView(
            connection=c,
            scope=s,
            watermark_ms=1741944000000,
            last_started_at=FIXED_NOW - timedelta(minutes=5),
            last_finished_at=FIXED_NOW - timedelta(minutes=4),
            last_status="ok",
            last_error=None,
            counts={"pulled": 12, "pushed": 3, "conflicts": 1},
            duration_ms=5400,
            api_calls=17,
            next_run_at=FIXED_NOW + timedelta(minutes=1),
            running=False,
            last_success_at=FIXED_NOW - timedelta(minutes=4),
        )
        for c, s in (("cloud", "issues"), ("cloud", "sprints"), ("dc", "issues"))
    }
    out["dc", "issues"] = replace(
        out["dc", "issues"],
        last_status="failed",
        last_error="Jira is unavailable: GET /rest/api/2/search answered 503 Service Unavailable",
        last_finished_at=FIXED_NOW - timedelta(minutes=1),
        last_success_at=FIXED_NOW - timedelta(minutes=13),
        failures=11,
        counts={},
    )
    return out


def audit_entry(entry_id: int, *, at: datetime = FIXED_NOW, **values: Any) -> AuditEntry:
    """An audit line; ``values`` gives connection, issue_key, side, field, old, new, reason, actor and the
    cause columns (cause, run_id, event_id, undo_of)."""
    defaults: dict[str, Any] = {"reason": None, "actor": "sync:cloud", "cause": None, "run_id": None}
    return AuditEntry(id=entry_id, at=at, **(defaults | values))


def audit() -> list[AuditEntry]:
    """Oldest first: an import, run 41 pushing four summaries to Jira (one with markup in it) and pulling
    two story points, a webhook's change on the other connection, and an operator's resolution."""
    out = [
        audit_entry(1, at=FIXED_NOW - timedelta(hours=2), connection="cloud", issue_key="OPS-1",
                    side="local", field=None, old=None, new=None, reason="imported from Jira",
                    cause="sync", run_id=40),
    ]  # fmt: skip
    at = FIXED_NOW - timedelta(minutes=20)
    for n in range(1, 5):
        new = INJECTION if n == 3 else f"Bulk rename {n}"
        out.append(
            audit_entry(len(out) + 1, at=at, connection="cloud", issue_key=f"OPS-{n}", side="jira",
                        field="summary", old=f"Original title {n}", new=new, reason="pushed local change",
                        cause="sync", run_id=41)
        )  # fmt: skip
    for n in (5, 6):
        out.append(
            audit_entry(len(out) + 1, at=at, connection="cloud", issue_key=f"OPS-{n}", side="local",
                        field="story_points", old=n, new=n + 3, reason="changed in Jira", cause="sync",
                        run_id=41)
        )  # fmt: skip
    out.append(
        audit_entry(len(out) + 1, at=FIXED_NOW - timedelta(minutes=5), connection="dc", issue_key="DC-7",
                    side="local", field="status", old="To Do", new="In Progress", reason="changed in Jira",
                    cause="webhook", event_id=8, actor="sync:dc")
    )  # fmt: skip
    out.append(
        audit_entry(len(out) + 1, at=FIXED_NOW - timedelta(minutes=1), connection="cloud",
                    issue_key="OPS-2", side="local", field="priority", old="High", new="Low",
                    reason="conflict 3 resolved: take local", cause="operator", actor="operator")
    )  # fmt: skip
    return out
