"""The one way the CLI writes to the terminal: text from Jira or the database cannot drive it.

A Jira summary such as ``ESC ] 0 ; title BEL ESC [ 2 J`` would retitle and clear the operator's terminal
if printed raw. Every CLI output goes through :func:`echo` (human text) or :func:`emit_json` (``--json``):

- human text: C0 controls (but newline), DEL, C1 controls and the Unicode bidirectional overrides (which
  reorder what is shown: "Trojan Source") are written as visible escapes, ``\\x1b``, ``\\u202e``;
  :func:`one_line` also escapes newlines and tabs, for values inside one row of a listing;
- JSON: ``json.dumps`` already escapes C0 controls; the C1 controls, DEL and bidi overrides, which JSON
  lets through raw, are escaped the same way (``\\u009b``), so the document stays equal when parsed.

A test checks that no CLI module writes by any other route (``typer.echo``, ``print``, ``sys.stdout``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer

from jira_console import redact
from jira_console.controls import JSON_RAW, one_line, visible

__all__ = ["echo", "emit_json", "json_text", "one_line", "visible"]


def echo(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """Write one message for a person (stdout, or stderr with ``err``): secrets scrubbed, controls made
    visible."""
    typer.echo(visible(redact.scrub(str(message))), err=err, nl=nl)


def json_text(data: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``data`` as indented JSON whose every control character is escaped."""
    text = json.dumps(data, default=default, indent=2, ensure_ascii=False)
    return JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit_json(data: Any, default: Callable[[Any], Any] | None = None) -> None:
    """Write ``data`` as JSON on stdout (``--json``)."""
    typer.echo(json_text(data, default))
