"""Files the tool creates hold synced Jira data or logs: they are created readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def ensure_private_file(path: str | os.PathLike[str], *, make_parents: bool = True) -> Path:
    """Create ``path`` (and, if asked, missing parent folders, 0700) as an empty 0600 file if it does not
    exist yet; an existing file keeps its mode (the operator may have chosen it). Without ``make_parents`` a
    missing folder is left for the caller to report."""
    target = Path(path)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif not target.parent.is_dir():
        return target
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError:
        return target
    os.close(fd)
    return target


def write_private_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path``, creating it 0600 when new."""
    target = ensure_private_file(path)
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(text)
