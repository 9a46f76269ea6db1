"""App tier: hardened instances, least-privilege role, the stage's shape (one
recovered instance / a health-gated, rolling, scaling group behind an internal ALB)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from patterns.app_tier import SIGNAL_TIMEOUT_MINUTES
from patterns.game_service_host import BOOT_FAILED_METRIC, HOST_NAMESPACE
from stacks.config import AMAZON_LINUX_2023_ARM64, STAGES
from tests.stacks.helpers import of_tier, only, props, resources


def _tier(app: dict, type_: str) -> dict:
    """The app tier's one resource of ``type_`` (logical ID ``Tier...``; scale-out's worker
    tier, ``Workers...``, has its own)."""
    (found,) = [r for lid, r in resources(app, type_).items() if lid.startswith("Tier")]
    return found


def _launch_template(templates, stage):
    return of_tier(templates[stage]["app"], "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]


def _user_data(templates, stage) -> str:
    app = templates[stage]["app"]
    if not STAGES[stage].is_distributed:
        raw = of_tier(app, "AWS::EC2::Instance")["UserData"]
    else:
        raw = _launch_template(templates, stage)["UserData"]
    return json.dumps(raw)


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_hardened_instances_imdsv2_encrypted_no_ssh_key(templates, stage):
    data = _launch_template(templates, stage)
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert "KeyName" not in json.dumps(templates[stage]["app"])
    if STAGES[stage].is_distributed:
        (volume,) = data["BlockDeviceMappings"]
        assert volume["Ebs"]["Encrypted"] is True and volume["Ebs"]["VolumeType"] == "gp3"
        assert data["InstanceType"] == STAGES[stage].instance_type
    else:
        instance = of_tier(templates[stage]["app"], "AWS::EC2::Instance")
        (volume,) = instance["BlockDeviceMappings"]
        assert volume["Ebs"]["Encrypted"] is True
        assert instance["InstanceType"] == STAGES[stage].instance_type
        assert "AvailabilityZone" not in instance


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_every_instance_boots_the_pinned_image_not_whatever_is_latest(templates, stage):
    pinned = AMAZON_LINUX_2023_ARM64[STAGES[stage].region]
    everything = json.dumps(templates[stage])
    assert "ami-amazon-linux-latest" not in everything, "no image resolved at deploy time"
    image_ids = [r["Properties"]["ImageId"] for t in templates[stage].values()
                 for r in t.get("Resources", {}).values() if r["Type"] == "AWS::EC2::Instance"]
    image_ids += [d["LaunchTemplateData"]["ImageId"] for d in props(templates[stage]["app"], "AWS::EC2::LaunchTemplate")
                  if "ImageId" in d["LaunchTemplateData"]]
    assert image_ids and set(image_ids) == {pinned}


def test_an_ami_bump_is_one_reviewed_value(synth_config):
    bumped = synth_config("scale-out", machine_image_id="ami-0123456789abcdef0")
    assert _launch_template({"scale-out": bumped}, "scale-out")["ImageId"] == "ami-0123456789abcdef0"


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_least_privilege_role(templates, stage):
    app = templates[stage]["app"]
    (role_id,) = [lid for lid in resources(app, "AWS::IAM::Role") if lid.startswith("InstanceRole")]
    role = resources(app, "AWS::IAM::Role")[role_id]["Properties"]
    # No AWS-managed policy: AmazonSSMManagedInstanceCore would read every parameter of the
    # account (tests/stacks/test_host_permissions.py evaluates what the role may do)
    assert "ManagedPolicyArns" not in role
    # its default policy, and the invalidation's own (shared with the worker tier's role on scale-out)
    (policy, invalidation) = sorted((p for p in props(app, "AWS::IAM::Policy") if {"Ref": role_id} in p["Roles"]),
                                    key=lambda p: p["PolicyName"].startswith("InvalidateDeletedMedia"))
    all_statements = policy["PolicyDocument"]["Statement"]
    statements = {s["Sid"]: s for s in all_statements if "Sid" in s}
    actions = [a for s in all_statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not any(a.endswith("*") for a in actions), f"no wildcard actions: {actions}"
    media = statements["MediaUploadsAndVerifiedMedia"]
    assert sorted(media["Action"]) == ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:PutObject"]
    resources_ = json.dumps(media["Resource"])
    assert "/incoming/*" in resources_ and "/media/*" in resources_ and f"{stage}-media-bucket-arn" in resources_
    assert sorted(statements["ListMediaBucket"]["Action"]) == ["s3:ListBucket", "s3:ListBucketVersions"]
    assert statements["ListMediaBucket"]["Resource"] == {"Fn::ImportValue": f"{stage}-media-bucket-arn"}
    secret_reads = [s for s in all_statements if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])]
    (secret_read,) = secret_reads
    assert "GameAppSecret" in json.dumps(secret_read["Resource"]), "the app secret, nothing else"
    assert "DatabaseInstanceSecret" not in json.dumps(all_statements), "the master secret is the migration's only"
    assert "ReadServiceBundle" in statements and "*" not in json.dumps(statements["ReadServiceBundle"]["Resource"])
    # A player's deleted media are invalidated in the stage's own distribution, nowhere else.
    (invalidate,) = invalidation["PolicyDocument"]["Statement"]
    assert invalidate["Action"] == "cloudfront:CreateInvalidation"
    assert "distribution/" in json.dumps(invalidate["Resource"]) and "EdgeDistribution" in json.dumps(invalidate["Resource"])


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_user_data_only_writes_the_environment_and_runs_the_bootstrap_then_signals(templates, stage):
    script = _user_data(templates, stage)
    assert "bash /opt/game/bootstrap.sh --mode ec2 --role serve --bundle s3://" in script
    assert ".zip --wheels s3://" in script, "the wheelhouse ships with the service: no PyPI at boot"
    assert f"--stage {stage}" in script
    assert "cfn-signal" in script and "exitCode" in script, "the bootstrap's exit code is the signal"
    assert "pip install" not in script and "dnf" not in script, "every host step lives in host/bootstrap.sh"
    for key in ("GAME_DB_AUTH=iam", "GAME_DB_USER=game_app", "GAME_APP_SECRET_ID",
                "GAME_MEDIA_BUCKET", "GAME_WORKERS=2", "GAME_BIND=0.0.0.0"):
        assert key in script
    assert "GAME_DB_SECRET_ID" not in script, "the app does not connect as the master user"
    assert "GAME_DB_ADMIN_SECRET_ID" not in script, "a host is never told where the master secret is"
    if STAGES[stage].is_distributed:
        assert "--target-group-arn" in script, "signal only once healthy in the target group"


def test_bootstrap_migrates_once_before_start_and_waits_for_deep_readiness():
    script = (Path(__file__).resolve().parents[2] / "host" / "bootstrap.sh").read_text()
    assert "ExecStartPre" not in script, "migrations are the release's own step, not every service start"
    assert script.index("-m game_service migrate") < script.index('if [[ "$ROLE" == migrate ]]; then') \
        < script.index("os_start_service\n"), "the migrate role ends after migrating; a host never migrates"
    assert 'if [[ "$ROLE" == migrate || "$ROLE" == all ]]; then' in script, "serve and worker never migrate"
    assert script.index('wait_for "deep readiness') < script.index("os_wait_in_load_balancer\n")
    assert "--no-index" in script and "--require-hashes" in script
    assert "/api/health/ready" in script and "OnUnitActiveSec=1min" in script
    assert "--namespace Game/Health --metric-name Ready --dimensions Stage=$STAGE" in script


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_service_logs_shipped_to_a_log_group_with_retention(templates, stage):
    script = _user_data(templates, stage)
    assert "--log-group" in script and "ServiceLogs" in script
    groups = [g for g in props(templates[stage]["app"], "AWS::Logs::LogGroup") if g.get("LogGroupName") == f"/game/{stage}/service"]
    assert len(groups) == 1 and groups[0]["RetentionInDays"] == STAGES[stage].log_retention_days


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_connection_budget_metadata_for_the_topology_report(templates, stage):
    app = templates[stage]["app"]
    type_ = "AWS::EC2::Instance" if not STAGES[stage].is_distributed else "AWS::EC2::LaunchTemplate"
    meta = {lid: r["Metadata"]["GameService"] for lid, r in resources(app, type_).items()
            if "GameService" in r.get("Metadata", {})}
    config = STAGES[stage]
    servers = {lid: m for lid, m in meta.items() if not lid.startswith("Workers")}
    (server,) = servers.values()
    assert server == {
        "WorkersPerInstance": config.workers_per_instance,
        "DbPoolSizePerWorker": config.db_pool_size,
        "DbMaxOverflowPerWorker": config.db_max_overflow,
        "DbListenersPerWorker": 1,  # each server process's live-updates listener (game_service.contract)
        "AccessLogSampleRate": 0.01,  # and the hosts are told the same
        # the job worker beside the server, with its own pool, where the stage has no worker tier
        **({} if config.has_worker_tier else {"JobWorkerDbConnections": 2}),
    }
    assert "GAME_ACCESS_LOG_SAMPLE_RATE=0.01" in _user_data(templates, stage)
    # a worker tier's hosts: one job worker and its pool, no server
    workers = [m for lid, m in meta.items() if lid.startswith("Workers")]
    assert workers == ([{"WorkersPerInstance": 1, "DbPoolSizePerWorker": 2, "DbMaxOverflowPerWorker": 0}]
                       if config.has_worker_tier else [])


def test_starter_single_instance_recovers_itself(templates):
    app = templates["starter"]["app"]
    (instance,) = [r for lid, r in resources(app, "AWS::EC2::Instance").items() if lid.startswith("Tier")]
    assert instance["CreationPolicy"]["ResourceSignal"]["Timeout"] == "PT25M"
    alarms = props(app, "AWS::CloudWatch::Alarm")
    actions = {a["MetricName"]: json.dumps(a["AlarmActions"]) for a in alarms}
    assert ":ec2:recover" in actions["StatusCheckFailed_System"]
    assert ":ec2:reboot" in actions["StatusCheckFailed_Instance"]
    assert resources(app, "AWS::AutoScaling::AutoScalingGroup") == {}
    assert resources(app, "AWS::ElasticLoadBalancingV2::LoadBalancer") == {}


def test_scale_out_group_spans_every_zone_and_is_created_with_signals(templates):
    app = templates["scale-out"]["app"]
    group_resource = _tier(app, "AWS::AutoScaling::AutoScalingGroup")
    group = group_resource["Properties"]
    assert group["MinSize"] == "3" and group["MaxSize"] == str(STAGES["scale-out"].max_instances)
    assert "DesiredCapacity" not in group, "a deploy must not reset a scaled-out group"
    subnets = json.dumps(group["VPCZoneIdentifier"])
    assert len(group["VPCZoneIdentifier"]) == 3 and subnets.count("appSubnet") == 3
    assert group["HealthCheckType"] == "ELB"
    assert group_resource["CreationPolicy"]["ResourceSignal"]["Count"] == 3
    scaling = _tier(app, "AWS::AutoScaling::ScalingPolicy")["Properties"]
    assert scaling["PolicyType"] == "TargetTrackingScaling"
    assert scaling["TargetTrackingConfiguration"]["TargetValue"] == STAGES["scale-out"].target_cpu_percent


def test_a_rollout_at_the_groups_max_size_keeps_every_host_until_its_replacement_serves(templates):
    """The group scaled out to its max at peak, then a deploy: the rollout (an instance
    refresh) must launch before it terminates. A rolling update could not: at MaxSize it has
    to terminate a batch first (a quarter of the capacity, at peak), with scaling suspended."""
    app = templates["scale-out"]["app"]
    group_resource = _tier(app, "AWS::AutoScaling::AutoScalingGroup")
    group = group_resource["Properties"]
    policy = group_resource["UpdatePolicy"]
    assert "AutoScalingRollingUpdate" not in policy and "AutoScalingReplacingUpdate" not in policy
    refresh = policy["AutoScalingInstanceRefresh"]
    assert refresh["Strategy"] == "Rolling"
    preferences = refresh["Preferences"]
    at_max = int(group["MaxSize"])  # desired capacity == max size
    in_service_floor = math.ceil(at_max * preferences["MinHealthyPercentage"] / 100)
    ceiling = math.floor(at_max * preferences["MaxHealthyPercentage"] / 100)
    assert in_service_floor == at_max, "a host is terminated before its replacement serves"
    assert ceiling - at_max >= 1, "no room to launch a replacement first"
    assert ceiling - at_max <= -(-at_max // 4), "more than a quarter of the group launched at once"
    # a new host counts only once its bootstrap released it from the launch hook (after its
    # readiness check); a host that never does is abandoned, not put in service
    (hook,) = group["LifecycleHookSpecificationList"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert hook["DefaultResult"] == "ABANDON"
    assert hook["HeartbeatTimeout"] == SIGNAL_TIMEOUT_MINUTES * 60
    assert f"--lifecycle-hook {hook['LifecycleHookName']}" in json.dumps(
        of_tier(app, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"])
    # a rollout whose new hosts fail their boot, or turn unhealthy, fails (the stack rolls back)
    alarms = {a["MetricName"]: a for a in (app["Resources"][ref["Ref"]]["Properties"]
                                           for ref in preferences["AlarmSpecification"]["Alarms"])}
    assert set(alarms) == {"UnHealthyHostCount", BOOT_FAILED_METRIC}
    (target_group_id,) = [lid for lid, r in app["Resources"].items() if r["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup"]
    assert target_group_id in json.dumps(alarms["UnHealthyHostCount"]["Dimensions"])
    boot_failed = alarms[BOOT_FAILED_METRIC]
    assert boot_failed["Threshold"] == 1 and boot_failed["Namespace"] == HOST_NAMESPACE
    assert boot_failed["Dimensions"] == [{"Name": "Stage", "Value": "scale-out"}]
    bootstrap = (Path(__file__).resolve().parents[2] / "host" / "bootstrap.sh").read_text()
    assert " ".join(bootstrap.replace("\\\n", " ").split()).count(  # what a failed host sends
        f"--namespace {HOST_NAMESPACE} --metric-name {BOOT_FAILED_METRIC}") == 1


def test_scale_out_hosts_may_complete_only_their_own_groups_launch_hook(templates):
    app = templates["scale-out"]["app"]
    statements = [s for p in props(app, "AWS::IAM::Policy") for s in p["PolicyDocument"]["Statement"]
                  if "autoscaling:CompleteLifecycleAction" in json.dumps(s["Action"])]
    assert len(statements) == 2  # the app hosts' role and the worker hosts'
    for statement in statements:
        assert statement["Resource"].endswith(":autoScalingGroupName/scale-out-app-*")


def test_scale_out_load_balancer_is_internal_logged_and_checks_the_shallow_health_path(templates):
    app = templates["scale-out"]["app"]
    alb = only(app, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert alb["Scheme"] == "internal"
    assert len(alb["Subnets"]) == 3
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    target_group = only(app, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert target_group["HealthCheckPath"] == "/api/health/live"
    assert target_group["Port"] == 8000


@pytest.mark.parametrize(("stage", "endpoint"), [("starter", "Instance"), ("scale-out", "LoadBalancer")])
def test_origin_reached_only_through_a_cloudfront_vpc_origin(templates, stage, endpoint):
    app = templates[stage]["app"]
    origin = only(app, "AWS::CloudFront::VpcOrigin")["VpcOriginEndpointConfig"]
    assert endpoint in json.dumps(origin["Arn"])
    assert origin["OriginProtocolPolicy"] == "http-only"


def test_scale_out_group_with_assertions_api(template):
    t = template("scale-out", "app")
    t.resource_count_is("AWS::AutoScaling::AutoScalingGroup", 2)  # the app tier and the worker tier
    t.has_resource(
        "AWS::AutoScaling::AutoScalingGroup",
        {
            "Properties": Match.object_like({"MinSize": "3", "MaxSize": "12", "DesiredCapacity": Match.absent(),
                                             "HealthCheckType": "ELB"}),
            "UpdatePolicy": Match.object_like({"AutoScalingInstanceRefresh": Match.object_like({"Strategy": "Rolling"})}),
            "CreationPolicy": {"ResourceSignal": {"Count": 3, "Timeout": "PT25M"}},
        },
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {"Scheme": "internal", "LoadBalancerAttributes": Match.array_with(
            [{"Key": "access_logs.s3.enabled", "Value": "true"}])},
    )
    t.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {"LaunchTemplateData": Match.object_like({"MetadataOptions": {"HttpTokens": "required"}, "KeyName": Match.absent()})},
    )


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_hosts_learn_the_public_site_url_from_a_parameter_the_stack_writes(templates, stage):
    """The data-deletion status URL must point at the public site, not the internal load
    balancer, with or without a custom domain."""
    app = templates[stage]["app"]
    parameters = {p["Name"]: p for p in props(app, "AWS::SSM::Parameter")}
    url, cdn = parameters[f"/game/{stage}/public-base-url"], parameters[f"/game/{stage}/cdn-distribution-id"]
    assert "EdgeDistribution" in json.dumps(url["Value"]) and "DomainName" in json.dumps(url["Value"])
    assert cdn["Value"] == {"Ref": "EdgeDistribution0060737B"}
    assert f"GAME_PUBLIC_BASE_URL_PARAMETER=/game/{stage}/public-base-url" in _user_data(templates, stage)
    assert f"GAME_CDN_DISTRIBUTION_PARAMETER=/game/{stage}/cdn-distribution-id" in _user_data(templates, stage)
    policy = json.dumps(props(app, "AWS::IAM::Policy"))
    assert f"parameter/game/{stage}/public-base-url" in policy and f"parameter/game/{stage}/cdn-distribution-id" in policy


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_each_release_migrates_once_on_an_instance_of_its_own_before_its_hosts(templates, stage):
    """The hosts never migrate and never read the master secret: a one-shot instance per
    release does (its logical ID carries its user data's hash, which names the release's
    bundle), signals the result, terminates itself, and the app tier waits for it."""
    app = templates[stage]["app"]
    (migration_id, migration), = [(lid, r) for lid, r in resources(app, "AWS::EC2::Instance").items()
                                  if lid.startswith("Migration")]
    properties = migration["Properties"]
    assert properties["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert migration["CreationPolicy"]["ResourceSignal"]["Timeout"] == "PT20M"
    script = json.dumps(properties["UserData"])
    assert "bash /opt/game/bootstrap.sh --mode ec2 --role migrate --bundle s3://" in script
    assert "GAME_DB_ADMIN_SECRET_ID" in script and "shutdown -h +2" in script and "cfn-signal" in script
    tier = [lid for lid, r in app["Resources"].items()
            if lid.startswith("Tier") and r["Type"] in ("AWS::EC2::Instance", "AWS::AutoScaling::AutoScalingGroup")]
    (tier_id,) = tier
    assert migration_id in app["Resources"][tier_id].get("DependsOn", []), "the hosts start on a migrated schema"
    # its own role: the master secret (decrypted only through Secrets Manager), the assets, the log
    role = properties["IamInstanceProfile"]
    assert "Migration" in json.dumps(role)
    (policy,) = [p for p in props(app, "AWS::IAM::Policy") if "MigrationRole" in json.dumps(p["Roles"])]
    text = json.dumps(policy)
    assert "DatabaseInstanceSecretAttachment" in text and "GameAppSecret" not in text
    assert "s3:PutObject" not in text and "ssm:GetParameter" not in text
    assert migration["Metadata"]["TopologyReport"]["AcceptedSinglePointOfFailure"]


def test_small_group_spans_two_zones_from_public_subnets_with_an_address_each(templates):
    """The cheapest replicated tier: 2..4 burstable hosts over two AZs, healed on the load
    balancer's health check, scaling out on CPU; each in a public subnet with its own public
    address (its egress: no NAT), held back until it serves, rolled out like scale-out's."""
    app, config = templates["small"]["app"], STAGES["small"]
    (group_resource,) = resources(app, "AWS::AutoScaling::AutoScalingGroup").values()
    group = group_resource["Properties"]
    assert (group["MinSize"], group["MaxSize"]) == (str(config.min_instances), str(config.max_instances)) == ("2", "4")
    assert len(group["VPCZoneIdentifier"]) == 2 and json.dumps(group["VPCZoneIdentifier"]).count("publicSubnet") == 2
    assert group["HealthCheckType"] == "ELB"
    assert [h["LifecycleTransition"] for h in group["LifecycleHookSpecificationList"]] == ["autoscaling:EC2_INSTANCE_LAUNCHING"]
    refresh = group_resource["UpdatePolicy"]["AutoScalingInstanceRefresh"]
    assert refresh["Preferences"]["MinHealthyPercentage"] == 100, "a rollout launches before it terminates"
    (scaling,) = props(app, "AWS::AutoScaling::ScalingPolicy")
    assert scaling["PolicyType"] == "TargetTrackingScaling"
    assert scaling["TargetTrackingConfiguration"]["TargetValue"] == config.target_cpu_percent == 60
    data = _launch_template(templates, "small")
    assert data["InstanceType"] == "t4g.small"
    (interface,) = data["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is True and interface["DeviceIndex"] == 0
    (balancer,) = props(app, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert balancer["Scheme"] == "internal" and json.dumps(balancer["Subnets"]).count("balancerSubnet") == 2
    (migration,) = [r for lid, r in resources(app, "AWS::EC2::Instance").items() if lid.startswith("Migration")]
    (nic,) = migration["Properties"]["NetworkInterfaces"]
    assert nic["AssociatePublicIpAddress"] is True and "publicSubnet" in json.dumps(nic["SubnetId"])
