"""Stage config: typed, validated, and a bad value fails synth with the key named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from stacks.config import DB_INSTANCE_CLASSES, STAGES, StageConfigError, db_max_connections, select_stages
from checks.assembly import cdk_json_context

ROOT = Path(__file__).resolve().parents[2]


def test_three_stages_ship_and_differ_in_shape():
    assert list(STAGES) == ["starter", "small", "scale-out"]
    assert STAGES["starter"].app_tier == "single-instance"
    assert STAGES["small"].app_tier == STAGES["scale-out"].app_tier == "auto-scaling"
    assert (STAGES["starter"].nat, STAGES["small"].nat, STAGES["scale-out"].nat) == ("instance", "none", "gateway-per-az")
    assert len(STAGES["small"].availability_zones) == 2 and len(STAGES["scale-out"].availability_zones) == 3
    assert len({c.vpc_cidr for c in STAGES.values()}) == 3, "each stage its own address range"


@pytest.mark.parametrize(
    ("base", "change", "key", "expected"),
    [
        ("starter", {"nat": "none"}, "nat", "CloudFront's VPC origin reaches an instance only in a private subnet"),
        ("small", {"nat": "instance"}, "nat", "single point of failure"),
        ("small", {"db_secret_rotation_days": 30}, "db_secret_rotation_days", "needs NAT"),
        ("starter", {"dashboard": "no"}, "dashboard", "must be true or false"),
        ("starter", {"trend_alarms": 1}, "trend_alarms", "must be true or false"),
        ("small", {"nat": "gateway"}, "nat", "must be one of 'instance', 'gateway-per-az', 'none'"),
    ],
)
def test_a_bad_egress_or_monitoring_choice_names_the_key(base, change, key, expected):
    with pytest.raises(StageConfigError) as error:
        replace(STAGES[base], **change)
    assert f"stage '{base}': key '{key}'" in str(error.value) and expected in str(error.value)


def test_no_stage_selects_every_stage():
    assert [c.name for c in select_stages({})] == ["starter", "small", "scale-out"]


def test_stage_selects_one_with_overrides():
    (config,) = select_stages({"stage": "scale-out", "account": "123456789012", "alarm_emails": "a@x.io, b@x.io",
                               "max_instances": "20"})
    assert config.account == "123456789012"
    assert config.alarm_emails == ("a@x.io", "b@x.io")
    assert config.max_instances == 20


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"stage": "prod"}, "context key 'stage': unknown stage 'prod'; allowed: starter, small, scale-out"),
        ({"max_instances": "6"}, "context key 'stage' is required with max_instances (a per-stage key): add -c stage=NAME"),
        ({"stage": "starter", "account": "12345"}, "key 'account' must be a 12-digit AWS account id"),
        ({"stage": "starter", "max_instances": "3"}, "key 'max_instances' must be 1"),
        ({"stage": "scale-out", "max_instances": "two"}, "key 'max_instances' must be an integer, got 'two'"),
        ({"stage": "scale-out", "max_instances": "2"}, "key 'max_instances' must be > min_instances (3), got 2"),
        ({"stage": "scale-out", "max_instances": "3"}, "key 'max_instances' must be > min_instances (3), got 3: a group that cannot grow"),
        ({"stage": "starter", "machine_image_id": "ubuntu"}, "key 'machine_image_id' must be an AMI id"),
        ({"stage": "starter", "availability_zones": "us-east-1a"}, "key 'availability_zones' must list at least 2"),
        ({"account": "123456789012"}, "key 'alarm_emails' must name at least one subscriber when monitoring is 'alarms'"),
        ({"stage": "scale-out", "instance_type": "m5.large"}, "key 'instance_type' must be a Graviton (arm64) type"),
        ({"stage": "starter", "alarm_emails": "not-an-email"}, "key 'alarm_emails' must contain e-mail addresses"),
        ({"stage": "starter", "domain_name": "game.example.com"}, "key 'certificate_arn' must be set together"),
    ],
)
def test_bad_context_names_the_key(context, expected):
    with pytest.raises(StageConfigError) as error:
        select_stages(context)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"nat": "shared"}, "key 'nat' must be one of 'instance', 'gateway-per-az', 'none', got 'shared'"),
        ({"app_tier": "k8s"}, "key 'app_tier' must be one of 'single-instance', 'auto-scaling'"),
        ({"monitoring": None}, "key 'monitoring' must be one of 'alarms', 'none', got None"),
        ({"availability_zones": ("us-east-1a",)}, "key 'availability_zones' must list at least 2 distinct zones"),
        ({"availability_zones": ("us-east-1a", "eu-west-1b")}, "key 'availability_zones' must be zones of region us-east-1"),
        ({"region": "Ireland"}, "key 'region' must be an AWS region name"),
        ({"vpc_cidr": "10.0.0.0/8"}, "key 'vpc_cidr' must be an IPv4 CIDR with a /16 to /22 prefix"),
        ({"postgres_version": "17"}, "key 'postgres_version' must be one of 16.10, 17.6"),
        ({"db_instance_class": "db.t4g.micro"}, "key 'db_instance_class' must be a class without the 'db.' prefix"),
        ({"db_backup_retention_days": 0}, "key 'db_backup_retention_days' must be an integer from 1 to 35, got 0"),
        ({"db_performance_insights": True}, "key 'db_performance_insights' needs a db class of size medium or larger"),
        ({"log_retention_days": 10}, "key 'log_retention_days' must be one of"),
        ({"monitoring": "none", "alarm_emails": ("a@x.io",)}, "key 'alarm_emails' must be empty when monitoring is 'none'"),
        ({"db_instance_class": "t3.micro"}, "key 'db_instance_class' must be one of t4g.micro"),
        ({"db_backup_window": "8:00-09:00"}, "key 'db_backup_window' must be 'hh:mm-hh:mm' in UTC"),
        ({"db_backup_window": "08:00-08:20"}, "key 'db_backup_window' must last at least 30 minutes"),
        ({"db_maintenance_window": "tuesday 9am"}, "key 'db_maintenance_window' must be 'ddd:hh:mm-ddd:hh:mm' in UTC"),
        ({"db_maintenance_window": "tue:10:00-tue:10:15"}, "key 'db_maintenance_window' must last at least 30 minutes"),
        ({"db_maintenance_window": "wed:08:30-wed:09:30"},
         "key 'db_maintenance_window' must not overlap the backup window 08:00-09:00"),
        ({"db_maintenance_window": "wed:09:00-wed:09:30"},  # touching (the emulator refuses it)
         "key 'db_maintenance_window' must not overlap the backup window 08:00-09:00"),
        ({"db_backup_window": "23:45-00:30", "db_maintenance_window": "sun:00:15-sun:01:00"},
         "key 'db_maintenance_window' must not overlap the backup window 23:45-00:30"),
    ],
)
def test_bad_starter_values_name_the_key(change, expected):
    with pytest.raises(StageConfigError) as error:
        replace(STAGES["starter"], **change)
    assert expected in str(error.value)
    assert "stage 'starter'" in str(error.value)


@pytest.mark.parametrize(
    ("change", "key"),
    [({"min_instances": 1}, "min_instances"), ({"nat": "instance"}, "nat"), ({"db_multi_az": False}, "db_multi_az")],
)
def test_scale_out_refuses_single_points_of_failure(change, key):
    with pytest.raises(StageConfigError, match=f"key '{key}'.*single point of failure"):
        replace(STAGES["scale-out"], **change)


def _run_app(context: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/nonexistent-never-written"}
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_synth_with_an_unknown_stage_fails_with_a_message_not_a_traceback():
    result = _run_app({"stage": "staging"})
    assert result.returncode == 1
    assert "config error: context key 'stage': unknown stage 'staging'; allowed: starter, small, scale-out" in result.stderr
    assert "Traceback" not in result.stderr


def test_synth_with_a_bad_override_fails_naming_the_key():
    result = _run_app({"stage": "scale-out", "max_instances": "0"})
    assert result.returncode == 1
    assert "key 'max_instances'" in result.stderr
    assert "Traceback" not in result.stderr


def test_account_comes_from_context_else_the_clis_credentials_else_the_placeholder():
    assert {c.account for c in select_stages({}, environ={})} == {"000000000000"}
    # the CDK CLI sets CDK_DEFAULT_ACCOUNT to the account of its credentials
    with_credentials = select_stages({"alarm_emails": "ops@example.com"}, environ={"CDK_DEFAULT_ACCOUNT": "111122223333"})
    assert [c.account for c in with_credentials] == ["111122223333"] * len(STAGES)
    chosen = select_stages({"account": "444455556666", "monitoring": "none"}, environ={"CDK_DEFAULT_ACCOUNT": "111122223333"})
    assert [c.account for c in chosen] == ["444455556666"] * len(STAGES), "-c account= wins, for every stage"
    assert all(c.monitoring == "none" for c in chosen)


def test_a_real_account_needs_alarm_subscribers_or_an_explicit_none():
    with pytest.raises(StageConfigError, match="key 'alarm_emails' must name at least one subscriber"):
        select_stages({"stage": "starter"}, environ={"CDK_DEFAULT_ACCOUNT": "111122223333"})
    (config,) = select_stages({"stage": "starter", "monitoring": "none"}, environ={"CDK_DEFAULT_ACCOUNT": "111122223333"})
    assert config.monitoring == "none" and config.alarm_emails == ()


def test_zone_names_are_chosen_per_account():
    (config,) = select_stages({"stage": "starter", "availability_zones": "us-east-1c,us-east-1d"}, environ={})
    assert config.availability_zones == ("us-east-1c", "us-east-1d")


def test_synth_without_an_account_says_how_to_set_one_and_still_writes_the_placeholder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CDK_DEFAULT_ACCOUNT"}
    env.update(CDK_CONTEXT_JSON=json.dumps({**cdk_json_context(), "stage": "starter"}), CDK_OUTDIR=str(tmp_path))
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: starter: no AWS account")]
    assert len(notes) == 1 and "-c account=<12 digits>" in notes[0]


def test_database_windows_are_per_stage_and_set_from_context():
    (config,) = select_stages({"stage": "starter", "db_backup_window": "05:00-05:30",
                               "db_maintenance_window": "sat:06:00-sat:06:30"})
    assert (config.db_backup_window, config.db_maintenance_window) == ("05:00-05:30", "sat:06:00-sat:06:30")
    # the defaults: after the Americas' evening peak, before their morning
    assert STAGES["starter"].db_backup_window == "08:00-09:00"


def test_database_classes_agree_with_the_reports_price_table():
    """The alarms' memory and max_connections come from DB_INSTANCE_CLASSES; the topology
    report prices and sizes the same classes from its own table: they must not drift."""
    prices = json.loads((ROOT / "topology_report" / "prices.json").read_text())["rds_postgresql"]
    for name, db_class in DB_INSTANCE_CLASSES.items():
        if f"db.{name}" in prices:
            assert prices[f"db.{name}"]["memory_gib"] == db_class.memory_gib, name
    assert (db_max_connections("t4g.micro"), db_max_connections("m7g.large")) == (112, 901)  # as the report says


@pytest.mark.parametrize(
    ("base", "change", "expected"),
    [
        ("scale-out", {"worker_min_instances": 1}, "key 'worker_min_instances' must be >= 2 when worker_tier is 'auto-scaling'"),
        ("scale-out", {"worker_max_instances": 2}, "key 'worker_max_instances' must be > worker_min_instances (2), got 2"),
        ("scale-out", {"worker_instance_type": "c7i.large"}, "key 'worker_instance_type' must be a Graviton (arm64)"),
        ("scale-out", {"job_average_seconds": 0}, "key 'job_average_seconds' must be an integer from 1 to 3600, got 0"),
        ("scale-out", {"job_latency_target_seconds": 1}, "key 'job_latency_target_seconds' must be >= job_average_seconds (2)"),
        ("scale-out", {"worker_tier": "lambda"}, "key 'worker_tier' must be one of 'on-app-hosts', 'auto-scaling'"),
        ("starter", {"worker_tier": "auto-scaling"}, "key 'worker_tier' must be 'on-app-hosts' when app_tier is 'single-instance'"),
    ],
)
def test_a_bad_worker_tier_value_names_the_key(base, change, expected):
    with pytest.raises(StageConfigError) as error:
        replace(STAGES[base], **change)
    assert expected in str(error.value)
    assert f"stage '{base}'" in str(error.value)


def test_only_scale_out_divides_its_jobs_onto_hosts_of_their_own():
    """Starter and small run the worker beside the server: dividing the work needs no more machines there."""
    assert [name for name, c in STAGES.items() if c.has_worker_tier] == ["scale-out"]
    assert STAGES["scale-out"].worker_backlog_per_instance == (
        STAGES["scale-out"].job_latency_target_seconds // STAGES["scale-out"].job_average_seconds)
