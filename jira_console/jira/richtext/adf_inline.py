"""The inline side of edit-preserving ADF writes: old inline nodes and new Markdown inlines, aligned.

Old text nodes lend their marks to the new text that replaced them: marks Markdown cannot show (underline,
text colour, sub/superscript, background colour, annotations) stay on it, and when the Markdown marks are
unchanged the node's own mark list is kept as it was. Old atoms (status, date, cards, placeholders, inline
extensions and media, mentions, emoji, breaks) come back as they were when their text survived.
"""

from __future__ import annotations

from typing import Any

from jira_console.jira.richtext.adf_read import content, read_inlines
from jira_console.jira.richtext.adf_write import _append_text, _marks, write_inlines
from jira_console.jira.richtext.align import Piece, align_inlines, shown
from jira_console.jira.richtext.patch import Context
from jira_console.jira.richtext.tree import CODE, ForeignInline, Inline, Link, Text

Node = dict[str, Any]

#: Node types Markdown has a syntax for; every other one is precious (Markdown cannot create it again).
MARKDOWN_TYPES = frozenset({
    "doc", "paragraph", "heading", "text", "hardBreak", "mention", "emoji", "bulletList", "orderedList",
    "listItem", "codeBlock", "blockquote", "rule", "table", "tableRow", "tableHeader", "tableCell",
})  # fmt: skip
_TREE_MARKS = frozenset({"strong", "em", "strike", "code", "link"})
_LABELS = {"taskItem": "task item", "decisionItem": "decision", "mediaSingle": "image", "media": "file",
           "mediaGroup": "files", "inlineCard": "card", "blockCard": "card", "embedCard": "embed",
           "mediaInline": "file"}  # fmt: skip


def label(node: Node) -> str:
    """How a message names a construct: its kind and, briefly, its text."""
    kind = str(node.get("type"))
    name = _LABELS.get(kind, kind)
    inner = content(node) if kind in ("taskItem", "decisionItem") else [node]
    text = " ".join("".join(shown(n) for n in read_inlines(inner)).split())
    if len(text) > 30:
        text = text[:29] + "…"
    return f"{name} {text!r}" if text else name


def precious_labels(node: Any) -> list[str]:
    """Every construct under ``node`` (itself included) that Markdown cannot create, named."""
    out: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        if current.get("type") not in MARKDOWN_TYPES:
            out.append(label(current))
            if current.get("type") in ("taskItem", "decisionItem"):
                continue
        stack.extend(reversed(content(current)))
    return out


def _piece(node: Any) -> Piece:
    tree = read_inlines([node])
    text = "".join(shown(n) for n in tree)
    is_text = isinstance(node, dict) and node.get("type") == "text" and "\n" not in text
    precious = not is_text and any(isinstance(n, ForeignInline) for n in tree)
    name = label(node) if precious and isinstance(node, dict) else ""
    return Piece(text, tree, atom=not is_text, precious=name)


def patch_inline_nodes(old: list[Any], new: list[Inline], ctx: Context, where: str) -> list[Any] | None:
    """``old`` ADF inline nodes changed to say ``new``; None when the policy keeps the old content."""
    pieces = [_piece(n) for n in old]
    segments, lost = align_inlines(pieces, new)
    if lost and ctx.keep([pieces[k].precious for k in lost], where):
        return None
    out: list[Any] = []
    for segment in segments:
        if segment.old is not None:
            out.append(old[segment.old])
        elif isinstance(segment.node, Text) and segment.template is not None:
            out.append(_styled(segment.node, old[segment.template]))
        elif isinstance(segment.node, Text):
            if segment.node.text:
                _append_text(out, segment.node.text, _marks(segment.node.marks, segment.node.link))
        elif segment.node is not None:
            out.extend(write_inlines([segment.node]))
    return out


def _styled(text: Text, template: Node) -> Node:
    """New text in the place of old text node ``template``: its mark list when the Markdown marks are the
    same, else the new Markdown marks plus the template's marks Markdown cannot show."""
    old = read_inlines([template])
    first = old[0] if old else None
    old_marks = first.marks if isinstance(first, Text) else frozenset()
    old_link: Link | None = first.link if isinstance(first, Text) else None
    if (text.marks, text.link) == (old_marks, old_link):
        return {**template, "text": text.text}
    marks = _marks(text.marks, text.link) or []
    if CODE not in text.marks:  # Cloud refuses a code mark combined with other styling
        raw = template.get("marks")
        raw = raw if isinstance(raw, list) else []
        extra = [m for m in raw if isinstance(m, dict) and m.get("type") not in _TREE_MARKS]
        marks = marks + extra
    node: Node = {k: v for k, v in template.items() if k != "marks"}
    node["text"] = text.text
    if marks:
        node["marks"] = marks
    return node
