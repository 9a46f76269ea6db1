"""All configuration of the game service, in one pydantic-settings class.

Environment variables carry the prefix ``GAME_`` (``GAME_DATABASE_URL``, ...).
Secrets can come from AWS Secrets Manager:

* ``GAME_DB_SECRET_ID``: a secret shaped like the one RDS generates
  (``username``, ``password``, ``host``, ``port``, ``dbname``); the service builds a
  PostgreSQL URL with ``sslmode=require`` from it.
* ``GAME_APP_SECRET_ID``: a secret whose JSON holds ``session_secret`` and optionally
  ``facebook_app_id`` / ``facebook_app_secret``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote_plus

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("game_service.config")


class ConfigError(RuntimeError):
    """A configuration problem that prevents start-up; the message says what to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GAME_", extra="ignore")

    env: Literal["local", "test", "production"] = "local"

    # Database
    database_url: str | None = None
    db_secret_id: str | None = None
    # used when the database secret lacks host/port/dbname (e.g. an RDS-managed master secret)
    db_host: str | None = None
    db_port: int | None = None
    db_name: str | None = None
    db_pool_size: int = Field(5, ge=1, le=200)
    db_max_overflow: int = Field(5, ge=0, le=200)
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

    # Public URLs
    public_base_url: str = ""

    # Server
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    port: int = 8000
    bind: str = "127.0.0.1"
    serve_static: bool = True
    log_level: str = "INFO"
    session_max_age_seconds: int = 7 * 24 * 3600
    request_max_bytes: int = Field(64 * 1024, ge=1024)

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
    energy_pack_amount: int = 10

    # Per-player rate limit of write paths (fixed window, counted in the database)
    rate_limit_writes: int = 120
    rate_limit_window_seconds: int = 60

    # ---- derived values -------------------------------------------------
    def resolve_secrets(self) -> "Settings":
        """Fill database URL and app secrets from Secrets Manager when configured."""
        if self.db_secret_id and not self.database_url:
            data = _read_secret(self.db_secret_id)
            fallback = {"host": self.db_host, "port": self.db_port, "dbname": self.db_name}
            self.database_url = database_url_from_rds_secret(
                {**{k: v for k, v in fallback.items() if v}, **{k: v for k, v in data.items() if v}}
            )
        if self.app_secret_id:
            data = _read_secret(self.app_secret_id)
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
        if not self.database_url:
            Path(self.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            self.database_url = f"sqlite:///{self.sqlite_path}"
        return self

    @property
    def facebook_enabled(self) -> bool:
        return bool(self.facebook_app_id and self.facebook_app_secret)

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


def _read_secret(secret_id: str) -> dict:
    client = aws_client("secretsmanager")
    try:
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:  # noqa: BLE001 - re-raised with a clear message
        raise ConfigError(f"Cannot read secret {secret_id!r} from Secrets Manager: {exc}") from exc
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"Secret {secret_id!r} is not a JSON object") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"Secret {secret_id!r} is not a JSON object")
    return data


def database_url_from_rds_secret(data: dict) -> str:
    missing = [k for k in ("username", "password", "host") if not data.get(k)]
    if missing:
        raise ConfigError(f"Database secret lacks {', '.join(missing)}")
    port = int(data.get("port") or 5432)
    dbname = data.get("dbname") or "postgres"
    return (
        f"postgresql+psycopg://{quote_plus(str(data['username']))}:{quote_plus(str(data['password']))}"
        f"@{data['host']}:{port}/{quote_plus(str(dbname))}?sslmode=require"
    )


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


@lru_cache
def get_settings() -> Settings:
    return Settings().resolve_secrets()
