"""The engine never imports Textual: every engine module imported alone, in a fresh interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import jira_console

ENGINE_MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(jira_console.__path__, "jira_console.")
    if not m.name.startswith(("jira_console.tui", "jira_console.store.migrations"))
    and m.name not in ("jira_console.cli.console_cmd", "jira_console.__main__")
)


def test_engine_modules_do_not_import_textual() -> None:
    assert "jira_console.sync.engine" in ENGINE_MODULES and "jira_console.daemon" in ENGINE_MODULES
    code = (
        "import importlib, sys\n"
        f"for name in {ENGINE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "    assert 'textual' not in sys.modules, name\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
