"""Configuration: a TOML file read into a frozen pydantic model.

Precedence, highest first: environment variables (``JIRA_CONSOLE_`` prefix, ``__`` for nesting, e.g.
``JIRA_CONSOLE_DATABASE__URL``; read with pydantic-settings, see :mod:`jira_console.config_env`), then the
TOML file, then the defaults below. Secrets are never read from
the file by default: each connection names an environment variable (``token_env``), a file holding the token
(``token_file``, :mod:`jira_console.secret_files`) or the OS keyring, and every resolved secret is registered
with :mod:`jira_console.redact` so logs never show it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from jira_console import redact
from jira_console.config_env import env_overrides, merge_list_env, variable_of
from jira_console.config_messages import validation_message
from jira_console.secret_files import permission_warnings, secret_file_problem, secret_from

ENV_PREFIX = "JIRA_CONSOLE_"
CONFIG_ENV = "JIRA_CONSOLE_CONFIG"
DEFAULT_CONFIG_NAMES = ("jira-console.toml", "config.toml")


class ConfigError(Exception):
    """A configuration problem, worded for the operator (file, key and what is wrong)."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseConfig(_Section):
    url: str = "sqlite:///jira-console.db"
    """SQLAlchemy URL: ``sqlite:///path.db`` (embedded) or ``postgresql+psycopg://user@host/db``."""
    echo: StrictBool = False
    """Log every SQL statement (debugging only)."""
    pool_size: int = Field(default=5, ge=1, le=100)
    """Connection pool size for PostgreSQL."""

    @field_validator("url")
    @classmethod
    def _hide_password(cls, value: str) -> str:
        # A password in the URL (from the file or JIRA_CONSOLE_DATABASE__URL) is a secret like any token:
        # scrubbed from every log line, error and screen from here on.
        redact.register_url(value)
        return value


class JiraConnection(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """Short name of this connection, used in the CLI, the database and the console."""
    url: str
    """Base URL: ``https://example.atlassian.net``, ``https://jira.example.com`` or, for OAuth 2.0 on Cloud,
    ``https://api.atlassian.com/ex/jira/{cloudId}``."""
    flavor: Literal["auto", "cloud", "server"] = "auto"
    """``auto`` asks ``serverInfo``; ``cloud`` (REST v3) or ``server`` (Server/Data Center, REST v2)
    pin it."""
    auth: Literal["basic", "bearer"] = "basic"
    """``basic``: user (e-mail on Cloud) and API token/password; ``bearer``: personal access token (Server/DC)
    or OAuth 2.0 access token (Cloud)."""
    user: str | None = None
    """E-mail (Cloud) or user name (Server/DC) for basic auth."""
    token_env: str | None = None
    """Name of the environment variable holding the token/password."""
    token_file: str | None = None
    """File holding the token, used when ``token_env`` gives none: e.g. ``${CREDENTIALS_DIRECTORY}/jira``
    (systemd) or a mounted secret. Read again at every SIGHUP, so a rotated token needs no restart."""
    keyring_service: str | None = None
    """OS keyring service to read the token from when neither ``token_env`` nor ``token_file`` gives one
    (looked up with ``user`` as the user name)."""
    token: SecretStr | None = None
    """Inline token. Refused unless ``allow_inline_token = true``: secrets belong in the environment."""
    allow_inline_token: StrictBool = False
    """Accept ``token`` written in the file (for throwaway setups only)."""
    cloud_id: str | None = None
    """Cloud id for OAuth 2.0 through api.atlassian.com (derived from ``url`` when it has the
    /ex/jira/ form)."""
    jql: str = "order by updated"
    """What this connection syncs, e.g. ``project in (ENG, OPS)``. The sync adds its own time bounds."""
    project_keys: list[str] = Field(default_factory=list)
    """Projects whose boards and sprints are synced (derived from ``jql`` when empty, where possible)."""
    rate_limit_per_second: float = Field(default=10.0, gt=0, le=1000)
    """Client-side request rate; it also adapts down to the rate-limit headers Jira sends."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """Timeout for one HTTP request."""
    operation_deadline_seconds: float = Field(default=120.0, gt=0, le=3600)
    """Hard deadline for one operation, retries included."""
    max_attempts: int = Field(default=6, ge=1, le=50)
    """Attempts per operation (the first try included)."""
    backoff_base_seconds: float = Field(default=0.5, gt=0, le=60)
    """Base of the exponential backoff (full jitter)."""
    backoff_max_seconds: float = Field(default=30.0, gt=0, le=600)
    """Longest single backoff sleep."""
    breaker_failure_threshold: int = Field(default=5, ge=1, le=1000)
    """Consecutive failed requests that open the circuit breaker."""
    breaker_recovery_seconds: float = Field(default=30.0, gt=0, le=3600)
    """Time the breaker stays open before letting one probe through."""
    page_size: int = Field(default=100, ge=1, le=1000)
    """Requested search page size (Jira may clamp it; the client reads the real size back)."""
    overlap_seconds: int = Field(default=120, ge=0, le=86400)
    """Incremental pulls start this far before the watermark, to catch late-indexed issues."""
    sync_interval_seconds: int = Field(default=60, ge=5)
    """Interval of the incremental sync in the daemon."""
    reconcile_interval_seconds: int = Field(default=3600, ge=60)
    """Interval of the reconciliation sweep (finds deletions and anything a cursor missed)."""
    conflict_strategy: Literal["manual", "jira_wins", "local_wins", "newest_wins"] = "manual"
    """Default strategy when both sides changed a field differently (mappings may override it)."""
    rich_text_policy: Literal["preserve", "markdown_wins"] = "preserve"
    """When a local Markdown edit of rich text (description, environment, ``rich_text`` mappings) would
    remove something Markdown cannot show (a panel, a task item, a status lozenge, a wiki image, ...):
    ``preserve`` keeps Jira's content for that block and records a field error saying what was kept;
    ``markdown_wins`` lets the local text win. Defaults to the top-level ``rich_text_policy``."""
    verify_tls: StrictBool = True
    """Verify the server's TLS certificate."""
    notify_watchers: StrictBool = True
    """Whether the sync's edits notify the issues' watchers. ``false`` sends ``notifyUsers=false``, which Jira
    grants only to Jira or project administrators; without that permission the client says so once and
    edits with notifications."""

    @model_validator(mode="after")
    def _check(self) -> JiraConnection:
        if self.token is not None and not self.allow_inline_token:
            raise ValueError(
                "an inline 'token' is refused: put it in an environment variable named by 'token_env' "
                "(or the OS keyring), or set allow_inline_token = true"
            )
        if self.auth == "basic" and not self.user:
            raise ValueError("auth = 'basic' needs 'user' (e-mail on Cloud, user name on Server/DC)")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self

    @field_validator("jql")
    @classmethod
    def _check_jql(cls, value: str) -> str:
        from jira_console.jql_scope import jql_problem

        problem = jql_problem(value)
        if problem:
            raise ValueError(f"jql cannot be bounded by the sync's time window: {problem}")
        return value

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        redact.register_url(value)
        return value.rstrip("/")

    @property
    def site(self) -> str:
        """The Jira site this connection syncs, as connections are told apart by it (several may share one:
        a JQL per team). Its rate limit and ``Retry-After`` waits are the site's, not a connection's."""
        return self.url.lower()

    def resolve_token(self) -> SecretStr | None:
        """The secret for this connection from the environment, its token file, the keyring or (if allowed)
        the configuration file, in that order."""
        secret = secret_from(self.token_env, self.token_file)
        if secret is None and self.keyring_service:
            try:
                import keyring

                secret = keyring.get_password(self.keyring_service, self.user or self.name)
            except Exception:  # noqa: BLE001 - no keyring backend is a normal, reportable state
                secret = None
        if secret is None and self.token is not None:
            secret = self.token.get_secret_value()
        if secret:
            redact.register(secret)
            return SecretStr(secret)
        return None

    def token_source(self) -> str:
        """Where the secret comes from, for ``config show`` (never the secret itself)."""
        if self.token_env and os.environ.get(self.token_env):
            return f"env {self.token_env}"
        if self.token_file:
            problem = secret_file_problem(self.token_file)
            if problem is None or not (self.keyring_service or self.token is not None):
                return f"file {self.token_file}" + (f" (unusable: {problem})" if problem else "")
        if self.keyring_service:
            return f"keyring {self.keyring_service}"
        if self.token is not None:
            return "inline (file, or JIRA_CONSOLE_JIRA__<n>__TOKEN)"
        return f"missing (set {self.token_env})" if self.token_env else "missing"

    def token_hint(self) -> str:
        """What to do when no token was found, naming every source configured and why a file gives none."""
        problem = secret_file_problem(self.token_file)
        if problem:
            return f"token_file: {problem}"
        sources = [f"the environment variable {self.token_env}" if self.token_env else None]
        sources += [f"the file {self.token_file}" if self.token_file else None]
        sources += [f"keyring service {self.keyring_service!r}" if self.keyring_service else None]
        named = [s for s in sources if s]
        return "set " + " or ".join(named) if named else "configure token_env, token_file or keyring_service"


def _check_host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"listen must be host:port, got {value!r}")
    return value


class WebhookConfig(_Section):
    enabled: StrictBool = True
    """Run the webhook listener in the daemon."""
    listen: str = "127.0.0.1:8765"
    """host:port of the listener. Loopback by default: expose it through a reverse proxy with TLS."""
    path: str = "/webhooks/jira"
    """URL path Jira posts to."""
    secret_env: str | None = "JIRA_WEBHOOK_SECRET"
    """Environment variable with the HMAC secret (``X-Hub-Signature``)."""
    previous_secret_env: str | None = "JIRA_WEBHOOK_SECRET_PREVIOUS"
    """Environment variable with the previous secret, also accepted during a rotation."""
    secret_file: str | None = None
    """File holding the secret, used when ``secret_env`` gives none (read again at every SIGHUP)."""
    previous_secret_file: str | None = None
    """File holding the previous secret, used when ``previous_secret_env`` gives none."""
    require_signature: StrictBool = True
    """Refuse unsigned deliveries (set false only for Jira setups that cannot sign)."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Larger bodies are answered 413."""
    workers: int = Field(default=2, ge=1, le=64)
    """Event-processing workers per daemon."""
    batch_size: int = Field(default=200, ge=1, le=2000)
    """Events a worker claims and applies together, in one transaction per connection (a batch's fixed
    costs, claim, look-ups and commit, are shared by its events)."""
    max_attempts: int = Field(default=5, ge=1)
    """Processing attempts before an event is parked as failed."""
    retention_days: int = Field(default=14, ge=1)
    """Processed events older than this are deleted."""
    public_url: str | None = None
    """URL Jira should call, used by ``webhooks register`` (defaults to http://listen + path)."""
    max_connections: int = Field(default=256, ge=2, le=100_000)
    """Open connections at most; at the cap a new one evicts the one that has waited longest for its
    client's bytes. Keep it well under the process's file-descriptor limit (``ulimit -n``)."""
    max_connections_per_client: int = Field(default=64, ge=0, le=100_000)
    """Open connections per client address (0: no cap). Behind a reverse proxy every connection comes from
    the proxy: set it to 0 or to ``max_connections`` and limit per client in the proxy."""
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    """A request's headers and body must arrive within this; a slower client is dropped."""
    keep_alive_seconds: float = Field(default=5.0, ge=1, le=600)
    """An idle keep-alive connection is closed after this."""
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    """Request headers larger than this close the connection."""

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        return _check_host_port(value)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def secrets(self) -> list[bytes]:
        """The accepted HMAC secrets, current first."""
        found: list[bytes] = []
        for name, path in (
            (self.secret_env, self.secret_file),
            (self.previous_secret_env, self.previous_secret_file),
        ):
            value = secret_from(name, path)
            if value:
                redact.register(value)
                found.append(value.encode())
        return found

    def secret_hint(self) -> str:
        """Where the current secret should come from, and why its file gives none."""
        problem = secret_file_problem(self.secret_file)
        if problem:
            return f"webhooks.secret_file: {problem}"
        variable = self.secret_env or "the variable named by webhooks.secret_env"
        return f"set {variable}" + (f" or write the file {self.secret_file}" if self.secret_file else "")


class ApiConfig(_Section):
    listen: str | None = None
    """host:port of the daemon's JSON operations API (``/api/v1``); the API is off when unset. Loopback is
    the safe choice: a public address is logged as a warning (put a TLS reverse proxy in front)."""
    token_env: str = "JIRA_CONSOLE_API_TOKEN"
    """Environment variable with the bearer token every API call must send (``Authorization: Bearer``);
    the daemon refuses to start the API without it."""
    token_file: str | None = None
    """File holding that token, used when ``token_env`` gives none (read again at every SIGHUP)."""

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        return None if value is None else _check_host_port(value)

    @property
    def host(self) -> str:
        return (self.listen or "").rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int((self.listen or ":0").rpartition(":")[2])

    def token(self) -> str | None:
        """The bearer token from the environment or the token file (registered with
        :mod:`jira_console.redact`), or None."""
        value = secret_from(self.token_env, self.token_file)
        if value:
            redact.register(value)
        return value


class DaemonConfig(_Section):
    name: str | None = None
    """Name of this daemon in the heartbeat table (defaults to host:pid)."""
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    """How often the daemon writes its heartbeat/status row."""
    lease_seconds: float = Field(default=60.0, gt=0)
    """A sync lease or event claim not renewed for this long is taken over by another daemon."""
    local_check_seconds: float = Field(default=2.0, ge=0)
    """How often the daemon looks for local work added since a connection's last sync (an edited issue, an
    outbox row, a creation request; also at once when a commit is seen) and syncs that connection; 0: off."""
    outbox_retention_days: int = Field(default=30, ge=1)
    """Rows of the ``local_changes`` outbox taken (applied or refused) more than this long ago are deleted;
    the audit log keeps what they changed."""


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level."""
    format: Literal["json", "console"] = "console"
    """``json`` for machines (one object per line), ``console`` for people."""
    file: str | None = None
    """Log file; stderr when unset."""


class Settings(BaseModel):
    """The whole configuration (:func:`load_config` reads it from the file and the environment)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: DatabaseConfig = DatabaseConfig()
    rich_text_policy: Literal["preserve", "markdown_wins"] = "preserve"
    """The default of every connection's ``rich_text_policy`` (see :class:`JiraConnection`)."""
    jira: list[JiraConnection] = Field(default_factory=list)
    webhooks: WebhookConfig = WebhookConfig()
    api: ApiConfig = ApiConfig()
    daemon: DaemonConfig = DaemonConfig()
    logging: LoggingConfig = LoggingConfig()

    @model_validator(mode="before")
    @classmethod
    def _inherit_rich_text_policy(cls, data: Any) -> Any:
        """A connection without its own ``rich_text_policy`` takes the top-level one."""
        if isinstance(data, dict) and data.get("rich_text_policy") is not None:
            connections = data.get("jira")
            if isinstance(connections, list):
                data = {**data, "jira": [
                    {"rich_text_policy": data["rich_text_policy"], **c} if isinstance(c, dict) else c
                    for c in connections
                ]}  # fmt: skip
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        names = [c.name for c in self.jira]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"connection names must be unique; repeated: {', '.join(dupes)}")
        return self

    def site_peers(self, conn: JiraConnection) -> list[str]:
        """The other connections to ``conn``'s site (a JQL per team) that share its rate budget and waits:
        all of them, except on a site pinned as Server/DC where two connections log in as different users
        (its limit is a token bucket per user; Cloud's quotas count the whole site)."""
        return [
            c.name
            for c in self.jira
            if c.name != conn.name and c.site == conn.site and not _own_budgets(c, conn)
        ]

    def connection(self, name: str | None) -> JiraConnection:
        """The connection called ``name`` (the only one when ``name`` is None and there is one)."""
        if name is None:
            if len(self.jira) == 1:
                return self.jira[0]
            raise ConfigError(
                f"{len(self.jira)} connections are configured; choose one with --connection "
                f"({', '.join(c.name for c in self.jira) or 'none'})"
            )
        for conn in self.jira:
            if conn.name == name:
                return conn
        raise ConfigError(
            f"no connection named {name!r}; configured: {', '.join(c.name for c in self.jira) or 'none'}"
        )


def _own_budgets(a: JiraConnection, b: JiraConnection) -> bool:
    """Whether Jira counts ``a``'s and ``b``'s requests apart: Server/DC users named by basic auth and not
    the same user. A bearer token's user is not known here, nor the flavor left to detection: shared then,
    which is the safe side (waiting more than Jira asks, never less)."""

    def user(c: JiraConnection) -> str | None:
        return c.user.lower() if c.flavor == "server" and c.auth == "basic" and c.user else None

    return user(a) is not None and user(b) is not None and user(a) != user(b)


@dataclass(frozen=True)
class LoadedConfig:
    """The settings plus where they came from."""

    settings: Settings
    path: Path | None
    file_data: Mapping[str, Any]
    warnings: tuple[str, ...] = ()

    def source_of(self, dotted: str) -> str:
        """``env NAME``, ``file`` or ``default`` for a dotted key such as ``database.url``."""
        env_name = ENV_PREFIX + dotted.replace(".", "__").upper()
        if env_name in os.environ:
            return f"env {env_name}"
        node: Any = self.file_data
        for part in dotted.split("."):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                return "default"
        return f"file {self.path}" if self.path else "file"


def find_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--config`` wins, then ``JIRA_CONSOLE_CONFIG``, then ./jira-console.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    for name in DEFAULT_CONFIG_NAMES[:1]:
        if Path(name).is_file():
            return Path(name)
    return None


def load_config(path: str | os.PathLike[str] | None = None, *, require_file: bool = False) -> LoadedConfig:
    """Read, validate and freeze the configuration. Raises :class:`ConfigError` with a readable message."""
    found = find_config_path(path)
    data: dict[str, Any] = {}
    warnings: list[str] = []
    if found is not None:
        try:
            with found.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {found}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{found}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{found}: cannot read: {exc.strerror}") from None
        warnings.extend(permission_warnings(found))
    elif require_file:
        raise ConfigError(f"no config file: pass --config PATH or set {CONFIG_ENV}")
    try:
        data = merge_list_env(data, os.environ, JiraConnection)
        effective = env_overrides(Settings, data, os.environ, ENV_PREFIX)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        settings = Settings(**effective)
    except ValidationError as exc:
        message = validation_message(
            exc, found, Settings, lambda loc: variable_of(loc, os.environ, ENV_PREFIX)
        )
        raise ConfigError(message) from None
    return LoadedConfig(settings=settings, path=found, file_data=data, warnings=tuple(warnings))
