"""The configured JQL cannot escape the sync's time bound: refused at load when unbalanced, always wrapped."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jira_console.config import ConfigError, load_config
from jira_console.sync.jql import bounded_jql, jql_problem, scope_filter


def _config(tmp_path: Path, jql: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[[jira]]\nname = "a"\nurl = "https://a.example"\nuser = "u"\njql = {jql!r}\n'.replace("'", "'''")
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("jql", "why"),
    [
        ("project = A) OR (project = B", "closes no '('"),
        ("(project = A", "unclosed '('"),
        ('summary ~ "open', 'unclosed " quote'),
        ("(project = A ORDER BY key)", "ORDER BY inside parentheses"),
        ("project = A ORDER BY key ORDER BY id", "more than one ORDER BY"),
    ],
)
def test_a_jql_that_could_escape_its_bound_is_refused_at_load(tmp_path: Path, jql: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, jql))
    message = str(caught.value)
    assert "jira.0.jql" in message and why in message
    assert "\n" not in message


def test_a_sound_jql_loads_and_is_wrapped_whole(tmp_path: Path) -> None:
    jql = 'project in (ENG, OPS) AND summary ~ "order by (x" order by updated'
    loaded = load_config(_config(tmp_path, jql))
    assert loaded.settings.jira[0].jql == jql
    assert scope_filter(jql) == 'project in (ENG, OPS) AND summary ~ "order by (x"'
    assert bounded_jql(jql, 5_000_000_000_000) == (
        '(project in (ENG, OPS) AND summary ~ "order by (x") AND updated >= 5000000000000 '
        "ORDER BY updated ASC, key ASC"
    )


def _group_end(text: str) -> int:
    """Index of the ')' that closes the '(' at index 0, read with JQL's quoting."""
    depth, quote, i = 0, None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(["(", ")", '"', "'", "\\", " ", "a = 1", " OR ", " order by ", "x"]), max_size=12
    )
)
def test_every_accepted_scope_is_one_group_before_the_bound(parts: list[str]) -> None:
    jql = "".join(parts)
    if jql_problem(jql) is not None or not scope_filter(jql):
        return
    sent = bounded_jql(jql, 0)
    end = _group_end(sent)
    assert sent.startswith("(") and sent[end + 1 :].startswith(" AND updated >= "), sent
