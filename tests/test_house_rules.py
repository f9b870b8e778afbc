"""The house rules of issue 10 hold for every module of the package.

No module over 500 lines, no function over 80 lines, no function with more than 6 positional parameters
(``self``/``cls`` aside) or more than 10 in all (keyword-only ones count). The checker is tested on
synthetic modules first, so a rule it stopped enforcing would show here rather than pass silently.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "jira_console"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
MAX_POSITIONAL = 6
MAX_PARAMETERS = 10


def violations(source: str, name: str) -> list[str]:
    """Every broken rule of one module's ``source``, as ``name[:line] what`` lines."""
    found: list[str] = []
    lines = source.count("\n") + (0 if source.endswith("\n") or not source else 1)
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: {lines} lines")
    for node in ast.walk(ast.parse(source, filename=name)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > MAX_FUNCTION_LINES:
            found.append(f"{name}:{node.lineno} {node.name}: {length} lines")
        args = node.args
        positional = [a for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")]
        total = len(positional) + len(args.kwonlyargs)
        if len(positional) > MAX_POSITIONAL or total > MAX_PARAMETERS:
            found.append(f"{name}:{node.lineno} {node.name}: {len(positional)} positional, {total} in all")
    return found


def _function(name: str, params: str, body_lines: int = 1, *, method: bool = False) -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines - 1)) + "    return None\n"
    source = f"def {name}({params}):\n{body}"
    return f"class C:\n{textwrap.indent(source, '    ')}" if method else source


def test_the_checker_accepts_a_module_at_every_limit() -> None:
    source = _function("f", "a, b, c, d, e, g, *, h, i, j, k", body_lines=MAX_FUNCTION_LINES - 1)
    source += "\n" * (MAX_MODULE_LINES - source.count("\n"))
    assert source.count("\n") == MAX_MODULE_LINES
    assert violations(source, "ok.py") == []


def test_the_checker_finds_a_module_over_500_lines() -> None:
    source = "x = 1\n" * (MAX_MODULE_LINES + 1)
    assert violations(source, "big.py") == ["big.py: 501 lines"]
    # The last line counts even without a final newline.
    assert violations(source.rstrip("\n"), "big.py") == ["big.py: 501 lines"]


def test_the_checker_finds_a_function_over_80_lines() -> None:
    source = _function("long", "", body_lines=MAX_FUNCTION_LINES)
    assert violations(source, "m.py") == ["m.py:1 long: 81 lines"]
    nested = "def outer():\n" + textwrap.indent(_function("inner", "", body_lines=MAX_FUNCTION_LINES), "    ")
    assert "m.py:2 inner: 81 lines" in violations(nested, "m.py")
    asynchronous = "async " + _function("slow", "", body_lines=MAX_FUNCTION_LINES)
    assert violations(asynchronous, "m.py") == ["m.py:1 slow: 81 lines"]


def test_the_checker_finds_too_many_positional_parameters() -> None:
    assert violations(_function("f", "a, b, c, d, e, g, h"), "m.py") == ["m.py:1 f: 7 positional, 7 in all"]
    assert violations(_function("f", "a, b, c, /, d, e, g, h"), "m.py") == [
        "m.py:1 f: 7 positional, 7 in all"
    ]
    # ``self`` and ``cls`` are not counted; a seventh real parameter is.
    assert violations(_function("m", "self, a, b, c, d, e, g", method=True), "m.py") == []
    assert violations(_function("m", "self, a, b, c, d, e, g, h", method=True), "m.py") == [
        "m.py:2 m: 7 positional, 7 in all"
    ]


def test_the_checker_counts_keyword_only_parameters_in_the_total() -> None:
    assert violations(_function("q", "a, *, b, c, d, e, g, h, i, j, k, l"), "m.py") == [
        "m.py:1 q: 1 positional, 11 in all"
    ]
    assert violations(_function("q", "*, a, b, c, d, e, g, h, i, j, k"), "m.py") == []


def test_every_module_of_the_package_keeps_the_house_rules() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 100  # the walk really reached the package
    found = [v for path in modules for v in violations(path.read_text(), str(path.relative_to(PACKAGE)))]
    assert found == []


def undocumented(source: str) -> bool:
    """Does a module lack the opening docstring that says its one job?"""
    return not (ast.get_docstring(ast.parse(source)) or "").strip()


def test_the_docstring_check_tells_a_documented_module_from_a_bare_one() -> None:
    assert not undocumented('"""The one job."""\n\nx = 1\n')
    assert undocumented("x = 1\n")
    assert undocumented('x = 1\n"""Not at the top: not a module docstring."""\n')
    assert undocumented('""" """\n')


def test_every_module_of_the_package_says_its_job() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert [str(p.relative_to(PACKAGE)) for p in modules if undocumented(p.read_text())] == []
