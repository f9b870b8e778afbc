"""Rich-text documents for the edit-preserving write tests: generated ones covering every ADF node and mark
type and every wiki construct Markdown cannot hold, and the recorded ones in ../shared/jira-samples; plus the
one-word-edit procedure and the structural comparison the tests and ``bench/richtext_patch_corpus.py`` use."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jira_console.jira.richtext import to_local, write_rich_text
from jira_console.jira.richtext.md_parse import parse_markdown
from jira_console.jira.richtext.tree import Foreign, ForeignInline, flat_text
from jira_console.jira.richtext.wiki_parse import parse_wiki
from jira_console.jira.richtext.wiki_tokens import Wrap

#: Every node and mark type of the ADF schema Jira Cloud accepts (the OpenAPI spec itself only shows doc,
#: paragraph and text in its examples).
ADF_NODES = frozenset({
    "doc", "paragraph", "text", "heading", "bulletList", "orderedList", "listItem", "codeBlock", "blockquote",
    "rule", "table", "tableRow", "tableHeader", "tableCell", "panel", "expand", "nestedExpand", "mediaSingle",
    "mediaGroup", "media", "mediaInline", "taskList", "taskItem", "decisionList", "decisionItem", "hardBreak",
    "mention", "emoji", "inlineCard", "blockCard", "embedCard", "status", "date", "placeholder",
    "layoutSection", "layoutColumn", "extension", "bodiedExtension", "inlineExtension",
})  # fmt: skip
ADF_MARKS = frozenset({
    "strong", "em", "strike", "code", "link", "underline", "textColor", "backgroundColor", "subsup",
    "alignment", "indentation", "breakout", "border", "annotation", "dataConsumer", "fragment",
})  # fmt: skip
#: The wiki constructs an edit must never escape into literal text.
WIKI_CONSTRUCTS = {
    "image": "!screenshot.png|thumbnail!", "attachment": "[^report.pdf]", "issue link": "[ENG-12]",
    "anchor": "{anchor:top}", "anchor link": "[#top]", "mention": "[~jsmith]", "emoticon": "(y)",
    "panel": "{panel:title=Heads up}", "info": "{info}", "color": "{color:red}", "underline": "+u",
    "sup": "^sup", "cite": "??cite", "sub": "~sub", "macro": "{expand:title=", "status macro": "{status:",
}  # fmt: skip


def t(text: str, *marks: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = [m if isinstance(m, dict) else {"type": m} for m in marks]
    return node


def p(*inlines: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(inlines), **extra}


def doc(*blocks: Any) -> dict[str, Any]:
    return {"version": 1, "type": "doc", "content": list(blocks)}


def _task(state: str, *inlines: Any) -> dict[str, Any]:
    return {"type": "taskItem", "attrs": {"localId": f"t-{state}-{len(inlines)}", "state": state},
            "content": list(inlines)}  # fmt: skip


def _media(media_id: str, **attrs: Any) -> dict[str, Any]:
    return {"type": "media", "attrs": {"id": media_id, "type": "file", "collection": "c", **attrs}}


def one_issue_adf() -> dict[str, Any]:
    """The issue's example: two panels, an expand, an image, a task list, a decision list, a card, a status
    and a date (and an underlined run)."""
    return doc(
        {"type": "panel", "attrs": {"panelType": "info"}, "content": [p(t("First panel keeps its words"))]},
        {"type": "panel", "attrs": {"panelType": "warning"}, "content": [p(t("Second panel warns loudly"))]},
        {"type": "expand", "attrs": {"title": "More details"},
         "content": [p(t("Hidden body of the expand"))]},
        {"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [_media("img-1", alt="diagram")]},
        {"type": "taskList", "attrs": {"localId": "tl"}, "content": [
            _task("DONE", t("Write the release notes")), _task("TODO", t("Publish the build"))]},
        {"type": "decisionList", "attrs": {"localId": "dl"}, "content": [
            {"type": "decisionItem", "attrs": {"localId": "d1", "state": "DECIDED"},
             "content": [t("We ship on Friday")]}]},
        p(t("Tracked in "), {"type": "inlineCard", "attrs": {"url": "https://example.net/browse/ENG-1"}},
          t(" currently "), {"type": "status", "attrs": {"text": "IN REVIEW", "color": "blue"}},
          t(" since "), {"type": "date", "attrs": {"timestamp": "1700000000000"}},
          t(" with "), t("underlined words", "underline"), t(" at the end")),
    )  # fmt: skip


def generated_adf() -> list[dict[str, Any]]:
    """Documents that between them hold every type in :data:`ADF_NODES` and :data:`ADF_MARKS`."""
    inline_rich = p(
        t("Plain words "),
        t("strong words", "strong"),
        t(" then "),
        t("emphasis", "em"),
        t(" and "),
        t("struck", "strike"),
        t(" plus "),
        t("code", "code"),
        t(" a "),
        t("link text", {"type": "link", "attrs": {"href": "https://example.com"}}),
        t(" then "),
        t("under", "underline"),
        t(" "),
        t("coloured", {"type": "textColor", "attrs": {"color": "#ff0000"}}),
        t(" "),
        t("shaded", {"type": "backgroundColor", "attrs": {"color": "#ffff00"}}),
        t(" H"),
        t("2", {"type": "subsup", "attrs": {"type": "sub"}}),
        t("O and x"),
        t("2", {"type": "subsup", "attrs": {"type": "sup"}}),
        t(" "),
        t(
            "annotated words",
            {"type": "annotation", "attrs": {"id": "a1", "annotationType": "inlineComment"}},
        ),
        {"type": "hardBreak"},
        t("after a break "),
        {"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Ann Lee"}},
        t(" says "),
        {"type": "emoji", "attrs": {"shortName": ":smile:", "id": "1f604", "text": "😄"}},
        t(" see "),
        {"type": "inlineCard", "attrs": {"url": "https://example.com/card"}},
        t(" state "),
        {"type": "status", "attrs": {"text": "DONE", "color": "green"}},
        t(" due "),
        {"type": "date", "attrs": {"timestamp": "1718000000000"}},
        t(" fill "),
        {"type": "placeholder", "attrs": {"text": "Type here"}},
        t(" macro "),
        {"type": "inlineExtension", "attrs": {"extensionType": "com.x", "extensionKey": "k", "text": "ext"}},
        t(" file "),
        {"type": "mediaInline", "attrs": {"id": "mi-1", "collection": "c", "type": "file"}},
        t(" last words"),
        marks=[{"type": "alignment", "attrs": {"align": "center"}}],
    )
    heading = {
        "type": "heading",
        "attrs": {"level": 2},
        "content": [t("Indented heading text")],
        "marks": [{"type": "indentation", "attrs": {"level": 1}}],
    }
    frames = doc(
        heading,
        inline_rich,
        {
            "type": "panel",
            "attrs": {"panelType": "note"},
            "content": [p(t("Panel paragraph one")), p(t("Panel paragraph two"))],
        },
        {
            "type": "expand",
            "attrs": {"title": "Expand title words"},
            "marks": [{"type": "breakout", "attrs": {"mode": "wide"}}],
            "content": [
                p(t("Expand body words")),
                {
                    "type": "nestedExpand",
                    "attrs": {"title": "Nested title"},
                    "content": [p(t("Nested body words"))],
                },
            ],
        },
        {
            "type": "mediaSingle",
            "attrs": {"layout": "center"},
            "content": [
                {
                    **_media("m-1", alt="architecture diagram"),
                    "marks": [{"type": "border", "attrs": {"size": 2, "color": "#091e4224"}}],
                }
            ],
        },
        {"type": "mediaGroup", "content": [_media("m-2"), _media("m-3")]},
        {
            "type": "taskList",
            "attrs": {"localId": "tl1"},
            "content": [
                _task("DONE", t("Finished task words")),
                _task("TODO", t("Open task with "), t("bold", "strong")),
                {
                    "type": "taskList",
                    "attrs": {"localId": "tl2"},
                    "content": [_task("TODO", t("Nested task words"))],
                },
            ],
        },
        {
            "type": "decisionList",
            "attrs": {"localId": "dl1"},
            "content": [
                {
                    "type": "decisionItem",
                    "attrs": {"localId": "d1", "state": "DECIDED"},
                    "content": [t("Decided words")],
                }
            ],
        },
        {"type": "blockCard", "attrs": {"url": "https://example.com/block"}},
        {"type": "embedCard", "attrs": {"url": "https://example.com/embed", "layout": "wide"}},
    )
    structure = doc(
        {
            "type": "table",
            "attrs": {"isNumberColumnEnabled": False, "layout": "wide"},
            "marks": [{"type": "fragment", "attrs": {"localId": "f1", "name": "grid"}}],
            "content": [
                {
                    "type": "tableRow",
                    "content": [
                        {
                            "type": "tableHeader",
                            "attrs": {"colspan": 2, "background": "#deebff"},
                            "content": [p(t("Header cell words"))],
                        }
                    ],
                },
                {
                    "type": "tableRow",
                    "content": [
                        {
                            "type": "tableCell",
                            "attrs": {"colwidth": [120]},
                            "content": [p(t("Left cell words"))],
                        },
                        {
                            "type": "tableCell",
                            "attrs": {"rowspan": 1},
                            "content": [p(t("Right cell "), t("styled", "underline"))],
                        },
                    ],
                },
            ],
        },
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        p(t("Bullet item words")),
                        {
                            "type": "orderedList",
                            "attrs": {"order": 3},
                            "content": [{"type": "listItem", "content": [p(t("Numbered nested words"))]}],
                        },
                    ],
                },
                {
                    "type": "listItem",
                    "content": [
                        p(
                            t("Second bullet with "),
                            {"type": "status", "attrs": {"text": "NEW", "color": "neutral"}},
                        )
                    ],
                },
            ],
        },
        {"type": "codeBlock", "attrs": {"language": "python"}, "content": [t("print('code words here')")]},
        {"type": "blockquote", "content": [p(t("Quoted words "), t("underlined", "underline"))]},
        {"type": "rule"},
        p(t("Closing paragraph words")),
    )
    layout = doc(
        {
            "type": "layoutSection",
            "marks": [{"type": "breakout", "attrs": {"mode": "wide"}}],
            "content": [
                {"type": "layoutColumn", "attrs": {"width": 50}, "content": [p(t("Left column words"))]},
                {"type": "layoutColumn", "attrs": {"width": 50}, "content": [p(t("Right column words"))]},
            ],
        },
        {
            "type": "extension",
            "attrs": {"extensionType": "com.x", "extensionKey": "chart", "text": "chart"},
            "marks": [{"type": "dataConsumer", "attrs": {"sources": ["f1"]}}],
        },
        {
            "type": "bodiedExtension",
            "attrs": {"extensionType": "com.x", "extensionKey": "box"},
            "content": [p(t("Bodied extension words"))],
        },
        p(t("Final words of the layout document")),
    )
    return [one_issue_adf(), frames, structure, layout]


ONE_ISSUE_WIKI = """h1. Release notes

Look at !screenshot.png|thumbnail! and [^report.pdf] for [ENG-12] (y) :) {anchor:top} see [#top].
Second line with +underlined words+ and ^sup^ and ~sub~ and ??cite here?? and {color:red}red words{color}.

{panel:title=Heads up}
First panel body words here
{panel}

{info}Second panel info text{info}

{expand:title=More details}
Hidden body of the expand
{expand}

* (/) Write the release notes
* (x) Publish the build
** nested item for [~jsmith]

Decision {status:colour=Green|title=DECIDED} made on {color:blue}Friday{color} (!)

||Head cell||Other head||
|cell one words|cell (i) two|

----
Tail paragraph words."""


def generated_wiki() -> list[str]:
    return [
        ONE_ISSUE_WIKI,
        "Intro *bold words* and _emphasis_ with !https://example.com/a.png! inline\n"
        "bq. quoted line with [^notes.txt]\n\n{note}\nNote body words\n\n* list in note\n{note}\n\n"
        "{warning:title=Careful}warning body words{warning}\n\n{tip}tip words here{tip}\n\n"
        "# first ordered words\n# second ordered [ENG-7|ENG-7] words\n\n{code:java}\nint x = 1;\n{code}",
    ]


# ---- recorded documents ---------------------------------------------------------------------------------


def sample_documents(samples: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The ADF documents (the Cloud spec's examples and any recorded v3 value) and the wiki strings (issue
    descriptions and environments, comment bodies) in ../shared/jira-samples."""
    adf: list[dict[str, Any]] = []
    wiki: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "doc" and isinstance(node.get("content"), list):
                adf.append(node)
                return
            for key, value in node.items():
                here = f"{path}/{key}"
                wiki_field = here.endswith(("/fields/description", "/fields/environment")) or (
                    key == "body" and "comment" in path
                )
                if wiki_field and isinstance(value, str) and "renderedFields" not in here and value.strip():
                    wiki.append(value)
                walk(value, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    for file in sorted(samples.rglob("*.json")):
        walk(json.loads(file.read_text(encoding="utf-8")), file.name)
    return adf, wiki


# ---- one-word edits -------------------------------------------------------------------------------------

MARK = "Zqxv"
_WORD_RE = re.compile(r"(?<![\w\\/:.@#&~^+-])[A-Za-z]{3,}(?![\w/:.@#&(~^+-])")


@dataclass
class Tally:
    documents: int = 0
    paragraphs: int = 0
    edits: int = 0
    kept: int = 0
    """Paragraphs whose only words lie inside a construct Markdown cannot change (the edit was refused)."""
    lost: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _shown(markdown: str) -> str:
    return flat_text(parse_markdown(markdown))


def candidates(markdown: str) -> Iterator[tuple[int, str, str]]:
    """(paragraph index, edited Markdown, the word replaced by :data:`MARK`) for every word of every
    paragraph whose change is a change of one shown word (not of a link target or markup)."""
    chunks = markdown.split("\n\n")
    shown = _shown(markdown)
    for index, chunk in enumerate(chunks):
        for found in _WORD_RE.finditer(chunk):
            edited = chunk[: found.start()] + MARK + chunk[found.end() :]
            new = "\n\n".join([*chunks[:index], edited, *chunks[index + 1 :]])
            after = _shown(new)
            if after.count(MARK) == 1 and after.replace(MARK, found.group()) == shown:
                yield index, new, found.group()


def adf_counts(node: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, dict):
            if "type" in current:
                counts[str(current["type"])] += 1
            for mark in current.get("marks") or []:
                counts["mark:" + str(mark.get("type"))] += 1
            stack.extend(current.get("content") or [])
    counts.pop("text", None)  # text nodes may be joined or cut; their marks are what must survive
    return counts


def normal_adf(node: Any) -> Any:
    """ADF with adjacent text nodes of equal marks joined (the one freedom a structural comparison allows)."""
    if isinstance(node, list):
        out: list[Any] = []
        for item in map(normal_adf, node):
            prev = out[-1] if out else None
            if _same_text_kind(prev, item):
                out[-1] = {**prev, "text": prev["text"] + item["text"]}
            else:
                out.append(item)
        return out
    if isinstance(node, dict):
        return {k: normal_adf(v) for k, v in node.items()}
    return node


def _carried(wiki: str) -> tuple[list[Any], list[tuple[str, str]]]:
    """A wiki document's tree and (kind, exact wiki text) of every construct Markdown cannot show."""
    blocks = parse_wiki(wiki)
    found: list[tuple[str, str]] = []
    stack: list[Any] = list(blocks)
    while stack:
        node = stack.pop()
        if isinstance(node, ForeignInline):
            found.append((node.kind, node.source.raw if isinstance(node.source, Wrap) else str(node.source)))
        elif isinstance(node, Foreign):
            found.append((node.kind, node.kind))
        for attr in ("content", "blocks", "items", "rows", "cells"):
            stack.extend(getattr(node, attr, None) or [])
    return blocks, found


def _same_text_kind(a: Any, b: Any) -> bool:
    """Two text nodes that differ in nothing but their text."""
    if not (isinstance(a, dict) and isinstance(b, dict) and a.get("type") == b.get("type") == "text"):
        return False
    return {k: v for k, v in a.items() if k != "text"} == {k: v for k, v in b.items() if k != "text"}


def wiki_signature(wiki: str) -> tuple[Any, ...]:
    """The tree plus the exact wiki text of every carried construct (what a structural comparison checks)."""
    blocks, found = _carried(wiki)
    return tuple(blocks), tuple(sorted(found))


def wiki_counts(wiki: str) -> Counter[str]:
    return Counter(kind for kind, _ in _carried(wiki)[1])


def edit_every_paragraph(flavor: str, value: Any, tally: Tally, every_word: bool = False) -> None:
    """Change one word in each paragraph of ``value``'s Markdown (``every_word``: each word in turn), push,
    and check Jira's document afterwards differs from ``value`` only by that word."""
    tally.documents += 1
    markdown = to_local(flavor, value)  # type: ignore[arg-type]
    done: set[int] = set()
    seen: set[int] = set()
    for index, new, word in candidates(markdown):
        seen.add(index)
        if index in done and not every_word:
            continue
        written = write_rich_text(flavor, new, value)  # type: ignore[arg-type]
        if written.kept:
            if written.value != value:
                tally.failures.append(f"{word}: kept {written.kept} but changed the document")
            continue  # the word is inside a construct Markdown cannot change: try another word
        done.add(index)
        tally.edits += 1
        _check(flavor, value, written.value, word, tally)
    tally.paragraphs += len(seen)
    tally.kept += len(seen - done)


def _check(flavor: str, value: Any, written: Any, word: str, tally: Tally) -> None:
    if flavor == "cloud":
        back = json.loads(json.dumps(written).replace(MARK, word))
        tally.lost += adf_counts(value) - adf_counts(back)
        if normal_adf(back) != normal_adf(value):
            tally.failures.append(f"{word}: {json.dumps(value)[:200]}")
    else:
        back = str(written or "").replace(MARK, word)
        tally.lost += wiki_counts(value) - wiki_counts(back)
        if wiki_signature(back) != wiki_signature(value):
            tally.failures.append(f"{word}: {value[:200]!r} -> {back[:200]!r}")
