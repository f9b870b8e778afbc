"""The text-level pieces of Markdown writing: escapes, code spans, link targets, mentions, flanking classes.

Escaping is conservative: a character is escaped wherever markdown-it-py could read it as syntax in some
neighbourhood (``*``, ``_`` outside words, ``~`` next to ``~``, ``!`` before a link, ``<`` before an autolink,
``&`` before a character reference, ``:`` starting an emoji), so escaped text always reads back as itself.
"""

from __future__ import annotations

import re

from markdown_it.common.utils import isMdAsciiPunct, isPunctChar, isWhiteSpace

from jira_console.jira.richtext.syntax import emoji_colon_positions
from jira_console.jira.richtext.tree import Link, Mention

SPACE, PUNCT, OTHER = 0, 1, 2
ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_MAYBE_SYNTAX_RE = re.compile(r"[\\`*\[\]|_~!<&:]")
_ALWAYS_ESCAPE = frozenset("\\`*[]|")
#: What may follow '<' in an autolink (a URL scheme or an e-mail address's local part), or '<br>'.
_AUTOLINK_START = frozenset(".!#$%&'*+/=?^_`{|}~-")
_BARE_DESTINATION_RE = re.compile(r"[^\s<>()\\\x00-\x1f\x7f]+")


def odd_backslashes(text: str) -> bool:
    """True when ``text`` ends in an odd run of backslashes (so the character after it is escaped)."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def _classify(ch: str) -> int:
    if isWhiteSpace(ord(ch)):
        return SPACE
    if isMdAsciiPunct(ord(ch)) or isPunctChar(ch):
        return PUNCT
    return OTHER


_ASCII_CLASS = [_classify(chr(code)) for code in range(128)]


def char_class(ch: str) -> int:
    """How CommonMark's flanking rules see a character ('' is the edge of a line: a space)."""
    if not ch:
        return SPACE
    code = ord(ch)
    return _ASCII_CLASS[code] if code < 128 else _classify(ch)


def reference(ch: str) -> str:
    return f"&#{ord(ch)};"


def reference_first(text: str) -> str:
    """The first character as a character reference. An intraword ``_`` after it is escaped: next to the
    reference (punctuation to the flanking rules) it could open emphasis."""
    rest = text[1:]
    if rest.startswith("_"):
        rest = "\\" + rest
    return reference(text[0]) + rest


def reference_last(text: str) -> str:
    """The last character as a character reference, escaping an intraword ``_`` before it (it could close)."""
    head = text[:-1]
    if head.endswith("_") and not head.endswith("\\_"):
        head = head[:-1] + "\\_"
    return head + reference(text[-1])


def protect_edge_space(text: str) -> str:
    """Whitespace other than space and tab (those are moved out of emphasis) at the edge of emphasised text,
    as a character reference: a delimiter next to whitespace would not open or close."""
    if not text[0].isspace() and not text[-1].isspace():
        return text  # (str.isspace covers every character markdown-it takes for white space)
    if text[0] not in " \t" and char_class(text[0]) == SPACE:
        text = reference(text[0]) + text[1:]
    if text[-1] not in " \t" and char_class(text[-1]) == SPACE:
        text = text[:-1] + reference(text[-1])
    return text


def render_mention(mention: Mention) -> str:
    label = mention.text[1:] if mention.text.startswith("@") else mention.text
    if mention.username is not None:
        target = "user:" + mention.username
    elif mention.account_id is not None:
        target = "accountid:" + mention.account_id
    else:
        return escape_text("@" + label)
    return f"@[{escape_text(label)}]({link_destination(target)})"


def code_span(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0) if "`" in text else 0
    fence = "`" * (longest + 1)
    pad = (
        text.startswith("`")
        or text.endswith("`")
        or (text.startswith(" ") and text.endswith(" ") and text.strip(" ") != "")
    )
    return f"{fence} {text} {fence}" if pad else f"{fence}{text}{fence}"


def link_destination(href: str) -> str:
    if href and _BARE_DESTINATION_RE.fullmatch(href) and not ENTITY_RE.search(href):
        return href
    escaped = re.sub(r"([<>\\])", r"\\\1", href).replace("\n", "%0A")
    return "<" + ENTITY_RE.sub(lambda m: "\\" + m.group(), escaped) + ">"


def link_title(link: Link) -> str:
    if not link.title:
        return ""
    escaped = re.sub(r'(["\\])', r"\\\1", link.title)
    return ' "' + ENTITY_RE.sub(lambda m: "\\" + m.group(), escaped) + '"'


def escape_text(text: str) -> str:
    """Backslash-escape what the inline parser would otherwise read as syntax."""
    if not _MAYBE_SYNTAX_RE.search(text):
        return text
    emoji_colons = emoji_colon_positions(text)
    out: list[str] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        nxt = text[i + 1] if i < last else ""
        if (
            ch in _ALWAYS_ESCAPE
            or (ch == "_" and not (prev.isalnum() and nxt.isalnum()))
            or (ch == "~" and (prev in ("", "~") or nxt in ("", "~")))
            or (ch == "!" and not nxt)  # '!' then a link would read as an image
            or (ch == "<" and (not nxt or nxt.isalnum() or nxt in _AUTOLINK_START))
            or (ch == "&" and ENTITY_RE.match(text, i))
            or (ch == ":" and i in emoji_colons)
        ):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
