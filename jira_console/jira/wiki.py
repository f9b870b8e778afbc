"""Jira Server/Data Center wiki markup <-> ADF node trees (the intermediate form of :mod:`.adf`).

Wiki markup has no formal grammar; this follows the renderer's observable rules:

* ``*strong*``, ``_em_``, ``-strike-`` open after a non-alphanumeric character and before a non-space,
  and close after a non-space and before a non-alphanumeric character, on one line. The brace forms
  ``{*}``, ``{_}``, ``{-}`` work anywhere and are what :func:`render_wiki` writes inside words.
* ``+underline+``, ``^sup^``, ``~sub~``, ``??citation??`` and ``{color}`` keep their text, lose the style.
* A single newline inside a paragraph is a line break, as is ``\\\\``; ``\\`` before punctuation escapes it.
* ``{code}``/``{noformat}``/``{quote}``/``{panel}``-style macros are blocks; unknown macros stay as text.

Parsing never raises: unbalanced markup is kept as literal text.
"""

from __future__ import annotations

import html
import itertools
import re
from typing import Any

from jira_console.jira.adf import (
    _EMOJI_RE,
    Node,
    _content,
    _inline_items,
    _is_block,
    emoji_colon_positions,
    flat_text,
    merge_text,
    plain_text,
    protect_edge_whitespace,
    text_node,
)

_MARK_CHARS = {"*": "strong", "_": "em", "-": "strike", "+": None, "^": None, "~": None}
_WIKI_DELIM = {"strong": "*", "em": "_", "strike": "-"}
_HEADING_RE = re.compile(r"^\s*h([1-6])\.(?:[ \t]+(.*)|[ \t]*)$")
_BQ_RE = re.compile(r"^\s*bq\.(?:[ \t]+(.*)|[ \t]*)$")
_LIST_RE = re.compile(r"^\s*([*#]+|-)[ \t]+(.*)$")
_RULE_RE = re.compile(r"^\s*-{4,}\s*$")
_BLOCK_MACRO_RE = re.compile(r"\{(code|noformat|quote|panel|info|note|warning|tip)(?::([^}]*))?\}")
_NUM_ENTITY_RE = re.compile(r"&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});")
_ESCAPABLE = set("!\"#$%&'()*+,-./:;<=>?@[]^_`{|}~")


# --------------------------------------------------------------------------------------------------
# wiki -> ADF
# --------------------------------------------------------------------------------------------------


def parse_wiki(text: Any) -> list[Node]:
    """Parse wiki markup into ADF block nodes; never raises."""
    if text is None:
        return []
    if not isinstance(text, str):
        text = str(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return _parse_blocks(text)
    except RecursionError:
        return [{"type": "paragraph", "content": [text_node(text)]}]


def _parse_blocks(text: str) -> list[Node]:
    blocks: list[Node] = []
    lines = text.split("\n")
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            blocks.append({"type": "paragraph", "content": _parse_inline("\n".join(para))})
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        macro = _BLOCK_MACRO_RE.match(stripped)
        if macro:
            found = _parse_macro(lines, i, macro)
            if found is not None:
                flush()
                nodes, i = found
                blocks.extend(nodes)
                continue
        heading = _HEADING_RE.match(line)
        if heading:
            flush()
            node: Node = {"type": "heading", "attrs": {"level": int(heading.group(1))}}
            node["content"] = _parse_inline((heading.group(2) or "").strip())
            blocks.append(node)
            i += 1
            continue
        bq = _BQ_RE.match(line)
        if bq:
            flush()
            content = (bq.group(1) or "").strip()
            quoted = {"type": "paragraph", "content": _parse_inline(content)}
            blocks.append({"type": "blockquote", "content": [quoted]})
            i += 1
            continue
        if _RULE_RE.match(line):
            flush()
            blocks.append({"type": "rule"})
            i += 1
            continue
        if _LIST_RE.match(line):
            flush()
            start = i
            while i < len(lines) and _LIST_RE.match(lines[i]):
                i += 1
            blocks.extend(_parse_list(lines[start:i]))
            continue
        if stripped.startswith("|"):
            flush()
            start = i
            while i < len(lines) and lines[i].strip().startswith("|"):
                i += 1
            blocks.append(_parse_table(lines[start:i]))
            continue
        para.append(stripped)
        i += 1
    flush()
    return blocks


def _parse_macro(lines: list[str], i: int, macro: re.Match[str]) -> tuple[list[Node], int] | None:
    """A block macro starting at line i: its nodes and the index after it (None when never closed)."""
    name = macro.group(1)
    params = macro.group(2) or ""
    joined = "\n".join(lines[i:])
    body_start = joined.find(macro.group(0)) + len(macro.group(0))
    close = re.compile(r"\{" + name + r"\}").search(joined, body_start)
    if close is None:
        return None
    body = joined[body_start : close.start()]
    next_i = i + joined[: close.end()].count("\n") + 1
    tail = joined[close.end() :].split("\n", 1)[0]
    if tail.strip():
        # text after the closing tag on the same line is read as a line of its own
        lines[next_i - 1] = tail
        next_i -= 1
    if body.startswith("\n"):
        body = body[1:]
    if body.endswith("\n"):
        body = body[:-1]
    if name in ("code", "noformat"):
        language = _code_language(params) if name == "code" else ""
        node: Node = {"type": "codeBlock"}
        if language:
            node["attrs"] = {"language": language}
        node["content"] = [text_node(body)] if body else []
        return [node], next_i
    inner = _parse_blocks(body)
    if name == "quote":
        return [{"type": "blockquote", "content": inner}], next_i
    title = _param(params, "title")
    head = [{"type": "paragraph", "content": _parse_inline(title)}] if title else []
    return head + inner, next_i  # panels keep their words, not their frame


def _code_language(params: str) -> str:
    for part in params.split("|"):
        part = part.strip()
        if part.startswith("language="):
            return part[len("language=") :].strip()
        if part and "=" not in part:
            return part
    return ""


def _param(params: str, key: str) -> str:
    for part in params.split("|"):
        if part.strip().startswith(key + "="):
            return part.split("=", 1)[1].strip()
    return ""


def _parse_list(lines: list[str]) -> list[Node]:
    roots: list[Node] = []
    stack: list[tuple[str, Node]] = []  # (marker char, list node) per depth
    for line in lines:
        m = _LIST_RE.match(line)
        assert m is not None
        markers = "*" if m.group(1) == "-" else m.group(1)
        depth = len(markers)
        for d in range(depth):
            want = "orderedList" if markers[d] == "#" else "bulletList"
            if d < len(stack) and stack[d][0] == markers[d]:
                continue
            del stack[d:]
            new_list: Node = {"type": want, "content": []}
            if d == 0:
                roots.append(new_list)
            else:
                parent_list = stack[d - 1][1]
                if not parent_list["content"]:
                    parent_list["content"].append({"type": "listItem", "content": [_empty_paragraph()]})
                parent_list["content"][-1]["content"].append(new_list)
            stack.append((markers[d], new_list))
        del stack[depth:]
        paragraph = {"type": "paragraph", "content": _parse_inline(m.group(2).strip())}
        item = {"type": "listItem", "content": [paragraph]}
        stack[-1][1]["content"].append(item)
    return roots


def _empty_paragraph() -> Node:
    return {"type": "paragraph", "content": []}


def _split_cells(line: str) -> list[tuple[bool, str]]:
    """Split a table row into (is_header, source) cells; pipes inside [links] and {{code}} do not split."""
    line = line.strip()
    cells: list[tuple[bool, str]] = []
    k = 0
    n = len(line)
    header = False
    current: list[str] = []
    started = False
    depth_link = 0
    while k < n:
        ch = line[k]
        if ch == "\\" and k + 1 < n:
            current.append(line[k : k + 2])
            k += 2
            continue
        if line.startswith("{{", k):
            end = line.find("}}", k + 2)
            if end != -1:
                current.append(line[k : end + 2])
                k = end + 2
                continue
        if ch == "[":
            depth_link += 1
        elif ch == "]" and depth_link:
            depth_link -= 1
        if ch == "|" and not depth_link:
            if started:
                cells.append((header, "".join(current)))
            current = []
            started = True
            header = line.startswith("||", k)
            k += 2 if header else 1
            continue
        current.append(ch)
        k += 1
    tail = "".join(current)
    if started and tail.strip():
        cells.append((header, tail))
    return cells


def _parse_table(lines: list[str]) -> Node:
    rows = []
    for line in lines:
        cells = _split_cells(line)
        row: list[dict[str, Any]] = [
            {
                "type": "tableHeader" if is_header else "tableCell",
                "attrs": {},
                "content": [{"type": "paragraph", "content": _parse_inline(src.strip())}],
            }
            for is_header, src in cells
        ]
        if row:
            rows.append({"type": "tableRow", "content": row})
    return {"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"}, "content": rows}


# ---- inline ----------------------------------------------------------------------------------------


def _parse_inline(src: str) -> list[Node]:
    return merge_text(_inline(src, []))


def _opens(src: str, i: int, ch: str) -> bool:
    prev = src[i - 1] if i else " "
    nxt = src[i + 1] if i + 1 < len(src) else " "
    if ch == "-" and (prev == "-" or nxt == "-"):
        return False  # '--' and '---' are dashes
    return not prev.isalnum() and not nxt.isspace()


def _closes(src: str, i: int, ch: str) -> bool:
    prev = src[i - 1] if i else " "
    nxt = src[i + 1] if i + 1 < len(src) else " "
    if ch == "-" and (prev == "-" or nxt == "-"):
        return False
    return not prev.isspace() and not nxt.isalnum()


def _skip_span(src: str, k: int) -> int:
    """Index after an escape, {{code}} or [link] starting at k (so markers inside them are not closers)."""
    if src[k] == "\\":
        return k + 2
    if src.startswith("{{", k):
        end = _find_code_end(src, k + 2)
        return end + 2 if end is not None else k + 1
    if src[k] == "[":
        end = _find_bracket_end(src, k)
        return end + 1 if end is not None else k + 1
    return k + 1


def _find_code_end(src: str, k: int) -> int | None:
    while k < len(src) - 1:
        if src[k] == "\\":
            k += 2
            continue
        if src.startswith("}}", k):
            return k
        k += 1
    return None


def _find_bracket_end(src: str, k: int) -> int | None:
    j = k + 1
    while j < len(src):
        if src[j] == "\\":
            j += 2
            continue
        if src[j] == "\n":
            return None
        if src[j] == "]":
            return j
        j += 1
    return None


def _find_closer(src: str, start: int, ch: str, brace: bool) -> tuple[int, int] | None:
    """(position, length) of the marker closing a span opened just before ``start``."""
    k = start
    while k < len(src):
        c = src[k]
        if c == "\n":
            return None
        if src.startswith("{" + ch + "}", k) and k > start:
            return k, 3
        if c == ch and k > start and _closes(src, k, ch):
            return k, 1
        if c in "\\[" or src.startswith("{{", k):
            k = _skip_span(src, k)
            continue
        k += 1
    del brace
    return None


def _inline(src: str, marks: list[Node]) -> list[Node]:
    out: list[Node] = []
    # where a search for a closing marker already failed: a later search on the same line fails too, so
    # remembering it keeps long lines full of unbalanced markers linear instead of quadratic
    failed: dict[str, int] = {}

    def line_end(at: int) -> int:
        end = src.find("\n", at)
        return len(src) if end < 0 else end

    def known_failure(key: str, at: int) -> bool:
        return key in failed and failed[key] <= at < line_end(failed[key])

    buf: list[str] = []
    i = 0
    n = len(src)

    def flush() -> None:
        if buf:
            out.append(text_node("".join(buf), marks))
            buf.clear()

    while i < n:
        ch = src[i]
        if ch == "\\":
            if src.startswith("\\\\", i):
                flush()
                out.append({"type": "hardBreak"})
                i += 2
                continue
            if i + 1 < n and src[i + 1] in _ESCAPABLE:
                buf.append(src[i + 1])
                i += 2
                continue
        if ch == "\n":
            flush()
            out.append({"type": "hardBreak"})
            i += 1
            continue
        if ch == "&":
            m = _NUM_ENTITY_RE.match(src, i)
            if m:
                buf.append(html.unescape(m.group()))
                i = m.end()
                continue
        if src.startswith("{{", i):
            end = None if known_failure("{{", i) else _find_code_end(src, i + 2)
            if end is None and not known_failure("{{", i):
                failed["{{"] = i
            if end is not None and end > i + 2:
                flush()
                code = _unescape(src[i + 2 : end])
                out.append(text_node(code, [*_link_only(marks), {"type": "code"}]))
                i = end + 2
                continue
        if ch == "{":
            color = re.match(r"\{color(?::[^}]*)?\}", src[i:])
            if color:
                i += color.end()  # colour is presentation only; the text inside is kept
                continue
            brace = re.match(r"\{([*_\-+^~])\}", src[i:])
            if brace:
                key = "{" + brace.group(1)
                span = None if known_failure(key, i) else _try_span(src, i, brace.group(1), 3, marks)
                if span is None and not known_failure(key, i):
                    failed[key] = i
                if span is not None:
                    flush()
                    nodes, i = span
                    out.extend(nodes)
                    continue
        if ch == "[":
            end = None if known_failure("[", i) else _find_bracket_end(src, i)
            if end is None and not known_failure("[", i):
                failed["["] = i
            if end is not None:
                bracketed = _bracket(src[i + 1 : end], marks)
                if bracketed is not None:
                    flush()
                    out.extend(bracketed)
                    i = end + 1
                    continue
        if ch == "?" and src.startswith("??", i) and (not i or not src[i - 1].isalnum()):
            close = src.find("??", i + 2)
            if close > i + 2 and "\n" not in src[i:close]:
                flush()
                out.extend(_inline(src[i + 2 : close], marks))
                i = close + 2
                continue
        if ch in _MARK_CHARS and _opens(src, i, ch):
            span = None if known_failure(ch, i) else _try_span(src, i, ch, 1, marks)
            if span is None and not known_failure(ch, i):
                failed[ch] = i
            if span is not None:
                flush()
                nodes, i = span
                out.extend(nodes)
                continue
        if ch == ":":
            m = _EMOJI_RE.match(src, i)
            if m:
                flush()
                out.append({"type": "emoji", "attrs": {"shortName": m.group()}})
                i = m.end()
                continue
        buf.append(ch)
        i += 1
    flush()
    return out


def _link_only(marks: list[Node]) -> list[Node]:
    return [m for m in marks if m["type"] == "link"]


def _try_span(src: str, i: int, ch: str, width: int, marks: list[Node]) -> tuple[list[Node], int] | None:
    found = _find_closer(src, i + width, ch, brace=width == 3)
    if found is None:
        return None
    pos, close_width = found
    if pos == i + width:
        return None
    mark = _MARK_CHARS[ch]
    inner_marks = marks if mark is None or any(m["type"] == mark for m in marks) else [*marks, {"type": mark}]
    return _inline(src[i + width : pos], inner_marks), pos + close_width


def _bracket(inner: str, marks: list[Node]) -> list[Node] | None:
    """[~user], [~accountid:x], [text|url], [url]; None for things that are not links (kept literal)."""
    if inner.startswith("~"):
        who = _unescape(inner[1:])
        if who.lower().startswith("accountid:"):
            return [{"type": "mention", "attrs": {"id": who[10:], "text": "@" + who[10:]}}]
        return [{"type": "mention", "attrs": {"username": who, "text": "@" + who}}] if who else None
    parts = _split_unescaped(inner, "|")
    if len(parts) >= 2:
        label, href = parts[0], _unescape(parts[1].strip())
    else:
        label, href = inner, _unescape(inner.strip())
    if not href or href.startswith("^") or href.startswith("#") and len(parts) < 2:
        return None  # attachments and anchors: keep as written
    if len(parts) < 2 and not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:|^www\.", href):
        return None  # '[something]' that is not a URL is just text in brackets
    link = {"type": "link", "attrs": {"href": href}}
    link_marks = [m for m in marks if m["type"] != "link"] + [link]
    if len(parts) < 2:
        return [text_node(href, link_marks)]
    return _inline(label, link_marks)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    k = 0
    while k < len(text):
        if text[k] == "\\" and k + 1 < len(text):
            current.append(text[k : k + 2])
            k += 2
            continue
        if text[k] == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(text[k])
        k += 1
    parts.append("".join(current))
    return parts


_DECODE_RE = re.compile(r"\\([!-/:-@\[-`{-~])|&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});")


def _unescape(text: str) -> str:
    """Undo backslash escapes and numeric entities in one pass (so an escaped '&' stays literal)."""
    return _DECODE_RE.sub(lambda m: m.group(1) if m.group(1) is not None else html.unescape(m.group()), text)


# --------------------------------------------------------------------------------------------------
# ADF -> wiki
# --------------------------------------------------------------------------------------------------


def render_wiki(blocks: list[Any]) -> str:
    """Render ADF block nodes as wiki markup that :func:`parse_wiki` reads back to the same nodes."""
    try:
        return _render_blocks(blocks)
    except RecursionError:
        return _escape_lines(_escape_text(flat_text(blocks)).split("\n"), "\n")


def _render_blocks(nodes: list[Any]) -> str:
    from jira_console.jira.adf import _as_blocks

    out = [text for text in (_render_block(node) for node in _as_blocks(nodes)) if text is not None]
    return "\n\n".join(out)


def _render_block(node: Node) -> str | None:
    kind = node.get("type")
    attrs: dict[str, Any] = node["attrs"] if isinstance(node.get("attrs"), dict) else {}
    if kind == "paragraph":
        text = _render_inline(_content(node), "\n")
        lines = text.split("\n")
        # an empty line would end the paragraph, so breaks around one are written as \\ instead
        joiner = "\\\\" if len(lines) > 1 and not all(lines) else "\n"
        return _escape_lines(lines, joiner) if text else None
    if kind == "heading":
        level = attrs.get("level")
        level = level if isinstance(level, int) and 1 <= level <= 6 else 1
        text = _escape_lines([_render_inline(_content(node), "\\\\")], "")
        return f"h{level}. {text}" if text else f"h{level}."
    if kind == "codeBlock":
        language = str(attrs.get("language") or "")
        text = plain_text(_content(node))
        if language and re.fullmatch(r"[A-Za-z0-9_+\-#.]+", language):
            return f"{{code:{language}}}\n{text}\n{{code}}"
        return f"{{noformat}}\n{text}\n{{noformat}}"
    if kind == "blockquote":
        inner = _render_blocks(_flatten_quotes(_content(node)))
        return f"{{quote}}\n{inner}\n{{quote}}" if inner else None
    if kind == "rule":
        return "----"
    if kind in ("bulletList", "orderedList"):
        lines = _render_list(node, "")
        return "\n".join(lines) if lines else None
    if kind == "table":
        return _render_table(node)
    children = _content(node)
    if children and any(_is_block(c) for c in children):
        return _render_blocks(children) or None
    text = _render_inline(children, "\n") if children else _escape_text(plain_text(node))
    return _escape_lines(text.split("\n"), "\n") if text else None


def _flatten_quotes(nodes: list[Any]) -> list[Any]:
    """{quote} does not nest: an inner quote contributes its blocks."""
    out: list[Any] = []
    for node in nodes:
        if isinstance(node, dict) and node.get("type") == "blockquote":
            out.extend(_flatten_quotes(_content(node)))
        else:
            out.append(node)
    return out


def _render_list(node: Node, prefix: str) -> list[str]:
    marker = prefix + ("#" if node.get("type") == "orderedList" else "*")
    lines: list[str] = []
    for item in _content(node):
        if not isinstance(item, dict):
            continue
        children = _content(item) if item.get("type") == "listItem" else [item]
        texts: list[str] = []
        nested: list[str] = []
        for child in children:
            if not isinstance(child, dict):
                continue
            if child.get("type") in ("bulletList", "orderedList"):
                nested.extend(_render_list(child, marker))
            elif child.get("type") in ("paragraph", "heading"):
                texts.append(_render_inline(_content(child), "\\\\"))
            else:
                # wiki list items are one line: other blocks keep their text, not their shape
                texts.append(_escape_text(plain_text(child)).replace("\n", "\\\\"))
        text = _escape_lines(["\\\\".join(t for t in texts if t)], "")
        lines.append(f"{marker} {text}" if text else marker + " ")
        lines.extend(nested)
    return lines


def _render_table(node: Node) -> str | None:
    rows = []
    for row in _content(node):
        cells = [c for c in _content(row) if isinstance(c, dict)]
        if not cells:
            continue
        parts = []
        for cell in cells:
            delim = "||" if cell.get("type") == "tableHeader" else "|"
            texts = []
            for block in _content(cell):
                if isinstance(block, dict) and block.get("type") in ("paragraph", "heading"):
                    texts.append(_render_inline(_content(block), "\\\\"))
                elif block is not None:
                    texts.append(_escape_text(plain_text(block)).replace("\n", "\\\\"))
            text = _escape_lines(["\\\\".join(t for t in texts if t)], "")
            parts.append(delim + (text or " "))
        closing = "||" if cells[-1].get("type") == "tableHeader" else "|"
        rows.append("".join(parts) + closing)
    return "\n".join(rows) if rows else None


def _render_inline(nodes: list[Any], line_break: str) -> str:
    """Inline nodes as wiki; hard breaks become ``line_break`` ('\\n' in paragraphs, '\\\\' elsewhere)."""
    items = _inline_items(nodes)
    out: list[str] = []
    groups = [(link, list(group)) for link, group in itertools.groupby(items, key=lambda item: item[2])]
    for g, (link, group) in enumerate(groups):
        following = _first_char(groups[g + 1][1]) if g + 1 < len(groups) else ""
        if link is None:
            out.append(_render_marked(group, line_break, following))
            continue
        href = link[0]
        inner = _render_marked(group, "\\\\", "|")  # a link cannot span lines
        bare = re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:|www\.", href) is not None
        if bare and len(group) == 1 and group[0][0] == "text" and group[0][1] == href and not group[0][3]:
            out.append(f"[{_escape_href(href)}]")
        else:
            out.append(f"[{inner}|{_escape_href(href)}]")
    return "".join(out)


def _escape_href(href: str) -> str:
    return re.sub(r"([\]|\\])", r"\\\1", href)


def _first_char(group: list[Any]) -> str:
    kind, payload, link, marks = group[0]
    if link is not None or kind == "mention":
        return "["
    if kind == "text" and not marks:
        return payload[:1]
    return "{"


def _render_marked(items: list[Any], line_break: str, following: str) -> str:
    out: list[str] = []
    stack: list[str] = []

    def prev_char() -> str:
        joined = "".join(out[-2:])
        return joined[-1:] if joined else ""

    for k, (kind, payload, _link, marks) in enumerate(items):
        if kind == "text":
            need = set(marks) - {"code"}
            text = _code(payload) if "code" in marks else _escape_text(payload)
            cut = next((d for d, m in enumerate(stack) if m not in need), len(stack))
            for m in reversed(stack[cut:]):
                out.append(_closer(m, prev_char(), text[:1]))
            del stack[cut:]
            opening = [m for m in ("strong", "em", "strike") if m in need and m not in stack]

            def run_length(mark: str, start: int = k) -> int:
                n = 0
                for later in items[start:]:
                    if later[0] == "text" and mark not in later[3]:
                        break
                    n += 1
                return n

            opening.sort(key=lambda m: (-run_length(m), ("strong", "em", "strike").index(m)))
            for m in opening:
                before = prev_char()
                # the plain form opens only after a non-alphanumeric character, and never next to a dash
                plain = (not before or not before.isalnum() and before != "-") and not text.startswith("-")
                out.append(_WIKI_DELIM[m] if plain else "{" + _WIKI_DELIM[m] + "}")
                stack.append(m)
            out.append(text)
        else:
            # an atom between runs: close what the next text does not continue, so no closer lands
            # at the start of the next line or after a mention
            later: frozenset[Any] = next((it[3] for it in items[k + 1 :] if it[0] == "text"), frozenset())
            if kind == "break":
                later = frozenset()  # wiki emphasis never spans lines
            cut = next((d for d, m in enumerate(stack) if m not in later), len(stack))
            for m in reversed(stack[cut:]):
                out.append(_closer(m, prev_char(), " "))
            del stack[cut:]
        if kind == "break":
            out.append(line_break)
        elif kind == "emoji":
            out.append(payload)
        elif kind == "mention":
            if payload.get("username") is not None:
                out.append("[~" + _escape_href(str(payload["username"])) + "]")
            elif payload.get("id") is not None:
                out.append("[~accountid:" + _escape_href(str(payload["id"])) + "]")
            else:
                out.append(_escape_text(str(payload.get("text") or "")))
    for m in reversed(stack):
        out.append(_closer(m, prev_char(), following))
    return "".join(out)


def _closer(mark: str, prev_char: str, next_char: str) -> str:
    delim = _WIKI_DELIM[mark]
    # the plain form only closes before a non-alphanumeric character (and never next to a dash);
    # braces work anywhere
    plain = (not next_char or not next_char.isalnum() and next_char not in "*_-{") and prev_char != "-"
    return delim if plain else "{" + delim + "}"


def _code(text: str) -> str:
    escaped = re.sub(
        r"([{}|\[\]])|&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};)", lambda m: "\\" + m.group(), text
    )
    escaped = re.sub(r"\\(?=[!-/:-@\[-`{-~]|$)(?![{}|\[\]])", "&#92;", escaped)
    return "{{" + escaped + "}}"


def _escape_text(text: str) -> str:
    """Escape what wiki markup would read as syntax in plain text."""
    emoji_colons = emoji_colon_positions(text)
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        nxt = text[i + 1] if i + 1 < n else ""
        if ch == "\\":
            out.append("\\" if nxt.isalnum() else "&#92;")  # '\\' would be a line break, '\\*' an escape
        elif ch in "[]{|!":
            out.append("\\" + ch)
        elif ch in _MARK_CHARS:
            could_open = not prev.isalnum() and not nxt.isspace()
            could_close = not prev.isspace() and not nxt.isalnum()
            dash_run = ch == "-" and (prev == "-" or nxt == "-")
            out.append("\\" + ch if (could_open or could_close) and not dash_run else ch)
        elif ch == "?" and (prev == "?" or nxt == "?"):
            out.append("\\?")
        elif ch == "&" and _NUM_ENTITY_RE.match(text, i):
            out.append("\\&")
        elif ch == ":" and i in emoji_colons:
            out.append("\\:")
        else:
            out.append(ch)
    return "".join(out)


_LINE_START_RE = re.compile(r"^(?:[*#-]+[ \t]|#|h[1-6]\.|bq\.|-{4,}|\|)")


def _escape_lines(lines: list[str], joiner: str) -> str:
    out = []
    for line in lines:
        if _LINE_START_RE.match(line) and not line.startswith("\\"):
            line = "\\" + line if line[0] in "*#-|" else line[:2] + "\\" + line[2:]
        line = protect_edge_whitespace(line)
        out.append(line)
    return joiner.join(out)
