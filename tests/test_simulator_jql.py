"""The simulator's JQL parser and evaluator: grammar, errors, dates in the user zone at minute precision."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from jira_console.simulator import SimConfig
from jira_console.simulator.jql import And, Clause, Func, JqlError, Or, parse
from jira_console.simulator.jql_eval import date_value
from jira_console.simulator.state import Site

SYD = ZoneInfo("Australia/Sydney")


@pytest.fixture(scope="module")
def site() -> Site:
    return Site(SimConfig(flavor="cloud", issues=300, seed=7))


def keys(site: Site, jql: str) -> list[str]:
    return [i.key for i in site.search(parse(jql))]


def test_parse_precedence_and_order_by() -> None:
    q = parse('project = ENG AND status in ("To Do", Done) OR key = OPS-1 ORDER BY updated ASC, key DESC')
    assert isinstance(q.where, Or)
    assert isinstance(q.where.parts[0], And)
    assert q.where.parts[1] == Clause("key", "=", ("OPS-1",))
    assert q.order_by == (("updated", False), ("key", True))


def test_parse_functions_and_empty() -> None:
    q = parse("sprint in openSprints() AND assignee is EMPTY")
    assert isinstance(q.where, And)
    assert q.where.parts[0] == Clause("sprint", "in", (Func("openSprints"),))
    assert q.where.parts[1] == Clause("assignee", "is", ())


@pytest.mark.parametrize(
    "bad",
    [
        "project = ",
        "project = ENG AND",
        "(project = ENG",
        "project ENG",
        "order updated",
        "project = ENG )",
        "project in ENG",
        "status = Nope",
        "foo = 1",
        "project = NOPE",
        "project = ENG ORDER BY bogus",
        "sprint in mySprints()",
        "updated > 'yesterday-ish'",
        "project = ENG & x",
    ],
)
def test_unknown_syntax_is_an_error(site: Site, bad: str) -> None:
    with pytest.raises(JqlError):
        site.search(parse(bad))


def test_membership_and_boolean_logic(site: Site) -> None:
    all_eng = keys(site, "project = ENG")
    assert all_eng and all(k.startswith("ENG-") for k in all_eng)
    both = keys(site, "project in (ENG, OPS)")
    assert len(both) == 300
    assert set(keys(site, "project = ENG OR project = OPS")) == set(both)
    assert keys(site, "project = ENG AND project = OPS") == []
    assert set(keys(site, "NOT project = ENG")) == set(both) - set(all_eng)
    assert keys(site, "key in (ENG-1, OPS-2) ORDER BY key") == ["ENG-1", "OPS-2"]
    assert keys(site, "issuekey = eng-3") == ["ENG-3"]
    eng3 = site.find("ENG-3")
    assert eng3 is not None
    assert keys(site, f"id in ({eng3.id})") == ["ENG-3"]
    done = keys(site, "status = Done")
    assert done and all(site.issues[k].status == "Done" for k in done)
    assert set(keys(site, 'status in ("To Do", "In Progress")')) == {
        k for k, i in site.issues.items() if i.status in ("To Do", "In Progress")
    }


def test_sprint_clauses(site: Site) -> None:
    open_ids = {s.id for s in site.sprints.values() if s.state in ("active", "future")}
    found = keys(site, "sprint in openSprints()")
    assert found
    assert all(open_ids & set(site.issues[k].sprints) for k in found)
    in_one = keys(site, "sprint = 1")
    assert in_one and all(1 in site.issues[k].sprints for k in in_one)
    backlog = keys(site, "sprint is EMPTY")
    assert all(not site.issues[k].sprints for k in backlog)


def test_order_by_updated_then_key_breaks_ties(site: Site) -> None:
    issues = site.search(parse("project in (ENG, OPS) ORDER BY updated ASC, key ASC"))
    pairs = [(i.updated, i.sort_key) for i in issues]
    assert pairs == sorted(pairs)
    assert len({i.updated for i in issues}) < len(issues), "seeded data must contain updated ties"
    desc = site.search(parse("project = ENG ORDER BY updated DESC"))
    assert [i.updated for i in desc] == sorted((i.updated for i in desc), reverse=True)


def test_date_strings_are_minutes_in_user_zone() -> None:
    expected = int(datetime(2025, 1, 31, 14, 5, tzinfo=SYD).timestamp() * 1000)
    for text in ("2025/01/31 14:05", "2025-01-31 14:05"):
        assert date_value(text, SYD) == expected
    assert date_value("2025/01/31", SYD) == int(datetime(2025, 1, 31, tzinfo=SYD).timestamp() * 1000)
    assert date_value("1738292700123", SYD) == 1738292700123
    # The same wall-clock text means another instant for a user in another zone.
    assert date_value("2025/01/31 14:05", ZoneInfo("UTC")) - expected == 11 * 3600 * 1000


def test_updated_bounds_minute_precision_and_epoch_exact(site: Site) -> None:
    target = site.issues["ENG-5"]
    ms = target.updated
    local = datetime.fromtimestamp(ms / 1000, SYD)
    minute = local.strftime("%Y/%m/%d %H:%M")
    minute_start = int(local.replace(second=0, microsecond=0).timestamp() * 1000)
    # A minute literal covers the issue whose seconds and millis are past the minute start.
    assert "ENG-5" in keys(site, f'updated >= "{minute}"')
    assert ("ENG-5" in keys(site, f'updated <= "{minute}"')) == (ms == minute_start)
    # Epoch milliseconds are exact at both edges.
    assert "ENG-5" in keys(site, f"updated >= {ms} AND updated <= {ms}")
    assert "ENG-5" not in keys(site, f"updated > {ms}")
    assert "ENG-5" not in keys(site, f"updated < {ms}")
    # The bisect-narrowed search equals a brute-force filter.
    lo, hi = ms - 5 * 86_400_000, ms + 5 * 86_400_000
    expected = sorted(k for k, i in site.issues.items() if lo < i.updated <= hi and i.project == "ENG")
    assert sorted(keys(site, f"project = ENG AND updated > {lo} AND updated <= {hi}")) == expected
    created = keys(site, f"created < {ms}")
    assert all(site.issues[k].created < ms for k in created)


def test_utc_user_reads_dates_differently() -> None:
    syd = Site(SimConfig(issues=200, seed=3))
    utc = Site(SimConfig(issues=200, seed=3, user_tz="UTC"))
    jql = 'updated >= "2025/03/01 00:00"'
    assert len(utc.search(parse(jql))) <= len(syd.search(parse(jql)))
    assert len(utc.search(parse(jql))) < len(syd.search(parse('updated >= "2025/02/28 00:00"')))
