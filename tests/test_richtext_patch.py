"""Edit-preserving rich-text writes: a local Markdown edit changes only what it changed in Jira's document.

The corpus tests change one word in every paragraph of every document -- generated ones holding every ADF
node and mark type and every wiki construct Markdown cannot hold, and every ADF and wiki document recorded
in ../shared/jira-samples -- and check Jira's document afterwards differs only by that word.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from jira_console.jira.richtext import to_jira, to_local, write_rich_text
from tests.richtext_corpus import (
    ADF_MARKS,
    ADF_NODES,
    MARK,
    ONE_ISSUE_WIKI,
    WIKI_CONSTRUCTS,
    Tally,
    adf_counts,
    doc,
    edit_every_paragraph,
    generated_adf,
    generated_wiki,
    one_issue_adf,
    p,
    sample_documents,
    t,
)


def _report(name: str, tally: Tally) -> None:
    print(  # the figures docs/results.md records (pytest -s shows them)
        f"\n{name}: {tally.documents} documents, {tally.paragraphs} paragraphs, "
        f"{tally.edits} one-word edits, {tally.kept} paragraphs whose words are all inside kept constructs, "
        f"lost {sum(tally.lost.values())}"
    )
    assert not tally.failures, tally.failures[:5]
    assert not tally.lost, tally.lost


def test_the_generated_corpus_holds_every_adf_node_and_mark_type() -> None:
    counts = sum((adf_counts(d) for d in generated_adf()), start=adf_counts(None))
    found = {k for k in counts if not k.startswith("mark:")} | {"text"}
    assert found >= ADF_NODES, ADF_NODES - found
    assert {k[5:] for k in counts if k.startswith("mark:")} >= ADF_MARKS
    wiki = "\n".join(generated_wiki())
    assert all(construct in wiki for construct in WIKI_CONSTRUCTS.values())


def test_one_word_edits_of_generated_adf_change_only_that_word() -> None:
    tally = Tally()
    for document in generated_adf():
        before = copy.deepcopy(document)
        edit_every_paragraph("cloud", document, tally, every_word=True)
        assert document == before  # the previous value is never modified in place
    _report("generated ADF", tally)
    # every paragraph but the two images' alt texts (Markdown cannot edit those) took its edits
    assert tally.documents == 4 and tally.paragraphs >= 30 and tally.kept == 2 and tally.edits >= 130


def test_one_word_edits_of_generated_wiki_change_only_that_word() -> None:
    tally = Tally()
    for wiki in generated_wiki():
        edit_every_paragraph("server", wiki, tally, every_word=True)
    _report("generated wiki", tally)
    assert tally.paragraphs >= 19 and tally.kept == 0 and tally.edits >= 80


@pytest.mark.conformance
def test_one_word_edits_of_every_recorded_document_change_only_that_word(samples: Path) -> None:
    adf, wiki = sample_documents(samples)
    assert len(adf) >= 20 and len(wiki) >= 50
    cloud, server = Tally(), Tally()
    for document in adf:
        edit_every_paragraph("cloud", document, cloud)
    for text in wiki:
        edit_every_paragraph("server", text, server)
    _report("recorded ADF", cloud)
    _report("recorded wiki", server)
    assert cloud.edits >= 20 and server.edits >= 100


# ---- the one-issue example, construct by construct ------------------------------------------------------


def _edit(flavor: str, value: Any, old: str, new: str) -> Any:
    markdown = to_local(flavor, value)  # type: ignore[arg-type]
    assert old in markdown
    written = write_rich_text(flavor, markdown.replace(old, new, 1), value)  # type: ignore[arg-type]
    assert written.kept == []
    return written.value


def test_a_word_changed_inside_a_panel_keeps_the_panel_and_every_other_block_as_it_was() -> None:
    document = one_issue_adf()
    after = _edit("cloud", document, "Second panel warns", "Second panel shouts")
    assert after["content"][0] is document["content"][0]  # untouched blocks are the very same nodes
    assert after["content"][2:] == document["content"][2:]
    assert after["content"][1] == {**document["content"][1], "content": [p(t("Second panel shouts loudly"))]}


@pytest.mark.parametrize(
    ("old", "new", "index"),
    [
        ("Hidden body", "Secret body", 2),
        ("release notes", "release letter", 4),
        ("Friday", "Monday", 5),
        ("currently", "presently", 6),
        ("underlined words", "underlined phrases", 6),
    ],
)
def test_a_word_changed_in_a_construct_keeps_its_frame_state_and_neighbours(
    old: str, new: str, index: int
) -> None:
    document = one_issue_adf()
    after = _edit("cloud", document, old, new)
    assert json.loads(json.dumps(after).replace(new, old)) == document
    changed = [
        k for k, (a, b) in enumerate(zip(after["content"], document["content"], strict=True)) if a != b
    ]
    assert changed == [index]


def test_a_word_changed_inside_an_underlined_run_stays_underlined() -> None:
    after = _edit("cloud", one_issue_adf(), "underlined words", "underlined phrases")
    assert t("underlined phrases", "underline") in after["content"][6]["content"]


def test_preserve_keeps_a_deleted_task_item_and_says_so_markdown_wins_drops_it() -> None:
    document = one_issue_adf()
    markdown = to_local("cloud", document).replace("Write the release notes\n\n", "")
    kept = write_rich_text("cloud", markdown, document)
    assert kept.value == document and kept.kept
    assert "task item 'Write the release notes'" in kept.message()
    wins = write_rich_text("cloud", markdown, document, policy="markdown_wins")
    assert wins.kept == []
    tasks = wins.value["content"][4]["content"]
    assert [item["attrs"]["state"] for item in tasks] == ["TODO"]


def test_preserve_keeps_a_status_whose_text_was_edited() -> None:
    document = one_issue_adf()
    markdown = to_local("cloud", document).replace("IN REVIEW", "IN PROGRESS")
    written = write_rich_text("cloud", markdown, document)
    assert written.value["content"][6] == document["content"][6]
    assert "status 'IN REVIEW'" in written.message()
    wins = write_rich_text("cloud", markdown, document, policy="markdown_wins")
    assert "status" not in json.dumps(wins.value["content"][6])


def test_a_deleted_paragraph_inside_a_panel_is_deleted_and_the_panel_kept() -> None:
    document = doc({"type": "panel", "attrs": {"panelType": "info"}, "content": [p(t("one")), p(t("two"))]})
    written = write_rich_text("cloud", "one", document)
    assert written.kept == []
    assert written.value == doc({"type": "panel", "attrs": {"panelType": "info"}, "content": [p(t("one"))]})
    # all of its text deleted: the frame would go too, so preserve keeps it and says so
    emptied = write_rich_text("cloud", "", document)
    assert emptied.value == document and "panel" in emptied.message()
    assert write_rich_text("cloud", "", document, policy="markdown_wins").value is None


def test_new_blocks_go_where_the_markdown_put_them() -> None:
    panel = {"type": "panel", "attrs": {"panelType": "info"}, "content": [p(t("one")), p(t("two"))]}
    document = doc(p(t("before")), panel, p(t("after")))
    after = write_rich_text("cloud", "before\n\none\n\ninside\n\ntwo\n\nbetween\n\nafter\n\nend", document)
    # between two blocks of the panel: inside it; at its edge: outside (Markdown cannot tell, Jira's frame
    # is not stretched over text that was not in it)
    assert after.value == doc(
        p(t("before")), {**panel, "content": [p(t("one")), p(t("inside")), p(t("two"))]},
        p(t("between")), p(t("after")), p(t("end")),
    )  # fmt: skip


def test_wiki_constructs_are_never_escaped_into_literal_text() -> None:
    markdown = to_local("server", ONE_ISSUE_WIKI)
    after = write_rich_text(
        "server", markdown.replace("Look at", "See at").replace("Tail", "End"), ONE_ISSUE_WIKI
    )
    assert after.kept == []
    expected = ONE_ISSUE_WIKI.replace("Look at", "See at").replace("Tail", "End")
    assert after.value == expected  # every other byte as it was


def test_text_typed_into_the_empty_header_row_of_a_spanning_header_table_reads_back_as_written() -> None:
    # A table whose first row is one spanning header cell shows in Markdown as an empty header row, then that
    # cell as an ordinary row. Typing into the empty header once landed the text in the spanning cell, which
    # still read as an ordinary row: the table came back with its rows shifted (found by the patch property).
    def cell(kind: str, text: str, **attrs: Any) -> dict[str, Any]:
        para: dict[str, Any] = {
            "type": "paragraph",
            "content": [{"type": "text", "text": text}] if text else [],
        }
        return {"type": kind, "attrs": attrs, "content": [para]}

    spanning = cell("tableHeader", "Spanning words", colspan=2, background="#deebff")
    table = {"type": "table", "attrs": {"layout": "wide"}, "content": [
        {"type": "tableRow", "content": [spanning]},
        {"type": "tableRow", "content": [cell("tableCell", "Left words"), cell("tableCell", "Right words")]},
    ]}  # fmt: skip
    previous = {"type": "doc", "version": 1, "content": [table, {"type": "paragraph", "content": [
        {"type": "text", "text": "After the table"}]}]}  # fmt: skip
    shown = to_local("cloud", previous)
    assert shown.startswith("|  |  |\n| --- | --- |\n| Spanning words |  |\n")
    edited = "x" + shown[1:]  # the first "|" typed over: "x  |  |", a header row of two cells
    for policy in ("preserve", "markdown_wins"):
        written = write_rich_text("cloud", edited, previous, policy=policy)
        assert to_local("cloud", written.value).startswith("| x |  |\n| --- | --- |\n| Spanning words |  |\n")
        assert written.value["content"][1] == previous["content"][1]  # the paragraph after it kept as it was


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("underlined words", "underlined phrases"),
        ("red words", "blue words"),
        ("cite here", "cite there"),
        ("First panel body", "Only panel body"),
        ("Second panel info", "Other panel info"),
        ("Hidden body", "Secret body"),
        ("Publish the build", "Publish the binary"),
        ("nested item", "deep item"),
        ("cell one words", "cell uno words"),
        ("made on", "taken on"),
    ],
)
def test_a_wiki_word_change_rewrites_only_its_own_text(old: str, new: str) -> None:
    assert _edit("server", ONE_ISSUE_WIKI, old, new) == ONE_ISSUE_WIKI.replace(old, new, 1)


def test_wiki_preserve_keeps_an_image_whose_text_was_edited() -> None:
    markdown = to_local("server", ONE_ISSUE_WIKI).replace("screenshot.png", "shot.png")
    written = write_rich_text("server", markdown, ONE_ISSUE_WIKI)
    assert written.value == ONE_ISSUE_WIKI and "image '!screenshot.png|thumbnail!'" in written.message()


def test_an_edit_that_would_read_back_as_other_text_is_never_written() -> None:
    # Jira's '{code}' alone is literal text; kept byte for byte beside a new paragraph saying '{code}'
    # (written escaped), it would open a code block the escaped one closes: other text (found by the patch
    # property).
    previous, markdown = "{code}", "{code}\n\n{code}"
    wins = write_rich_text("server", markdown, previous, policy="markdown_wins")
    assert to_local("server", wins.value) == "{code}\n\n{code}" and wins.kept == []
    kept = write_rich_text("server", markdown, previous)
    assert kept.value == previous and kept.kept and "read back as other text" in kept.message()


def test_unchanged_text_is_still_the_previous_value_itself() -> None:
    document = one_issue_adf()
    assert to_jira("cloud", to_local("cloud", document), document) is document
    assert to_jira("server", to_local("server", ONE_ISSUE_WIKI), ONE_ISSUE_WIKI) is ONE_ISSUE_WIKI


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="rich_text_policy"):
        write_rich_text("cloud", "x", None, policy="whatever")  # type: ignore[arg-type]


def test_the_mark_word_never_occurs_in_the_corpus() -> None:
    assert MARK not in json.dumps(generated_adf()) + "".join(generated_wiki())


def test_rich_text_policy_is_set_globally_and_per_connection() -> None:
    from pydantic import ValidationError

    from jira_console.config import Settings

    def conn(name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "url": "https://x.example.com", "user": "u", "token_env": "T", **extra}

    settings = Settings(
        rich_text_policy="markdown_wins", jira=[conn("a"), conn("b", rich_text_policy="preserve")]
    )
    assert [c.rich_text_policy for c in settings.jira] == ["markdown_wins", "preserve"]
    assert Settings(jira=[conn("a")]).jira[0].rich_text_policy == "preserve"
    with pytest.raises(ValidationError, match="rich_text_policy"):
        Settings(jira=[conn("a", rich_text_policy="jira_wins")])
