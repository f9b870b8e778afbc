"""Properties of edit-preserving rich-text writes on generated documents and edits.

Whatever the previous Jira value and whatever the new Markdown, a patched write never raises and reads
back as exactly what the Markdown says (Markdown -> Jira -> Markdown is stable, as for a write from
scratch), unless the ``preserve`` policy kept something -- and then it says so."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jira_console.jira.richtext import canonical_markdown, to_local, write_rich_text
from tests.richtext_corpus import ONE_ISSUE_WIKI, generated_adf, generated_wiki
from tests.test_richtext_properties import WIKI_TOKENS, documents_with_carried_nodes, md_doc

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EDIT_WORDS = [
    "new",
    "words",
    "- item",
    "> quoted",
    "**bold**",
    "# Title",
    "| a | b |\n| --- | --- |\n| c | d |",
]


@st.composite
def edited(draw: st.DrawFn, markdown: str) -> str:
    """``markdown`` with a few of its paragraphs deleted, duplicated, changed or added."""
    chunks = markdown.split("\n\n") if markdown else []
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["delete", "duplicate", "change", "add", "swap"]))
        at = draw(st.integers(0, max(0, len(chunks) - 1)))
        if action == "add" or not chunks:
            chunks.insert(draw(st.integers(0, len(chunks))), draw(st.sampled_from(EDIT_WORDS)))
        elif action == "delete":
            del chunks[at]
        elif action == "duplicate":
            chunks.insert(at, chunks[at])
        elif action == "swap" and at + 1 < len(chunks):
            chunks[at], chunks[at + 1] = chunks[at + 1], chunks[at]
        else:
            text = chunks[at]
            cut = draw(st.integers(0, len(text)))
            chunks[at] = text[:cut] + draw(st.sampled_from(["x", " y ", "", "zz"])) + text[cut + 1 :]
    return "\n\n".join(chunks)


@st.composite
def adf_and_edit(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    document = draw(st.one_of(documents_with_carried_nodes(), st.sampled_from(generated_adf())))
    base = to_local("cloud", document)
    return document, draw(st.one_of(edited(base), md_doc()))


@st.composite
def wiki_and_edit(draw: st.DrawFn) -> tuple[str, str]:
    wiki = draw(st.one_of(
        st.lists(st.sampled_from([*WIKI_TOKENS, "!a.png!", "(y)", "[ENG-1]", "+u+"]), max_size=30).map(
            "".join
        ),
        st.sampled_from([ONE_ISSUE_WIKI, *generated_wiki()]),
    ))  # fmt: skip
    base = to_local("server", wiki)
    return wiki, draw(st.one_of(edited(base), md_doc(wiki=True)))


def _check(flavor: str, previous: Any, markdown: str) -> None:
    wins = write_rich_text(flavor, markdown, previous, policy="markdown_wins")  # type: ignore[arg-type]
    assert wins.kept == []
    assert to_local(flavor, wins.value) == canonical_markdown(flavor, markdown)  # type: ignore[arg-type]
    kept = write_rich_text(flavor, markdown, previous)  # type: ignore[arg-type]
    if not kept.kept:
        assert kept.value == wins.value


@SETTINGS
@given(adf_and_edit())
def test_a_patched_adf_write_says_what_the_markdown_says(case: tuple[dict[str, Any], str]) -> None:
    _check("cloud", *case)


@SETTINGS
@given(wiki_and_edit())
def test_a_patched_wiki_write_says_what_the_markdown_says(case: tuple[str, str]) -> None:
    _check("server", *case)
