"""Markdown (CommonMark subset) <-> Atlassian Document Format (ADF, version 1).

ADF is the intermediate form for all rich text in this package: the wiki converter in
:mod:`jira_console.jira.wiki` parses to, and renders from, the same node dicts. The Markdown written by
:func:`adf_to_markdown` is *canonical*: parsing it back gives the same ADF, and rendering that gives the
same text again. Canonical Markdown uses ``**strong**``, ``*em*``, ``~~strike~~``, `` `code` ``,
``[text](url)``, ``- `` bullets, ``1. `` numbers, fenced code, ``> `` quotes, ``---`` rules, GFM tables,
``\\`` + newline for hard breaks, ``@[Name](accountid:ID)`` for mentions and ``:shortName:`` for emoji.

Deliberate differences from CommonMark (documented because they change meaning):

* A plain newline inside a paragraph is a hard break, as in Jira and GitHub comments, because that is
  what people typing into a database column expect to reach Jira.
* Emphasis flanking is relaxed: ``*`` may open when followed by non-space and close when preceded by
  non-space, whatever the punctuation around it. This keeps canonical output parseable in every context.
* Tabs are ordinary characters, never indentation; HTML and link reference definitions are plain text.

Nothing here raises on bad input: unknown nodes degrade to their text, malformed Markdown to literal text.
"""

from __future__ import annotations

import html
import itertools
import re
from typing import Any

Node = dict[str, Any]

#: Order of marks in every text node this module builds; ADF itself does not care, comparisons do.
MARK_ORDER = ("link", "strong", "em", "strike", "code")
_MARK_RANK = {name: i for i, name in enumerate(MARK_ORDER)}
_EMPHASIS = ("strong", "em", "strike")
_DELIM = {"strong": "**", "em": "*", "strike": "~~"}
_EMOJI_RE = re.compile(r":[A-Za-z0-9_+\-]*[A-Za-z][A-Za-z0-9_+\-]*:")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_MENTION_SCHEMES = ("accountid:", "user:")
_TABLE_ATTRS = {"isNumberColumnEnabled": False, "layout": "default"}


# --------------------------------------------------------------------------------------------------
# ADF helpers shared with the wiki converter
# --------------------------------------------------------------------------------------------------


def text_node(text: str, marks: list[Node] | None = None) -> Node:
    """A text node; marks are sorted into :data:`MARK_ORDER` so equal content compares equal."""
    node: Node = {"type": "text", "text": text}
    if marks:
        node["marks"] = sorted(marks, key=lambda m: _MARK_RANK.get(m.get("type", ""), 99))
    return node


def doc(content: list[Node]) -> Node:
    """An ADF version 1 document."""
    return {"version": 1, "type": "doc", "content": content}


def merge_text(nodes: list[Node]) -> list[Node]:
    """Join adjacent text nodes with equal marks and drop empty ones (canonical inline content)."""
    out: list[Node] = []
    for node in nodes:
        if node.get("type") == "text":
            if not node.get("text"):
                continue
            prev = out[-1] if out else None
            if prev is not None and prev.get("type") == "text" and prev.get("marks") == node.get("marks"):
                out[-1] = dict(prev, text=prev["text"] + node["text"])
                continue
        out.append(node)
    return out


def plain_text(node: Any) -> str:
    """All the readable text under an ADF node (used when a node has to degrade to text)."""
    if isinstance(node, list):
        return "".join(plain_text(n) for n in node)
    if not isinstance(node, dict):
        return "" if node is None else str(node)
    kind = node.get("type")
    attrs: dict[str, Any] = node["attrs"] if isinstance(node.get("attrs"), dict) else {}
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "placeholder"):
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("id") or "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if kind == "date":
        return _date_text(attrs.get("timestamp"))
    if kind in ("media", "mediaInline"):
        return str(attrs.get("alt") or "")
    if kind not in _BLOCK_TYPES and isinstance(node.get("text"), str) and not _content(node):
        return node["text"]  # an unknown inline node that carries its text directly
    parts = [plain_text(c) for c in _content(node)]
    block = kind in _BLOCK_TYPES or kind not in _INLINE_TYPES and any(_is_block(c) for c in _content(node))
    title = str(attrs.get("title") or "") if kind in ("expand", "nestedExpand") else ""
    joined = ("\n" if block else "").join(p for p in parts if p or not block)
    return f"{title}\n{joined}" if title else joined


def flat_text(node: Any) -> str:
    """The text strings under ``node``, found without recursion (the fallback for absurdly deep input)."""
    out: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(reversed(current))
        elif isinstance(current, dict):
            if isinstance(current.get("text"), str):
                out.append(current["text"])
            if current.get("type") in _BLOCK_TYPES and out and not out[-1].endswith("\n"):
                out.append("\n")
            stack.extend(reversed(_content(current)))
    return "".join(out).strip("\n")


def _date_text(timestamp: Any) -> str:
    """ADF ``date`` nodes carry epoch milliseconds as a string; show them as an ISO date."""
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(int(str(timestamp)) / 1000, tz=UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return str(timestamp or "")


_BLOCK_TYPES = {
    "doc", "paragraph", "heading", "bulletList", "orderedList", "listItem", "codeBlock", "blockquote",
    "rule", "table", "tableRow", "tableHeader", "tableCell", "panel", "expand", "nestedExpand",
    "mediaSingle", "mediaGroup", "decisionList", "decisionItem", "taskList", "taskItem", "layoutSection",
    "layoutColumn", "bodiedExtension", "extension", "blockCard", "embedCard",
}  # fmt: skip
_INLINE_TYPES = {"text", "hardBreak", "mention", "emoji", "inlineCard", "status", "date", "placeholder",
                 "inlineExtension", "mediaInline"}  # fmt: skip


def _content(node: Any) -> list[Any]:
    content = node.get("content") if isinstance(node, dict) else None
    return content if isinstance(content, list) else []


def _is_block(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") in _BLOCK_TYPES


def _marks(node: Node) -> list[Node]:
    marks = node.get("marks")
    return [m for m in marks if isinstance(m, dict)] if isinstance(marks, list) else []


# --------------------------------------------------------------------------------------------------
# ADF -> Markdown
# --------------------------------------------------------------------------------------------------


def adf_to_markdown(document: Any) -> str:
    """Render an ADF document (or any ADF node, or None) as canonical Markdown; never raises."""
    try:
        if document is None:
            return ""
        if isinstance(document, str):
            return _escape_lines(document.replace("\r\n", "\n").split("\n"), "\\\n")
        if isinstance(document, list):
            document = doc(document)
        if not isinstance(document, dict):
            return _escape_lines([str(document)], "")
        blocks = _content(document) if document.get("type") == "doc" else [document]
        return _render_blocks(blocks)
    except RecursionError:
        return _escape_lines(_escape_text(flat_text(document)).split("\n"), "\\\n")


def _render_blocks(nodes: list[Any]) -> str:
    out: list[str] = []
    prev_list: tuple[str, bool] | None = None  # (list type, alternate marker?) of the previous block
    for node in _as_blocks(nodes):
        text, prev_list = _render_sibling(node, prev_list)
        if text is not None:
            out.append(text)
    return "\n\n".join(out)


def _render_sibling(node: Node, prev_list: tuple[str, bool] | None) -> tuple[str | None, Any]:
    """Render one block; two lists of the same type in a row alternate markers so they stay apart."""
    kind = node.get("type")
    if kind in ("bulletList", "orderedList"):
        alt = prev_list is not None and prev_list[0] == kind and not prev_list[1]
        text = _render_list(node, alternate=alt)
        return text, ((kind, alt) if text is not None else prev_list)
    text = _render_block(node)
    return text, (None if text is not None else prev_list)


def _as_blocks(nodes: list[Any]) -> list[Node]:
    """Wrap stray inline nodes into paragraphs so block renderers only ever see blocks."""
    blocks: list[Node] = []
    run: list[Node] = []
    for node in nodes:
        if not isinstance(node, dict):
            if node is not None:
                run.append(text_node(str(node)))
            continue
        if node.get("type") in _INLINE_TYPES or (node.get("type") not in _BLOCK_TYPES and "text" in node):
            run.append(node)
            continue
        if run:
            blocks.append({"type": "paragraph", "content": run})
            run = []
        blocks.append(node)
    if run:
        blocks.append({"type": "paragraph", "content": run})
    return blocks


def _render_block(node: Node) -> str | None:
    kind = node.get("type")
    attrs: dict[str, Any] = node["attrs"] if isinstance(node.get("attrs"), dict) else {}
    if kind == "paragraph":
        # a trailing hard break shows nothing and Markdown cannot end a paragraph with one
        text = _render_inline(_content(node)).rstrip("\n")
        return _escape_lines(text.split("\n"), "\\\n") if text else None
    if kind == "heading":
        level = attrs.get("level")
        level = level if isinstance(level, int) and 1 <= level <= 6 else 1
        text = _escape_lines([_render_inline(_content(node)).replace("\n", " ")], "")
        if text.endswith("#") and not _odd_backslashes(text[:-1]):
            # a trailing '#' run would be read back as the optional closing sequence
            text = text[:-1] + "\\#"
        return "#" * level + (" " + text if text else "")
    if kind == "codeBlock":
        return _render_code(str(attrs.get("language") or ""), plain_text(_content(node)))
    if kind == "blockquote":
        inner = _render_blocks(_content(node))
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n")) if inner else None
    if kind == "rule":
        return "---"
    if kind == "table":
        return _render_table(node)
    if kind in ("bulletList", "orderedList"):
        return _render_list(node, alternate=False)
    if kind in ("mediaSingle", "mediaGroup", "media"):
        alt = plain_text(node)
        return _escape_lines([alt], "") if alt else None
    if kind in ("expand", "nestedExpand"):
        title = str(attrs.get("title") or "")
        body = _render_blocks(_content(node))
        head = _escape_lines([title], "") if title else ""
        return "\n\n".join(p for p in (head, body) if p) or None
    # panel, layouts, decisions, tasks, extensions and anything unknown: keep the content, drop the frame
    children = _content(node)
    if children:
        if any(_is_block(c) for c in children):
            return _render_blocks(children) or None
        text = _render_inline(children)
        return _escape_lines(text.split("\n"), "\\\n") if text else None
    text = plain_text(node)
    return _escape_lines(text.split("\n"), "\\\n") if text else None


def _render_code(language: str, text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    if not re.fullmatch(r"[^\s`]+", language):
        language = ""  # an info string with spaces or backticks cannot round-trip
    return f"{fence}{language}\n{text}\n{fence}" if text else f"{fence}{language}\n{fence}"


def _render_list(node: Node, alternate: bool) -> str | None:
    ordered = node.get("type") == "orderedList"
    attrs: dict[str, Any] = node["attrs"] if isinstance(node.get("attrs"), dict) else {}
    start = attrs.get("order", 1)
    start = start if isinstance(start, int) and not isinstance(start, bool) and 0 <= start < 10**8 else 1
    lines: list[str] = []
    items = [c for c in _content(node) if isinstance(c, dict)]
    for index, item in enumerate(items):
        if ordered:
            marker = f"{start + index}{')' if alternate else '.'} "
        else:
            marker = "* " if alternate else "- "
        children = _content(item) if item.get("type") == "listItem" else [item]
        body = _render_item_body(children)
        pad = " " * len(marker)
        body_lines = body.split("\n") if body else [""]
        lines.append((marker + body_lines[0]).rstrip() if body_lines[0] else marker.rstrip())
        lines.extend(pad + line if line else "" for line in body_lines[1:])
    return "\n".join(lines) if lines else None


def _render_item_body(children: list[Any]) -> str:
    parts: list[str] = []
    prev_kind: str | None = None
    prev_list: tuple[str, bool] | None = None
    for node in _as_blocks(children):
        kind = node.get("type")
        text, prev_list = _render_sibling(node, prev_list)
        if text is None:
            continue
        if parts:
            # a nested list may interrupt a paragraph without a blank line, unless it is an ordered
            # list not starting at 1 (CommonMark would read that as paragraph text)
            tight = prev_kind == "paragraph" and (
                kind == "bulletList" or (kind == "orderedList" and re.match(r"1[.)]", text) is not None)
            )
            parts.append("\n" if tight else "\n\n")
        parts.append(text)
        prev_kind = kind
    return "".join(parts)


def _render_table(node: Node) -> str | None:
    rows = [r for r in _content(node) if isinstance(r, dict)]
    grid: list[list[str]] = []
    kinds: list[list[str]] = []
    for row in rows:
        cells = [c for c in _content(row) if isinstance(c, dict)]
        grid.append([_render_cell(c) for c in cells])
        kinds.append([str(c.get("type")) for c in cells])
    if not grid:
        return None
    width = max(1, max(len(r) for r in grid))
    grid = [r + [""] * (width - len(r)) for r in grid]
    if kinds[0] and all(k == "tableHeader" for k in kinds[0]) and len(kinds[0]) == width:
        header, body = grid[0], grid[1:]
    else:
        # GFM needs a header row; an empty one marks "this table had none" and is dropped on the way back
        header, body = [""] * width, grid

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return "\n".join([line(header), "| " + " | ".join(["---"] * width) + " |", *(line(r) for r in body)])


def _render_cell(cell: Node) -> str:
    parts = []
    for block in _as_blocks(_content(cell)):
        if block.get("type") in ("paragraph", "heading"):
            text = _render_inline(_content(block))
        else:
            text = _render_inline([text_node(plain_text(block))])
        if text:
            parts.append(text)
    # every pipe gets a backslash, including those in code spans and already-escaped ones (GFM rule)
    text = "<br>".join(parts).replace("\n", "<br>").replace("|", "\\|")
    text = re.sub(r"^[ \t]", lambda m: f"&#{ord(m.group())};", text)
    return re.sub(r"[ \t]$", lambda m: f"&#{ord(m.group())};", text)


# ---- inline rendering ------------------------------------------------------------------------------


def _render_inline(nodes: list[Any]) -> str:
    """Render inline nodes; hard breaks come out as '\\n' for the caller to encode per context."""
    out: list[str] = []
    for link, group in itertools.groupby(_inline_items(nodes), key=lambda item: item[2]):
        inner = _render_marked(list(group))
        if link is None:
            out.append(inner)
        else:
            out.append(f"[{inner}]({_link_destination(link[0])}{_link_title(link[1])})")
    return "".join(out)


def _inline_items(nodes: list[Any]) -> list[tuple[str, Any, tuple[str, str] | None, frozenset[str]]]:
    """Flatten inline nodes to (kind, payload, link, emphasis marks), with edge spaces moved out of marks.

    CommonMark cannot close ``**`` after a space, so whitespace at the edge of a marked run is rendered
    outside it (the only normalisation this renderer applies to text).
    """
    items: list[tuple[str, Any, tuple[str, str] | None, frozenset[str]]] = []
    for node in nodes:
        if not isinstance(node, dict):
            if node is not None:
                items.append(("text", str(node), None, frozenset()))
            continue
        kind = node.get("type")
        attrs: dict[str, Any] = node["attrs"] if isinstance(node.get("attrs"), dict) else {}
        if kind == "text":
            text = str(node.get("text") or "")
            link = None
            marks: set[str] = set()
            for mark in _marks(node):
                mtype = mark.get("type")
                mattrs: dict[str, Any] = mark["attrs"] if isinstance(mark.get("attrs"), dict) else {}
                if mtype == "link" and mattrs.get("href") is not None:
                    link = (str(mattrs.get("href")), str(mattrs.get("title") or ""))
                elif mtype in ("strong", "em", "strike", "code"):
                    marks.add(mtype)
            pieces = text.split("\n")
            for k, piece in enumerate(pieces):
                if k:
                    items.append(("break", None, link, frozenset()))
                if piece:
                    items.append(("text", piece, link, frozenset(marks)))
        elif kind == "hardBreak":
            items.append(("break", None, None, frozenset()))
        elif kind == "mention":
            items.append(("mention", attrs, None, frozenset()))
        elif kind == "emoji" and _EMOJI_RE.fullmatch(str(attrs.get("shortName") or "")):
            items.append(("emoji", str(attrs["shortName"]), None, frozenset()))
        elif kind == "inlineCard" and attrs.get("url"):
            url = str(attrs["url"])
            items.append(("text", url, (url, ""), frozenset()))
        else:
            text = plain_text(node)
            if text:
                items.extend(_inline_items([text_node(text, _marks(node))]))
    # hard breaks end links as well as emphasis: each line reads on its own (and wiki links cannot span lines)
    return _move_edge_spaces(items)


def _move_edge_spaces(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for k, (kind, payload, link, marks) in enumerate(items):
        emph = marks - {"code"}
        if kind != "text" or not emph or "code" in marks:
            out.append((kind, payload, link, marks))
            continue
        prev_marks = items[k - 1][3] if k and items[k - 1][2] == link else frozenset()
        next_marks = items[k + 1][3] if k + 1 < len(items) and items[k + 1][2] == link else frozenset()
        core = payload.strip(" \t")
        if not core:
            out.append((kind, payload, link, marks & prev_marks & next_marks))
            continue
        lead = payload[: len(payload) - len(payload.lstrip(" \t"))]
        trail = payload[len(payload.rstrip(" \t")) :]
        if lead:
            out.append((kind, lead, link, marks & prev_marks))
        out.append((kind, core, link, marks))
        if trail:
            out.append((kind, trail, link, marks & next_marks))
    return out


def _render_marked(items: list[Any]) -> str:
    """Render one link group (or unlinked run): emphasis opened and closed as a stack, longest outermost.

    Emphasis is written ``_x_`` where it is not inside a word, else ``*x*``: an underscore run never
    merges with a neighbouring ``**``, which keeps the delimiter matching unambiguous.
    """
    out: list[str] = []
    stack: list[tuple[str, str]] = []  # (mark, delimiter written)

    def close_from(cut: int) -> None:
        for _mark, delim in reversed(stack[cut:]):
            out.append(delim)
        del stack[cut:]

    def run_end(mark: str, start: int) -> int:
        """Index of the last item the mark opened at ``start`` stays open over (mirrors the closing rules)."""
        end = start
        for k in range(start + 1, len(items)):
            kind, marks = items[k][0], items[k][3]
            if kind == "break" or (kind == "text" and mark not in marks):
                break
            if kind != "text":
                later: frozenset[Any] = next((it[3] for it in items[k + 1 :] if it[0] == "text"), frozenset())
                if mark not in later:
                    break
            end = k
        return end

    for k, (kind, payload, _link, marks) in enumerate(items):
        if kind == "text":
            need = set(marks) - {"code"}
            close_from(next((d for d, (m, _) in enumerate(stack) if m not in need), len(stack)))
            open_marks = {m for m, _ in stack}
            opening = [m for m in _EMPHASIS if m in need and m not in open_marks]
            opening.sort(key=lambda m: (-run_end(m, k), _EMPHASIS.index(m)))
            for m in opening:
                delim = _DELIM[m]
                if m == "em":
                    before = "".join(out[-2:])[-1:]
                    after_item = run_end(m, k) + 1
                    after = items[after_item] if after_item < len(items) else None
                    after_char = after[1][:1] if after is not None and after[0] == "text" else ""
                    if not before.isalnum() and not after_char.isalnum():
                        delim = "_"
                out.append(delim)
                stack.append((m, delim))
            out.append(_code_span(payload) if "code" in marks else _escape_text(payload))
            continue
        # an atom between runs: close what the next text does not continue, so no closer lands
        # at the start of the next line or after a mention
        later: frozenset[Any] = next((it[3] for it in items[k + 1 :] if it[0] == "text"), frozenset())
        if kind == "break":
            later = frozenset()  # emphasis is kept line-local: each line reads on its own
        close_from(next((d for d, (m, _) in enumerate(stack) if m not in later), len(stack)))
        if kind == "break":
            out.append("\n")
        elif kind == "emoji":
            out.append(payload)
        elif kind == "mention":
            out.append(_render_mention(payload))
    close_from(0)
    return "".join(out)


def _render_mention(attrs: dict[str, Any]) -> str:
    label = str(attrs.get("text") or "")
    label = label[1:] if label.startswith("@") else label
    if attrs.get("username") is not None:
        target = "user:" + str(attrs["username"])
    elif attrs.get("id") is not None:
        target = "accountid:" + str(attrs["id"])
    else:
        return _escape_text("@" + label)
    return f"@[{_escape_text(label)}]({_link_destination(target)})"


def _code_span(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = (
        text.startswith("`")
        or text.endswith("`")
        or (text.startswith(" ") and text.endswith(" ") and text.strip(" ") != "")
    )
    return f"{fence} {text} {fence}" if pad else f"{fence}{text}{fence}"


def _link_destination(href: str) -> str:
    if href and re.fullmatch(r"[^\s<>()\\\x00-\x1f]+", href):
        return href
    return "<" + re.sub(r"([<>\\])", r"\\\1", href).replace("\n", "%0A") + ">"


def _link_title(title: str) -> str:
    if not title:
        return ""
    return ' "' + re.sub(r'(["\\])', r"\\\1", title) + '"'


_ALWAYS_ESCAPE = set("\\`*[]|")


def emoji_colon_positions(text: str) -> set[int]:
    """Where a ``:shortcode:`` starts in ``text`` (and a trailing ``:partial`` the next node could complete):
    those colons must be escaped for the text to stay text."""
    found: set[int] = set()
    pos = 0
    while True:
        m = _EMOJI_RE.search(text, pos)
        if not m:
            break
        found.add(m.start())
        pos = m.start() + 1
    tail = re.search(r":[A-Za-z0-9_+\-]*$", text)
    if tail:
        found.add(tail.start())
    return found


def _escape_text(text: str) -> str:
    """Backslash-escape what the inline parser would otherwise read as syntax."""
    emoji_colons = emoji_colon_positions(text)
    out: list[str] = []
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if (
            ch in _ALWAYS_ESCAPE
            or (ch == "_" and not (prev.isalnum() and nxt.isalnum()))
            or (ch == "~" and (prev in ("", "~") or nxt in ("", "~")))
            or (ch == "!" and not nxt)  # '!' then a link would read as an image
            or (ch == "<" and (not nxt or nxt.isalpha() or nxt in "/!?"))
            or (ch == "&" and _ENTITY_RE.match(text, i))
            or (ch == ":" and i in emoji_colons)
        ):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def protect_edge_whitespace(line: str) -> str:
    """A leading or trailing space or tab written as a character reference, so it survives parsing."""
    if line[:1] in (" ", "\t"):
        line = f"&#{ord(line[0])};" + line[1:]
    if line[-1:] in (" ", "\t"):
        line = line[:-1] + f"&#{ord(line[-1])};"
    return line


_LINE_START_RE = re.compile(r"^(?:[-+#>=]|\d{1,9}[.)](?:[ \t]|$))")


def _escape_lines(lines: list[str], joiner: str) -> str:
    """Escape what would start a block at the head of a line, and protect edge whitespace."""
    out = []
    for line in lines:
        if _LINE_START_RE.match(line):
            cut = len(line) - len(line.lstrip("0123456789"))  # escape the '.' of '1.', else the first char
            line = line[:cut] + "\\" + line[cut:]
        line = protect_edge_whitespace(line)
        out.append(line)
    return joiner.join(out)


# --------------------------------------------------------------------------------------------------
# Markdown -> ADF
# --------------------------------------------------------------------------------------------------


def markdown_to_adf(text: Any) -> Node | None:
    """Parse Markdown into an ADF document fit to send to Jira Cloud; empty input gives None."""
    blocks = parse_markdown(text)
    if not blocks:
        return None
    try:
        return doc(_finalize_for_cloud(blocks, container="doc"))
    except RecursionError:
        return doc([{"type": "paragraph", "content": [text_node(flat_text(blocks))]}])


def parse_markdown(text: Any) -> list[Node]:
    """Parse Markdown into ADF block nodes (the shared intermediate form); never raises."""
    if text is None:
        return []
    if not isinstance(text, str):
        text = str(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    try:
        return _parse_blocks(lines)
    except RecursionError:
        return [{"type": "paragraph", "content": [text_node(text)]}]


def _finalize_for_cloud(nodes: list[Node], container: str) -> list[Node]:
    """Make the intermediate tree valid ADF: Cloud has no user names, code marks stand alone,
    list items and quotes may not hold headings or rules."""
    out: list[Node] = []
    for node in nodes:
        kind = node.get("type")
        if kind == "text":
            marks = node.get("marks") or []
            if any(m["type"] == "code" for m in marks):
                marks = [m for m in marks if m["type"] in ("code", "link")]
            out.append(text_node(node["text"], marks))
            continue
        if kind == "mention" and "username" in node.get("attrs", {}):
            out.append(text_node("@" + str(node["attrs"]["username"])))
            continue
        if container in ("listItem", "blockquote") and kind == "heading":
            node = {"type": "paragraph", "content": node.get("content", [])}
        if container in ("listItem", "blockquote") and kind == "rule":
            continue
        if "content" in node:
            node = dict(node, content=_finalize_for_cloud(node["content"], str(kind)))
            if kind in ("paragraph", "heading"):
                node["content"] = merge_text(node["content"])
        out.append(node)
    return out


_FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_RULE_RE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_BULLET_RE = re.compile(r"^( {0,3})([-+*])( {1,4}(?=\S)| *$)")
_ORDERED_RE = re.compile(r"^( {0,3})(\d{1,9})([.)])( {1,4}(?=\S)| *$)")
_QUOTE_RE = re.compile(r"^ {0,3}> ?")
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_DELIM_ROW_RE = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    return not line.strip(" \t")


def _interrupts_paragraph(line: str) -> bool:
    if _ATX_RE.match(line) or _FENCE_RE.match(line) or _QUOTE_RE.match(line) or _RULE_RE.match(line):
        return True
    bullet = _BULLET_RE.match(line)
    if bullet and line[bullet.end() :].strip():
        return True
    ordered = _ORDERED_RE.match(line)
    return bool(ordered and ordered.group(2) == "1" and line[ordered.end() :].strip())


def _parse_blocks(lines: list[str]) -> list[Node]:
    blocks: list[Node] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if _blank(line):
            i += 1
            continue
        if _indent(line) >= 4:
            code: list[str] = []
            while i < n and (_blank(lines[i]) or _indent(lines[i]) >= 4):
                code.append(lines[i][4:])
                i += 1
            while code and not code[-1].strip():
                code.pop()
            blocks.append(_code_block("", "\n".join(code)))
            continue
        fence = _FENCE_RE.match(line)
        if fence and not (fence.group(2)[0] == "`" and "`" in fence.group(3)):
            indent, marker = len(fence.group(1)), fence.group(2)
            info = _unescape(fence.group(3).strip()).split(" ")[0] if fence.group(3).strip() else ""
            code = []
            i += 1
            while i < n:
                close = _FENCE_RE.match(lines[i])
                if (
                    close
                    and close.group(2)[0] == marker[0]
                    and len(close.group(2)) >= len(marker)
                    and not close.group(3).strip()
                ):
                    i += 1
                    break
                raw = lines[i]
                code.append(raw[min(indent, _indent(raw)) :])
                i += 1
            blocks.append(_code_block(info, "\n".join(code)))
            continue
        atx = _ATX_RE.match(line)
        if atx:
            content = atx.group(2) or ""
            if not content.endswith("\\#"):
                content = re.sub(r"(?:^|[ \t]+)#+[ \t]*$", "", content)  # optional closing sequence
            node: Node = {"type": "heading", "attrs": {"level": len(atx.group(1))}}
            node["content"] = _parse_inline(content.strip(" \t"))
            blocks.append(node)
            i += 1
            continue
        if _RULE_RE.match(line):
            blocks.append({"type": "rule"})
            i += 1
            continue
        if _QUOTE_RE.match(line):
            inner: list[str] = []
            while i < n:
                q = _QUOTE_RE.match(lines[i])
                if q:
                    inner.append(lines[i][q.end() :])
                elif (
                    not _blank(lines[i])
                    and inner
                    and not _blank(inner[-1])
                    and not _interrupts_paragraph(lines[i])
                ):
                    inner.append(lines[i])  # lazy continuation of a quoted paragraph
                else:
                    break
                i += 1
            blocks.append({"type": "blockquote", "content": _parse_blocks(inner)})
            continue
        if _BULLET_RE.match(line) or _ORDERED_RE.match(line):
            node, i = _parse_list(lines, i)
            blocks.append(node)
            continue
        if _has_unescaped_pipe(line) and i + 1 < n and _DELIM_ROW_RE.match(lines[i + 1]):
            table, consumed = _parse_table(lines, i)
            if table is not None:
                blocks.append(table)
                i = consumed
                continue
        para = [line]
        i += 1
        heading_level = 0
        while i < n and not _blank(lines[i]):
            setext = _SETEXT_RE.match(lines[i])
            if setext:
                heading_level = 1 if setext.group(1)[0] == "=" else 2
                i += 1
                break
            if _interrupts_paragraph(lines[i]):
                break
            para.append(lines[i])
            i += 1
        if heading_level:
            text = " ".join(p.strip(" \t") for p in para)
            node = {"type": "heading", "attrs": {"level": heading_level}, "content": _parse_inline(text)}
            blocks.append(node)
        else:
            blocks.append({"type": "paragraph", "content": _parse_inline(_join_paragraph(para))})
    return blocks


def _join_paragraph(lines: list[str]) -> str:
    """Strip the edges of each line (entities survive: they are decoded later) and join with newlines."""
    stripped = []
    for k, line in enumerate(lines):
        line = line.lstrip(" \t")
        if k < len(lines) - 1:
            if _odd_backslashes(line):
                line = line[:-1].rstrip(" \t")  # explicit hard break; the newline stands for it
            else:
                line = line.rstrip(" \t")
        else:
            line = line.rstrip(" \t")
        stripped.append(line)
    return "\n".join(stripped)


def _odd_backslashes(line: str) -> bool:
    run = len(line) - len(line.rstrip("\\"))
    return run % 2 == 1


def _code_block(language: str, text: str) -> Node:
    node: Node = {"type": "codeBlock"}
    if language:
        node["attrs"] = {"language": language}
    node["content"] = [text_node(text)] if text else []
    return node


def _list_marker(line: str) -> tuple[str, str, int, int] | None:
    """(kind, delimiter, number, content column) of a list item line, or None."""
    bullet = _BULLET_RE.match(line)
    if bullet:
        width = len(bullet.group(1)) + 1 + (len(bullet.group(3)) if line[bullet.end() :].strip() else 1)
        return "bulletList", bullet.group(2), 0, width
    ordered = _ORDERED_RE.match(line)
    if ordered:
        head = len(ordered.group(1)) + len(ordered.group(2)) + 1
        width = head + (len(ordered.group(4)) if line[ordered.end() :].strip() else 1)
        return "orderedList", ordered.group(3), int(ordered.group(2)), width
    return None


def _parse_list(lines: list[str], i: int) -> tuple[Node, int]:
    first = _list_marker(lines[i])
    assert first is not None
    kind, delim, number, _ = first
    items: list[Node] = []
    n = len(lines)
    while i < n:
        marker = _list_marker(lines[i])
        if marker is None or marker[0] != kind or marker[1] != delim or (_RULE_RE.match(lines[i])):
            break
        width = marker[3]
        body = [lines[i][width:] if len(lines[i]) > width else lines[i][width - 1 :].strip()]
        i += 1
        while i < n:
            line = lines[i]
            if _blank(line):
                body.append("")
                i += 1
                continue
            if _indent(line) >= width:
                body.append(line[width:])
                i += 1
                continue
            if body[-1] != "" and not _interrupts_paragraph(line) and not _list_marker(line):
                body.append(line.lstrip(" "))  # lazy paragraph continuation
                i += 1
                continue
            break
        # blank lines belong to the item only if the item continues after them
        while len(body) > 1 and body[-1] == "":
            body.pop()  # only lines after the marker line: popping that one would loop forever
            i -= 1
        while i < n and _blank(lines[i]):
            i += 1
        content = _parse_blocks(body)
        if not content:
            content = [{"type": "paragraph", "content": []}]
        items.append({"type": "listItem", "content": content})
        nxt = _list_marker(lines[i]) if i < n else None
        if nxt is None or nxt[0] != kind or nxt[1] != delim:
            break
    node: Node = {"type": kind, "content": items}
    if kind == "orderedList" and number != 1:
        node["attrs"] = {"order": number}
    # back up over trailing blank lines so the caller sees them
    return node, i


def _has_unescaped_pipe(line: str) -> bool:
    return re.search(r"(?<!\\)\|", line) is not None


def _split_row(line: str) -> list[str]:
    """Cells of a GFM table row. As in GFM, a pipe after a backslash is a literal pipe, whatever precedes
    that backslash, and the unescaping happens before inline parsing (so it works inside code spans)."""
    line = line.strip(" \t")
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells: list[str] = []
    current: list[str] = []
    k = 0
    while k < len(line):
        if line.startswith("\\|", k):
            current.append("|")
            k += 2
            continue
        if line[k] == "|":
            cells.append("".join(current))
            current = []
        else:
            current.append(line[k])
        k += 1
    cells.append("".join(current))
    return [c.strip(" \t") for c in cells]


def _parse_table(lines: list[str], i: int) -> tuple[Node | None, int]:
    header = _split_row(lines[i])
    delims = _split_row(lines[i + 1])
    if len(header) != len(delims):
        return None, i
    width = len(header)
    rows_src = [header]
    k = i + 2
    while k < len(lines) and not _blank(lines[k]) and not _interrupts_paragraph(lines[k]):
        rows_src.append(_split_row(lines[k]))
        k += 1
    rows: list[Node] = []
    for r, cells in enumerate(rows_src):
        if r == 0 and all(not c for c in cells):
            continue  # the placeholder header of a header-less table
        cells = (cells + [""] * width)[:width]
        cell_type = "tableHeader" if r == 0 else "tableCell"
        row = [
            {"type": cell_type, "attrs": {}, "content": [{"type": "paragraph", "content": _parse_inline(c)}]}
            for c in cells
        ]
        rows.append({"type": "tableRow", "content": row})
    return {"type": "table", "attrs": dict(_TABLE_ATTRS), "content": rows}, k


# ---- inline parsing --------------------------------------------------------------------------------

_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_AUTOLINK_RE = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)>")
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)


class _Delim:
    """A run of emphasis characters waiting to be matched (CommonMark's delimiter stack entry)."""

    __slots__ = ("char", "count", "orig", "can_open", "can_close")

    def __init__(self, char: str, count: int, can_open: bool, can_close: bool) -> None:
        self.char = char
        self.count = count
        self.orig = count
        self.can_open = can_open
        self.can_close = can_close


def _parse_inline(src: str) -> list[Node]:
    tokens = _tokenize(src)
    tree = _process_emphasis(tokens)
    return merge_text(_flatten(tree, []))


def _tokenize(src: str) -> list[Any]:
    """Split inline source into leaves (ADF nodes, or ('mark', type, children) subtrees) and _Delim runs."""
    tokens: list[Any] = []
    buf: list[str] = []
    i = 0
    n = len(src)

    def flush() -> None:
        if buf:
            tokens.append(text_node("".join(buf)))
            buf.clear()

    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and (src[i + 1] in _PUNCT or src[i + 1] == "\n"):
            if src[i + 1] == "\n":
                flush()
                tokens.append({"type": "hardBreak"})
            else:
                buf.append(src[i + 1])
            i += 2
            continue
        if ch == "\n":
            flush()
            tokens.append({"type": "hardBreak"})
            i += 1
            continue
        if ch == "`":
            run = len(src[i:]) - len(src[i:].lstrip("`"))
            close = _find_backtick_run(src, i + run, run)
            if close is None:
                buf.append("`" * run)
                i += run
                continue
            code = src[i + run : close].replace("\n", " ")
            if code.startswith(" ") and code.endswith(" ") and code.strip(" "):
                code = code[1:-1]
            flush()
            tokens.append(text_node(code, [{"type": "code"}]))
            i = close + run
            continue
        if ch == "&":
            m = _ENTITY_RE.match(src, i)
            if m:
                decoded = html.unescape(m.group())
                if decoded != m.group():
                    buf.append(decoded)
                    i = m.end()
                    continue
        if ch == "<":
            m = _BR_RE.match(src, i)
            if m:
                flush()
                tokens.append({"type": "hardBreak"})
                i = m.end()
                continue
            m = _AUTOLINK_RE.match(src, i)
            if m:
                flush()
                url = m.group(1)
                tokens.append(text_node(url, [{"type": "link", "attrs": {"href": url}}]))
                i = m.end()
                continue
        if ch == "@" and src.startswith("@[", i):
            parsed = _parse_link(src, i + 1)
            if parsed is not None:
                label_src, href, _title, end = parsed
                scheme = next((s for s in _MENTION_SCHEMES if href.startswith(s)), None)
                if scheme is not None and href[len(scheme) :]:
                    flush()
                    label = _unescape(label_src)
                    attrs: dict[str, Any] = (
                        {"id": href[len(scheme) :]} if scheme == "accountid:" else {"username": href[5:]}
                    )
                    attrs["text"] = "@" + label
                    tokens.append({"type": "mention", "attrs": attrs})
                    i = end
                    continue
        if ch == "[" or (ch == "!" and src.startswith("![", i)):
            start = i + 1 if ch == "!" else i
            parsed = _parse_link(src, start)
            if parsed is not None:
                label_src, href, title, end = parsed
                flush()
                mark: Node = {"type": "link", "attrs": {"href": href}}
                if title:
                    mark["attrs"]["title"] = title
                inner = _process_emphasis(_tokenize(label_src))
                tokens.append(("mark", mark, inner))
                i = end
                continue
        if ch == ":":
            m = _EMOJI_RE.match(src, i)
            if m:
                flush()
                tokens.append({"type": "emoji", "attrs": {"shortName": m.group()}})
                i = m.end()
                continue
        if ch in "*_~":
            run = len(src[i:]) - len(src[i:].lstrip(ch))
            if ch == "~" and run != 2:
                buf.append(ch * run)  # only '~~' strikes, so a lone tilde needs no escaping
                i += run
                continue
            prev = src[i - 1] if i else " "
            nxt = src[i + run] if i + run < n else " "
            can_open = not nxt.isspace()
            can_close = not prev.isspace()
            if ch == "_":
                can_open = can_open and not prev.isalnum()
                can_close = can_close and not nxt.isalnum()
            if can_open or can_close:
                flush()
                tokens.append(_Delim(ch, run, can_open, can_close))
            else:
                buf.append(ch * run)
            i += run
            continue
        buf.append(ch)
        i += 1
    flush()
    return tokens


def _find_backtick_run(src: str, start: int, length: int) -> int | None:
    for m in re.finditer(r"`+", src[start:]):
        if len(m.group()) == length:
            return start + m.start()
    return None


def _parse_link(src: str, i: int) -> tuple[str, str, str, int] | None:
    """At '[': find the bracketed label and the '(destination "title")' after it."""
    depth = 0
    k = i
    n = len(src)
    while k < n:
        ch = src[k]
        if ch == "\\":
            k += 2
            continue
        if ch == "`":
            run = len(src[k:]) - len(src[k:].lstrip("`"))
            close = _find_backtick_run(src, k + run, run)
            k = close + run if close is not None else k + run
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                break
        k += 1
    else:
        return None
    label = src[i + 1 : k]
    k += 1
    if k >= n or src[k] != "(":
        return None
    k += 1
    while k < n and src[k] in " \t\n":
        k += 1
    if k < n and src[k] == "<":
        end = k + 1
        while end < n and src[end] not in ">\n":
            end += 2 if src[end] == "\\" else 1
        if end >= n or src[end] != ">":
            return None
        href = _unescape(src[k + 1 : end])
        k = end + 1
    else:
        start, parens = k, 0
        while k < n and not src[k].isspace():
            if src[k] == "\\":
                k += 2
                continue
            if src[k] == "(":
                parens += 1
            elif src[k] == ")":
                if parens == 0:
                    break
                parens -= 1
            k += 1
        href = _unescape(src[start:k])
    while k < n and src[k] in " \t\n":
        k += 1
    title = ""
    if k < n and src[k] in "\"'":
        quote = src[k]
        end = k + 1
        while end < n and src[end] != quote:
            end += 2 if src[end] == "\\" else 1
        if end >= n:
            return None
        title = _unescape(src[k + 1 : end])
        k = end + 1
        while k < n and src[k] in " \t\n":
            k += 1
    if k >= n or src[k] != ")":
        return None
    return label, href, title, k + 1


_DECODE_RE = re.compile(r"\\([!-/:-@\[-`{-~])|" + _ENTITY_RE.pattern)


def _unescape(text: str) -> str:
    """Undo backslash escapes and entities in one pass (so an escaped '&' stays literal)."""
    return _DECODE_RE.sub(lambda m: m.group(1) if m.group(1) is not None else html.unescape(m.group()), text)


def _process_emphasis(tokens: list[Any]) -> list[Any]:
    """Match delimiter runs into ('mark', type, children) subtrees (CommonMark's process-emphasis)."""
    tokens = list(tokens)
    k = 0
    while k < len(tokens):
        closer = tokens[k]
        if not (isinstance(closer, _Delim) and closer.can_close and closer.count > 0):
            k += 1
            continue
        matched = False
        for j in range(k - 1, -1, -1):
            opener = tokens[j]
            if not (isinstance(opener, _Delim) and opener.char == closer.char and opener.can_open):
                continue
            if opener.count <= 0:
                continue
            if closer.char == "~":
                if opener.count != closer.count:
                    continue
                use, mark = closer.count, "strike"
            else:
                if (
                    (opener.can_close or closer.can_open)
                    and (opener.orig + closer.orig) % 3 == 0
                    and not (opener.orig % 3 == 0 and closer.orig % 3 == 0)
                ):
                    continue
                use = 2 if opener.count >= 2 and closer.count >= 2 else 1
                mark = "strong" if use == 2 else "em"
            inner = [_delim_as_text(t) for t in tokens[j + 1 : k]]
            opener.count -= use
            closer.count -= use
            node = ("mark", {"type": mark}, inner)
            tokens[j + 1 : k] = [node]
            k = j + 2  # index of closer now
            if opener.count == 0:
                del tokens[j]
                k -= 1
            matched = True
            break
        if not matched:
            if not closer.can_open:
                tokens[k] = _delim_as_text(closer)
            k += 1
        elif closer.count == 0:
            del tokens[k]
    return [_delim_as_text(t) for t in tokens]


def _delim_as_text(token: Any) -> Any:
    if isinstance(token, _Delim):
        return text_node(token.char * token.count) if token.count else text_node("")
    return token


def _flatten(tree: list[Any], marks: list[Node]) -> list[Node]:
    out: list[Node] = []
    for token in tree:
        if isinstance(token, tuple):
            _, mark, children = token
            inner = marks if any(m["type"] == mark["type"] for m in marks) else [*marks, mark]
            out.extend(_flatten(children, inner))
        elif token.get("type") == "text":
            if token.get("text"):
                out.append(text_node(token["text"], [*marks, *token.get("marks", [])]))
        elif token.get("type") == "mention" or token.get("type") == "hardBreak":
            out.append(token)  # ADF allows no marks on these
        else:
            out.append(token)
    return out
