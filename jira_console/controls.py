"""Terminal control characters written as visible escapes (``\\x1b``, ``\\u202e``): the one rule the CLI
(:mod:`jira_console.cli.safe_text`) and the console-format logs use for text that came from Jira or the
database."""

from __future__ import annotations

import re
from typing import Any

_BIDI = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_UNSAFE_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
"""Everything but newline and tab that a terminal may act on."""
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
JSON_RAW = re.compile(f"[\x7f-\x9f{_BIDI}\u2028\u2029]")
"""Characters ``json.dumps(ensure_ascii=False)`` leaves raw that a terminal (or a JS reader) acts on."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every terminal control written as a visible escape (newlines and tabs kept)."""
    return _UNSAFE_LINES.sub(_escape, text)


def one_line(value: Any) -> str:
    """``value`` as text for one row of a listing: controls, newlines and tabs escaped as well."""
    return _UNSAFE_ONE_LINE.sub(_escape, "" if value is None else str(value))
