"""Issues created in Jira from the database (``new_issues``), both flavors, SQLite and PostgreSQL: the
fields a create carries, what the push sets after it (status, sprint), refusals said on the request, and a
request that never creates two issues (a crash after the create, an unanswered create)."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from jira_console.jira.errors import JiraUnavailable
from jira_console.store import creations
from jira_console.store import models as m
from jira_console.store.models import utcnow
from jira_console.sync import create as create_step
from jira_console.sync import create_lookup

FLAVORS = ["cloud", "server"]


def _request(rig, fields: dict[str, Any] | str, project: str = "ENG", issue_type: str = "Task") -> int:
    """Insert a request as a host program does, with plain SQL."""
    value = fields if isinstance(fields, str) else json.dumps(fields)
    rig.sql(
        "INSERT INTO new_issues (connection, project_key, issue_type, fields) VALUES (:c, :p, :t, :f)",
        c=rig.engine.conn.name, p=project, t=issue_type, f=value,
    )  # fmt: skip
    return int(rig.sql("SELECT max(id) FROM new_issues").scalar_one())


def _state(rig, request_id: int) -> creations.CreationRecord:
    with rig.db.session() as s:
        found = creations.get_request(s, request_id)
    assert found is not None
    return found


def _sim_keys_with_summary(rig, summary: str) -> list[str]:
    with rig.sim.site.lock:
        return sorted(k for k, i in rig.sim.site.issues.items() if i.summary == summary and i.key == k)


def _noting_failures(call: Any, failures: list[str], rng: Any) -> Any:
    """``call`` whose failures are noted, and whose answer is lost one time in five after Jira acted."""

    async def noted(*args: Any, **kwargs: Any) -> Any:
        try:
            answer = await call(*args, **kwargs)
        except Exception as exc:
            failures.append(type(exc).__name__)
            raise
        if rng.random() < 0.2:
            failures.append("answer lost")
            raise JiraUnavailable(0, "POST", "/issue", ["read timed out"])
        return answer

    return noted


async def _run_killed_after_the_create(rig, monkeypatch) -> None:
    """One sync that dies between Jira's answer to a create and the request's record of it."""

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed between the create and its record")

    with monkeypatch.context() as patched:
        patched.setattr(create_step, "_mark_created", crash)
        with pytest.raises(RuntimeError):
            await rig.engine.run()


def _open_sprint(rig) -> tuple[int, str]:
    with rig.sim.site.lock:
        sprint = next(s for s in rig.sim.site.sprints.values() if s.state in ("active", "future"))
        return sprint.id, sprint.name


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_requested_issue_is_created_with_its_fields_then_its_status_and_sprint(rig_factory, flavor):
    rig = await rig_factory(flavor, issues=20)
    await rig.engine.run(full=True)
    sprint_id, sprint_name = _open_sprint(rig)
    request_id = _request(
        rig,
        {
            "summary": "Created from our database",
            "description": "Steps:\n\n1. open the page\n2. wait",
            "labels": ["backend", "from-db"],
            "priority": "High",
            "story_points": 5,
            "status": "In Progress",
            "sprint_id": sprint_name,  # by its name, as local set takes it
        },
    )

    report = await rig.engine.run()

    assert report.status == "ok", report.errors
    assert (report.created_in_jira, report.creations_refused) == (1, 0)
    request = _state(rig, request_id)
    assert request.state == "created" and request.error is None and request.attempts == 1
    assert request.issue_key is not None and request.issue_key.startswith("ENG-")
    jira = rig.sim.issue(request.issue_key)
    assert str(jira["id"]) == request.jira_id
    assert jira["summary"] == "Created from our database"
    assert sorted(jira["labels"]) == ["backend", "from-db"]
    assert (jira["priority"], jira["story_points"] or jira["classic_story_points"]) == ("High", 5)
    assert jira["status"] == "In Progress" and sprint_id in jira["sprints"]  # written by the push after it
    assert rig.sim.issue_properties(request.issue_key) == {"jira-console": {"request": request.token}}
    local = rig.local(request.issue_key)
    assert (local["summary"], local["status"], local["sprint_id"], local["local_dirty"]) == (
        "Created from our database", "In Progress", sprint_id, False,
    )  # fmt: skip
    assert "open the page" in (local["description"] or "")
    with rig.db.session() as s:
        lines = s.scalars(select(m.AuditLog).where(m.AuditLog.issue_key == request.issue_key)).all()
        created = [a for a in lines if (a.reason or "").startswith("created in Jira")]
        assert len(created) == 1 and created[0].side == "jira" and created[0].run_id == report.run_id
        assert created[0].new["summary"] == "Created from our database"

    again = await rig.engine.run()  # nothing is created twice
    assert again.created_in_jira == 0 and _sim_keys_with_summary(rig, "Created from our database") == [
        request.issue_key
    ]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_refused_requests_say_why_and_hold_up_nothing(rig_factory, flavor):
    rig = await rig_factory(flavor, issues=10)
    await rig.engine.run(full=True)
    no_project = _request(rig, {"summary": "nowhere"}, project="NOPE")
    no_summary = _request(rig, {"labels": ["x"]})
    not_an_object = _request(rig, '["summary"]')
    unknown_field = _request(rig, {"summary": "x", "colour": "red"})
    bad_points = _request(rig, {"summary": "x", "story_points": "many"})
    good = _request(rig, {"summary": "the one that works"})
    calls_before = rig.client.api_calls

    report = await rig.engine.run()

    assert (report.created_in_jira, report.creations_refused) == (1, 5)
    assert _state(rig, good).state == "created"
    ids = (no_project, no_summary, not_an_object, unknown_field, bad_points)
    refused = {rid: _state(rig, rid) for rid in ids}
    assert {r.state for r in refused.values()} == {"failed"}
    assert refused[no_project].error.startswith("Jira refused the creation: ")
    assert "project" in refused[no_project].error.lower()
    assert refused[no_summary].error == "a creation needs summary in fields"
    assert refused[not_an_object].error.startswith("new_issues.fields takes a JSON object")
    assert refused[unknown_field].error.startswith("unknown or pull-only field(s) colour; known: ")
    assert refused[bad_points].error.startswith("story_points: ")
    # Only the two requests that reached the point of sending made a create (plus the new issue's read).
    assert not _sim_keys_with_summary(rig, "nowhere")
    assert rig.client.api_calls > calls_before

    # A host program sets a refused request back to pending once it is fixed: it is then created.
    rig.sql("UPDATE new_issues SET state = 'pending', project_key = 'ENG' WHERE id = :i", i=no_project)
    await rig.engine.run()
    assert _state(rig, no_project).state == "created"
    assert len(_sim_keys_with_summary(rig, "nowhere")) == 1


async def test_story_points_that_are_not_a_finite_number_are_refused_saying_so(rig_factory):
    """PostgreSQL's JSONB keeps 1e999 (SQLite's JSON text NaN too): read as an infinity, the request was
    refused as "story_points holds float values, not float", which says nothing a person can act on."""
    rig = await rig_factory("cloud", issues=10)
    await rig.engine.run(full=True)
    too_large = '{"summary": "x", "story_points": 1e999}'
    if rig.db.dialect == "sqlite":  # read as an infinity; PostgreSQL refuses NaN in JSON text itself
        bad = {
            "Infinity": _request(rig, too_large),
            "NaN": _request(rig, '{"summary": "x", "story_points": NaN}'),
        }
    else:  # kept as a numeric, read back as an integer of a thousand digits
        bad = {"a number beyond ±1.8e308": _request(rig, too_large)}
    good = _request(rig, {"summary": "created", "story_points": 2.5})
    report = await rig.engine.run()
    assert (report.created_in_jira, report.creations_refused) == (1, len(bad))
    assert _state(rig, good).state == "created"
    for name, request_id in bad.items():
        assert (
            _state(rig, request_id).error == f"story_points: story_points takes a finite number, not {name}"
        )


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_crash_after_the_create_adopts_the_issue_instead_of_creating_it_again(
    rig_factory, flavor, monkeypatch
):
    rig = await rig_factory(flavor, issues=10)
    await rig.engine.run(full=True)
    request_id = _request(rig, {"summary": "created once only", "status": "Done"})
    await _run_killed_after_the_create(rig, monkeypatch)
    assert _state(rig, request_id).state == "creating"
    assert len(_sim_keys_with_summary(rig, "created once only")) == 1  # Jira did create it

    report = await rig.engine.run()

    request = _state(rig, request_id)
    assert request.state == "created" and report.created_in_jira == 1
    assert _sim_keys_with_summary(rig, "created once only") == [request.issue_key]
    assert rig.sim.issue(request.issue_key)["status"] == "Done"  # what the create could not set, pushed
    assert rig.local(request.issue_key)["status"] == "Done"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_unanswered_create_is_looked_for_then_sent_again_only_after_the_grace(
    rig_factory, flavor, monkeypatch
):
    rig = await rig_factory(flavor, issues=10)
    await rig.engine.run(full=True)
    request_id = _request(rig, {"summary": "sent when Jira answers"})
    real_create = rig.client.create_issue
    sent: list[dict[str, Any]] = []

    async def unanswered(fields: dict[str, Any], update: Any = None, properties: Any = None) -> Any:
        sent.append(fields)
        raise JiraUnavailable(0, "POST", "/rest/api/2/issue", ["read timed out"])

    monkeypatch.setattr(rig.client, "create_issue", unanswered)
    report = await rig.engine.run()
    assert report.status == "partial" and len(sent) == 1
    first = _state(rig, request_id)
    assert first.state == "creating" and "read timed out" in (first.error or "")

    monkeypatch.setattr(rig.client, "create_issue", real_create)
    await rig.engine.run()  # within the grace: looked for, not found, not sent again
    assert _state(rig, request_id).state == "creating" and not _sim_keys_with_summary(
        rig, "sent when Jira answers"
    )

    old = utcnow() - create_lookup.INDEX_GRACE - timedelta(seconds=1)
    with rig.db.session(write=True) as s:
        s.execute(m.Base.metadata.tables["new_issues"].update().values(attempted_at=old))
    report = await rig.engine.run()
    request = _state(rig, request_id)
    assert request.state == "created" and request.attempts == 2 and report.created_in_jira == 1
    assert request.token == first.token  # the same request, the same token
    assert _sim_keys_with_summary(rig, "sent when Jira answers") == [request.issue_key]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_field_the_create_cannot_set_is_left_out_of_it_and_parked_on_the_new_issue(
    rig_factory, flavor
):
    rig = await rig_factory(flavor, issues=10, out_of_context=(("story_points", "Bug"),))
    await rig.engine.run(full=True)
    request_id = _request(rig, {"summary": "a bug with points", "story_points": 3}, issue_type="Bug")

    report = await rig.engine.run()

    request = _state(rig, request_id)
    assert request.state == "created" and request.attempts == 2  # refused with the points, then without
    assert report.created_in_jira == 1
    jira = rig.sim.issue(request.issue_key)
    assert (jira["summary"], jira["issuetype"], jira["story_points"], jira["classic_story_points"]) == (
        "a bug with points", "Bug", None, None,
    )  # fmt: skip
    local = rig.local(request.issue_key)
    assert local["story_points"] == 3  # kept locally, not silently dropped
    with rig.db.session() as s:
        errors = s.scalars(select(m.FieldError).where(m.FieldError.issue_id == local["id"])).all()
    assert [e.field for e in errors] == ["story_points"]


async def test_settled_requests_go_after_the_retention_open_ones_stay(rig_factory):
    from jira_console.store.outbox import purge_outbox

    rig = await rig_factory("cloud", issues=3)
    kept_open = _request(rig, {"summary": "still pending"})
    settled = [_request(rig, {"summary": f"done {n}"}) for n in range(2)]
    rig.sql("UPDATE new_issues SET state = 'created', done_at = :t WHERE id = :i",
            t=utcnow() - timedelta(days=40), i=settled[0])  # fmt: skip
    rig.sql("UPDATE new_issues SET state = 'failed', done_at = :t WHERE id = :i",
            t=utcnow() - timedelta(days=2), i=settled[1])  # fmt: skip
    assert purge_outbox(rig.db, retention_days=30) == 1
    with rig.db.session() as s:
        left = [r.id for r in creations.list_requests(s)]
    assert left == [settled[1], kept_open]


async def test_two_pushes_taking_the_same_request_at_once_create_one_issue(rig_factory, monkeypatch):
    """Pushes run outside the sync lease (``local set --push`` beside a daemon): both may read the same
    pending request; only the one whose claim moves the attempt count sends it."""
    import asyncio
    import threading

    rig = await rig_factory("cloud", issues=5)
    await rig.engine.run(full=True)
    request_id = _request(rig, {"summary": "wanted once"})
    both_read = threading.Barrier(2, timeout=30)
    real_open = creations.open_requests

    def read_together(*args: Any, **kwargs: Any) -> list[creations.CreationRecord]:
        found = real_open(*args, **kwargs)
        both_read.wait()  # neither goes on before the other has read the same pending request
        return found

    monkeypatch.setattr(creations, "open_requests", read_together)
    first, second = await asyncio.gather(rig.engine.push(), rig.engine.push())

    assert sorted([first.created_in_jira, second.created_in_jira]) == [0, 1]
    request = _state(rig, request_id)
    assert (request.state, request.attempts) == ("created", 1)
    assert _sim_keys_with_summary(rig, "wanted once") == [request.issue_key]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_created_issue_the_index_does_not_show_yet_is_waited_for_not_created_again(
    rig_factory, flavor, monkeypatch
):
    """Jira answered the create, the process died before recording it, and search's index is behind:
    the look-up finds nothing for now, and the request waits instead of sending a second create."""
    rig = await rig_factory(flavor, issues=10)
    await rig.engine.run(full=True)
    request_id = _request(rig, {"summary": "indexed late"})
    rig.sim.faults.set(index_lag_ms=600_000)
    await _run_killed_after_the_create(rig, monkeypatch)

    for _ in range(2):  # not found by its token yet: within the grace, nothing is sent
        report = await rig.engine.run()
        assert report.created_in_jira == 0 and _state(rig, request_id).state == "creating"
    assert len(_sim_keys_with_summary(rig, "indexed late")) == 1

    rig.sim.faults.set(index_lag_ms=0)  # the index caught up
    report = await rig.engine.run()
    request = _state(rig, request_id)
    assert (request.state, request.attempts, report.created_in_jira) == ("created", 1, 1)
    assert _sim_keys_with_summary(rig, "indexed late") == [request.issue_key]


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_an_issue_the_index_hides_past_the_grace_is_read_by_its_key_not_created_again(
    rig_factory, flavor, monkeypatch
):
    """As above, with the index still behind once the grace has passed: before sending again, the keys
    after the newest one known are read one by one (no index delays a read by key), past issues other
    people created meanwhile, and the issue is adopted; on Server the read-back, a search, misses it too."""
    rig = await rig_factory(flavor, issues=10)
    await rig.engine.run(full=True)
    rig.sim.faults.set(index_lag_ms=600_000)
    before = [rig.sim.create_issue("ENG", {"summary": f"someone else's {n}"}) for n in range(2)]
    request_id = _request(rig, {"summary": "hidden long"})
    await _run_killed_after_the_create(rig, monkeypatch)
    after = rig.sim.create_issue("ENG", {"summary": "someone else's, after"})
    old = utcnow() - create_lookup.INDEX_GRACE - timedelta(seconds=1)
    with rig.db.session(write=True) as s:
        s.execute(m.Base.metadata.tables["new_issues"].update().values(attempted_at=old))

    report = await rig.engine.run()

    request = _state(rig, request_id)
    assert (request.state, request.attempts, report.created_in_jira) == ("created", 1, 1)
    assert _sim_keys_with_summary(rig, "hidden long") == [request.issue_key]
    assert int(before[-1].split("-")[1]) < int(request.issue_key.split("-")[1]) < int(after.split("-")[1])
    assert rig.local(request.issue_key)["summary"] == "hidden long"


def _posts(rig, path: str) -> int:
    """POSTs the simulator served on exactly ``path`` (the request log records paths without queries)."""
    return sum(1 for r in rig.sim.requests if r["method"] == "POST" and r["path"] == path)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_many_requests_go_fifty_to_a_bulk_create_and_each_gets_its_own_issue(rig_factory, flavor):
    rig = await rig_factory(flavor, issues=5, out_of_context=(("story_points", "Bug"),))
    await rig.engine.run(full=True)
    api = f"/rest/api/{'3' if flavor == 'cloud' else '2'}/issue"
    ids = [_request(rig, {"summary": f"bulk {n}", "labels": [f"n{n}"]}) for n in range(118)]
    nowhere = _request(rig, {"summary": "nowhere"}, project="NOPE")
    bug = _request(rig, {"summary": "a bug with points", "story_points": 2}, issue_type="Bug")

    report = await rig.engine.run()

    assert (report.created_in_jira, report.creations_refused) == (119, 1), report.errors
    assert _posts(rig, f"{api}/bulk") == 3  # 120 requests: 50 + 50 + 20
    assert _posts(rig, api) == 1  # the bug again, without the points its create screen lacks
    for n, request_id in enumerate(ids):
        request = _state(rig, request_id)
        jira = rig.sim.issue(request.issue_key)
        assert (request.state, jira["summary"], jira["labels"]) == ("created", f"bulk {n}", [f"n{n}"])
        assert rig.sim.issue_properties(request.issue_key) == {"jira-console": {"request": request.token}}
        assert rig.local(request.issue_key)["summary"] == f"bulk {n}"
    refused = _state(rig, nowhere)
    assert refused.state == "failed" and refused.error == (
        "Jira refused the creation: project: Specify a valid project ID or key"
    )
    assert _state(rig, bug).state == "created" and rig.local(_state(rig, bug).issue_key)["story_points"] == 2


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_bulk_create_whose_answer_is_lost_is_found_by_one_search_and_never_sent_again(
    rig_factory, flavor, monkeypatch
):
    rig = await rig_factory(flavor, issues=5)
    await rig.engine.run(full=True)
    ids = [_request(rig, {"summary": f"answer lost {n}"}) for n in range(30)]
    real = rig.client.create_issues

    async def answer_lost(elements: Any) -> Any:
        await real(elements)  # Jira creates them all; the answer never arrives
        raise JiraUnavailable(0, "POST", "/issue/bulk", ["read timed out"])

    monkeypatch.setattr(rig.client, "create_issues", answer_lost)
    report = await rig.engine.run()
    assert report.status == "partial" and report.created_in_jira == 0
    assert {_state(rig, i).state for i in ids} == {"creating"}
    monkeypatch.setattr(rig.client, "create_issues", real)
    searches_before = rig.sim.request_count("/rest/api/")

    report = await rig.engine.run()

    assert report.created_in_jira == 30 and report.status == "ok"
    for n, request_id in enumerate(ids):
        request = _state(rig, request_id)
        assert request.state == "created" and request.attempts == 1
        assert _sim_keys_with_summary(rig, f"answer lost {n}") == [request.issue_key]
    # One look-up for the thirty (a search of the project since the attempt), one read-back, the pull.
    assert rig.sim.request_count("/rest/api/") - searches_before <= 6


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_under_failing_requests_every_request_ends_with_exactly_one_issue(
    rig_factory, flavor, monkeypatch
):
    """A campaign: a third of Jira's answers are 500s or reset connections, and one create answer in five
    is lost after Jira acted, while 30 requests are created run after run with no grace to wait out;
    whatever failed where, each request ends created, with an issue of its own, never two."""
    rig = await rig_factory(
        flavor,
        issues=5,
        conn={"max_attempts": 1, "breaker_failure_threshold": 1000},
    )
    await rig.engine.run(full=True)
    monkeypatch.setattr(create_lookup, "INDEX_GRACE", timedelta(0))
    ids = [
        _request(rig, {"summary": f"campaign {n}", "status": "Done" if n % 3 == 0 else None})
        for n in range(60)
    ]
    failed_creates: list[str] = []
    for name in ("create_issue", "create_issues"):
        call = _noting_failures(getattr(rig.client, name), failed_creates, random.Random(7))
        monkeypatch.setattr(rig.client, name, call)
    rig.sim.faults.set(error_rate=0.3, error_status=500, reset_rate=0.1)
    for _run in range(80):
        try:
            await rig.engine.run()
        except Exception:  # noqa: BLE001 - a run the faults broke: the next one goes on
            pass
        with rig.db.session() as s:
            if not creations.list_requests(s, state="pending") + creations.list_requests(s, state="creating"):
                break
    rig.sim.faults.clear()
    await rig.engine.run()
    assert "answer lost" in failed_creates and set(failed_creates) - {"answer lost"}, failed_creates
    for n, request_id in enumerate(ids):
        request = _state(rig, request_id)
        assert request.state == "created", (n, request)
        assert _sim_keys_with_summary(rig, f"campaign {n}") == [request.issue_key]


async def test_the_run_reports_its_creations_as_they_go_with_the_pulls_figures_kept(rig_factory):
    """The console's progress line and the CLI's bar hear of each batch created, after the pull's last page,
    without the pull's figures (its read count and total) being replaced."""
    from jira_console import events as ev

    rig = await rig_factory("cloud", issues=30)
    await rig.engine.run(full=True)
    for n in range(120):
        _request(rig, {"summary": f"seen created {n}"})
    heard: list[ev.SyncProgressed] = []
    from dataclasses import replace

    rig.engine.emit = lambda event: heard.append(event) if isinstance(event, ev.SyncProgressed) else None
    rig.engine.io = replace(rig.engine.io, emit=rig.engine.emit)

    await rig.engine.run()

    created = [e.created for e in heard if e.created]
    assert created == [50, 100, 120]  # one event a batch, counting up
    pulled = [e for e in heard if not e.created][-1]
    assert all(
        (e.seen, e.total, e.elapsed_ms) == (pulled.seen, pulled.total, pulled.elapsed_ms) for e in heard[-3:]
    )
