"""Writing the intermediate tree as Jira wiki markup that :mod:`.wiki_parse` reads back to the same tree.

Emphasis is ``*strong*``, ``_em_``, ``-strike-``, written in the brace form (``{*}``) where the plain form
would not open or close (inside words, next to dashes); code is ``{{code}}``; links ``[text|url]`` or
``[url]``; mentions ``[~name]``/``[~accountid:ID]``. Code blocks with a plain language name are
``{code:lang}``, others ``{noformat}``; quotes are ``{quote}`` (which does not nest). A wiki list item and a
table cell are one line, so blocks other than paragraphs inside them keep their text, not their shape.
"""

from __future__ import annotations

import re

from jira_console.jira.richtext.runs import link_groups
from jira_console.jira.richtext.syntax import emoji_colon_positions, protect_edge_whitespace
from jira_console.jira.richtext.tree import (
    CODE,
    EMPHASIS,
    Block,
    Break,
    CodeBlock,
    Emoji,
    Heading,
    Inline,
    ListBlock,
    Mention,
    Paragraph,
    Quote,
    Rule,
    Table,
    TableCell,
    Text,
    flat_text,
    plain_text,
    splice,
)
from jira_console.jira.richtext.wiki_inline import MARK_CHARS, NUM_ENTITY_RE
from jira_console.jira.richtext.wiki_tokens import EMOTICON_RE

_WIKI_DELIM = {"strong": "*", "em": "_", "strike": "-"}
_LANGUAGE_RE = re.compile(r"[A-Za-z0-9_+\-#.]+")
_URL_START_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:|www\.")
_LINE_START_RE = re.compile(r"^(?:[*#-]+[ \t]|#|h[1-6]\.|bq\.|-{4,}|\|)")
_MAYBE_SYNTAX_RE = re.compile(r"[\\\[\]{|!*_\-+^~?&:(;]")
_ITEM_BREAK = "\\\\"


def render_wiki(blocks: list[Block]) -> str:
    """Wiki markup for ``blocks``; never raises (absurdly deep trees come out as their text)."""
    try:
        return _render_blocks(blocks)
    except RecursionError:
        return escape_lines(escape_text(flat_text(blocks)).split("\n"), "\n")


def _render_blocks(blocks: list[Block]) -> str:
    return "\n\n".join(text for text in map(_render_block, blocks) if text is not None)


def _render_block(block: Block) -> str | None:
    if isinstance(block, Paragraph):
        text = render_inline(block.content, "\n")
        lines = text.split("\n")
        # an empty line would end the paragraph, so breaks around one are written as \\ instead
        joiner = _ITEM_BREAK if len(lines) > 1 and not all(lines) else "\n"
        return escape_lines(lines, joiner) if text else None
    if isinstance(block, Heading):
        text = escape_lines([render_inline(block.content, _ITEM_BREAK)], "")
        return f"h{block.level}. {text}" if text else f"h{block.level}."
    if isinstance(block, CodeBlock):
        return _render_code(block)
    if isinstance(block, Quote):
        inner = _render_blocks(splice(block.blocks, Quote))  # {quote} does not nest
        return f"{{quote}}\n{inner}\n{{quote}}" if inner else None
    if isinstance(block, Rule):
        return "----"
    if isinstance(block, ListBlock):
        lines = _render_list(block, "")
        return "\n".join(lines) if lines else None
    if isinstance(block, Table):
        return _render_table(block)
    return _render_blocks(block.blocks) or None


def _one_line(blocks: list[Block]) -> str:
    """Blocks as one line (a list item or a table cell); paragraphs keep their markup."""
    texts = []
    for block in blocks:
        if isinstance(block, Paragraph | Heading):
            texts.append(render_inline(block.content, _ITEM_BREAK))
        else:
            texts.append(escape_text(plain_text(block)).replace("\n", _ITEM_BREAK))
    return escape_lines([_ITEM_BREAK.join(t for t in texts if t)], "")


def _render_code(block: CodeBlock) -> str:
    """``{code:lang}`` or ``{noformat}``: whichever tag the (verbatim) body does not itself contain."""
    text = block.text
    if block.language and _LANGUAGE_RE.fullmatch(block.language) and "{code}" not in text:
        return f"{{code:{block.language}}}\n{text}\n{{code}}"
    if "{noformat}" in text and "{code}" not in text:
        return f"{{code}}\n{text}\n{{code}}"
    return f"{{noformat}}\n{text}\n{{noformat}}"


def _render_list(block: ListBlock, prefix: str) -> list[str]:
    marker = prefix + ("#" if block.ordered else "*")
    lines: list[str] = []
    for item in block.items:
        nested = [b for b in item.blocks if isinstance(b, ListBlock)]
        text = _one_line([b for b in item.blocks if not isinstance(b, ListBlock)])
        lines.append(f"{marker} {text}" if text else marker + " ")
        for child in nested:
            lines.extend(_render_list(child, marker))
    return lines


def _render_table(table: Table) -> str | None:
    rows = []
    for row in table.rows:
        if not row.cells:
            continue
        parts = [_cell_delimiter(cell) + (_one_line(cell.blocks) or " ") for cell in row.cells]
        rows.append("".join(parts) + _cell_delimiter(row.cells[-1]))
    return "\n".join(rows) if rows else None


def _cell_delimiter(cell: TableCell) -> str:
    return "||" if cell.header else "|"


# ---- inline -----------------------------------------------------------------------------------------


def render_inline(nodes: list[Inline], line_break: str) -> str:
    """Inline nodes as wiki; hard breaks become ``line_break`` ('\\n' in paragraphs, '\\\\' elsewhere)."""
    groups = link_groups(nodes)
    out: list[str] = []
    for g, (link, group) in enumerate(groups):
        following = _first_char(groups[g + 1][1]) if g + 1 < len(groups) else ""
        if link is None:
            out.append(_render_marked(group, line_break, following))
            continue
        href = link.href
        first = group[0]
        if (
            _URL_START_RE.match(href)
            and len(group) == 1
            and type(first) is Text
            and first.text == href
            and not first.marks
        ):
            out.append(f"[{_escape_href(href)}]")
        else:
            inner = _render_marked(group, _ITEM_BREAK, "|")  # a link cannot span lines
            out.append(f"[{inner}|{_escape_href(href)}]")
    return "".join(out)


def _escape_href(href: str) -> str:
    return re.sub(r"([\]|\\])", r"\\\1", href)


def _first_char(group: list[Inline]) -> str:
    first = group[0]
    if type(first) is Mention or (type(first) is Text and first.link is not None):
        return "["
    if type(first) is Text and not first.marks:
        return first.text[:1]
    return "{"


class _Marked:
    """One link group (or unlinked run) with emphasis opened and closed as a stack, longest run outermost."""

    def __init__(self, items: list[Inline], line_break: str) -> None:
        self.items = items
        self.line_break = line_break
        self.out: list[str] = []
        self.stack: list[str] = []

    def prev_char(self) -> str:
        joined = "".join(self.out[-2:])
        return joined[-1:] if joined else ""

    def close_from(self, cut: int, next_char: str) -> None:
        for mark in reversed(self.stack[cut:]):
            self.out.append(_closer(mark, self.prev_char(), next_char))
        del self.stack[cut:]

    def first_unneeded(self, need: frozenset[str] | set[str]) -> int:
        return next((d for d, m in enumerate(self.stack) if m not in need), len(self.stack))

    def run_length(self, mark: str, start: int) -> int:
        n = 0
        for later in self.items[start:]:
            if type(later) is Text and mark not in later.marks:
                break
            n += 1
        return n

    def text(self, k: int, item: Text) -> None:
        need = set(item.marks) - {CODE}
        text = _code(item.text) if CODE in item.marks else escape_text(item.text)
        if text.endswith("(") and not text.endswith("\\(") and k + 1 < len(self.items):
            # '(' then an opening '*' and ')' would read as the emoticon '(*)' across the two runs
            text = text[:-1] + "\\("
        self.close_from(self.first_unneeded(need), text[:1])
        opening = [m for m in EMPHASIS if m in need and m not in self.stack]
        opening.sort(key=lambda m: (-self.run_length(m, k), EMPHASIS.index(m)))
        for mark in opening:
            before = self.prev_char()
            # the plain form opens only after a non-alphanumeric character, and never next to a dash; at the
            # start of a line, '*#' or '-#' would read as a list marker
            plain = (not before or not before.isalnum() and before != "-") and not text.startswith("-")
            plain = plain and not (before in ("", "\n") and text.startswith("#"))
            self.out.append(_WIKI_DELIM[mark] if plain else "{" + _WIKI_DELIM[mark] + "}")
            self.stack.append(mark)
        self.out.append(text)

    def atom(self, k: int, item: Inline) -> None:
        # an atom between runs: close what the next text does not continue, so no closer lands at the
        # start of the next line or after a mention
        later: frozenset[str] = next(
            (it.marks for it in self.items[k + 1 :] if type(it) is Text), frozenset()
        )
        if type(item) is Break:
            later = frozenset()  # wiki emphasis never spans lines
        self.close_from(self.first_unneeded(later), " ")
        if type(item) is Break:
            self.out.append(self.line_break)
        elif type(item) is Emoji:
            self.out.append(item.short_name)
        elif type(item) is Mention:
            self.out.append(_render_mention(item))


def _render_marked(items: list[Inline], line_break: str, following: str) -> str:
    marked = _Marked(items, line_break)
    for k, item in enumerate(items):
        if type(item) is Text:
            marked.text(k, item)
        else:
            marked.atom(k, item)
    marked.close_from(0, following)
    return "".join(marked.out)


def _render_mention(mention: Mention) -> str:
    if mention.username is not None:
        return "[~" + _escape_href(mention.username) + "]"
    if mention.account_id is not None:
        return "[~accountid:" + _escape_href(mention.account_id) + "]"
    return escape_text(mention.text)


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


def escape_text(text: str) -> str:
    """Escape what wiki markup would read as syntax in plain text."""
    if not _MAYBE_SYNTAX_RE.search(text):
        return text
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
        elif ch in MARK_CHARS:
            # a space ending the text may end a line, where it is written '&#32;', which a marker opens before
            could_open = not prev.isalnum() and (not nxt.isspace() or i + 2 == n)
            could_close = not prev.isspace() and not nxt.isalnum()
            dash_run = ch == "-" and (prev == "-" or nxt == "-")
            out.append("\\" + ch if (could_open or could_close) and not dash_run else ch)
        elif ch == "?" and (prev == "?" or nxt == "?"):
            out.append("\\?")
        elif ch == "&" and NUM_ENTITY_RE.match(text, i):
            out.append("\\&")
        elif ch == ":" and i in emoji_colons:
            out.append("\\:")
        elif ch in "(:;" and EMOTICON_RE.match(text, i):
            out.append("\\" + ch)  # ':)' or '(y)' would be an emoticon
        else:
            out.append(ch)
    return "".join(out)


def escape_lines(lines: list[str], joiner: str) -> str:
    """Escape what would start a block at the head of a line, and protect edge whitespace."""
    out = []
    for line in lines:
        if _LINE_START_RE.match(line) and not line.startswith("\\"):
            line = "\\" + line if line[0] in "*#-|" else line[:2] + "\\" + line[2:]
        out.append(protect_edge_whitespace(line))
    return joiner.join(out)
