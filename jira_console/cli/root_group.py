"""The root command group: help that reads like a native tool's, and ``--json`` errors as JSON.

Typer labels every option with its Python type (``<bool>`` on flags, ``<list[str]>``) and prints
docstrings' reStructuredText backticks as they are. When the root group is built, with every sub-command
already in it, each parameter gets a metavar named after it (``--limit LIMIT``, ``KEY``; none on flags) and
each help text loses its double backticks. With ``--json`` anywhere on the line, usage errors are printed as
a JSON object on stdout like every other error (see :func:`jira_console.cli.common.fail`)."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

_BACKTICKS = re.compile(r"``(.+?)``", re.DOTALL)
_LINE_BREAK = re.compile(r"(?<!\n)[ \t]*\n[ \t]*(?!\n)")

ORDER = (
    "init", "sync", "status", "issues", "sprints", "local", "conflicts", "audit", "mapping", "webhooks",
    "config", "daemon", "console", "demo", "simulate",
)  # fmt: skip
"""The order commands are listed in (first what a new operator runs, last the tools around it)."""


def clean_help(text: str | None) -> str | None:
    """Help text without reStructuredText literal markup (``x`` -> x), and a docstring's wrapped lines
    joined (paragraphs stay apart), since the help is re-wrapped to the terminal's width."""
    return _LINE_BREAK.sub(" ", _BACKTICKS.sub(r"\1", text)) if text else text


def _no_type(ctx: Any) -> None:
    return None


def _clean_param(param: Any) -> None:
    if param.param_type_name == "argument":
        param.display_type_rich = _no_type  # the name says it; "<str>" beside it says nothing
    if param.metavar is not None:
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
    else:
        param.metavar = (param.name or "value").strip("_").upper()


def _clean_params(command: Any) -> None:
    for param in [*command.params, command.get_help_option(typer.Context(command))]:
        if param is not None:
            _clean_param(param)
    command.help = clean_help(command.help)
    command.short_help = clean_help(command.short_help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = clean_help(param.help)
    for sub in getattr(command, "commands", {}).values():
        _clean_params(sub)


class RootGroup(TyperGroup):
    """The ``jira-console`` group (see the module docstring)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _clean_params(self)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:  # typer adds the completion options after building the group
            _clean_param(param)
        return params

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(ORDER)), names.index(n)))

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from jira_console.cli.common import state

        argv = list(sys.argv[1:] if args is None else args)
        state.json = "--json" in argv
        if not state.json or not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(argv, prog_name, complete_var, False, **extra)
        except typer.Abort:
            code = _json_error("aborted", 1)
        except Exception as exc:
            if not hasattr(exc, "format_message"):
                raise
            code = _json_error(exc.format_message(), int(getattr(exc, "exit_code", 2)))
        sys.exit(code if isinstance(code, int) else 0)


def _json_error(message: str, code: int) -> int:
    from jira_console.cli.common import emit_json

    emit_json({"error": message, "exit_code": code})
    return code
