"""How an EC2 instance becomes a game-service host.

Three CDK assets go to the instance:

* the bootstrap script (``host/bootstrap.sh``), which does the whole job and also runs
  outside EC2 (tests, local hosts) with ``--mode local``;
* the service bundle: ``game_service/`` minus what the service does not run (the web page
  is published to the static bucket, docs stay in the repo), so a CSS change or a README
  edit does not replace instances;
* the wheelhouse: every locked dependency as a wheel for Amazon Linux 2023 on arm64,
  CPython 3.11 (``host/wheelhouse.py``); hosts never reach PyPI. Its asset hash comes
  from the lock file, so synth does not fingerprint 40 MB of wheels.

The user data only writes the service's environment file, fetches the script and runs it
with its parameters; CDK's signal trap then reports the script's exit code to
CloudFormation, and the script exits 0 only once the host serves (deep readiness, and
healthy in its target group behind a load balancer).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import AssetHashType, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from host.bundle import BOOTSTRAP_SCRIPT, BUNDLE_EXCLUDES, SERVICE_DIR
from host.wheelhouse import ready as wheelhouse_ready
from host.wheelhouse import wheelhouse_key

HOST_PLATFORM = "aarch64"

READINESS_NAMESPACE = "Game/Health"
# What the CloudWatch agent publishes (host/bootstrap.sh): memory and root-disk use in %,
# also aggregated per instance and per Auto Scaling group.
HOST_NAMESPACE = "Game/Host"
DISK_USED_METRIC = "disk_used_percent"
DISK_ALARM_PERCENT = 85
READINESS_METRIC = "Ready"
# A group's host whose boot failed (host/bootstrap.sh, before it abandons its launch): 1 per
# failure, dimension Stage. A rollout fails on it (patterns/app_tier.py).
BOOT_FAILED_METRIC = "BootFailed"
SERVICE_LOG = "/var/log/game/service.log"
BOOTSTRAP_LOG = "/var/log/game-bootstrap.log"
ENV_FILE = "/etc/game.env"
# The user data fetches the bootstrap script in at most this many tries of this many seconds
# (5 s, 10 s between): the first part of a host's boot budget (tests/host/test_boot_budget.py).
BOOTSTRAP_FETCH_ATTEMPTS = 3
BOOTSTRAP_FETCH_TIMEOUT = 30


class GameServiceHostArtifacts(Construct):
    """The bootstrap script, the service bundle and the wheelhouse, as assets."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.bootstrap = s3_assets.Asset(self, "Bootstrap", path=str(BOOTSTRAP_SCRIPT))
        self.bundle = s3_assets.Asset(self, "ServiceBundle", path=str(SERVICE_DIR), exclude=BUNDLE_EXCLUDES)
        self.wheels = s3_assets.Asset(
            self,
            "ServiceWheels",
            path=str(wheelhouse_ready(HOST_PLATFORM)),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=wheelhouse_key(HOST_PLATFORM),
        )
        self.assets = (self.bootstrap, self.bundle, self.wheels)

    def object_arns(self) -> list[str]:
        partition = Stack.of(self).partition
        return [f"arn:{partition}:s3:::{a.s3_bucket_name}/{a.s3_object_key}" for a in self.assets]

    def grant_read(self, role: iam.IRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadServiceBundle", actions=["s3:GetObject"], resources=self.object_arns())
        )

    def user_data(
        self,
        *,
        environment: Mapping[str, str],
        region: str,
        log_group_name: str,
        stage: str,
        role: str = "serve",
        target_group_arn: str | None = None,
        lifecycle_hook: str | None = None,
        worker_beside_server: bool = True,
        drain_hook: str | None = None,
    ) -> ec2.UserData:
        """User data that runs the bootstrap in ``role`` (``serve``: an app host, with the job
        worker beside its server unless ``worker_beside_server`` is false (the stage has a worker
        tier); ``worker``: a worker tier's host, the job worker only, stopped before its group
        terminates it when ``drain_hook`` names the group's terminating hook; ``migrate``: the
        release's migration, after which the instance shuts itself down); the caller adds the
        CloudFormation signal."""
        if role not in ("serve", "worker", "migrate"):
            raise ValueError(f"role must be 'serve', 'worker' or 'migrate', got {role!r}")
        if not worker_beside_server and role != "serve":
            raise ValueError(f"worker_beside_server=False is for role 'serve', got role {role!r}")
        if drain_hook is not None and role != "worker":
            raise ValueError(f"drain_hook is for role 'worker', got role {role!r}")
        env_lines = [f"{key}={value}" for key, value in sorted(environment.items())]
        args = [
            "--mode ec2",
            f"--role {role}",
            f"--bundle {self.bundle.s3_object_url}",
            f"--wheels {self.wheels.s3_object_url}",
            f"--env-file {ENV_FILE}",
            f"--region {region}",
            f"--stage {stage}",
            f"--log-group {log_group_name}",
        ]
        if target_group_arn is not None:
            args.append(f"--target-group-arn {target_group_arn}")
        if lifecycle_hook is not None:
            args.append(f"--lifecycle-hook {lifecycle_hook}")
        if not worker_beside_server:
            args.append("--without-worker")
        if drain_hook is not None:
            args.append(f"--drain-hook {drain_hook}")
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(
            "set -euo pipefail",
            f"exec > >(tee -a {BOOTSTRAP_LOG}) 2>&1",
            "install -d -m 0755 /opt/game",
            f"cat > {ENV_FILE} <<'GAME_ENV_EOF'",
            *env_lines,
            "GAME_ENV_EOF",
            f"chmod 0600 {ENV_FILE}",
            f"for i in $(seq 1 {BOOTSTRAP_FETCH_ATTEMPTS}); do timeout {BOOTSTRAP_FETCH_TIMEOUT} aws s3 cp --only-show-errors "
            f"--region {region} {self.bootstrap.s3_object_url} /opt/game/bootstrap.sh && break; sleep $((i * 5)); done",
            "bash /opt/game/bootstrap.sh " + " ".join(args),
        )
        if role == "migrate":
            # done (a failure has exited above, the instance kept for a look until the stack
            # rolls back and deletes it): signal on exit, then stop for good in two minutes,
            # time for the agent to ship the log (the instance terminates on shutdown)
            user_data.add_commands("shutdown -h +2 'the release is migrated'")
        return user_data
