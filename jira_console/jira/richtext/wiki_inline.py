"""Parsing the inline content of Jira wiki markup (Server/DC) into tree inlines.

Wiki markup has no formal grammar; this follows the renderer's observable rules:

* ``*strong*``, ``_em_``, ``-strike-`` open after a non-alphanumeric character and before a non-space,
  and close after a non-space and before a non-alphanumeric character, on one line. The brace forms
  ``{*}``, ``{_}``, ``{-}`` work anywhere.
* ``+underline+``, ``^sup^``, ``~sub~``, ``??citation??`` and ``{color}`` keep their text, lose the style.
* A single newline is a line break, as is ``\\\\``; ``\\`` before punctuation escapes it.
* ``{{code}}``, ``[text|url]``, ``[url]``, ``[~user]``, ``[~accountid:ID]`` and ``:shortName:`` emoji.

Unbalanced markup is kept as literal text; nothing here raises.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import TypeVar

from jira_console.jira.richtext import wiki_tokens as tokens
from jira_console.jira.richtext.syntax import EMOJI_RE
from jira_console.jira.richtext.tree import (
    CODE,
    EM,
    NO_MARKS,
    STRIKE,
    STRONG,
    Inline,
    Link,
    Mention,
    Text,
    text_inlines,
)
from jira_console.jira.richtext.tree import Break as _Break
from jira_console.jira.richtext.tree import Emoji as _Emoji
from jira_console.jira.richtext.tree import merge_text as _merge

#: Delimiter characters and the mark each stands for (None: the style is dropped, the text kept).
MARK_CHARS: dict[str, str | None] = {"*": STRONG, "_": EM, "-": STRIKE, "+": None, "^": None, "~": None}
NUM_ENTITY_RE = re.compile(r"&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});")
_ESCAPABLE = frozenset("!\"#$%&'()*+,-./:;<=>?@[]^_`{|}~")
_COLOR_RE = re.compile(r"\{color(?::[^}]*)?\}")
_BRACE_RE = re.compile(r"\{([*_\-+^~])\}")
_URL_START_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:|^www\.")
_DECODE_RE = re.compile(r"\\([!-/:-@\[-`{-~])|&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});")
_Span = tuple[list[Inline], int]
_T = TypeVar("_T")


def parse_inline(src: str) -> list[Inline]:
    """Wiki inline markup as canonical tree inlines."""
    return _merge(_InlineParser(src, NO_MARKS, None).parse())


def unescape(text: str) -> str:
    """Undo backslash escapes and numeric entities in one pass (so an escaped '&' stays literal)."""
    return _DECODE_RE.sub(lambda m: m.group(1) if m.group(1) is not None else html.unescape(m.group()), text)


def opens(src: str, i: int, ch: str) -> bool:
    prev = src[i - 1] if i else " "
    nxt = src[i + 1] if i + 1 < len(src) else " "
    if ch == "-" and (prev == "-" or nxt == "-"):
        return False  # '--' and '---' are dashes
    return not prev.isalnum() and not nxt.isspace()


def closes(src: str, i: int, ch: str) -> bool:
    prev = src[i - 1] if i else " "
    nxt = src[i + 1] if i + 1 < len(src) else " "
    if ch == "-" and (prev == "-" or nxt == "-"):
        return False
    return not prev.isspace() and not nxt.isalnum()


def find_code_end(src: str, k: int) -> int | None:
    """Where the ``}}`` closing a ``{{code`` span that starts at ``k`` is (escapes skipped)."""
    while k < len(src) - 1:
        if src[k] == "\\":
            k += 2
            continue
        if src.startswith("}}", k):
            return k
        k += 1
    return None


def find_bracket_end(src: str, k: int) -> int | None:
    """Where the ``]`` closing the ``[`` at ``k`` is, on the same line (escapes skipped)."""
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


def _skip_span(src: str, k: int) -> int:
    """Index after an escape, {{code}} or [link] starting at k (so markers inside them are not closers)."""
    if src[k] == "\\":
        return k + 2
    if src.startswith("{{", k):
        end = find_code_end(src, k + 2)
        return end + 2 if end is not None else k + 1
    if src[k] == "[":
        end = find_bracket_end(src, k)
        return end + 1 if end is not None else k + 1
    return k + 1


def _find_closer(src: str, start: int, ch: str) -> tuple[int, int] | None:
    """(position, length) of the marker closing a span opened just before ``start``."""
    k = start
    while k < len(src):
        c = src[k]
        if c == "\n":
            return None
        if src.startswith("{" + ch + "}", k) and k > start:
            return k, 3
        if c == ch and k > start and closes(src, k, ch):
            return k, 1
        if c in "\\[" or src.startswith("{{", k):
            k = _skip_span(src, k)
            continue
        k += 1
    return None


class _InlineParser:
    """One span of inline source under the marks and link of its enclosing spans."""

    def __init__(self, src: str, marks: frozenset[str], link: Link | None) -> None:
        self.src = src
        self.marks = marks
        self.link = link
        self.out: list[Inline] = []
        self.buf: list[str] = []
        # where a search for a closing marker already failed: a later search on the same line fails too,
        # so remembering it keeps long lines full of unbalanced markers linear instead of quadratic
        self.failed: dict[str, int] = {}

    def parse(self) -> list[Inline]:
        src, i, n = self.src, 0, len(self.src)
        while i < n:
            step = self._step(i)
            if step is None:
                self.buf.append(src[i])
                i += 1
            else:
                i = step
        self._flush()
        return self.out

    def _flush(self) -> None:
        if self.buf:
            self.out.extend(text_inlines("".join(self.buf), self.marks, self.link))  # '&#10;': a break
            self.buf.clear()

    def _emit(self, nodes: list[Inline], end: int) -> int:
        self._flush()
        self.out.extend(nodes)
        return end

    def _step(self, i: int) -> int | None:
        """Consume the construct at ``i``: the index after it, or None when ``src[i]`` is plain text."""
        src = self.src
        ch = src[i]
        if ch == "\\":
            if src.startswith("\\\\", i):
                return self._emit([_Break()], i + 2)
            if i + 1 < len(src) and src[i + 1] in _ESCAPABLE:
                self.buf.append(src[i + 1])
                return i + 2
        elif ch == "\n":
            return self._emit([_Break()], i + 1)
        elif ch == "&":
            entity = NUM_ENTITY_RE.match(src, i)
            if entity:
                self.buf.append(html.unescape(entity.group()))
                return entity.end()
        elif ch == "{":
            return self._brace(i)
        elif ch == "[":
            return self._bracket(i)
        elif ch == "?" and src.startswith("??", i) and (not i or not src[i - 1].isalnum()):
            close = src.find("??", i + 2)
            if close > i + 2 and "\n" not in src[i:close]:
                inner = _InlineParser(src[i + 2 : close], self.marks, self.link).parse()
                cite = tokens.wrapped("cite", inner, "??", "??", src[i : close + 2])
                return self._emit([cite] if cite else inner, close + 2)
        elif ch in "!(:;":
            found = (tokens.image if ch == "!" else tokens.emoticon)(src, i, self.marks)
            if found is not None:
                return self._emit([found[0]], found[1])
            emoji = EMOJI_RE.match(src, i) if ch == ":" else None
            if emoji:
                return self._emit([_Emoji(emoji.group())], emoji.end())
        if ch in MARK_CHARS and opens(src, i, ch):
            span = self._span_once(ch, i, ch, 1)
            if span is not None:
                return self._emit(*span)
        return None

    def _known_failure(self, key: str, at: int) -> bool:
        found = self.failed.get(key)
        if found is None or at < found:
            return False
        end = self.src.find("\n", found)
        return at < (len(self.src) if end < 0 else end)

    def _search_once(self, key: str, i: int, search: Callable[[], _T | None]) -> _T | None:
        """``search()`` unless a search for ``key`` already failed on this line; failures are remembered."""
        if self._known_failure(key, i):
            return None
        found = search()
        if found is None:
            self.failed[key] = i
        return found

    def _span_once(self, key: str, i: int, ch: str, width: int) -> _Span | None:
        return self._search_once(key, i, lambda: self._span(i, ch, width))

    def _span(self, i: int, ch: str, width: int) -> _Span | None:
        found = _find_closer(self.src, i + width, ch)
        if found is None:
            return None
        pos, close_width = found
        if pos == i + width:
            return None
        mark = MARK_CHARS[ch]
        marks = self.marks if mark is None else self.marks | {mark}
        inner = _InlineParser(self.src[i + width : pos], marks, self.link).parse()
        if mark is None:  # a style Markdown cannot draw: kept as a wrapper when it holds plain text
            end = pos + close_width
            style = tokens.wrapped(
                tokens.WRAPPER_KINDS[ch], inner, self.src[i : i + width], self.src[pos:end], self.src[i:end]
            )
            return ([style] if style else inner), end
        return inner, pos + close_width

    def _brace(self, i: int) -> int | None:
        src = self.src
        if src.startswith("{{", i):
            end = self._search_once("{{", i, lambda: find_code_end(src, i + 2))
            if end is not None and end > i + 2:
                code = text_inlines(unescape(src[i + 2 : end]), frozenset({CODE}), self.link)
                return self._emit(code, end + 2)
        color = _COLOR_RE.match(src, i)
        if color:
            return self._color(color)
        found = tokens.anchor(src, i, self.marks) or tokens.macro(src, i, self.marks)
        if found is not None:
            return self._emit([found[0]], found[1])
        brace = _BRACE_RE.match(src, i)
        if brace:
            span = self._span_once("{" + brace.group(1), i, brace.group(1), 3)
            if span is not None:
                return self._emit(*span)
        return None

    def _color(self, color: re.Match[str]) -> int:
        """``{color:x}text{color}`` as a wrapper when it holds plain text; else its tags are dropped."""
        src = self.src
        close = src.find("{color}", color.end())
        if color.group() != "{color}" and close > color.end():
            inner = _InlineParser(src[color.end() : close], self.marks, self.link).parse()
            end = close + len("{color}")
            style = tokens.wrapped("color", inner, color.group(), "{color}", src[color.start() : end])
            if style is not None:
                return self._emit([style], end)
        return color.end()  # colour is presentation only; the text inside is kept

    def _bracket(self, i: int) -> int | None:
        end = self._search_once("[", i, lambda: find_bracket_end(self.src, i))
        if end is None:
            return None
        nodes = self._bracketed(self.src[i + 1 : end])
        return None if nodes is None else self._emit(nodes, end + 1)

    def _bracketed(self, inner: str) -> list[Inline] | None:
        """[~user], [~accountid:x], [text|url], [url]; None for things that are not links (kept literal)."""
        if inner.startswith("~"):
            who = unescape(inner[1:])
            if who.lower().startswith("accountid:"):
                return [Mention("@" + who[10:], account_id=who[10:])]
            return [Mention("@" + who, username=who)] if who else None
        parts = split_unescaped(inner, "|")
        carried = tokens.bracket(inner, parts, self.marks)
        if carried is not None:
            return [carried]
        if len(parts) >= 2:
            label, href = parts[0], unescape(parts[1].strip()).strip()
        else:
            label, href = inner, unescape(inner.strip())
        if not href or href.startswith("^") or href.startswith("#") and len(parts) < 2:
            return None  # attachments and anchors: keep as written
        if len(parts) < 2 and not _URL_START_RE.match(href):
            return None  # '[something]' that is not a URL is just text in brackets
        link = Link(href)
        if len(parts) < 2:
            return [Text(href, self.marks, link)]
        return _InlineParser(label, self.marks, link).parse()


def split_unescaped(text: str, sep: str) -> list[str]:
    """``text`` split at each ``sep`` not escaped by a backslash (escapes kept)."""
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
