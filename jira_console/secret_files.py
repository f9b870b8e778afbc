"""Secrets kept in files: a systemd credential (``LoadCredential=``, found under ``$CREDENTIALS_DIRECTORY``),
a mounted container or Kubernetes secret, a file only the service's user can read.

A file is read when the secret is needed (at start, and again at every SIGHUP reload), so a rotated token
or webhook secret takes effect without a restart; an environment variable cannot be changed in a running
process. The path may use ``~`` and ``$VARIABLE``/``${VARIABLE}``. The whole file is the secret, with
surrounding whitespace (the trailing newline an editor or ``echo`` adds) removed. A file that cannot be read
counts as no secret, and :func:`secret_file_problem` says why in words for ``config check`` and the error
that names the missing secret; the secret itself is registered with :mod:`jira_console.redact` once read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from jira_console import redact

MAX_SECRET_FILE_BYTES = 65_536
"""A secret is a line; a larger file is a wrong path (a log, a database), not read."""


class SecretFileError(Exception):
    """The secret file cannot be used; the message says which file and why."""


def expand(path: str) -> Path:
    """``path`` with ``~`` and environment variables expanded."""
    return Path(os.path.expandvars(os.path.expanduser(path)))


def read_secret_file(path: str) -> str:
    """The secret in the file at ``path`` (stripped), registered for redaction.

    Raises :class:`SecretFileError` when it is missing, not a regular file, unreadable, too large, not
    UTF-8 or empty."""
    full = expand(path)
    try:
        info = full.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SecretFileError(f"{full} is not a regular file")
        if info.st_size > MAX_SECRET_FILE_BYTES:
            raise SecretFileError(
                f"{full} holds {info.st_size} bytes, more than a secret ({MAX_SECRET_FILE_BYTES} at most): "
                "is this the right path?"
            )
        raw = full.read_bytes()
    except OSError as exc:
        raise SecretFileError(f"{full}: {exc.strerror or exc}") from None
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretFileError(f"{full} is not UTF-8 text") from None
    if not secret:
        raise SecretFileError(f"{full} is empty")
    redact.register(secret)
    return secret


def secret_from_file(path: str | None) -> str | None:
    """The secret in ``path``, or None when no path is given or the file cannot be used."""
    if not path:
        return None
    try:
        return read_secret_file(path)
    except SecretFileError:
        return None


def file_in_use(env: str | None, path: str | None) -> bool:
    """Whether the secret comes from the file at ``path``: one is given and the variable ``env`` names gives
    none (the variable comes first wherever both are configured)."""
    return bool(path) and not (env and os.environ.get(env))


def secret_from(env: str | None, path: str | None) -> str | None:
    """The secret in the variable ``env`` names, else in the file at ``path``, else None."""
    return (os.environ.get(env) if env else None) or secret_from_file(path)


def secret_file_problem(path: str | None) -> str | None:
    """Why the file at ``path`` gives no secret (None when it does, or when no path is given)."""
    if not path:
        return None
    try:
        read_secret_file(path)
    except SecretFileError as exc:
        return str(exc)
    return None


def modified_at(path: str) -> float | None:
    """When the file at ``path`` was last written (epoch seconds), or None when it cannot be read."""
    try:
        return expand(path).stat().st_mtime
    except OSError:
        return None


def permission_warnings(path: Path) -> list[str]:
    """A sentence when a file holding secrets can be read by other users (group or others bits)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"]
    return []
