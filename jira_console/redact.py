"""Keep secrets out of logs, exception text, the database and the screen.

Every secret the process resolves (API tokens, webhook secrets) is registered here; :func:`scrub` replaces
any registered value, and anything that looks like an ``Authorization`` header, with ``****``. The log
processors in :mod:`jira_console.logs` run every record through it.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import Any

MASK = "****"
_SECRET_KEY_HINTS = ("token", "secret", "password", "authorization", "api_key", "apikey")
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(basic|bearer)\s+[A-Za-z0-9._~+/=-]+")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/?#@'\"]*:)([^\s/?#'\"]+)(@)")
"""``scheme://user:password@host``: the password of any URL (a database's, a Jira base URL's)."""
_SHORT = 12
"""A secret shorter than this (a weak one: the tool warns about it) is masked only where it stands alone,
not inside a longer word: masking ``short`` inside "shorter" garbles such words, pointing at the secret."""
_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(secret: str) -> None:
    """Remember a secret (and its Basic-auth encodings) so :func:`scrub` can hide it."""
    if not secret or len(secret) < 4:
        return
    global _pattern
    with _lock:
        before = len(_secrets)
        _secrets.add(secret)
        # A leaked Basic header carries base64("user:secret"); hiding the bare secret is not enough there,
        # but the header pattern above covers it. Also hide the base64 of the secret itself.
        _secrets.add(base64.b64encode(secret.encode()).decode().rstrip("="))
        if len(_secrets) != before:
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(_alternative(s) for s in ordered))


def _alternative(secret: str) -> str:
    if len(secret) >= _SHORT:
        return re.escape(secret)
    return rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"


def scrub(text: str) -> str:
    """``text`` with every registered secret and auth header value masked."""
    if not text:
        return text
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + m.group(2) + " " + MASK, text)
    text = mask_url_password(text)
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return text


def scrub_any(value: Any) -> Any:
    """Scrub strings inside nested dicts/lists (for structured log events)."""
    if isinstance(value, str):
        return scrub(value)
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr, without importing pydantic
        return MASK
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(str(k)) and v else scrub_any(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_any(v) for v in value)
    return value


def is_secret_key(name: str) -> bool:
    lowered = name.lower()
    if lowered.endswith(("_env", "_service", "_file")):  # names of variables and paths, not values
        return False
    return any(h in lowered for h in _SECRET_KEY_HINTS)


def mask_url_password(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` in it masked."""
    if "://" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def register_url(url: str) -> None:
    """Remember the password of ``url`` (if it has one), so :func:`scrub` hides it in any form, e.g. a
    driver's error that quotes it without the URL around it."""
    match = _URL_PASSWORD.search(url)
    if match:
        from urllib.parse import unquote

        register(match.group(2))
        register(unquote(match.group(2)))


def mask_value(name: str, value: Any) -> Any:
    """Value to display for a config key: secrets masked, URL passwords masked, everything else as is."""
    if hasattr(value, "get_secret_value"):  # pydantic SecretStr, without importing pydantic
        return MASK if value.get_secret_value() else None
    if isinstance(value, str) and value and is_secret_key(name):
        return MASK
    if isinstance(value, str):
        return mask_url_password(value)
    return value
