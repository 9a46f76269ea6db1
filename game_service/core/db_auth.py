"""Credentials of each new PostgreSQL connection, computed when the connection is opened.

``GAME_DB_AUTH=password`` (default):

* ``GAME_DATABASE_URL``: fixed credentials from the URL.
* ``GAME_DB_SECRET_ID``: an RDS-shaped Secrets Manager secret, read when a connection is
  opened and cached for ``GAME_DB_SECRET_TTL_SECONDS``; a connect that fails with an
  authentication error re-reads it at once and retries once, so a rotated password is
  picked up without a restart. Pooled connections made with the old password keep working
  until they are recycled (PostgreSQL checks the password only at connect).

``GAME_DB_AUTH=iam``: RDS IAM database authentication as ``GAME_DB_USER``; every new
connection gets a fresh token from ``rds.generate_db_auth_token`` (valid 15 minutes, only
checked at connect), always with ``sslmode=require``. No password anywhere.

``params()`` returns libpq keyword parameters for ``psycopg.connect`` (sync, migrations) and
``psycopg.AsyncConnection.connect`` (the service's pool, through SQLAlchemy's
``async_creator``).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from sqlalchemy.engine import make_url

from game_service.core.config import ConfigError, Settings, aws_client, read_secret, to_driver_url

log = logging.getLogger("game_service.db")

AUTH_FAILED_STATES = ("28P01", "28000")  # invalid_password, invalid_authorization_specification


def is_auth_failure(exc: BaseException) -> bool:
    """True when a connect failed because the server rejected the credentials."""
    if getattr(exc, "sqlstate", None) in AUTH_FAILED_STATES:
        return True
    text = str(exc)
    return "password authentication failed" in text or "PAM authentication failed" in text


# A server that vanishes without a word (an RDS failover: the old primary's address goes
# silent; a network partition) is noticed by the kernel, not by a request waiting on it:
# data it does not acknowledge within TCP_USER_TIMEOUT_MS fails the connection, and an idle
# connection is probed after KEEPALIVE_IDLE_SECONDS and fails once TCP_USER_TIMEOUT_MS has
# passed without an answer. A pooled connection that died idle is then readable (the
# error), so the pool's checkout check (``db._check_out``) replaces it before any request
# uses it; one in use fails its request with a 503 within about 3 s. A server that is only
# slow still acknowledges at once (its kernel does): slow statements are not cut short.
# The probes cost one small packet per idle connection every 2 s.
KEEPALIVE_IDLE_SECONDS = 2
TCP_USER_TIMEOUT_MS = 3_000


def _common(settings: Settings) -> dict:
    """Parameters of every connection: a bounded connect, a vanished server noticed in seconds."""
    return {
        "connect_timeout": max(2, int(round(settings.db_connect_timeout_seconds))),  # libpq: whole seconds, >= 2
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
        "keepalives_interval": 1,
        "keepalives_count": 3,  # with tcp_user_timeout set, Linux gives up after it instead
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "application_name": "game_service",
    }


class UrlCredentials:
    """``GAME_DATABASE_URL``: the same credentials for every connection."""

    def __init__(self, url: str, settings: Settings):
        u = make_url(url)
        params = {
            "host": u.host,
            "port": u.port,
            "dbname": u.database,
            "user": u.username,
            "password": u.password,
        }
        params = {k: v for k, v in params.items() if v is not None}
        params.update(_common(settings))
        params.update({k: v if isinstance(v, str) else v[-1] for k, v in u.query.items()})
        self._params = params
        self.user = params.get("user") or os.environ.get("PGUSER") or ""

    def params(self) -> dict:
        return dict(self._params)

    def after_auth_failure(self, failed: dict) -> dict | None:
        return None  # nothing new to try


class SecretCredentials:
    """An RDS-shaped secret (username, password, host, port, dbname), cached for a short time."""

    def __init__(self, secret_id: str, settings: Settings, ttl: float | None = None, env_name: str = "GAME_DB_SECRET_ID"):
        self.secret_id = secret_id
        self.env_name = env_name
        self.settings = settings
        self.ttl = settings.db_secret_ttl_seconds if ttl is None else ttl
        self._lock = threading.Lock()
        self._cached: dict | None = None
        self._read_at = 0.0
        self.reads = 0  # how many times the secret was read (tests, logs)

    def _read(self) -> dict:
        data = read_secret(self.secret_id, self.env_name)
        s = self.settings
        fallback = {"host": s.db_host, "port": s.db_port, "dbname": s.db_name}
        merged = {**{k: v for k, v in fallback.items() if v}, **{k: v for k, v in data.items() if v}}
        missing = [k for k in ("username", "password", "host") if not merged.get(k)]
        if missing:
            hint = " (set GAME_DB_HOST)" if "host" in missing else ""
            raise ConfigError(f"Database secret {self.secret_id!r} ({self.env_name}) lacks {', '.join(missing)}{hint}")
        params = {
            "host": str(merged["host"]),
            "port": int(merged.get("port") or 5432),
            "dbname": str(merged.get("dbname") or "postgres"),
            "user": str(merged["username"]),
            "password": str(merged["password"]),
            "sslmode": s.db_sslmode,
        }
        params.update(_common(s))
        self.reads += 1
        return params

    def params(self) -> dict:
        with self._lock:
            if self._cached is None or time.monotonic() - self._read_at >= self.ttl:
                try:
                    self._cached = self._read()
                    self._read_at = time.monotonic()
                except ConfigError as exc:
                    if self._cached is None:
                        raise
                    # Secrets Manager unreachable: the password we have most likely still
                    # works (an auth failure re-reads at once); try reading again in 5 s
                    log.warning("cannot re-read the database secret; using the cached one", extra={"fields": {"error": str(exc)[:300]}})
                    self._read_at = time.monotonic() - self.ttl + min(5.0, self.ttl)
            return dict(self._cached)

    def after_auth_failure(self, failed: dict) -> dict | None:
        """Re-read the secret now (once for all connects that failed with the same password)."""
        with self._lock:
            if self._cached is not None and self._cached.get("password") != failed.get("password"):
                return dict(self._cached)  # another connect already fetched a newer one
            self._cached = self._read()
            self._read_at = time.monotonic()
            return dict(self._cached)

    @property
    def user(self) -> str:
        return self.params()["user"]


class IamCredentials:
    """RDS IAM authentication: a fresh token for every new connection; TLS required."""

    def __init__(self, settings: Settings):
        self.region = settings.iam_region()  # checks host, name and region
        self.settings = settings
        self.user = settings.db_user
        self._client = None
        self._lock = threading.Lock()
        self.tokens = 0  # how many tokens were generated, and the last one (tests)
        self.last_token: str | None = None

    def token(self) -> str:
        with self._lock:
            if self._client is None:
                self._client = aws_client("rds")
            self.tokens += 1
        s = self.settings
        self.last_token = self._client.generate_db_auth_token(
            DBHostname=s.db_host, Port=s.db_port or 5432, DBUsername=self.user, Region=self.region
        )
        return self.last_token

    def params(self) -> dict:
        s = self.settings
        params = {
            "host": s.db_host,
            "port": s.db_port or 5432,
            "dbname": s.db_name,
            "user": self.user,
            "password": self.token(),
            "sslmode": "require",  # RDS accepts IAM tokens only over TLS
        }
        params.update(_common(s))
        return params

    def after_auth_failure(self, failed: dict) -> dict | None:
        return None  # a fresh token is already made per connect; retrying gives the same answer


def credentials_for(settings: Settings):
    """The credentials source the settings name; None for SQLite (local play)."""
    if settings.db_auth == "iam":
        return IamCredentials(settings)
    if settings.database_url:
        if to_driver_url(settings.database_url, asynchronous=True).startswith("sqlite"):
            return None
        return UrlCredentials(settings.database_url, settings)
    if settings.db_secret_id:
        return SecretCredentials(settings.db_secret_id, settings)
    return None


def check(settings: Settings) -> None:
    """At start: the database credentials the settings name can be had (the secret exists
    and has the shape of a database secret; IAM mode has its host, name and region), or a
    ConfigError that names the variable. Connections read them again when they open."""
    credentials = credentials_for(settings)
    if isinstance(credentials, SecretCredentials):
        credentials.params()


def admin_credentials_for(settings: Settings):
    """Who runs migrations: the master user from GAME_DB_ADMIN_SECRET_ID, else the app's own settings."""
    if settings.db_admin_secret_id:
        return SecretCredentials(settings.db_admin_secret_id, settings, ttl=3600, env_name="GAME_DB_ADMIN_SECRET_ID")
    return credentials_for(settings)
