"""Failed Basic logins, as Jira Server/Data Center counts them: after ``CAPTCHA_AFTER`` failures in a row a
user must solve a CAPTCHA in the browser, and until then every Basic login of that user is denied with a 403
carrying ``X-Authentication-Denied-Reason``, the right password included (the account is locked for the
API). A successful login resets the count. Cloud denies with a plain 401 and never locks here."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass

CAPTCHA_AFTER = 3

DENIED_BODY: dict[str, object] = {
    "errorMessages": [
        "CAPTCHA_CHALLENGE: too many failed logins; log in through the web interface to answer the CAPTCHA."
    ],
    "errors": {},
}


@dataclass(frozen=True)
class Denial:
    status: int
    headers: dict[str, str]
    body: dict[str, object]


def basic_user(header: str) -> str | None:
    """The user name of a Basic ``Authorization`` header (None for other schemes or garbage)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(value).decode().partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return None


class Logins:
    """Per-user count of consecutive failed Basic logins, and who is held at the CAPTCHA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self.denied_attempts = 0
        """Basic logins refused because the user was at the CAPTCHA (each one an attempt that should not
        have been made)."""

    def locked(self, user: str) -> bool:
        with self._lock:
            return self.enabled and self._failures.get(user, 0) >= CAPTCHA_AFTER

    def failures(self, user: str) -> int:
        with self._lock:
            return self._failures.get(user, 0)

    def check(self, header: str, authorized: bool, base_url: str) -> Denial | None:
        """The answer for a Basic login: None lets the request through; a denial otherwise."""
        user = basic_user(header)
        if user is None or not self.enabled:
            return None
        with self._lock:
            if self._failures.get(user, 0) >= CAPTCHA_AFTER:
                self.denied_attempts += 1
                headers = {
                    "X-Authentication-Denied-Reason": f"CAPTCHA_CHALLENGE; login-url={base_url}/login.jsp",
                    "X-Seraph-LoginReason": "AUTHENTICATION_DENIED",
                }
                return Denial(403, headers, DENIED_BODY)
            if authorized:
                self._failures.pop(user, None)
                return None
            self._failures[user] = self._failures.get(user, 0) + 1
        return None  # the caller answers the plain 401

    def unlock(self, user: str | None = None) -> None:
        """The user answered the CAPTCHA in the browser (or an admin reset the count)."""
        with self._lock:
            if user is None:
                self._failures.clear()
            else:
                self._failures.pop(user, None)
