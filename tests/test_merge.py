"""The three-way merge: unit cases and hypothesis properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jira_console.sync.merge import STRATEGIES, apply_decisions, decide_field, merge_issue, same

values = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.sampled_from(["a", "b", "c"]),
    st.lists(st.sampled_from("xyz"), max_size=2),
)
FIELDS = ["summary", "status", "points"]


def test_only_jira_changed_pulls() -> None:
    d = decide_field("summary", "old", "old", "new")
    assert (d.action, d.value) == ("pull", "new")


def test_only_local_changed_pushes() -> None:
    d = decide_field("summary", "old", "mine", "old")
    assert (d.action, d.value) == ("push", "mine")


def test_both_same_value_is_no_write_but_rebases() -> None:
    d = decide_field("summary", "old", "same", "same")
    assert d.action == "rebase" and d.value == "same"
    assert decide_field("summary", "same", "same", "same").action == "none"


def test_both_changed_manual_is_conflict_and_keeps_values() -> None:
    d = decide_field("summary", "old", "mine", "theirs")
    assert d.action == "conflict"
    base, local, push = apply_decisions({"summary": "old"}, {"summary": "mine"}, [d])
    assert base == {"summary": "old"} and local == {"summary": "mine"} and push == {}


def test_strategies() -> None:
    assert decide_field("f", 1, 2, 3, strategy="jira_wins").action == "pull"
    assert decide_field("f", 1, 2, 3, strategy="local_wins").action == "push"
    newer_local = decide_field("f", 1, 2, 3, strategy="newest_wins", local_changed_ms=20, jira_updated_ms=10)
    newer_jira = decide_field("f", 1, 2, 3, strategy="newest_wins", local_changed_ms=10, jira_updated_ms=20)
    tie = decide_field("f", 1, 2, 3, strategy="newest_wins", local_changed_ms=10, jira_updated_ms=10)
    assert (newer_local.action, newer_local.value) == ("push", 2)
    assert (newer_jira.action, newer_jira.value) == ("pull", 3)
    assert tie.action == "pull"


def test_numeric_canonical_equality() -> None:
    assert same(3, 3.0) and not same(3, 3.5)
    assert decide_field("points", 3.0, 3, 3.0).action == "none"


def test_first_sight_takes_jira_and_skips_missing_fields() -> None:
    ds = merge_issue(FIELDS, {}, {}, {"summary": "s", "status": "To Do"}, first_sight=True)
    assert {d.field: d.action for d in ds} == {"summary": "pull", "status": "pull"}


def test_conflict_only_where_both_changed() -> None:
    base = {"summary": "s0", "status": "To Do", "points": 1}
    local = {"summary": "s-local", "status": "To Do", "points": 2}
    jira = {"summary": "s-jira", "status": "Done", "points": 1}
    by_field = {d.field: d.action for d in merge_issue(FIELDS, base, local, jira)}
    assert by_field == {"summary": "conflict", "status": "pull", "points": "push"}


@given(
    base=st.fixed_dictionaries({f: values for f in FIELDS}),
    local=st.fixed_dictionaries({f: values for f in FIELDS}),
    jira=st.fixed_dictionaries({f: values for f in FIELDS}),
    strategy=st.sampled_from(STRATEGIES),
    lt=st.integers(0, 100),
    jt=st.integers(0, 100),
)
def test_merge_applied_twice_equals_once(base, local, jira, strategy, lt, jt) -> None:
    kw = {"default_strategy": strategy, "local_changed_ms": lt, "jira_updated_ms": jt}
    first = merge_issue(FIELDS, base, local, jira, **kw)
    new_base, new_local, pushed = apply_decisions(base, local, first)
    new_jira = {**jira, **pushed}
    second = merge_issue(FIELDS, new_base, new_local, new_jira, **kw)
    conflicted = {d.field for d in first if d.action == "conflict"}
    for d in second:
        if d.field in conflicted:
            assert d.action == "conflict"  # still parked, nothing silently overwritten
        else:
            assert d.action == "none", d
    # Nothing written to either side where both sides changed under 'manual'.
    if strategy == "manual":
        for f in conflicted:
            assert new_local[f] == local[f] and new_jira[f] == jira[f]


@given(
    base=st.fixed_dictionaries({f: values for f in FIELDS}),
    local=st.fixed_dictionaries({f: values for f in FIELDS}),
    jira=st.fixed_dictionaries({f: values for f in FIELDS}),
    strategy=st.sampled_from(STRATEGIES),
    order=st.permutations(FIELDS),
)
def test_field_order_does_not_matter(base, local, jira, strategy, order) -> None:
    a = merge_issue(FIELDS, base, local, jira, default_strategy=strategy)
    b = merge_issue(order, base, local, jira, default_strategy=strategy)
    assert sorted(a, key=lambda d: d.field) == sorted(b, key=lambda d: d.field)


@given(base=values, local=values, jira=values, strategy=st.sampled_from(STRATEGIES))
def test_never_loses_an_unconflicted_change(base, local, jira, strategy) -> None:
    d = decide_field("f", base, local, jira, strategy=strategy, local_changed_ms=1, jira_updated_ms=2)
    if not same(local, base) and same(jira, base):
        assert d.action == "push" and same(d.value, local)
    if not same(jira, base) and same(local, base):
        assert d.action == "pull" and same(d.value, jira)
