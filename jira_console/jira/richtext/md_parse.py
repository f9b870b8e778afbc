"""Markdown (CommonMark, GFM tables and strikethrough) parsed into the intermediate tree by markdown-it-py.

markdown-it-py tokenizes; this module configures it and turns its token stream into tree nodes. Where the
local side deliberately differs from CommonMark (each documented because it changes meaning):

* A plain newline inside a paragraph is a hard break, as in Jira and GitHub comments, because that is what
  people typing into a database column expect to reach Jira.
* HTML is text, and so are link reference definitions (``[x]: /url`` stays visible), except ``<br>``,
  which is a hard break (the only way to write one inside a table cell).
* Link destinations are kept exactly as written (no percent-encoding, no scheme filtering): they are data
  for Jira, never HTML for a browser.
* ``@[Name](accountid:ID)`` (Cloud) and ``@[name](user:NAME)`` (Server) are mentions; ``:shortName:`` is
  an emoji; images are links to their source.

Nothing here raises on bad input: Markdown has no syntax errors, and input nested too deeply for the parser
becomes one paragraph of its text.

Cost (``bench/richtext_bench.py``, ``bench/results/richtext.json``): markdown-it-py parses about 1.4x slower
than the hand-written parser it replaced on 3 KB documents and 2-4x slower on one-line ones (~75 us against
~20 us). No sync path pays that per issue: a pull never parses Markdown, and a push parses a description only
when its text changed, once (``to_jira``, 0.65x its old time), next to an HTTP round trip of milliseconds.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from jira_console.jira.richtext.syntax import EMOJI_RE
from jira_console.jira.richtext.tree import (
    CODE,
    EM,
    EMPHASIS,
    NO_MARKS,
    STRIKE,
    STRONG,
    Block,
    Break,
    CodeBlock,
    Emoji,
    Heading,
    Inline,
    Link,
    ListBlock,
    ListItem,
    Mention,
    Paragraph,
    Quote,
    Rule,
    Table,
    TableCell,
    TableRow,
    Text,
    merge_text,
    text_inlines,
)

_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MENTION_SCHEMES = ("accountid:", "user:")
_MARK_TOKENS = {"strong_open": STRONG, "em_open": EM, "s_open": STRIKE}
_CLOSE_TOKENS = {"strong_close": STRONG, "em_close": EM, "s_close": STRIKE}


class _Parser(MarkdownIt):
    """markdown-it with destinations kept verbatim: they go to Jira as data, not to a browser."""

    def validateLink(self, url: str) -> bool:
        return True

    def normalizeLink(self, url: str) -> str:
        return url

    def normalizeLinkText(self, link: str) -> str:
        return link


def _br(state: StateInline, silent: bool) -> bool:
    """``<br>`` (any case, optional slash) as a hard break."""
    if state.src[state.pos] != "<":
        return False
    found = _BR_RE.match(state.src, state.pos)
    if found is None:
        return False
    if not silent:
        state.push("hardbreak", "br", 0)
    state.pos = found.end()
    return True


@functools.cache
def _parser() -> MarkdownIt:
    # The nesting limit is the recursion limit's job: markdown-it drops content past maxNesting silently,
    # while a RecursionError lets parse_markdown keep the text.
    md = _Parser("commonmark", {"html": False, "maxNesting": 10**6})
    md.enable(["table", "strikethrough"])
    # text_join would merge escaped characters into plain text; they must stay apart so that an escaped
    # ':' or '@' does not start an emoji or a mention
    md.disable(["reference", "html_block", "html_inline", "text_join"])
    md.inline.ruler.before("autolink", "br", _br)
    return md


def parse_markdown(text: Any) -> list[Block]:
    """Parse Markdown into tree blocks; never raises."""
    if text is None:
        return []
    if not isinstance(text, str):
        text = str(text)
    try:
        return _blocks(_parser().parse(text))
    except RecursionError:
        normalized = text.replace("\r\n", "\n").replace("\r", "\n")
        return [Paragraph(text_inlines(normalized))]


def parse_inline_markdown(text: str) -> list[Inline]:
    """Inline Markdown (no block structure) as tree inlines; newlines are breaks."""
    tokens = _parser().parseInline(text)
    return merge_text(_inlines(tokens[0].children or [], heading=False)) if tokens else []


def _blocks(tokens: list[Token]) -> list[Block]:
    """Build the tree from markdown-it's flat token stream (no recursion, so depth costs nothing here)."""
    root: list[Any] = []
    targets: list[list[Any]] = [root]  # where the children of each open container go
    opened: list[Any] = []  # the open containers (None for token pairs that make no node)
    pending: Token | None = None  # the open token an inline token belongs to
    for token in tokens:
        kind = token.type
        if kind == "inline":
            targets[-1].append(_leaf(pending, token))
        elif token.nesting == 1:
            pending = token
            if kind in ("paragraph_open", "heading_open"):
                continue  # their inline token makes the node
            node = _container(token)
            if node is not None:
                targets[-1].append(node)
            targets.append(_children(node) if node is not None else targets[-1])
            opened.append(node)
        elif token.nesting == -1:
            if kind not in ("paragraph_close", "heading_close"):
                targets.pop()
                _finish(opened.pop())
        elif kind == "fence" or kind == "code_block":
            content = token.content[:-1] if token.content.endswith("\n") else token.content
            info = token.info.strip().split(" ")[0] if kind == "fence" else ""
            targets[-1].append(CodeBlock(content, info))
        elif kind == "hr":
            targets[-1].append(Rule())
    return root


def _container(token: Token) -> Any:
    kind = token.type
    if kind == "bullet_list_open":
        return ListBlock(False, [])
    if kind == "ordered_list_open":
        start = token.attrGet("start")
        return ListBlock(True, [], start if isinstance(start, int) else 1)
    if kind == "list_item_open":
        return ListItem([])
    if kind == "blockquote_open":
        return Quote([])
    if kind == "table_open":
        return Table([])
    if kind == "tr_open":
        return TableRow([])
    if kind in ("th_open", "td_open"):
        return TableCell([], header=kind == "th_open")
    return None


def _children(node: Any) -> list[Any]:
    if isinstance(node, ListBlock):
        return node.items
    if isinstance(node, Table):
        return node.rows
    if isinstance(node, TableRow):
        return node.cells
    return node.blocks  # type: ignore[no-any-return]


def _finish(node: Any) -> None:
    """What a container needs once complete: an empty item holds an empty paragraph; a table's empty
    placeholder header row (written for tables that had none) is dropped when rows follow it."""
    if isinstance(node, ListItem) and not node.blocks:
        node.blocks.append(Paragraph([]))
    elif isinstance(node, Table) and len(node.rows) > 1:  # a table of one empty row is that row
        first = node.rows[0].cells
        if first and all(cell.header and _empty(cell) for cell in first):
            del node.rows[0]


def _empty(cell: TableCell) -> bool:
    return all(isinstance(block, Paragraph) and not block.content for block in cell.blocks)


def _leaf(opener: Token | None, token: Token) -> Block:
    children = token.children or []
    if opener is not None and opener.type == "heading_open":
        return Heading(int(opener.tag[1:]), merge_text(_inlines(children, heading=True)))
    return Paragraph(merge_text(_inlines(children, heading=False)))


# ---- inline -----------------------------------------------------------------------------------------


def _inlines(
    tokens: list[Token], heading: bool, marks: frozenset[str] = NO_MARKS, link: Link | None = None
) -> list[Inline]:
    """Inline tokens as flat tree inlines: emphasis and links become attributes of the text they cover."""
    out: list[Inline] = []
    depth = dict.fromkeys(EMPHASIS, 0)
    outer = marks
    links: list[Link] = [link] if link is not None else []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        link = links[-1] if links else None
        if kind == "text":
            _append_text(out, token.content, marks, link)
        elif kind == "text_special":
            out.extend(text_inlines(token.content, marks, link))  # '&#10;' is a newline: a break
        elif kind == "code_inline":
            out.append(Text(token.content, marks | {CODE}, link))
        elif kind in ("softbreak", "hardbreak"):
            out.append(Text(" ", marks, link) if heading else Break())
        elif kind in _MARK_TOKENS or kind in _CLOSE_TOKENS:
            mark = _MARK_TOKENS.get(kind) or _CLOSE_TOKENS[kind]
            depth[mark] += 1 if kind in _MARK_TOKENS else -1
            marks = outer.union(m for m, d in depth.items() if d > 0)
        elif kind == "link_open":
            mention_end = _mention_end(tokens, i, out)
            if mention_end is not None:
                out.append(_mention(tokens, i, mention_end))
                i = mention_end
            else:
                links.append(_link(token, "href"))
        elif kind == "link_close":
            links.pop()
        elif kind == "image":
            out.extend(_inlines(token.children or [], heading, marks, _link(token, "src")))
        elif token.content:
            out.append(Text(token.content, marks, link))
        i += 1
    return out


def _link(token: Token, attr: str) -> Link:
    href = token.attrGet(attr)
    title = token.attrGet("title")
    return Link("" if href is None else str(href), "" if title is None else str(title))


def _append_text(out: list[Inline], text: str, marks: frozenset[str], link: Link | None) -> None:
    """Plain source text; ``:shortName:`` runs in it are emoji (escaped colons arrive as other tokens)."""
    if ":" not in text:
        out.append(Text(text, marks, link))
        return
    pos = 0
    for found in EMOJI_RE.finditer(text):
        out.append(Text(text[pos : found.start()], marks, link))
        out.append(Emoji(found.group()))
        pos = found.end()
    out.append(Text(text[pos:], marks, link))


def _mention_end(tokens: list[Token], i: int, out: list[Inline]) -> int | None:
    """At a link_open: the index of its link_close when it is a mention (``@`` written right before a
    link to ``accountid:``/``user:``), else None. The '@' is taken off the text before."""
    href = str(tokens[i].attrGet("href") or "")
    scheme = next((s for s in _MENTION_SCHEMES if href.startswith(s)), None)
    previous = tokens[i - 1] if i else None
    if scheme is None or len(href) == len(scheme) or previous is None:
        return None
    last = out[-1] if out else None
    if previous.type != "text" or not previous.content.endswith("@") or type(last) is not Text:
        return None
    end = next((j for j in range(i + 1, len(tokens)) if tokens[j].type == "link_close"), None)
    if end is None:
        return None
    if len(last.text) > 1:
        out[-1] = Text(last.text[:-1], last.marks, last.link)
    else:
        out.pop()
    return end


def _mention(tokens: list[Token], i: int, end: int) -> Mention:
    href = str(tokens[i].attrGet("href"))
    label = "".join(_label_source(t) for t in tokens[i + 1 : end])
    if href.startswith("accountid:"):
        return Mention("@" + label, account_id=href[len("accountid:") :])
    return Mention("@" + label, username=href[len("user:") :])


def _label_source(token: Token) -> str:
    if token.type == "code_inline":
        return token.markup + token.content + token.markup
    if token.type in ("softbreak", "hardbreak"):
        return "\n"
    return token.content
