"""How an EC2 instance becomes a game-service host: the user data.

The service (``game_service/``) ships as a CDK asset; the instance downloads it,
installs its pinned requirements into a virtualenv, runs it under systemd with
its configuration in the environment, waits until it answers its liveness path
(and, behind a load balancer, until the target group calls it healthy), and only
then signals CloudFormation. A deploy that breaks the service therefore rolls back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3_assets as s3_assets

LIVENESS_PATH = "/api/health/live"
READINESS_PATH = "/api/health/ready"


READINESS_NAMESPACE = "Game/Health"
READINESS_METRIC = "Ready"
SERVICE_LOG = "/var/log/game/service.log"
BOOTSTRAP_LOG = "/var/log/game-bootstrap.log"


def cloudwatch_agent_config(*, log_group_name: str) -> str:
    """The CloudWatch agent's config: the service's JSON logs and the bootstrap log to
    ``log_group_name`` (one stream per instance), memory and disk use as metrics."""
    return json.dumps(
        {
            "agent": {"metrics_collection_interval": 60},
            "logs": {
                "logs_collected": {
                    "files": {
                        "collect_list": [
                            {"file_path": SERVICE_LOG, "log_group_name": log_group_name,
                             "log_stream_name": "{instance_id}/service"},
                            {"file_path": BOOTSTRAP_LOG, "log_group_name": log_group_name,
                             "log_stream_name": "{instance_id}/bootstrap"},
                        ]
                    }
                }
            },
            "metrics": {
                "namespace": "Game/Host",
                "append_dimensions": {"InstanceId": "${aws:InstanceId}", "AutoScalingGroupName": "${aws:AutoScalingGroupName}"},
                "metrics_collected": {
                    "mem": {"measurement": ["mem_used_percent"]},
                    "disk": {"measurement": ["used_percent"], "resources": ["/"]},
                },
            },
        },
        sort_keys=True,
    )


def game_service_user_data(
    *,
    bundle: s3_assets.Asset,
    environment: Mapping[str, str],
    port: int,
    region: str,
    log_group_name: str,
    stage: str,
    target_group_arn: str | None = None,
) -> ec2.UserData:
    """User data that installs and starts the service; signals are added by the caller."""
    env_lines = [f"{key}={value}" for key, value in sorted(environment.items())]
    user_data = ec2.UserData.for_linux()
    user_data.add_commands(
        "set -euo pipefail",
        f"exec > >(tee -a {BOOTSTRAP_LOG}) 2>&1",
        "dnf install -y -q python3.11 python3.11-pip unzip aws-cfn-bootstrap amazon-cloudwatch-agent",
        "id game >/dev/null 2>&1 || useradd --system --home-dir /opt/game --shell /sbin/nologin game",
        "install -d -o game -g game /opt/game /opt/game/app",
        f"aws s3 cp --region {region} s3://{bundle.s3_bucket_name}/{bundle.s3_object_key} /tmp/game_service.zip",
        "rm -rf /opt/game/app/game_service && mkdir -p /opt/game/app/game_service",
        "unzip -q /tmp/game_service.zip -d /opt/game/app/game_service",
        "python3.11 -m venv /opt/game/venv",
        "/opt/game/venv/bin/pip install -q --no-cache-dir -r /opt/game/app/game_service/requirements.txt",
        "cat > /etc/game.env <<'GAME_ENV_EOF'",
        *env_lines,
        "GAME_ENV_EOF",
        "chmod 0640 /etc/game.env && chgrp game /etc/game.env",
        "install -d -o game -g game /var/log/game",
        "cat > /etc/logrotate.d/game <<'GAME_LOGROTATE_EOF'",
        f"{SERVICE_LOG} {{",
        "  daily",
        "  rotate 3",
        "  compress",
        "  missingok",
        "  copytruncate",
        "}",
        "GAME_LOGROTATE_EOF",
        "cat > /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json <<'GAME_CWAGENT_EOF'",
        cloudwatch_agent_config(log_group_name=log_group_name),
        "GAME_CWAGENT_EOF",
        "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s "
        "-c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json",
        "cat > /etc/systemd/system/game.service <<'GAME_UNIT_EOF'",
        "[Unit]",
        "Description=Game service",
        "After=network-online.target",
        "Wants=network-online.target",
        "[Service]",
        "User=game",
        "EnvironmentFile=/etc/game.env",
        "WorkingDirectory=/opt/game/app",
        "ExecStartPre=/opt/game/venv/bin/python -m game_service migrate",
        "ExecStart=/opt/game/venv/bin/python -m game_service serve",
        "Restart=always",
        "RestartSec=2",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=35",
        f"StandardOutput=append:{SERVICE_LOG}",
        "StandardError=inherit",
        "[Install]",
        "WantedBy=multi-user.target",
        "GAME_UNIT_EOF",
        # The deep check (database, storage) feeds an alarm, not the load balancer:
        # every minute each host reports 1 (ready) or 0 as a custom metric.
        "cat > /usr/local/bin/game-readiness <<'GAME_READY_EOF'",
        "#!/bin/bash",
        f"if curl -fsS -m 10 -o /dev/null http://127.0.0.1:{port}{READINESS_PATH}; then value=1; else value=0; fi",
        f"aws cloudwatch put-metric-data --region {region} --namespace {READINESS_NAMESPACE} "
        f"--metric-name {READINESS_METRIC} --dimensions Stage={stage} --value $value",
        "GAME_READY_EOF",
        "chmod 0755 /usr/local/bin/game-readiness",
        "cat > /etc/systemd/system/game-readiness.service <<'GAME_READY_UNIT_EOF'",
        "[Unit]",
        "Description=Report the game service's readiness (database, storage) to CloudWatch",
        "[Service]",
        "Type=oneshot",
        "ExecStart=/usr/local/bin/game-readiness",
        "GAME_READY_UNIT_EOF",
        "cat > /etc/systemd/system/game-readiness.timer <<'GAME_READY_TIMER_EOF'",
        "[Unit]",
        "Description=Every minute: game readiness",
        "[Timer]",
        "OnActiveSec=2min",
        "OnUnitActiveSec=1min",
        "[Install]",
        "WantedBy=timers.target",
        "GAME_READY_TIMER_EOF",
        "systemctl daemon-reload",
        "systemctl enable --now game.service game-readiness.timer",
        # Healthy locally first...
        f"for i in $(seq 1 60); do curl -fsS http://127.0.0.1:{port}{LIVENESS_PATH} && break; sleep 5; done",
        f"curl -fsS http://127.0.0.1:{port}{LIVENESS_PATH}",
    )
    if target_group_arn is not None:
        # ...then healthy in the load balancer's eyes, before the signal lets the
        # rolling update go on to the next instance.
        user_data.add_commands(
            "IMDS_TOKEN=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')",
            "INSTANCE_ID=$(curl -fsS -H \"X-aws-ec2-metadata-token: $IMDS_TOKEN\" http://169.254.169.254/latest/meta-data/instance-id)",
            "state=unknown",
            "for i in $(seq 1 60); do",
            f"  state=$(aws elbv2 describe-target-health --region {region} --target-group-arn {target_group_arn} "
            "--targets Id=$INSTANCE_ID --query 'TargetHealthDescriptions[0].TargetHealth.State' --output text)",
            "  [ \"$state\" = healthy ] && break",
            "  sleep 10",
            "done",
            "[ \"$state\" = healthy ]",
        )
    return user_data
