"""What a host may do, read from the synthesized policies of the instance role, the way IAM
evaluates them (an explicit Deny wins; an Allow needs both the action and the resource).
Every permission of the role is in its own template (no AWS-managed policy), so these
answers are complete; only conditions are not evaluated (a condition only narrows)."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from stacks.config import PLACEHOLDER_ACCOUNT, STAGES
from tests.stacks.helpers import resources

ACCOUNT = PLACEHOLDER_ACCOUNT


def _resolve(value) -> str:
    """A template value as a string IAM would see; what only a deploy knows is a token that
    matches nothing but a wildcard (``{output:Stack.Name}``, ``{import:name}``, ``{ref:Id}``)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": ACCOUNT}.get(
            value["Ref"], f"{{ref:{value['Ref']}}}")
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolve(p) for p in parts)
    if "Fn::ImportValue" in value:
        return f"{{import:{value['Fn::ImportValue']}}}"
    if "Fn::GetStackOutput" in value:
        spec = value["Fn::GetStackOutput"]
        return f"{{output:{spec['StackName']}.{spec['OutputName']}}}"
    if "Fn::GetAtt" in value:
        return "{getatt:" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"cannot read {value}")


class Role:
    def __init__(self, template: dict, prefix: str = "InstanceRole") -> None:
        (self.id,) = [lid for lid in resources(template, "AWS::IAM::Role") if lid.startswith(prefix)]
        role = resources(template, "AWS::IAM::Role")[self.id]["Properties"]
        assert not role.get("ManagedPolicyArns"), "an AWS-managed policy: its permissions are not in the template"
        self.statements = [
            statement
            for policy in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": self.id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    @staticmethod
    def _matches(patterns, value: str) -> bool:
        patterns = patterns if isinstance(patterns, list) else [patterns]
        return any(fnmatchcase(value.lower(), _resolve(p).lower()) for p in patterns)

    def may(self, action: str, resource: str) -> bool:
        applying = [s for s in self.statements
                    if self._matches(s["Action"], action) and self._matches(s.get("Resource", "*"), resource)]
        return any(s["Effect"] == "Allow" for s in applying) and not any(s["Effect"] == "Deny" for s in applying)


@pytest.fixture(params=["starter", "small", "scale-out"])
def host(request, templates):
    return request.param, Role(templates[request.param]["app"])


def test_a_host_reads_its_stages_parameters_and_no_others(host):
    stage, role = host
    parameter = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter"
    for name in ("public-base-url", "cdn-distribution-id"):
        assert role.may("ssm:GetParameter", f"{parameter}/game/{stage}/{name}")
    other = next(s for s in STAGES if s != stage)
    for forbidden in (f"/game/{other}/public-base-url", f"/game/{stage}/anything-else", "/AmazonCloudWatch-linux",
                      "/cdk-bootstrap/hnb659fds/version", "/aws/service/ami-amazon-linux-latest/al2023"):
        assert not role.may("ssm:GetParameter", f"{parameter}{forbidden}"), forbidden
    for action in ("ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory"):
        assert not role.may(action, f"{parameter}/game/{stage}/public-base-url"), action


def test_a_host_reads_its_own_secrets_and_writes_only_its_own_logs_media_and_metrics(host):
    stage, role = host
    assert role.may("secretsmanager:GetSecretValue", f"{{output:{stage}-data.PublishOutputRefGameAppSecretEF6DB2AD}}")
    assert not role.may("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:anything")
    assert role.may("logs:PutLogEvents", "{getatt:ServiceLogs24DEC314.Arn}")
    assert not role.may("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/anything")
    assert not role.may("logs:CreateLogGroup", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/game/{stage}/x")
    media = f"{{import:{stage}-media-bucket-arn}}"
    assert role.may("s3:PutObject", f"{media}/incoming/7/a.png") and role.may("s3:DeleteObjectVersion", f"{media}/media/x")
    assert not role.may("s3:PutObject", f"{media}/elsewhere/x")
    assert not role.may("s3:GetObject", "arn:aws:s3:::another-bucket/x")
    assert role.may("cloudwatch:PutMetricData", "*")  # held to Game/Host and Game/Health by its condition
    assert not role.may("iam:PassRole", "*") and not role.may("ssm:SendCommand", "*")


CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")


def _queues(templates, stage: str) -> tuple[str, str]:
    outputs = templates[stage]["storage"]["Outputs"]
    (queue_output,) = [name for name, o in outputs.items() if o["Value"] == {"Fn::GetAtt": ["JobQueue", "Arn"]}]
    return (f"{{output:{stage}-storage.{queue_output}}}",
            f"arn:aws:sqs:us-east-1:{ACCOUNT}:{stage}-storage-JobDeadLetterQueue")


def test_a_host_puts_jobs_on_its_stages_queue_and_works_them_but_never_touches_the_dead_letters(host, templates):
    """Where the worker runs beside the server (starter, small), the hosts send and consume;
    with a worker tier (scale-out), the app hosts only send."""
    stage, role = host
    queue, dead_letters = _queues(templates, stage)
    assert role.may("sqs:SendMessage", queue)
    for action in CONSUME:
        assert role.may(action, queue) == (not STAGES[stage].has_worker_tier), action
    for action in ("sqs:SendMessage", *CONSUME, "sqs:PurgeQueue", "sqs:StartMessageMoveTask"):
        assert not role.may(action, dead_letters), action
    assert not role.may("sqs:PurgeQueue", queue) and not role.may("sqs:DeleteQueue", queue)


def test_only_scale_out_has_worker_hosts_and_they_consume_jobs_and_nothing_more(templates):
    """The worker tier's role: consume the queue (no send, nothing on the dead letters),
    uploads in and avatars out, a deleted player's media (every version) and their CDN paths,
    the database as the app's user, its logs and metrics; no load balancer, no other
    distribution, parameter or prefix."""
    for stage in ("starter", "small"):
        assert not [lid for lid in resources(templates[stage]["app"], "AWS::IAM::Role") if lid.startswith("WorkerRole")]
    stage = "scale-out"
    role = Role(templates[stage]["app"], prefix="WorkerRole")
    queue, dead_letters = _queues(templates, stage)
    for action in CONSUME:
        assert role.may(action, queue), action
    for action in ("sqs:SendMessage", *CONSUME, "sqs:PurgeQueue", "sqs:StartMessageMoveTask"):
        assert not role.may(action, dead_letters), action
    assert not role.may("sqs:SendMessage", queue) and not role.may("sqs:PurgeQueue", queue)
    media = f"{{import:{stage}-media-bucket-arn}}"
    assert role.may("s3:GetObject", f"{media}/incoming/7/a.png") and role.may("s3:DeleteObject", f"{media}/incoming/7/a.png")
    assert role.may("s3:PutObject", f"{media}/media/avatars/7/1.webp")
    assert not role.may("s3:PutObject", f"{media}/incoming/7/a.png"), "uploads come from players only"
    assert not role.may("s3:GetObject", f"{media}/elsewhere/x")
    # a data deletion is the worker's job: every version of the player's media, then the CDN
    for key in ("media/avatars/7/1.webp", "incoming/7/a.png"):
        assert role.may("s3:DeleteObjectVersion", f"{media}/{key}"), key
    assert role.may("s3:ListBucketVersions", media)
    assert not role.may("s3:DeleteObjectVersion", f"{media}/elsewhere/x")
    parameter = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter"
    assert role.may("ssm:GetParameter", f"{parameter}/game/{stage}/cdn-distribution-id")
    assert not role.may("ssm:GetParameter", f"{parameter}/game/{stage}/public-base-url")
    (dist,) = resources(templates[stage]["app"], "AWS::CloudFront::Distribution")
    assert role.may("cloudfront:CreateInvalidation", f"arn:aws:cloudfront::{ACCOUNT}:distribution/{{ref:{dist}}}")
    # the database as the app hosts reach it: IAM auth as the app's own user, the same grant
    connect = [s for s in role.statements if s["Action"] == "rds-db:connect"]
    assert connect and connect == [s for s in Role(templates[stage]["app"]).statements if s["Action"] == "rds-db:connect"]
    assert "/game_app" in json.dumps(connect)
    assert role.may("secretsmanager:GetSecretValue", f"{{output:{stage}-data.PublishOutputRefGameAppSecretEF6DB2AD}}")
    assert role.may("logs:PutLogEvents", "{getatt:ServiceLogs24DEC314.Arn}")
    for action, resource in (("elasticloadbalancing:DescribeTargetHealth", "*"), ("cloudfront:CreateInvalidation", "*"),
                             ("ssm:GetParameter", "*"), ("iam:PassRole", "*"), ("ssm:SendCommand", "*")):
        assert not role.may(action, resource), action
