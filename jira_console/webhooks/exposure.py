"""What the listening sockets expose, and how deliveries find their connection, in words: shown by
``config check`` and logged when the daemon starts.

A listener that takes unsigned deliveries lets anyone who reaches it forge Jira events; a short secret can
be guessed offline from one captured delivery; a public bind without a TLS proxy sends every payload in
clear text.
"""

from __future__ import annotations

import ipaddress

from jira_console.config import Settings, WebhookConfig
from jira_console.secret_files import secret_from

MIN_SECRET_LENGTH = 16


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secret_unset(wh: WebhookConfig) -> str:
    """The missing webhook secret in words: the variable unset, or no secret from either source."""
    if wh.secret_file:
        return f"no webhook secret is set ({wh.secret_hint()})"
    return f"{wh.secret_env or 'webhooks.secret_env'} is unset"


def exposure_warnings(settings: Settings, *, missing_secret: bool = True) -> list[str]:
    """One sentence per risky listener setting (empty when there is none); ``missing_secret=False`` leaves
    out a required signature with no secret set (``config check`` words that one itself)."""
    found: list[str] = []
    wh = settings.webhooks
    if wh.enabled:
        secrets = wh.secrets()
        if not secrets and not wh.require_signature:
            found.append(
                f"the webhook listener accepts unsigned deliveries (require_signature = false and "
                f"{wh.secret_env or 'no secret_env'} is unset): anyone who can reach {wh.listen} can forge "
                "Jira events; set a secret"
            )
        elif not secrets and missing_secret:
            found.append(
                f"webhooks.require_signature is on but {secret_unset(wh)}: "
                "every delivery will be refused (401)"
            )
        pairs = (
            ("current", wh.secret_env, wh.secret_file),
            ("previous", wh.previous_secret_env, wh.previous_secret_file),
        )
        short = [
            name for name, env, path in pairs if 0 < len(secret_from(env, path) or "") < MIN_SECRET_LENGTH
        ]
        if short:
            found.append(
                f"the {' and '.join(short)} webhook secret is shorter than {MIN_SECRET_LENGTH} characters: "
                "it can be guessed from one captured delivery; use a long random one (openssl rand -hex 32)"
            )
        if not is_loopback(wh.host):
            found.append(
                f"the webhook listener binds {wh.listen}, not a loopback address: put a TLS reverse proxy "
                "in front and bind 127.0.0.1 (see the operator guide's hardening section)"
            )
        found.extend(_shared_site_warnings(settings))
    api = settings.api
    if api.listen is not None and not is_loopback(api.host):
        found.append(
            f"the operations API binds {api.listen}, not a loopback address: put a TLS reverse proxy in front"
        )
    return found


def _shared_site_warnings(settings: Settings) -> list[str]:
    """Connections on one site (the same base URL, e.g. one JQL per team): a delivery that does not name
    its connection (``?connection=``) is taken as the first one's, and issues outside its JQL are ignored."""
    by_site: dict[str, list[str]] = {}
    for conn in settings.jira:
        by_site.setdefault(conn.site, []).append(conn.name)
    return [
        f"connections {', '.join(names)} sync the same site ({site}): a webhook whose URL does not end in "
        f"?connection=NAME is taken as {names[0]}'s; give each connection its own webhook "
        "(`jira-console webhooks register -C NAME` adds it)"
        for site, names in by_site.items()
        if len(names) > 1
    ]
