"""The patterns check their props up front, with a clear error."""

from __future__ import annotations

import pytest

from aws_cdk import App, Stack  # jsii's Node was picked by tests/conftest.py
from aws_cdk import aws_s3 as s3

from patterns.nag import acknowledge
from patterns.retention import retention
from patterns.secure_bucket import SecureBucket


@pytest.fixture
def stack():
    return Stack(App(), "Test")


def test_acknowledging_a_finding_needs_a_real_reason(stack):
    with pytest.raises(ValueError, match="needs a reason a reviewer would accept"):
        acknowledge(stack, "AwsSolutions-S1", "because")


def test_secure_bucket_refuses_version_expiry_without_versioning(stack):
    logs = s3.Bucket(stack, "Logs")
    with pytest.raises(ValueError, match="noncurrent_version_expiry_days needs versioned=True"):
        SecureBucket(stack, "Media", access_logs_bucket=logs, access_logs_prefix="s3/media/",
                     noncurrent_version_expiry_days=30)


def test_secure_bucket_wants_a_folder_like_log_prefix(stack):
    logs = s3.Bucket(stack, "Logs")
    with pytest.raises(ValueError, match="access_logs_prefix must end with '/'"):
        SecureBucket(stack, "Media", access_logs_bucket=logs, access_logs_prefix="s3-media")


def test_retention_names_the_allowed_values():
    with pytest.raises(ValueError, match=r"log retention must be one of \(1, 3, 5, 7, 14, 30"):
        retention(10)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"min_instances": 1}, r"min_instances must be >= 2 \(one worker host per AZ\), got 1"),
        ({"max_instances": 2}, r"max_instances \(2\) must be > min_instances \(2\)"),
        ({"backlog_per_instance": 0}, "backlog_per_instance must be >= 1 job, got 0"),
        ({"visibility_seconds": 7200}, r"visibility_seconds must be 1..7140 \(the drain hook waits 60 s longer"),
    ],
)
def test_worker_tier_checks_its_props_before_building_anything(stack, change, expected):
    from patterns.worker_tier import WorkerTier

    props = dict(vpc=None, security_group=None, role=None, host=None, service_environment={}, log_group_name="g",
                 stage="s", instance_type="c7g.medium", machine_image=None, job_queue=None, visibility_seconds=120,
                 min_instances=2, max_instances=6, backlog_per_instance=30, host_subnets=None)
    with pytest.raises(ValueError, match=expected):
        WorkerTier(stack, "Workers", **{**props, **change})
