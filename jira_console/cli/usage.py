"""Usage errors in one line: Click would print a usage block, a hint and the error over four lines (in a
rich panel when rich is installed); scripts read one line of stderr and an exit code (2). With ``--json``
the root group's JSON error answers instead (:mod:`jira_console.cli.root_group`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from typer import Abort

from jira_console.cli.root_group import RootGroup
from jira_console.cli.safe_text import echo, one_line

try:  # typer 0.2x vendors Click and raises its own copies of Click's exceptions
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer runs on Click itself
    from click.exceptions import (  # type: ignore[assignment]
        ClickException,
        NoArgsIsHelpError,
        UsageError,
    )


def _leave(message: str, code: int) -> NoReturn:
    echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


class OneLineErrors(RootGroup):
    """The root command group: every Click error becomes ``error: …`` on one line and its exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode or "--json" in argv:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            outcome = super().main(argv, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as exc:
            # A group named without its command: the help is the answer (typer has printed it already when
            # it formats it itself), not an "error:" line with nothing after it.
            if exc.format_message().strip():
                echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except UsageError as exc:
            where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            _leave(exc.format_message() + where, exc.exit_code)
        except ClickException as exc:
            _leave(exc.format_message(), exc.exit_code)
        except Abort:
            _leave("aborted", 1)
        # Without standalone mode Click returns typer.Exit's code (or the command's None).
        sys.exit(outcome if isinstance(outcome, int) else 0)
