"""Typed, validated stage configuration.

A stage is data, not a fork of the code: the same stacks and patterns build every
stage from one of these objects. Every value is checked up front; a bad value
raises ``StageConfigError`` naming the stage, the key, the value and what is allowed,
and ``app.py`` turns that into a one-line synth failure instead of a traceback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Mapping, get_args

NatMode = Literal["instance", "gateway-per-az", "none"]
AppTierMode = Literal["single-instance", "auto-scaling"]
MonitoringMode = Literal["alarms", "none"]
WorkerTierMode = Literal["on-app-hosts", "auto-scaling"]

PLACEHOLDER_ACCOUNT = "000000000000"
"""Embedded default so synth needs no AWS account. It is never deployed: the account comes
from `-c account=...` or from the CDK CLI's ``CDK_DEFAULT_ACCOUNT`` (set when it has AWS
credentials), and ``scripts/deploy.sh`` refuses to deploy without one."""

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$")
_GRAVITON_RE = re.compile(r"^[a-z]+\d+g[a-z]*\.")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CERT_ARN_RE = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]+$")
_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CIDR_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")
_STAGE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,20}$")

# The database classes a stage may use: memory (GiB, sets RDS's default max_connections and
# the memory alarm) and, for burstable classes, the largest CPU-credit balance (the credit
# alarm). The memory figures equal the topology report's price table (a test checks).
@dataclass(frozen=True)
class DbClass:
    memory_gib: float
    max_cpu_credits: int | None = None  # burstable (t4g) classes only


DB_INSTANCE_CLASSES: dict[str, DbClass] = {
    "t4g.micro": DbClass(1, 288), "t4g.small": DbClass(2, 576), "t4g.medium": DbClass(4, 576),
    "t4g.large": DbClass(8, 864), "t4g.xlarge": DbClass(16, 2304), "t4g.2xlarge": DbClass(32, 4608),
    "m7g.large": DbClass(8), "m7g.xlarge": DbClass(16), "m7g.2xlarge": DbClass(32), "m7g.4xlarge": DbClass(64),
    "r7g.large": DbClass(16), "r7g.xlarge": DbClass(32), "r7g.2xlarge": DbClass(64), "r7g.4xlarge": DbClass(128),
}

_BACKUP_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_MAINTENANCE_WINDOW_RE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$"
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Engine versions this project has tested; pinned to the minor version, with
# automatic minor upgrades turned off (docs/decisions.md, "Database engine"; aws-cdk#15475).
POSTGRES_VERSIONS = ("16.10", "17.6")


# The pinned Amazon Linux 2023 (arm64) image per region. A new AMI replaces the starter's
# instance and NAT instance and rolls through the scale-out group, so it changes only
# here, on purpose, in a reviewed commit (README, "Bump the AMI"); `-c machine_image_id=`
# overrides it for one deploy. The value is what AWS's public parameter
# /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64 held when it was pinned.
AMAZON_LINUX_2023_ARM64 = {"us-east-1": "ami-0ae8605ed708e3c3e"}
# CloudFront's managed prefix list com.amazonaws.global.cloudfront.origin-facing, per
# region: the only source the app tier accepts (the VPC origin's traffic comes from it).
CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS = {"us-east-1": "pl-3b927c52"}
_AMI_RE = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")


class StageConfigError(ValueError):
    """A stage configuration value is missing or not allowed."""


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    """Everything that differs between stages. Field names are the config keys."""

    name: str
    account: str = PLACEHOLDER_ACCOUNT
    region: str
    # Zone *names* are labels of each AWS account (us-east-1a is not the same data centre in
    # two accounts, and some accounts lack some names). The stage names them so synth asks
    # AWS nothing; `-c availability_zones=us-east-1a,us-east-1c` picks others for an account.
    availability_zones: tuple[str, ...]
    vpc_cidr: str = "10.0.0.0/16"
    # Egress of the app hosts: one NAT instance ("instance"), a NAT gateway per AZ
    # ("gateway-per-az"), or none: the hosts sit in public subnets with a public IPv4 address
    # each and no inbound path but the load balancer (docs/decisions.md, "Egress").
    nat: NatMode
    # The image of every instance (app hosts and the NAT instance); None: the pinned one.
    machine_image_id: str | None = None

    # App tier
    app_tier: AppTierMode
    instance_type: str
    min_instances: int = 1
    max_instances: int = 1
    target_cpu_percent: int = 60
    workers_per_instance: int = 2
    # per worker; the same budget as before (10), held steady: overflow connections are
    # opened and closed per request under load (game_service/README.md, Benchmark)
    db_pool_size: int = 10
    db_max_overflow: int = 0

    # Job worker: beside the server on each app host ("on-app-hosts": dividing the work needs
    # no more machines), or hosts of its own ("auto-scaling"), scaling on the queue's backlog
    # per instance, for a stage whose jobs must not compete with its requests
    # (docs/decisions.md, "Jobs: divide as well as replicate"). The other worker_* and job_*
    # keys apply to "auto-scaling" only.
    worker_tier: WorkerTierMode = "on-app-hosts"
    worker_instance_type: str = "c7g.medium"
    worker_min_instances: int = 2
    worker_max_instances: int = 6
    # The backlog each worker host may hold = job_latency_target_seconds / job_average_seconds
    # (a worker does one job at a time): the target of the group's scaling on backlog per
    # instance (AWS's "scaling based on Amazon SQS").
    job_latency_target_seconds: int = 60
    job_average_seconds: int = 2

    # Data tier
    postgres_version: str = "17.6"
    db_instance_class: str
    db_multi_az: bool
    db_allocated_storage_gib: int = 20
    db_max_allocated_storage_gib: int = 100
    db_backup_retention_days: int
    db_deletion_protection: bool
    db_secret_rotation_days: int | None = None
    # UTC, at the players' quietest hours: a backup slows the database, and maintenance on a
    # Single-AZ database is downtime. The defaults suit players in the Americas (about
    # 3-6 am on the US east coast, 0-3 am on the west coast); move them with the players.
    db_backup_window: str = "08:00-09:00"
    db_maintenance_window: str = "tue:09:30-tue:10:30"
    db_performance_insights: bool = False
    # OS-level metrics of the database host every N seconds (0: off); costs CloudWatch Logs.
    db_enhanced_monitoring_seconds: int = 0

    # Storage and logs
    media_noncurrent_version_expiry_days: int = 30
    log_retention_days: int = 30

    # Edge
    domain_name: str | None = None
    certificate_arn: str | None = None

    # Observability: a required choice, alarms with subscribers or an explicit "none".
    monitoring: MonitoringMode
    alarm_emails: tuple[str, ...] = field(default_factory=tuple)
    # The CloudWatch dashboard ($3 a month): the alarms page without it.
    dashboard: bool = True
    # The alarms on trends a person can read on a graph rather than be woken for: the
    # database's CPU, memory, connections and CPU credits, the CDN's 5xx rate, the app
    # instance's CPU. The alarms on an outage (a host or the database unreachable, a disk or
    # the database's storage about to fill up, unhealthy hosts, failed boots) are always there.
    trend_alarms: bool = True

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def image_id(self) -> str:
        """The AMI every instance of the stage boots (validated to exist for the region)."""
        return self.machine_image_id or AMAZON_LINUX_2023_ARM64[self.region]

    @property
    def is_placeholder_account(self) -> bool:
        """True on the embedded account: fine for synth, never deployable."""
        return self.account == PLACEHOLDER_ACCOUNT

    @property
    def is_distributed(self) -> bool:
        return self.app_tier == "auto-scaling"

    @property
    def has_worker_tier(self) -> bool:
        """The job worker runs on hosts of its own (else beside the server on each app host)."""
        return self.worker_tier == "auto-scaling"

    @property
    def worker_backlog_per_instance(self) -> int:
        """The jobs one worker host may have waiting and still start the last within
        ``job_latency_target_seconds``: the worker group's scaling target."""
        return self.job_latency_target_seconds // self.job_average_seconds

    def with_overrides(self, overrides: Mapping[str, Any]) -> "StageConfig":
        """A copy with values from CDK context (strings) coerced to the field types."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, raw in overrides.items():
            if key not in known:
                raise StageConfigError(
                    f"stage '{self.name}': unknown config key '{key}'; "
                    f"allowed: {', '.join(sorted(OVERRIDABLE_KEYS))}"
                )
            if key not in OVERRIDABLE_KEYS:
                raise StageConfigError(
                    f"stage '{self.name}': key '{key}' cannot be set from context; "
                    f"allowed: {', '.join(sorted(OVERRIDABLE_KEYS))}"
                )
            changes[key] = _coerce(self.name, key, raw, getattr(self, key))
        return replace(self, **changes)


# Keys an engineer may set at synth/deploy time with `-c KEY=VALUE`
# (deploy-specific values; the shape of a stage stays in code). The first group applies to
# every stage at once; the second is per stage and needs `-c stage=NAME`.
ACCOUNT_WIDE_KEYS = frozenset({"account", "alarm_emails", "monitoring", "machine_image_id"})
PER_STAGE_KEYS = frozenset(
    {"domain_name", "certificate_arn", "max_instances", "instance_type", "availability_zones",
     "db_backup_window", "db_maintenance_window"}
)
OVERRIDABLE_KEYS = ACCOUNT_WIDE_KEYS | PER_STAGE_KEYS


def _coerce(stage: str, key: str, raw: Any, current: Any) -> Any:
    if not isinstance(raw, str):
        return tuple(raw) if isinstance(raw, list) else raw
    if isinstance(current, bool):
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise StageConfigError(f"stage '{stage}': key '{key}' must be true or false, got '{raw}'")
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise StageConfigError(
                f"stage '{stage}': key '{key}' must be an integer, got '{raw}'"
            ) from None
    if isinstance(current, tuple):
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    return raw or None


def _fail(cfg: StageConfig, key: str, message: str) -> None:
    raise StageConfigError(f"stage '{cfg.name}': key '{key}' {message}")


def _check_literal(cfg: StageConfig, key: str, literal: Any) -> None:
    allowed = get_args(literal)
    value = getattr(cfg, key)
    if value not in allowed:
        _fail(cfg, key, f"must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")


def _check_range(cfg: StageConfig, key: str, low: int, high: int) -> None:
    value = getattr(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(cfg, key, f"must be an integer from {low} to {high}, got {value!r}")


def _validate(cfg: StageConfig) -> None:  # noqa: C901 - a flat list of checks reads best
    if not isinstance(cfg.name, str) or not _STAGE_NAME_RE.match(cfg.name):
        raise StageConfigError(
            f"key 'name' must be lowercase letters, digits and '-', 2-21 chars, got {cfg.name!r}"
        )
    if not _ACCOUNT_RE.match(str(cfg.account)):
        _fail(cfg, "account", f"must be a 12-digit AWS account id, got {cfg.account!r}")
    if not _REGION_RE.match(str(cfg.region)):
        _fail(cfg, "region", f"must be an AWS region name like 'eu-west-1', got {cfg.region!r}")
    azs = cfg.availability_zones
    if not isinstance(azs, tuple) or len(azs) < 2 or len(set(azs)) != len(azs):
        _fail(cfg, "availability_zones", f"must list at least 2 distinct zones, got {azs!r}")
    for az in azs:
        if not (isinstance(az, str) and az.startswith(cfg.region) and len(az) == len(cfg.region) + 1):
            _fail(cfg, "availability_zones", f"must be zones of region {cfg.region}, got {az!r}")
    match = _CIDR_RE.match(str(cfg.vpc_cidr))
    if not match or any(int(o) > 255 for o in match.groups()[:4]) or not 16 <= int(match[5]) <= 22:
        _fail(cfg, "vpc_cidr", f"must be an IPv4 CIDR with a /16 to /22 prefix, got {cfg.vpc_cidr!r}")
    if cfg.machine_image_id is not None and not _AMI_RE.match(str(cfg.machine_image_id)):
        _fail(cfg, "machine_image_id", f"must be an AMI id like 'ami-0123456789abcdef0', got {cfg.machine_image_id!r}")
    if cfg.machine_image_id is None and cfg.region not in AMAZON_LINUX_2023_ARM64:
        _fail(cfg, "machine_image_id", f"must be set: no Amazon Linux 2023 arm64 image is pinned for {cfg.region} "
              f"(pinned: {', '.join(sorted(AMAZON_LINUX_2023_ARM64))})")
    if cfg.region not in CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS:
        _fail(cfg, "region", f"has no CloudFront origin-facing prefix list in stacks/config.py, got {cfg.region!r} "
              f"(known: {', '.join(sorted(CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS))})")
    _check_literal(cfg, "nat", NatMode)
    _check_literal(cfg, "app_tier", AppTierMode)
    _check_literal(cfg, "monitoring", MonitoringMode)
    _check_literal(cfg, "worker_tier", WorkerTierMode)

    if not _INSTANCE_TYPE_RE.match(str(cfg.instance_type)):
        _fail(cfg, "instance_type", f"must be an EC2 instance type like 't4g.small', got {cfg.instance_type!r}")
    if not _GRAVITON_RE.match(str(cfg.instance_type)):
        _fail(cfg, "instance_type", f"must be a Graviton (arm64) type such as t4g/m7g/c7g, got {cfg.instance_type!r}")
    _check_range(cfg, "min_instances", 1, 100)
    _check_range(cfg, "max_instances", 1, 100)
    _check_range(cfg, "target_cpu_percent", 10, 90)
    _check_range(cfg, "workers_per_instance", 1, 64)
    _check_range(cfg, "db_pool_size", 1, 100)
    _check_range(cfg, "db_max_overflow", 0, 100)
    if cfg.app_tier == "single-instance":
        if cfg.min_instances != 1 or cfg.max_instances != 1:
            _fail(cfg, "max_instances", "must be 1 (and min_instances 1) when app_tier is 'single-instance'")
        if cfg.nat == "none":
            _fail(cfg, "nat", "must be 'instance' or 'gateway-per-az' when app_tier is 'single-instance': "
                  "CloudFront's VPC origin reaches an instance only in a private subnet, and a host "
                  "without NAT needs a public one ('none' suits 'auto-scaling', whose load balancer is the origin)")
    else:
        if cfg.min_instances < 2:
            _fail(cfg, "min_instances", f"must be >= 2 when app_tier is 'auto-scaling' (one instance is a single point of failure), got {cfg.min_instances}")
        if cfg.max_instances <= cfg.min_instances:
            _fail(cfg, "max_instances", f"must be > min_instances ({cfg.min_instances}), got {cfg.max_instances}: "
                  "a group that cannot grow does not scale out")
        if cfg.nat == "instance":
            _fail(cfg, "nat", "must be 'gateway-per-az' or 'none' when app_tier is 'auto-scaling' "
                  "(one NAT instance is a single point of failure for every host's egress)")
        if not cfg.db_multi_az:
            _fail(cfg, "db_multi_az", "must be true when app_tier is 'auto-scaling' (a single-AZ database is a single point of failure)")

    if cfg.has_worker_tier:
        _check_worker_tier(cfg)

    if cfg.postgres_version not in POSTGRES_VERSIONS:
        _fail(cfg, "postgres_version", f"must be one of {', '.join(POSTGRES_VERSIONS)}, got {cfg.postgres_version!r}")
    if not re.match(r"^[a-z][a-z0-9]*\.[a-z0-9]+$", str(cfg.db_instance_class)) or str(cfg.db_instance_class).startswith("db."):
        _fail(cfg, "db_instance_class", f"must be a class without the 'db.' prefix, like 't4g.micro', got {cfg.db_instance_class!r}")
    if cfg.db_instance_class not in DB_INSTANCE_CLASSES:
        _fail(cfg, "db_instance_class", f"must be one of {', '.join(DB_INSTANCE_CLASSES)} (stacks/config.py, "
              f"DB_INSTANCE_CLASSES: its memory sets the alarms), got {cfg.db_instance_class!r}")
    if not isinstance(cfg.db_multi_az, bool):
        _fail(cfg, "db_multi_az", f"must be true or false, got {cfg.db_multi_az!r}")
    if not isinstance(cfg.db_deletion_protection, bool):
        _fail(cfg, "db_deletion_protection", f"must be true or false, got {cfg.db_deletion_protection!r}")
    _check_range(cfg, "db_allocated_storage_gib", 20, 65536)
    _check_range(cfg, "db_max_allocated_storage_gib", cfg.db_allocated_storage_gib, 65536)
    _check_range(cfg, "db_backup_retention_days", 1, 35)
    if cfg.db_secret_rotation_days is not None:
        _check_range(cfg, "db_secret_rotation_days", 1, 365)
        if cfg.nat == "none":
            _fail(cfg, "db_secret_rotation_days", "must be unset when nat is 'none': the rotation function "
                  "runs in a private subnet and needs NAT (or an interface endpoint) to reach Secrets Manager")
    if cfg.db_performance_insights and cfg.db_instance_class.split(".")[1] in ("micro", "small"):
        _fail(cfg, "db_performance_insights", f"needs a db class of size medium or larger, got {cfg.db_instance_class!r}")
    if cfg.db_enhanced_monitoring_seconds not in (0, 1, 5, 10, 15, 30, 60):
        _fail(cfg, "db_enhanced_monitoring_seconds", f"must be one of 0, 1, 5, 10, 15, 30, 60, got {cfg.db_enhanced_monitoring_seconds!r}")
    _check_windows(cfg)
    _check_range(cfg, "media_noncurrent_version_expiry_days", 1, 3650)
    allowed_retention = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
    if cfg.log_retention_days not in allowed_retention:
        _fail(cfg, "log_retention_days", f"must be one of {allowed_retention}, got {cfg.log_retention_days!r}")

    if (cfg.domain_name is None) != (cfg.certificate_arn is None):
        _fail(cfg, "certificate_arn" if cfg.domain_name else "domain_name",
              "must be set together with 'domain_name'/'certificate_arn' (a custom domain needs its certificate)")
    if cfg.domain_name is not None and not _DOMAIN_RE.match(cfg.domain_name):
        _fail(cfg, "domain_name", f"must be a lowercase DNS name like 'game.example.com', got {cfg.domain_name!r}")
    if cfg.certificate_arn is not None and not _CERT_ARN_RE.match(cfg.certificate_arn):
        _fail(cfg, "certificate_arn", f"must be an ACM certificate ARN in us-east-1 (CloudFront requires it), got {cfg.certificate_arn!r}")

    for key in ("dashboard", "trend_alarms"):
        if not isinstance(getattr(cfg, key), bool):
            _fail(cfg, key, f"must be true or false, got {getattr(cfg, key)!r}")
    if not isinstance(cfg.alarm_emails, tuple):
        _fail(cfg, "alarm_emails", f"must be a list of e-mail addresses, got {cfg.alarm_emails!r}")
    for email in cfg.alarm_emails:
        if not _EMAIL_RE.match(email):
            _fail(cfg, "alarm_emails", f"must contain e-mail addresses, got {email!r}")
    if cfg.monitoring == "none" and cfg.alarm_emails:
        _fail(cfg, "alarm_emails", "must be empty when monitoring is 'none'")
    # Alarms that reach nobody are worse than none: they look like monitoring. On the
    # placeholder account (synth only, never deployed) the alarms are synthesized for review.
    if cfg.monitoring == "alarms" and not cfg.alarm_emails and not cfg.is_placeholder_account:
        _fail(cfg, "alarm_emails", "must name at least one subscriber when monitoring is 'alarms' "
              "(-c alarm_emails=ops@example.com), or set -c monitoring=none to deploy without alarms")


def _check_worker_tier(cfg: StageConfig) -> None:
    if cfg.app_tier != "auto-scaling":
        _fail(cfg, "worker_tier", "must be 'on-app-hosts' when app_tier is 'single-instance' (a stage of one host "
              "divides its work on that host; a worker tier is for a replicated stage)")
    if not _INSTANCE_TYPE_RE.match(str(cfg.worker_instance_type)) or not _GRAVITON_RE.match(str(cfg.worker_instance_type)):
        _fail(cfg, "worker_instance_type", f"must be a Graviton (arm64) EC2 instance type such as t4g/m7g/c7g "
              f"(the hosts' wheelhouse is arm64), got {cfg.worker_instance_type!r}")
    _check_range(cfg, "worker_min_instances", 1, 100)
    _check_range(cfg, "worker_max_instances", 1, 100)
    if cfg.worker_min_instances < 2:
        _fail(cfg, "worker_min_instances", f"must be >= 2 when worker_tier is 'auto-scaling' (one per AZ: one "
              f"worker host is a single point of failure for every job), got {cfg.worker_min_instances}")
    if cfg.worker_max_instances <= cfg.worker_min_instances:
        _fail(cfg, "worker_max_instances", f"must be > worker_min_instances ({cfg.worker_min_instances}), got "
              f"{cfg.worker_max_instances}: a group that cannot grow does not scale on its backlog")
    _check_range(cfg, "job_average_seconds", 1, 3600)
    _check_range(cfg, "job_latency_target_seconds", 1, 12 * 3600)
    if cfg.job_latency_target_seconds < cfg.job_average_seconds:
        _fail(cfg, "job_latency_target_seconds", f"must be >= job_average_seconds ({cfg.job_average_seconds}): "
              f"a backlog target under one job per instance cannot be met, got {cfg.job_latency_target_seconds}")


def _check_windows(cfg: StageConfig) -> None:
    """RDS's rules: a daily backup window of at least 30 minutes, a weekly maintenance window
    of at least 30 minutes, and the two must not overlap; nor touch here (a maintenance window
    that starts when the backup window ends is "overlapping" to the rehearsal's emulator, and
    a gap costs nothing)."""
    backup = _BACKUP_WINDOW_RE.match(str(cfg.db_backup_window))
    if not backup:
        _fail(cfg, "db_backup_window", f"must be 'hh:mm-hh:mm' in UTC, like '08:00-09:00', got {cfg.db_backup_window!r}")
    start, end = int(backup[1]) * 60 + int(backup[2]), int(backup[3]) * 60 + int(backup[4])
    if (end - start) % 1440 < 30:
        _fail(cfg, "db_backup_window", f"must last at least 30 minutes, got {cfg.db_backup_window!r}")
    maintenance = _MAINTENANCE_WINDOW_RE.match(str(cfg.db_maintenance_window))
    if not maintenance:
        _fail(cfg, "db_maintenance_window", "must be 'ddd:hh:mm-ddd:hh:mm' in UTC, like 'tue:09:30-tue:10:30', "
              f"got {cfg.db_maintenance_window!r}")
    week = 7 * 1440
    m_start = _DAYS.index(maintenance[1]) * 1440 + int(maintenance[2]) * 60 + int(maintenance[3])
    m_end = _DAYS.index(maintenance[4]) * 1440 + int(maintenance[5]) * 60 + int(maintenance[6])
    m_length = (m_end - m_start) % week
    if m_length < 30:
        _fail(cfg, "db_maintenance_window", f"must last at least 30 minutes, got {cfg.db_maintenance_window!r}")
    b_length = (end - start) % 1440
    for day in range(7):  # the daily backup window, every day of the week
        b_start = day * 1440 + start
        if ((b_start - m_start) % week) <= m_length or ((m_start - b_start) % week) <= b_length:
            _fail(cfg, "db_maintenance_window", f"must not overlap the backup window {cfg.db_backup_window} "
                  f"(RDS refuses that), got {cfg.db_maintenance_window!r}")


def db_max_connections(db_instance_class: str) -> int:
    """RDS for PostgreSQL's default max_connections: LEAST({DBInstanceClassMemory/9531392}, 5000)."""
    return min(int(DB_INSTANCE_CLASSES[db_instance_class].memory_gib * 2**30 // 9531392), 5000)


# Every stage deploys to us-east-1: the region of the topology report's dated price
# table, and CloudFront's own region (its metrics, and certificates for custom domains).
STAGES: dict[str, StageConfig] = {
    cfg.name: cfg
    for cfg in (
        # The classic setup, as cheap as it can honestly be: one app instance
        # (auto-recovered by EC2), one NAT instance instead of NAT gateways,
        # a Single-AZ burstable database. Functionally decomposed, not distributed.
        StageConfig(
            name="starter",
            region="us-east-1",
            availability_zones=("us-east-1a", "us-east-1b"),
            vpc_cidr="10.10.0.0/16",
            nat="instance",
            app_tier="single-instance",
            instance_type="t4g.micro",
            workers_per_instance=2,
            db_instance_class="t4g.micro",
            db_multi_az=False,
            db_backup_retention_days=7,
            db_deletion_protection=False,
            monitoring="alarms",
            dashboard=False,
            trend_alarms=False,
        ),
        # The cheapest honest distributed system: two burstable hosts or more over two AZs
        # behind an internal ALB (CloudFront's VPC origin), scaling out on CPU; a Multi-AZ
        # micro database; no NAT: the hosts egress from public subnets through the internet
        # gateway, each with its own address, and admit nothing but the load balancer.
        StageConfig(
            name="small",
            region="us-east-1",
            availability_zones=("us-east-1a", "us-east-1b"),
            vpc_cidr="10.30.0.0/16",
            nat="none",
            app_tier="auto-scaling",
            instance_type="t4g.small",
            min_instances=2,
            max_instances=4,
            target_cpu_percent=60,
            workers_per_instance=2,
            db_instance_class="t4g.micro",
            db_multi_az=True,
            db_allocated_storage_gib=20,
            db_backup_retention_days=7,
            db_deletion_protection=True,
            monitoring="alarms",
        ),
        # Replicated app tier across three AZs behind an internal ALB reached by
        # CloudFront through a VPC origin; Multi-AZ database; one NAT gateway per AZ.
        StageConfig(
            name="scale-out",
            region="us-east-1",
            availability_zones=("us-east-1a", "us-east-1b", "us-east-1c"),
            vpc_cidr="10.20.0.0/16",
            nat="gateway-per-az",
            app_tier="auto-scaling",
            instance_type="c7g.large",
            min_instances=3,
            max_instances=12,
            workers_per_instance=2,
            # Avatars (decode, resize, two WebP encodes) are CPU work that would take cores from
            # requests at the busiest hours, when uploads peak too: here the jobs get hosts of
            # their own. A worker does one job at a time, so one core (c7g.medium) is its size.
            # A job takes about 2 s there (an estimate for a picture up to the upload limit;
            # correct it from the worker's logs), and a player should see the avatar within a
            # minute: 60 / 2 = a backlog of 30 jobs per host before the group adds one. Two
            # hosts at least (one per AZ of two), six at most (three times the floor: a burst
            # of uploads; the JobsWaitTooLong alarm says when that is not enough).
            worker_tier="auto-scaling",
            worker_instance_type="c7g.medium",
            worker_min_instances=2,
            worker_max_instances=6,
            job_latency_target_seconds=60,
            job_average_seconds=2,
            db_instance_class="m7g.large",
            db_multi_az=True,
            db_allocated_storage_gib=100,
            db_max_allocated_storage_gib=1000,
            db_backup_retention_days=14,
            db_deletion_protection=True,
            db_secret_rotation_days=30,
            db_performance_insights=True,
            db_enhanced_monitoring_seconds=60,
            media_noncurrent_version_expiry_days=90,
            log_retention_days=90,
            monitoring="alarms",
        ),
    )
}


def select_stages(context: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> list[StageConfig]:
    """The stages to synthesize, from CDK context.

    ``stage`` picks one stage (all when absent). The account is ``-c account=...``, else the
    CDK CLI's ``CDK_DEFAULT_ACCOUNT`` (the account of its credentials), else the placeholder;
    ``account``, ``alarm_emails`` and ``monitoring`` apply to every selected stage, the other
    keys in ``OVERRIDABLE_KEYS`` to the one named by ``stage``.
    """
    environ = os.environ if environ is None else environ
    name = context.get("stage")
    overrides = {k: v for k, v in context.items() if k in OVERRIDABLE_KEYS and v is not None}
    if "account" not in overrides and environ.get("CDK_DEFAULT_ACCOUNT"):
        overrides["account"] = environ["CDK_DEFAULT_ACCOUNT"]
    per_stage = sorted(set(overrides) & PER_STAGE_KEYS)
    if name is None:
        if per_stage:
            raise StageConfigError(
                f"context key 'stage' is required with {', '.join(per_stage)} (a per-stage key): "
                f"add -c stage=NAME, one of {', '.join(STAGES)}"
            )
        return [cfg.with_overrides(overrides) for cfg in STAGES.values()]
    if name not in STAGES:
        raise StageConfigError(
            f"context key 'stage': unknown stage {name!r}; allowed: {', '.join(STAGES)}"
        )
    return [STAGES[name].with_overrides(overrides)]
