"""The package builds as a wheel with build isolation off, on the setuptools the dev extras install, and the
wheel carries the license, the type marker and the metadata an index shows."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pip_wheel_without_build_isolation(tmp_path: Path) -> None:
    # A copy of the project, so the build's own folders (build/, *.egg-info) stay out of the checkout.
    junk = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "*_cache", ".hypothesis", "*.db*")
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*junk))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-build-isolation", "--no-deps", "-q",
         "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("jira_console-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
    assert "jira_console/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["License-Expression"] == "MIT"
    assert len(meta.get_all("Classifier") or []) >= 5  # (no Project-URL until a real address exists)
    assert "jira_console/store/migrations/script.py.mako" in names  # package data still shipped


def test_build_requirement_matches_the_license_field() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["build-system"]["requires"] == ["setuptools>=77"]
    assert project["project"]["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    dev = project["project"]["optional-dependencies"]["dev"]
    assert "setuptools>=77" in dev and "wheel" in dev
    assert (ROOT / "jira_console" / "py.typed").exists()
