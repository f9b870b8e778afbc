"""HMAC-SHA256 signatures of webhook bodies (``X-Hub-Signature: sha256=<hex>``).

Jira signs the raw request body with the webhook's secret. During a secret rotation two secrets are
accepted (current first, then the previous one), so deliveries already queued by Jira under the old secret
still pass. No timestamp is signed, so a signature proves origin, not freshness: de-duplication on the
delivery identifier is what stops replays (see :mod:`jira_console.webhooks.listener`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Hub-Signature"
_PREFIX = "sha256="


def sign(body: bytes, secret: bytes | str) -> str:
    """The header value Jira would send for ``body`` signed with ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return _PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secrets: Sequence[bytes | str]) -> int | None:
    """Index (in ``secrets``) of the secret that signed ``body``, or None when none did.

    Every secret is tried, even after a match, so the time taken does not tell which one matched; each
    comparison is constant time. A missing header, another algorithm or a malformed digest fail.
    """
    if not header or not secrets:
        return None
    algorithm, sep, digest = header.strip().partition("=")
    if not sep or algorithm.lower() != "sha256" or len(digest) != 64:
        return None
    try:
        given = bytes.fromhex(digest)
    except ValueError:
        return None
    matched: int | None = None
    for index, secret in enumerate(secrets):
        key = secret.encode() if isinstance(secret, str) else secret
        expected = hmac.digest(key, body, "sha256")  # the one-shot C function: no HMAC object per request
        if hmac.compare_digest(expected, given) and matched is None:
            matched = index
    return matched
