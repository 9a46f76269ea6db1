"""Logs: every log group of a stage expires, including those AWS services would create by
name on their own (a Lambda's, the rotation Lambda's), and the VPC logs rejected traffic only."""

from __future__ import annotations

import pytest

from stacks.config import STAGES
from tests.stacks.helpers import props, resources


def _log_groups(template: dict) -> dict[str, dict]:
    return resources(template, "AWS::Logs::LogGroup")


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_every_log_group_of_the_templates_expires(templates, stage):
    for stack, template in templates[stage].items():
        for logical_id, group in _log_groups(template).items():
            assert group["Properties"].get("RetentionInDays") == STAGES[stage].log_retention_days, f"{stack}/{logical_id}"


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_every_lambda_logs_into_a_group_that_expires(templates, stage):
    """Lambda writes to /aws/lambda/<function name> unless its LoggingConfig names a group, and
    creates that group itself, with no retention: each function here logs into a group of the
    template (the BucketDeployment's handler, the default security group's handler); the Ref
    has CloudFormation create the group before the function."""
    seen = 0
    for stack, template in templates[stage].items():
        groups = _log_groups(template)
        for logical_id, function in resources(template, "AWS::Lambda::Function").items():
            target = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
            assert target and target.get("Ref") in groups, f"{stack}/{logical_id} logs into a group nobody expires"
            seen += 1
    assert seen == 2  # the static site's deployment and the VPC's default security group


def test_the_rotation_lambdas_group_exists_before_its_first_rotation(templates):
    """scale-out rotates its master secret with a Lambda from the Serverless Application
    Repository, named by CDK; the first rotation runs as soon as the schedule exists."""
    data = templates["scale-out"]["data"]
    (application_id, application), = resources(data, "AWS::Serverless::Application").items()
    name = application["Properties"]["Parameters"]["functionName"]
    named = {g["Properties"].get("LogGroupName"): lid for lid, g in _log_groups(data).items()}
    assert f"/aws/lambda/{name}" in named
    assert named[f"/aws/lambda/{name}"] in application["DependsOn"]
    assert _log_groups(data)[named[f"/aws/lambda/{name}"]]["DeletionPolicy"] == "Delete"  # its name is fixed


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_flow_logs_record_rejected_traffic_only(templates, stage):
    (flow_log,) = props(templates[stage]["network"], "AWS::EC2::FlowLog")
    assert flow_log["TrafficType"] == "REJECT" and flow_log["LogDestinationType"] == "cloud-watch-logs"
