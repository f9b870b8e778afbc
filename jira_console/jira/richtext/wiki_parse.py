"""Parsing the blocks of Jira wiki markup (Server/DC) into the intermediate tree.

Paragraphs, ``h1.``-``h6.`` headings, ``bq.`` quotes, ``----`` rules, ``*``/``#``/``-`` lists (nested by
repeating the marker), ``||header||`` and ``|cell|`` tables, and the block macros ``{code}``,
``{noformat}``, ``{quote}`` and ``{panel}``/``{info}``/``{note}``/``{warning}``/``{tip}``. Panels show as
their title and content and are carried as :class:`~.tree.Foreign` blocks keeping the macro's source text.
Unknown macros stay as text; a macro never closed is text too. Inline content: :mod:`.wiki_inline`.
"""

from __future__ import annotations

import re
from typing import Any

from jira_console.jira.richtext.tree import (
    Block,
    CodeBlock,
    Foreign,
    Heading,
    ListBlock,
    ListItem,
    Paragraph,
    Quote,
    Rule,
    Table,
    TableCell,
    TableRow,
    text_inlines,
)
from jira_console.jira.richtext.wiki_inline import find_bracket_end, parse_inline

_HEADING_RE = re.compile(r"^\s*h([1-6])\.(?:[ \t]+(.*)|[ \t]*)$")
_BQ_RE = re.compile(r"^\s*bq\.(?:[ \t]+(.*)|[ \t]*)$")
_LIST_RE = re.compile(r"^\s*([*#]+|-)[ \t]+(.*)$")
_RULE_RE = re.compile(r"^\s*-{4,}\s*$")
_BLOCK_MACRO_RE = re.compile(r"\{(code|noformat|quote|panel|info|note|warning|tip)(?::([^}]*))?\}")


def parse_wiki(text: Any) -> list[Block]:
    """Parse wiki markup into tree blocks; never raises."""
    if text is None:
        return []
    if not isinstance(text, str):
        text = str(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return _BlockParser(text.split("\n")).parse()
    except RecursionError:
        return [Paragraph(text_inlines(text))]


def split_wiki(lines: list[str]) -> tuple[list[Block], list[tuple[int, int]]] | None:
    """The blocks of wiki ``lines`` and the lines each was read from ([start, end)); None when a block does
    not own whole lines (text after a macro's closing tag)."""
    parser = _BlockParser(list(lines))
    blocks = parser.parse()
    return None if parser.shared_line else (blocks, parser.spans)


class _BlockParser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.blocks: list[Block] = []
        self.para: list[str] = []
        self.spans: list[tuple[int, int]] = []  # the lines each block was read from
        self.para_lines = (0, 0)
        self.shared_line = False

    def parse(self) -> list[Block]:
        i = 0
        while i < len(self.lines):
            count = len(self.spans)
            step = self._block(i)
            self.spans[count:] = [(a, step if b < 0 else b) for a, b in self.spans[count:]]
            i = step
        self._flush()
        return self.blocks

    def _flush(self) -> None:
        if self.para:
            self.blocks.append(Paragraph(parse_inline("\n".join(self.para))))
            self.spans.append(self.para_lines)
            self.para.clear()

    def _add(self, at: int, *blocks: Block) -> None:
        self._flush()
        self.blocks.extend(blocks)
        self.spans.extend((at, -1) for _ in blocks)  # the end is where the next block starts

    def _block(self, i: int) -> int:
        """Read the block starting at line ``i``; the index of the next line to read."""
        lines = self.lines
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            self._flush()
            return i + 1
        macro = _BLOCK_MACRO_RE.match(stripped)
        found = self._macro(i, macro) if macro else None
        if found is not None:
            self._add(i, *found[0])
            return found[1]
        heading = _HEADING_RE.match(line)
        if heading:
            self._add(i, Heading(int(heading.group(1)), parse_inline((heading.group(2) or "").strip())))
            return i + 1
        quote = _BQ_RE.match(line)
        if quote:
            self._add(i, Quote([Paragraph(parse_inline((quote.group(1) or "").strip()))]))
            return i + 1
        if _RULE_RE.match(line):
            self._add(i, Rule())
            return i + 1
        if _LIST_RE.match(line) or stripped.startswith("|"):
            start = i
            is_list = _LIST_RE.match(line) is not None
            while i < len(lines) and (
                _LIST_RE.match(lines[i]) if is_list else lines[i].strip().startswith("|")
            ):
                i += 1
            self._add(start, *(_parse_list(lines[start:i]) if is_list else [_parse_table(lines[start:i])]))
            return i
        self.para_lines = (self.para_lines[0] if self.para else i, i + 1)
        self.para.append(stripped)
        return i + 1

    def _macro(self, i: int, macro: re.Match[str]) -> tuple[list[Block], int] | None:
        """A block macro starting at line i: its blocks and the index after it (None when never closed)."""
        name = macro.group(1)
        joined = "\n".join(self.lines[i:])
        start = joined.find(macro.group(0))
        body_start = start + len(macro.group(0))
        close = _closing_tag(joined, name, body_start)
        if close is None:
            return None
        body = joined[body_start : close.start()]
        next_i = i + joined[: close.end()].count("\n") + 1
        tail = joined[close.end() :].split("\n", 1)[0]
        if tail.strip():
            # text after the closing tag on the same line is read as a line of its own
            self.lines[next_i - 1] = tail
            next_i -= 1
            self.shared_line = True
        body = body[1:] if body.startswith("\n") else body
        body = body[:-1] if body.endswith("\n") else body
        return _macro_blocks(name, macro.group(2) or "", body, joined[start : close.end()]), next_i


def _closing_tag(text: str, name: str, start: int) -> re.Match[str] | None:
    """The ``{name}`` closing a macro; in a markup body (not code) an escaped ``\\{name}`` is text."""
    for found in re.compile(r"\{" + name + r"\}").finditer(text, start):
        k = found.start()
        while k > start and text[k - 1] == "\\":
            k -= 1
        if name in ("code", "noformat") or (found.start() - k) % 2 == 0:
            return found
    return None


def _macro_blocks(name: str, params: str, body: str, source: str) -> list[Block]:
    if name in ("code", "noformat"):
        return [CodeBlock(body, _code_language(params) if name == "code" else "")]
    inner = _BlockParser(body.split("\n")).parse()
    if name == "quote":
        return [Quote(inner)]
    title = _param(params, "title")
    head: list[Block] = [Paragraph(parse_inline(title))] if title else []
    return [Foreign(name, head + inner, source=source)]  # panels keep their words, not their frame


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


def _parse_list(lines: list[str]) -> list[Block]:
    roots: list[Block] = []
    stack: list[tuple[str, ListBlock]] = []  # (marker char, list) per depth
    for line in lines:
        m = _LIST_RE.match(line)
        assert m is not None
        markers = "*" if m.group(1) == "-" else m.group(1)
        for depth, marker in enumerate(markers):
            if depth < len(stack) and stack[depth][0] == marker:
                continue
            del stack[depth:]
            new_list = ListBlock(marker == "#", [])
            if depth == 0:
                roots.append(new_list)
            else:
                parent = stack[depth - 1][1]
                if not parent.items:
                    parent.items.append(ListItem([Paragraph([])]))
                parent.items[-1].blocks.append(new_list)
            stack.append((marker, new_list))
        del stack[len(markers) :]
        stack[-1][1].items.append(ListItem([Paragraph(parse_inline(m.group(2).strip()))]))
    return roots


def _split_cells(line: str) -> list[tuple[bool, str]]:
    """Split a table row into (is_header, source) cells; pipes inside [links] and {{code}} do not split."""
    line = line.strip()
    cells: list[tuple[bool, str]] = []
    k, n = 0, len(line)
    header = started = False
    current: list[str] = []
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
            close = find_bracket_end(line, k)  # the same bracket the inline parser will see
            if close is not None:
                current.append(line[k : close + 1])
                k = close + 1
                continue
        if ch == "|":
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


def _parse_table(lines: list[str]) -> Table:
    rows = []
    for line in lines:
        cells = [
            TableCell([Paragraph(parse_inline(src.strip()))], header=is_header)
            for is_header, src in _split_cells(line)
        ]
        if cells:
            rows.append(TableRow(cells))
    return Table(rows)
