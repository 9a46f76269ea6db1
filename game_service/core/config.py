"""All configuration of the game service, in one pydantic-settings class.

Environment variables carry the prefix ``GAME_`` (``GAME_DATABASE_URL``, ...).
Secrets can come from AWS Secrets Manager:

* ``GAME_DB_SECRET_ID``: a secret shaped like the one RDS generates
  (``username``, ``password``, ``host``, ``port``, ``dbname``), read when a connection is
  opened (``game_service.core.db_auth``), so a rotated password is picked up without a restart.
* ``GAME_DB_ADMIN_SECRET_ID``: the master user's secret, used only by ``migrate``.
* ``GAME_APP_SECRET_ID``: a secret whose JSON holds ``session_secret`` and optionally
  ``facebook_app_id`` / ``facebook_app_secret``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from game_service import contract

log = logging.getLogger("game_service.config")


class ConfigError(RuntimeError):
    """A configuration problem that prevents start-up; the message says what to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=contract.ENV_PREFIX, extra="ignore")

    env: Literal["local", "test", "production"] = "local"

    # Database
    db_auth: Literal["password", "iam"] = "password"
    database_url: str | None = None
    db_secret_id: str | None = None
    db_admin_secret_id: str | None = None  # the master user's secret; only `migrate` reads it
    db_user: str = contract.APP_DB_USER  # the app's own role (IAM mode connects as it; migrate grants it)
    # used when the database secret lacks host/port/dbname (e.g. an RDS-managed master secret)
    db_host: str | None = None
    db_port: int | None = None
    db_name: str | None = None
    db_sslmode: str = "require"  # of connections made from a secret (IAM mode always requires TLS)
    db_secret_ttl_seconds: float = Field(60, ge=0, le=3600)
    # A steady pool and no overflow: overflow connections are opened and closed per request
    # under load, which cost more than the queries (bench/profile_service.py).
    db_pool_size: int = Field(10, ge=1, le=200)
    db_max_overflow: int = Field(0, ge=0, le=200)
    db_pool_recycle_seconds: int = Field(1800, ge=1)
    db_pool_timeout_seconds: float = Field(10, gt=0, le=60)  # a wait in the queue for a connection, then 503
    db_connect_timeout_seconds: float = Field(3, ge=2, le=60)  # libpq counts whole seconds, at least 2
    db_retry_after_seconds: int = Field(5, ge=1, le=300)  # Retry-After of a database_unavailable 503
    sqlite_path: str = "./var/game.db"

    # Secrets
    app_secret_id: str | None = None
    session_secret: str | None = None
    facebook_app_id: str | None = None
    facebook_app_secret: str | None = None
    facebook_graph_url: str = "https://graph.facebook.com"
    facebook_signed_request_max_age_seconds: int = 600

    # Storage
    media_bucket: str | None = None
    media_dir: str = "./var/media"
    avatar_max_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    upload_url_expiry_seconds: int = Field(300, ge=10, le=3600)

    # Jobs (game_service.jobs): work outside a player's request, through a queue to the worker
    job_queue_url: str | None = None  # an SQS queue with a dead-letter queue and a redrive policy
    # how long a received message stays hidden from other workers; a running job's heartbeat
    # extends it every third of this, so a dead worker's job comes back after at most this
    job_visibility_seconds: int = Field(60, ge=1, le=43200)
    # the queue's redrive maxReceiveCount (the infrastructure sets both from one value): the
    # attempt that reaches it records why the job failed, then SQS moves the message aside
    job_max_receives: int = Field(5, ge=1, le=1000)
    job_backoff_base_seconds: float = Field(5, ge=0, le=3600)  # a failed attempt's message waits 5, 10, 20 s...
    job_backoff_max_seconds: float = Field(300, ge=0, le=43200)  # ...at most this (SQS's limit: 12 h)
    job_wait_seconds: int = Field(10, ge=0, le=20)  # long polling of an empty queue
    # SIGTERM (scale-in, a rollout): the job in hand gets this long to finish, then its
    # message is released for another worker at once
    worker_shutdown_grace_seconds: float = Field(25, ge=0, le=3600)

    # Public URLs
    public_base_url: str = ""
    # an SSM parameter holding it (the app stack writes the CloudFront URL there)
    public_base_url_parameter: str | None = None
    # an SSM parameter holding the CloudFront distribution's id: a player's deleted media are
    # invalidated there (unset: no CDN in front, nothing to invalidate)
    cdn_distribution_parameter: str | None = None

    # Server
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    port: int = contract.PORT
    bind: str = "127.0.0.1"
    serve_static: bool = True
    log_level: str = "INFO"
    # The access line of a request that neither failed (5xx) nor was slow is kept with this
    # probability (1: every request; the EC2 hosts keep 1%: docs/decisions.md, "Logs")
    access_log_sample_rate: float = Field(1.0, ge=0, le=1)
    access_log_slow_ms: float = Field(1000, gt=0)
    session_max_age_seconds: int = 7 * 24 * 3600
    request_max_bytes: int = Field(64 * 1024, ge=1024)
    # How often the page re-reads friends, requests, gifts and state (GET /api/config tells it)
    page_refresh_seconds: float = Field(10, ge=0.5, le=600)
    # Live updates (api/events.py): a page's stream of what happens to its player. A comment
    # line every ``events_heartbeat_seconds`` keeps it open through the load balancer's idle
    # timeout (60 s) and the CDN's origin read timeout (30 s); a stream ends after
    # ``events_stream_seconds`` and the page opens the next one from the last event it saw.
    # While a stream is open the page re-reads everything only every
    # ``page_refresh_live_seconds`` (what no event announces: the leaderboard).
    events_heartbeat_seconds: float = Field(15, gt=0, le=25)
    events_stream_seconds: float = Field(300, ge=1, le=3600)
    events_streams_per_player: int = Field(4, ge=1, le=100)  # per server process; more: 429
    events_keep_seconds: int = Field(24 * 3600, ge=60)  # a reconnecting page catches up within this
    page_refresh_live_seconds: float = Field(60, ge=0.5, le=3600)
    # Slow clients (core/http_timeouts.py): a request's head must arrive within this long of
    # the connection opening (408 and closed otherwise), a body may pause at most this long,
    # and a kept-alive connection idles at most this long between requests (longer than the
    # load balancer's idle timeout, 60 s, so that the balancer closes first)
    http_header_timeout_seconds: float = Field(10, gt=0, le=300)
    http_body_timeout_seconds: float = Field(15, gt=0, le=300)
    http_keepalive_seconds: int = Field(75, ge=1, le=3600)

    # Game rules
    energy_cap: int = 20
    energy_refill_seconds: int = 180
    action_energy_cost: int = 1
    action_coins: int = 5
    action_xp: int = 10
    xp_per_level: int = 100
    start_coins: int = 50
    daily_reward_coins: int = 100
    gift_coins: int = 10
    gifts_per_day: int = 10
    energy_pack_price: int = 30
    energy_pack_amount: int = 10  # a pack is sold only when all of it fits under energy_cap
    castle_price: int = Field(50, ge=1)  # level n costs n * castle_price coins
    castle_max_level: int = Field(10, ge=1)

    # Per-player rate limit of write paths (fixed window, counted in the database)
    rate_limit_writes: int = 120
    rate_limit_window_seconds: int = 60

    # Abuse limits (docs/decisions.md, "Abuse limits")
    # guest sign-ups per client address (IPv6: per /64) and window, counted in the database
    signup_limit_per_address: int = Field(30, ge=1)
    signup_limit_window_seconds: int = Field(3600, ge=1)
    # peers whose client-address header is believed (comma-separated CIDRs: the load balancer's
    # and CloudFront VPC origin's subnets); from any other peer the TCP peer address counts
    trusted_proxies: str = ""
    # the header the edge sets to the viewer's address (CloudFront: "ip:port")
    client_address_header: str = Field("CloudFront-Viewer-Address", min_length=1)
    friend_requests_pending_max: int = Field(100, ge=1)  # incoming, and outgoing, per player
    gifts_received_per_day: int = Field(50, ge=1)
    # local media only (the bucket's lifecycle rule does it in AWS): unconfirmed uploads expire
    # after this long, and a player keeps at most this many of them
    local_incoming_expiry_seconds: int = Field(24 * 3600, ge=1)
    local_incoming_per_player: int = Field(3, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, v: str) -> str:
        for part in filter(None, (x.strip() for x in v.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP network (e.g. 10.0.0.0/16)") from None
        return v

    def iam_region(self) -> str:
        """The database's region for IAM authentication (AWS_REGION); a ConfigError names what
        IAM mode is missing."""
        missing = [n for n, v in (("GAME_DB_HOST", self.db_host), ("GAME_DB_NAME", self.db_name)) if not v]
        if missing:
            raise ConfigError(f"GAME_DB_AUTH=iam needs {' and '.join(missing)}")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise ConfigError("GAME_DB_AUTH=iam needs AWS_REGION (the region of the database)")
        return region

    @property
    def trusted_proxy_networks(self) -> list:
        return [ipaddress.ip_network(x.strip(), strict=False) for x in self.trusted_proxies.split(",") if x.strip()]

    # ---- derived values -------------------------------------------------
    def resolve_secrets(self) -> "Settings":
        """Check the database settings and fill app secrets from Secrets Manager when configured.

        The database secret itself is read once at start by ``db_auth.check`` (so a wrong id
        or shape stops the start with a clear message); connections read it again when they
        open.
        """
        if self.db_auth == "iam" and self.database_url:
            raise ConfigError("GAME_DB_AUTH=iam connects with GAME_DB_HOST/PORT/NAME and GAME_DB_USER; unset GAME_DATABASE_URL")
        if self.db_auth == "iam":
            self.iam_region()
        if self.app_secret_id:
            data = read_secret(self.app_secret_id, "GAME_APP_SECRET_ID")
            if not self.session_secret:
                self.session_secret = data.get("session_secret")
            self.facebook_app_id = self.facebook_app_id or data.get("facebook_app_id")
            self.facebook_app_secret = self.facebook_app_secret or data.get("facebook_app_secret")
        if not self.session_secret:
            if self.env == "production":
                raise ConfigError(
                    "No session secret: set GAME_SESSION_SECRET, or GAME_APP_SECRET_ID naming a "
                    "Secrets Manager secret whose JSON has 'session_secret'."
                )
            self.session_secret = secrets.token_urlsafe(32)
            log.warning(
                "No session secret configured; generated a random one (sessions end when the "
                "process restarts; set GAME_SESSION_SECRET to keep them)."
            )
        if not self.database_url and not self.db_secret_id and self.db_auth == "password":
            Path(self.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            self.database_url = f"sqlite:///{self.sqlite_path}"
        return self

    @property
    def facebook_enabled(self) -> bool:
        return bool(self.facebook_app_id and self.facebook_app_secret)

    @property
    def is_sqlite(self) -> bool:
        return self.db_auth == "password" and (self.database_url or "").startswith("sqlite")

    @property
    def async_database_url(self) -> str:
        return to_driver_url(self.database_url or "", asynchronous=True)

    @property
    def sync_database_url(self) -> str:
        return to_driver_url(self.database_url or "", asynchronous=False)


def aws_client(service: str):
    """A boto3 client; the region comes from AWS_REGION or AWS_DEFAULT_REGION."""
    import boto3  # imported lazily: local play needs no AWS
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(service, region_name=region, config=Config(retries={"max_attempts": 3, "mode": "standard"}))


_PARAMETER_CACHE_SECONDS = 300
_parameters_lock = threading.Lock()
_parameters: dict[str, tuple[float, str]] = {}


def read_parameter(name: str) -> str:
    """An SSM parameter's value, cached for five minutes (blocking: call in a thread). The app
    stack writes what the hosts' own configuration cannot name (the site URL, the CDN's id)."""
    with _parameters_lock:
        hit = _parameters.get(name)
        if hit and time.monotonic() - hit[0] < _PARAMETER_CACHE_SECONDS:
            return hit[1]
    value = aws_client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    with _parameters_lock:
        _parameters[name] = (time.monotonic(), value)
    return value


def read_secret(secret_id: str, env_name: str) -> dict:
    client = aws_client("secretsmanager")
    try:
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:  # noqa: BLE001 - re-raised with a clear message
        raise ConfigError(f"Cannot read secret {secret_id!r} ({env_name}) from Secrets Manager: {exc}") from exc
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"Secret {secret_id!r} is not a JSON object") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"Secret {secret_id!r} is not a JSON object")
    return data


def to_driver_url(url: str, *, asynchronous: bool) -> str:
    """Normalise a SQLAlchemy URL to the drivers the service ships with."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"Not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}" if asynchronous else f"sqlite://{rest}"
    raise ConfigError(f"Unsupported database {base!r}: use postgresql or sqlite")


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a ConfigError naming the variable."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "GAME_" + "_".join(str(x) for x in err.get("loc", ())).upper()
            problems.append(f"{name}: {err.get('msg', 'invalid value')}")
        raise ConfigError("; ".join(problems)) from None
    return settings.resolve_secrets()


@lru_cache
def get_settings() -> Settings:
    return load_settings()
