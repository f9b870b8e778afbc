"""Text from Jira (or the database) cannot drive the operator's terminal through the CLI."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import typer
from sqlalchemy.exc import DataError

from jira_console.cli import safe_text
from jira_console.cli.common import friendly_errors
from tests.cli_isolation import restore_logging  # noqa: F401 - autouse
from tests.test_cli import Cli, cli_env  # noqa: F401, F811 - the fixture

HOSTILE = "\x1b]0;PWNED-title\x07\x1b[2J\u009b31m\u202eevil"
RAW_CONTROLS = ("\x1b", "\x07", "\u009b", "\u202e")


def _is_safe(text: str) -> bool:
    return not any(c in text for c in RAW_CONTROLS)


def test_visible_and_one_line_escape_every_control() -> None:
    shown = safe_text.visible("a\x1b[2Jb\nc\td\x7f\u009b\u202e")
    assert shown == "a\\x1b[2Jb\nc\td\\x7f\\x9b\\u202e"
    assert safe_text.one_line("x\ny\tz\x00") == "x\\x0ay\\x09z\\x00"
    assert safe_text.one_line(None) == ""


def test_json_escapes_what_json_dumps_lets_through_and_parses_back_equal() -> None:
    data = {"summary": HOSTILE, "plain": "Größe ✓"}
    text = safe_text.json_text(data)
    assert _is_safe(text)
    assert "Größe ✓" in text  # non-control Unicode stays readable
    assert json.loads(text) == data


def test_hostile_summary_reaches_the_terminal_as_visible_text(cli_env) -> None:  # noqa: F811
    sim, cli, _ = cli_env
    assert isinstance(cli, Cli)
    with sim.site.lock:
        key = sorted(sim.site.issues)[0]
    sim.edit_issue(key, {"summary": HOSTILE})
    assert cli("sync").exit_code == 0

    for args in (("issues", "list"), ("issues", "show", key), ("audit",)):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
        assert _is_safe(result.output), args
    listed = cli("issues", "list", "--search", "PWNED").output
    assert "\\x1b]0;PWNED-title\\x07\\x1b[2J" in listed  # visible, not acted on

    shown = cli("issues", "show", key, "--json")
    assert _is_safe(shown.output)
    assert json.loads(shown.output)["summary"] == HOSTILE  # escaped as JSON does, the data intact


def test_a_hostile_error_text_is_escaped_on_stderr(cli_env) -> None:  # noqa: F811
    _, cli, _ = cli_env
    assert cli("sync").exit_code == 0  # the store exists (read-only commands do not create it)
    result = cli("issues", "show", "\x1b]0;x\x07NOPE-1")
    assert result.exit_code == 3
    # (The key is read in Jira's case, so the hostile text comes back upper-cased: escaped all the same.)
    assert _is_safe(result.stderr) and "\\x1b]0;X\\x07NOPE-1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_cli_module_writes_around_the_safe_output() -> None:
    """Every CLI output goes through safe_text: no typer.echo, click.echo, print or sys.std* writes."""
    cli_dir = Path(safe_text.__file__).parent
    offenders = []
    for path in sorted(cli_dir.glob("*.py")):
        if path.name == "safe_text.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                if (
                    func
                    in (
                        "typer.echo",
                        "click.echo",
                        "print",
                        "typer.secho",
                        "rich.print",
                    )
                    or func.endswith((".write", ".writelines"))
                    and func.startswith(("sys.stdout", "sys.stderr"))
                ):
                    offenders.append(f"{path.name}:{node.lineno} {func}")
    assert offenders == []


def test_console_format_logs_make_controls_visible(tmp_path: Path) -> None:
    from jira_console.logs import configure, get_logger

    log_file = tmp_path / "console.log"
    configure("INFO", "console", str(log_file))
    get_logger("jira_console.test").warning("sync run", error=HOSTILE)
    written = log_file.read_text()
    assert "sync run" in written and _is_safe(written)
    assert "\\x1b]0;PWNED-title\\x07" in written


def test_a_database_error_says_what_the_database_said_without_the_statement_or_its_values(capsys) -> None:
    orig = ValueError('invalid input syntax for type double precision: "abc"\nCONTEXT: portal $1')
    with pytest.raises(typer.Exit), friendly_errors():
        raise DataError("UPDATE issues SET summary=? WHERE id=?", ("a private summary", 7), orig)
    said = capsys.readouterr().err
    assert said.startswith(
        "error: database error (ValueError): invalid input syntax for type double precision"
    )
    assert "UPDATE" not in said and "a private summary" not in said and "CONTEXT" not in said
