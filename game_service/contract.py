"""The contract between the game service and the infrastructure that runs it.

Both sides import these names from here: the service (its routes, settings and storage
keys) and the CDK code (``patterns/``, ``stacks/``: security groups, health checks, IAM
policies, the hosts' environment file). This module imports nothing, so the CDK app can
import it without the service's dependencies; it holds no CDK either (the service never
imports CDK). ``host/bootstrap.sh`` is shell and repeats the port and the health paths;
``tests/stacks/test_contract.py`` checks it against this module.
"""

from __future__ import annotations

PORT = 8000
"""The port the service listens on inside the VPC (``GAME_PORT``'s default)."""

LIVENESS_PATH = "/api/health/live"
"""Shallow: the process answers (no database). The load balancer's health check."""
READINESS_PATH = "/api/health/ready"
"""Deep: database and storage answer. The bootstrap waits for it; each host reports it."""

UPLOAD_PREFIX = "incoming/"
"""Media bucket: browsers upload here (presigned POST); never served."""
MEDIA_PREFIX = "media/"
"""Media bucket: verified media; served by CloudFront at the same path (``/media/...``)."""

APP_DB_USER = "game_app"
"""The service's own database role (created by ``migrate``), reached with IAM auth."""
DB_LISTENERS_PER_WORKER = 1
"""Database connections each server process holds beside its pool: the live-updates listener
(``core/live.py``). The topology report counts them in a host's connection budget."""

JOB_WORKER_DB_CONNECTIONS = 2
"""The job worker's database pool, whatever the server's (it does one job at a time: one
connection in use, one to spare). The topology report counts it in a host's connection budget:
beside the server on an app host, or alone on a worker tier's host."""

JOB_MAX_RECEIVES = 5
"""The job queue's redrive ``maxReceiveCount`` and the worker's ``GAME_JOB_MAX_RECEIVES``: the
attempt that reaches it records why the job failed, then SQS moves the message aside."""
JOB_VISIBILITY_SECONDS = 120
"""The job queue's visibility timeout and the worker's ``GAME_JOB_VISIBILITY_SECONDS`` (a
running job's heartbeat renews it; a dead worker's job comes back after at most this)."""

ACCESS_LOG_SAMPLE_RATE = 0.01
"""The share of ordinary requests (not failed, not slow) whose access line a host writes
(``GAME_ACCESS_LOG_SAMPLE_RATE`` on every EC2 host; docs/decisions.md, "Logs"). The service
benchmarks run the service with it, as deployed."""

ENV_PREFIX = "GAME_"
"""Every setting of ``game_service.core.config.Settings`` is read from ``GAME_<FIELD>``."""


class Env:
    """The ``GAME_*`` variables the app stack writes to the hosts' environment file; each
    names a field of ``game_service.core.config.Settings`` (tests/stacks/test_contract.py)."""

    ENV = "GAME_ENV"
    DB_AUTH = "GAME_DB_AUTH"
    DB_USER = "GAME_DB_USER"
    DB_HOST = "GAME_DB_HOST"
    DB_PORT = "GAME_DB_PORT"
    DB_NAME = "GAME_DB_NAME"
    DB_ADMIN_SECRET_ID = "GAME_DB_ADMIN_SECRET_ID"
    APP_SECRET_ID = "GAME_APP_SECRET_ID"
    MEDIA_BUCKET = "GAME_MEDIA_BUCKET"
    BIND = "GAME_BIND"
    PORT = "GAME_PORT"
    WORKERS = "GAME_WORKERS"
    DB_POOL_SIZE = "GAME_DB_POOL_SIZE"
    DB_MAX_OVERFLOW = "GAME_DB_MAX_OVERFLOW"
    PUBLIC_BASE_URL = "GAME_PUBLIC_BASE_URL"
    PUBLIC_BASE_URL_PARAMETER = "GAME_PUBLIC_BASE_URL_PARAMETER"
    CDN_DISTRIBUTION_PARAMETER = "GAME_CDN_DISTRIBUTION_PARAMETER"
    ACCESS_LOG_SAMPLE_RATE = "GAME_ACCESS_LOG_SAMPLE_RATE"
    TRUSTED_PROXIES = "GAME_TRUSTED_PROXIES"
    JOB_QUEUE_URL = "GAME_JOB_QUEUE_URL"
    JOB_VISIBILITY_SECONDS = "GAME_JOB_VISIBILITY_SECONDS"
    JOB_MAX_RECEIVES = "GAME_JOB_MAX_RECEIVES"
