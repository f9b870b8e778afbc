"""A small rich-text converter for the simulator: wiki markup <-> Atlassian Document Format.

It covers what seeded data and tests use (paragraphs, headings, bullet lists, bold, italic, inline code,
links). The product's real converter lives elsewhere; the simulator deliberately does not share it, so a
bug in one cannot hide the same bug in the other.
"""

from __future__ import annotations

import re
from typing import Any

_INLINE = re.compile(
    r"\{\{(?P<code>.+?)\}\}|\[(?P<ltext>[^|\]]+)\|(?P<href>[^\]]+)\]|\*(?P<bold>[^*\s][^*]*?)\*"
    r"|(?<![\w])_(?P<italic>[^_\s][^_]*?)_(?![\w])"
)


def _inline_nodes(text: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            nodes.append({"type": "text", "text": text[pos : m.start()]})
        if m.group("code") is not None:
            nodes.append({"type": "text", "text": m.group("code"), "marks": [{"type": "code"}]})
        elif m.group("href") is not None:
            mark = {"type": "link", "attrs": {"href": m.group("href")}}
            nodes.append({"type": "text", "text": m.group("ltext"), "marks": [mark]})
        elif m.group("bold") is not None:
            nodes.append({"type": "text", "text": m.group("bold"), "marks": [{"type": "strong"}]})
        else:
            nodes.append({"type": "text", "text": m.group("italic"), "marks": [{"type": "em"}]})
        pos = m.end()
    if pos < len(text):
        nodes.append({"type": "text", "text": text[pos:]})
    return nodes


def wiki_to_adf(text: str | None) -> dict[str, Any] | None:
    """Wiki markup to an ADF ``doc`` (None stays None)."""
    if text is None:
        return None
    content: list[dict[str, Any]] = []
    para: list[str] = []
    bullets: list[str] = []

    def flush() -> None:
        if para:
            content.append({"type": "paragraph", "content": _inline_nodes(" ".join(para))})
            para.clear()
        if bullets:
            items = [
                {"type": "listItem", "content": [{"type": "paragraph", "content": _inline_nodes(b)}]}
                for b in bullets
            ]
            content.append({"type": "bulletList", "content": items})
            bullets.clear()

    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        heading = re.match(r"^h([1-6])\.\s+(.*)$", line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            level = int(heading.group(1))
            content.append(
                {"type": "heading", "attrs": {"level": level}, "content": _inline_nodes(heading.group(2))}
            )
        elif line.startswith("* ") or line.startswith("- "):
            if para:
                flush()
            bullets.append(line[2:].strip())
        else:
            if bullets:
                flush()
            para.append(line)
    flush()
    return {"version": 1, "type": "doc", "content": content}


def _marks_to_wiki(node: dict[str, Any]) -> str:
    text = str(node.get("text", ""))
    for mark in node.get("marks", []) or []:
        kind = mark.get("type")
        if kind == "strong":
            text = f"*{text}*"
        elif kind == "em":
            text = f"_{text}_"
        elif kind == "code":
            text = f"{{{{{text}}}}}"
        elif kind == "link":
            text = f"[{text}|{mark.get('attrs', {}).get('href', '')}]"
    return text


def _inline_to_wiki(nodes: list[dict[str, Any]] | None) -> str:
    out = []
    for node in nodes or []:
        if node.get("type") == "text":
            out.append(_marks_to_wiki(node))
        elif node.get("type") == "hardBreak":
            out.append("\n")
        elif node.get("type") == "mention":
            out.append(f"[~{node.get('attrs', {}).get('text', '')}]")
        else:
            out.append(_inline_to_wiki(node.get("content")))
    return "".join(out)


def adf_to_wiki(doc: dict[str, Any] | str | None) -> str | None:
    """An ADF ``doc`` to wiki markup (None stays None; wiki a Server site stored as written stays as is)."""
    if doc is None or isinstance(doc, str):
        return doc
    blocks: list[str] = []
    for node in doc.get("content", []) or []:
        kind = node.get("type")
        if kind == "heading":
            blocks.append(f"h{node.get('attrs', {}).get('level', 1)}. {_inline_to_wiki(node.get('content'))}")
        elif kind in ("bulletList", "orderedList"):
            marker = "*" if kind == "bulletList" else "#"
            lines = []
            for item in node.get("content", []) or []:
                parts = [_inline_to_wiki(p.get("content")) for p in item.get("content", []) or []]
                lines.append(f"{marker} {' '.join(parts)}")
            blocks.append("\n".join(lines))
        elif kind == "codeBlock":
            blocks.append("{code}" + _inline_to_wiki(node.get("content")) + "{code}")
        else:
            blocks.append(_inline_to_wiki(node.get("content")))
    return "\n\n".join(blocks)


def rendered(value: dict[str, Any] | str | None, adf: bool) -> dict[str, Any] | str | None:
    """A stored rich-text value as ADF (v3) or wiki (v2); wiki a Server site stored is given as written."""
    if adf:
        return wiki_to_adf(value) if isinstance(value, str) else value
    return adf_to_wiki(value)


def is_adf(value: Any) -> bool:
    """True for something shaped like an ADF document."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )
