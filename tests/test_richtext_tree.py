"""The intermediate rich-text tree: what readers keep of their source (the ground edit-preserving writes
stand on), equality by content, and the writers' handling of carried nodes."""

from __future__ import annotations

from typing import Any

from jira_console.jira.richtext import adf_to_markdown, markdown_to_adf, markdown_to_wiki, wiki_to_markdown
from jira_console.jira.richtext.adf_read import read_adf
from jira_console.jira.richtext.adf_write import write_adf
from jira_console.jira.richtext.md_parse import parse_markdown
from jira_console.jira.richtext.md_write import render_markdown
from jira_console.jira.richtext.tree import (
    EM,
    STRONG,
    Break,
    Foreign,
    ForeignInline,
    Heading,
    Link,
    ListBlock,
    Paragraph,
    Table,
    Text,
    flat_text,
    merge_text,
    plain_text,
)
from jira_console.jira.richtext.wiki_parse import parse_wiki
from jira_console.jira.richtext.wiki_write import render_wiki


def t(text: str, *marks: str) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = [{"type": m} for m in marks]
    return node


def p(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def d(*content: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "type": "doc", "content": list(content)}


PANEL = {"type": "panel", "attrs": {"panelType": "info"}, "content": [p(t("panel words"))]}
STATUS = {"type": "status", "attrs": {"text": "IN REVIEW", "color": "blue", "localId": "s1"}}
DATE = {"type": "date", "attrs": {"timestamp": "1700000000000"}}
MEDIA = {
    "type": "mediaSingle",
    "attrs": {"layout": "center"},
    "content": [
        {"type": "media", "attrs": {"id": "abc", "type": "file", "collection": "c", "alt": "pic.png"}}
    ],
}
TASKS = {
    "type": "taskList",
    "attrs": {"localId": "l1"},
    "content": [
        {"type": "taskItem", "attrs": {"localId": "i1", "state": "DONE"}, "content": [t("ship it")]},
        {"type": "taskItem", "attrs": {"localId": "i2", "state": "TODO"}, "content": [t("tell them")]},
    ],
}
RICH = d(
    {"type": "heading", "attrs": {"level": 2}, "content": [t("Plan")]},
    PANEL,
    p(t("state "), STATUS, t(" since "), DATE, t(" "), t("underlined", "underline")),
    MEDIA,
    TASKS,
)


def test_every_adf_block_keeps_its_source_node() -> None:
    blocks = read_adf(RICH)
    assert [b.source for b in blocks] == RICH["content"]
    assert all(b.source is node for b, node in zip(blocks, RICH["content"], strict=True))
    inline = blocks[2]
    assert isinstance(inline, Paragraph)
    assert [n.source for n in inline.content] == RICH["content"][2]["content"]


def test_what_markdown_cannot_draw_is_carried_and_shown_as_its_words() -> None:
    heading, panel, para, media, tasks = read_adf(RICH)
    assert isinstance(heading, Heading)
    assert isinstance(panel, Foreign) and panel.kind == "panel"
    assert panel.blocks == [Paragraph([Text("panel words")])]
    assert isinstance(para, Paragraph)
    status, date = para.content[1], para.content[3]
    assert isinstance(status, ForeignInline) and (status.kind, status.text) == ("status", "IN REVIEW")
    assert isinstance(date, ForeignInline) and date.text == "2023-11-14"
    assert para.content[5] == Text("underlined")  # the underline mark rides on the source node
    assert para.content[5].source == t("underlined", "underline")
    assert isinstance(media, Foreign) and plain_text(media) == "pic.png"
    assert isinstance(tasks, Foreign) and plain_text(tasks) == "ship it\ntell them"
    assert adf_to_markdown(RICH).split("\n\n") == [
        "## Plan",
        "panel words",
        "state IN REVIEW since 2023-11-14 underlined",
        "pic.png",
        "ship it",
        "tell them",
    ]


def test_adf_written_back_from_its_tree_is_the_same_document() -> None:
    written = write_adf(read_adf(RICH))
    assert written == RICH
    assert written is not None
    # carried nodes are put back as the very objects that were read, not rebuilt
    assert (
        written["content"][1] is PANEL and written["content"][3] is MEDIA and written["content"][4] is TASKS
    )
    assert written["content"][2]["content"][1] is STATUS


def test_equality_is_content_only() -> None:
    from_jira = read_adf(d(p(t("bold", "strong"), t(" and "), t("it", "em"))))
    from_markdown = parse_markdown("**bold** and _it_")
    from_wiki = parse_wiki("*bold* and _it_")
    assert from_jira == from_markdown == from_wiki
    assert from_jira[0].source is not None and from_markdown[0].source is None
    assert from_jira != parse_markdown("**bold** and _its_")


def test_wiki_panels_are_carried_with_their_macro_text() -> None:
    wiki = "before\n\n{panel:title=Heads up|borderStyle=dashed}\ninside *words*\n{panel}\n\nafter"
    before, panel, after = parse_wiki(wiki)
    assert isinstance(panel, Foreign) and panel.kind == "panel"
    assert panel.source == "{panel:title=Heads up|borderStyle=dashed}\ninside *words*\n{panel}"
    assert panel.blocks == [
        Paragraph([Text("Heads up")]),
        Paragraph([Text("inside "), Text("words", {STRONG})]),
    ]
    assert wiki_to_markdown(wiki) == "before\n\nHeads up\n\ninside **words**\n\nafter"


def test_carried_blocks_take_part_in_list_separation() -> None:
    # a list inside a panel followed by a list outside: in Markdown they must stay two lists
    bullet = {"type": "bulletList", "content": [{"type": "listItem", "content": [p(t("x"))]}]}
    document = d({"type": "panel", "attrs": {}, "content": [bullet]}, bullet)
    markdown = adf_to_markdown(document)
    assert markdown == "- x\n\n* x"
    assert markdown_to_adf(markdown) == d(bullet, bullet)


def test_table_cells_keep_the_words_of_blocks_they_cannot_hold() -> None:
    items = [{"type": "listItem", "content": [p(t(word))]} for word in ("one", "two")]
    cell = {
        "type": "tableCell",
        "attrs": {},
        "content": [p(t("a")), {"type": "bulletList", "content": items}],
    }
    document = d({"type": "table", "content": [{"type": "tableRow", "content": [cell]}]})
    markdown = adf_to_markdown(document)
    assert markdown == "|  |\n| --- |\n| a<br>one<br>two |"
    assert markdown_to_wiki(markdown) == "|a\\\\one\\\\two|"
    table = parse_markdown(markdown)[0]
    assert isinstance(table, Table) and len(table.rows) == 1  # the placeholder header is dropped
    assert plain_text(table) == "a\none\ntwo"


def test_wiki_writer_renders_carried_blocks_as_their_content() -> None:
    assert render_wiki(read_adf(d(PANEL, MEDIA))) == "panel words\n\npic.png"


def test_merge_text_joins_equal_runs_only() -> None:
    link = Link("http://x")
    merged = merge_text(
        [Text("a"), Text("b"), Text("", {EM}), Text("c", {EM}), Break(), Text("d", link=link)]
    )
    assert merged == [Text("ab"), Text("c", {EM}), Break(), Text("d", link=link)]


def test_flat_text_needs_no_recursion() -> None:
    node: Any = Paragraph([Text("deep")])
    for _ in range(5000):
        node = Foreign("panel", [Paragraph([Text("x")]), ListBlock(False, []), node])
    assert flat_text([node]) == "x\n" * 5000 + "deep"
    assert render_markdown([Paragraph([Text("a"), Break(), Text("b")])]) == "a\\\nb"
