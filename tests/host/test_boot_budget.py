"""A host's boot fits its budgets: every step of host/bootstrap.sh at its worst (each retry,
each timeout) adds up below the signal timeout CloudFormation waits for, and the time until
the host answers its liveness check below the group's health-check grace, so a slow but
healthy host is never replaced mid-boot and a stuck one fails with its reason instead of
running into the stack's timeout. The numbers are read from the script and the templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from patterns.game_service_host import BOOTSTRAP_FETCH_ATTEMPTS, BOOTSTRAP_FETCH_TIMEOUT
from stacks.config import STAGES

SCRIPT = (Path(__file__).resolve().parents[2] / "host" / "bootstrap.sh").read_text()
POLL_OVERSHOOT = 10  # a polling wait may run one probe past its deadline (curl -m 5, then 1 s; aws 20 s)


def _constant(name: str) -> int:
    match = re.search(rf"^{name}=(?:\$\{{{name}:-)?(\d+)\}}?", SCRIPT, re.MULTILINE)
    assert match, f"{name} is not set in host/bootstrap.sh"
    return int(match[1])


def _retried(attempts: int, timeout: int) -> int:
    """``retry`` of host/bootstrap.sh: every attempt at its timeout, and 5 s, 10 s... between."""
    return attempts * timeout + sum(5 * n for n in range(1, attempts))


def _installed() -> int:
    """Seconds until the service is installed, every step at its worst."""
    retries = _constant("RETRY_ATTEMPTS")
    return (
        _retried(BOOTSTRAP_FETCH_ATTEMPTS, BOOTSTRAP_FETCH_TIMEOUT)  # user data: the script itself
        + _retried(retries, _constant("PACKAGES_ATTEMPT_TIMEOUT"))
        + _constant("AGENT_TIMEOUT")
        + 2 * _retried(retries, _constant("FETCH_ATTEMPT_TIMEOUT"))  # bundle, wheelhouse
        + _constant("INSTALL_TIMEOUT")
    )


def _worst_case(*, behind_load_balancer: bool) -> dict[str, int]:
    """A host's (--role serve: it does not migrate) worst seconds until liveness, until it is
    released from the launch hook (scale-out) and until it signals."""
    live = _installed() + _constant("LIVE_TIMEOUT") + POLL_OVERSHOOT
    ready = live + _constant("READY_TIMEOUT") + POLL_OVERSHOOT
    if not behind_load_balancer:
        return {"liveness": live, "released": ready, "signal": ready}
    released = ready + _released_from_launch_hook()
    return {"liveness": live, "released": released,
            "signal": released + _constant("TARGET_HEALTH_TIMEOUT") + 30}  # its last call may take 20 s


def _released_from_launch_hook() -> int:
    """Completing the launch hook: two metadata reads (curl -m 5), finding its group, the call."""
    return 2 * 5 + 2 * _retried(_constant("RETRY_ATTEMPTS"), _constant("LIFECYCLE_ATTEMPT_TIMEOUT"))


def _minutes(iso: str) -> int:
    match = re.fullmatch(r"PT(\d+)M", iso)
    assert match, iso
    return int(match[1])


def test_every_step_of_the_boot_is_bounded():
    for step in ("dnf install", "amazon-cloudwatch-agent-ctl", "aws s3 cp", "/pip\" install", "-m game_service migrate",
                 "describe-auto-scaling-instances", "complete-lifecycle-action"):
        line = next(line for line in SCRIPT.splitlines()
                    if step in line and not re.match(r"\s*([A-Z_]+=|#)", line))  # the command, not a setting
        assert "timeout" in line, f"{step}: not bounded by a timeout"
    assert '"$BASE/api/health/live" "$LIVE_TIMEOUT"' in SCRIPT and '"$READY_TIMEOUT"' in SCRIPT
    assert "deadline=$((SECONDS + TARGET_HEALTH_TIMEOUT))" in SCRIPT


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_the_worst_boot_fits_the_signal_timeout_and_the_health_check_grace(templates, stage):
    app = templates[stage]["app"]
    behind_load_balancer = STAGES[stage].app_tier == "auto-scaling"
    if not behind_load_balancer:
        (instance,) = [r for lid, r in app["Resources"].items() if r["Type"] == "AWS::EC2::Instance"
                       and lid.startswith("Tier")]
        signal_timeout = _minutes(instance["CreationPolicy"]["ResourceSignal"]["Timeout"]) * 60
        grace = None
    else:
        (group,) = [r for lid, r in app["Resources"].items() if r["Type"] == "AWS::AutoScaling::AutoScalingGroup"
                    and lid.startswith("Tier")]  # the app tier's (scale-out's worker tier: below)
        signal_timeout = _minutes(group["CreationPolicy"]["ResourceSignal"]["Timeout"]) * 60
        (hook,) = group["Properties"]["LifecycleHookSpecificationList"]
        grace = group["Properties"]["HealthCheckGracePeriod"]
    worst = _worst_case(behind_load_balancer=behind_load_balancer)
    assert worst["signal"] < signal_timeout, f"worst boot {worst['signal']} s, signal timeout {signal_timeout} s"
    if grace is not None:
        assert worst["liveness"] < grace, f"worst time to liveness {worst['liveness']} s, health-check grace {grace} s"
        # a slow but healthy host is released from the launch hook before the hook gives up on it
        assert worst["released"] < hook["HeartbeatTimeout"], (worst["released"], hook["HeartbeatTimeout"])


def test_the_worst_worker_host_boot_fits_the_signal_timeout_and_its_launch_hook(templates):
    """A worker tier's host (--role worker): installed, its worker still running WORKER_SETTLE
    seconds later, released from its launch hook; no server, no load balancer."""
    (group,) = [r for lid, r in templates["scale-out"]["app"]["Resources"].items()
                if r["Type"] == "AWS::AutoScaling::AutoScalingGroup" and lid.startswith("Workers")]
    released = _installed() + _constant("WORKER_SETTLE") + _released_from_launch_hook()
    assert released < _minutes(group["CreationPolicy"]["ResourceSignal"]["Timeout"]) * 60
    launch = next(h for h in group["Properties"]["LifecycleHookSpecificationList"]
                  if h["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING")
    assert released < launch["HeartbeatTimeout"] and released < group["Properties"]["HealthCheckGracePeriod"]


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_the_worst_migration_fits_its_signal_timeout(templates, stage):
    """The release's migration instance boots the same way, up to the migration itself."""
    (migration,) = [r for lid, r in templates[stage]["app"]["Resources"].items()
                    if r["Type"] == "AWS::EC2::Instance" and lid.startswith("Migration")]
    signal_timeout = _minutes(migration["CreationPolicy"]["ResourceSignal"]["Timeout"]) * 60
    to_migrated = _installed() + _constant("MIGRATE_TIMEOUT")
    assert to_migrated < signal_timeout, f"worst migration boot {to_migrated} s, signal timeout {signal_timeout} s"
