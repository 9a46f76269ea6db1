"""Network: VPC over the stage's AZs, NAT per stage, S3 gateway endpoint, flow logs,
and the security groups of the app tier and its load balancer (references flow one
way: network -> data/storage -> app; the database's group lives with the database)."""

from __future__ import annotations

from aws_cdk import Aspects, CfnCreationPolicy, CfnResourceSignal, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from game_service.contract import PORT
from patterns.nag import acknowledge
from patterns.recovery import auto_recovery
from patterns.retention import retention
from stacks.config import CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS, StageConfig

APP_PORT = PORT
"""Port the game service listens on inside the VPC (the service's contract)."""


class NetworkStack(Stack):
    @property
    def availability_zones(self) -> list[str]:
        # The stage names its zones; without this CDK asks AWS for the region's
        # zones at synth time (a context lookup that needs credentials).
        return self._zones

    def __init__(
        self, scope: Construct, id_: str, *, config: StageConfig, key: kms.IKey, alarm_topic: sns.ITopic | None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self._zones = list(config.availability_zones)

        if config.nat == "gateway-per-az":
            nat_provider = ec2.NatProvider.gateway()
            nat_count = len(config.availability_zones)
        elif config.nat == "none":
            # No NAT: the hosts egress through the internet gateway (regional, no single
            # point of failure) from public subnets, each with its own public IPv4 address.
            nat_provider = None
            nat_count = 0
        else:
            # Starter: one t4g.nano NAT instance (~$3/month) instead of a NAT gateway
            # (~$33/month + data). A single point of failure for egress only
            # (package installs, AWS APIs); S3 traffic uses the gateway endpoint.
            nat_user_data = _nat_instance_user_data()
            nat_provider = ec2.NatProvider.instance_v2(
                instance_type=ec2.InstanceType("t4g.nano"),
                user_data=nat_user_data,
                machine_image=ec2.MachineImage.generic_linux({config.region: config.image_id}),
                default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
            )
            nat_count = 1

        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=key,
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            availability_zones=list(config.availability_zones),
            nat_gateway_provider=nat_provider,
            nat_gateways=nat_count,
            subnet_configuration=_subnets(config),
            # S3 (bundle, wheelhouse, dnf repositories, media) never crosses the internet; with
            # no NAT, the hosts' public subnets route to it too.
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(
                service=ec2.GatewayVpcEndpointAwsService.S3,
                subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
                         ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)]
                if config.nat == "none" else None,
            )},
            # Rejected traffic only: what a security question needs (who knocked and was refused)
            # at a sliver of ALL's volume; accepted traffic is in the load balancer's and
            # CloudFront's access logs (S3) already.
            flow_logs={
                "Rejected": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )

        # CDK's synth validation warns about literal AZs (W3010). They are literal on
        # purpose: the stage names its zones so synth asks AWS nothing. Zone names are
        # labels of each account (not the same data centres everywhere), so the key
        # `availability_zones` can be set per deploy (`-c availability_zones=...`).
        acknowledge(
            self.vpc,
            "CloudFormation-Validate::W3010",
            "The stage config names its availability zones so synth is offline and deterministic. "
            "Zone names are per-account labels: each account picks its own with "
            "-c availability_zones=..., and the template shows exactly which it deploys to.",
        )

        # The handler that empties the default security group is aws-cdk-lib's; without a log
        # group of its own, Lambda creates one that never expires.
        handler = self.node.find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider").node.find_child("Handler")
        handler_logs = logs.LogGroup(
            self, "DefaultSecurityGroupHandlerLogs",
            retention=retention(config.log_retention_days), removal_policy=RemovalPolicy.DESTROY, encryption_key=key,
        )
        handler.add_property_override("LoggingConfig.LogGroup", handler_logs.log_group_name)
        handler.node.add_dependency(handler_logs)

        if config.nat == "instance":
            nat_instance: ec2.NatInstanceProviderV2 = nat_provider  # type: ignore[assignment]
            # Health-gated like the app hosts: the stack goes on only once the NAT
            # instance forwards and reaches the internet (its user data's exit code).
            (gateway,) = nat_instance.gateway_instances
            gateway.instance.cfn_options.creation_policy = CfnCreationPolicy(
                resource_signal=CfnResourceSignal(count=1, timeout="PT15M")
            )
            nat_user_data.add_signal_on_exit_command(gateway)
            Aspects.of(gateway).add(ec2.InstanceRequireImdsv2Aspect())
            # Every private host's egress goes through it (a replacement app host could not
            # even boot): EC2 recovers it when its host fails, and a person hears of it.
            auto_recovery(gateway, instance_id=gateway.instance_id, what="NAT instance")
            if alarm_topic is not None:
                down = cloudwatch.Alarm(
                    gateway, "StatusAlarm",
                    alarm_description="The NAT instance fails its EC2 status checks: the private hosts have no egress",
                    metric=cloudwatch.Metric(namespace="AWS/EC2", metric_name="StatusCheckFailed", statistic="Maximum",
                                             dimensions_map={"InstanceId": gateway.instance_id},
                                             period=Duration.minutes(1)),
                    threshold=1, evaluation_periods=3,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
                )
                down.add_alarm_action(cw_actions.SnsAction(alarm_topic))
                down.add_ok_action(cw_actions.SnsAction(alarm_topic))
            acknowledge(
                gateway,
                "CloudFormation-Validate::W9010",
                "The AMI is pinned on purpose (stacks/config.py): a new image replaces the NAT instance, "
                "so it changes only in a reviewed bump, never by a deploy that resolves a newer one.",
            )
            nat_instance.security_group.add_ingress_rule(
                ec2.Peer.ipv4(config.vpc_cidr), ec2.Port.all_traffic(), "egress from the VPC's private subnets"
            )
            acknowledge(
                self.vpc,
                "AwsSolutions-EC28",
                "The NAT instance of the starter stage is a t4g.nano kept as cheap as possible; "
                "basic monitoring is enough to see it failing.",
            )
            acknowledge(
                self.vpc,
                "AwsSolutions-EC26",
                "The NAT instance's root volume holds the public Amazon Linux image and no data: "
                "it forwards packets and writes nothing of the game's.",
            )
            acknowledge(
                self.vpc,
                "AwsSolutions-EC29",
                "The NAT instance is disposable and replaced by a deploy; termination protection "
                "would block that replacement.",
            )

        # Where the app hosts (and the release's migration) run, and the load balancer: private
        # subnets with NAT, or, without NAT, public subnets for the hosts (a public IPv4 address
        # each, egress only: their security group admits the load balancer alone) and isolated
        # ones for the internal load balancer, which CloudFront's VPC origin needs private.
        self.hosts_get_public_ips = config.nat == "none"
        if config.nat == "none":
            self.host_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
            self.load_balancer_subnets = ec2.SubnetSelection(subnet_group_name=BALANCER_SUBNETS)
        else:
            self.host_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            self.load_balancer_subnets = self.host_subnets

        # Security groups of the tiers. The load balancer (scale-out) and the app
        # instances accept traffic only from CloudFront's origin-facing servers (its
        # managed prefix list), which the VPC origin's connections come from; nothing
        # else in or outside the VPC reaches them.
        cloudfront = ec2.Peer.prefix_list(CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS[config.region])
        self.app_security_group = ec2.SecurityGroup(
            self, "AppSecurityGroup", vpc=self.vpc, description="Game service instances", allow_all_outbound=True
        )
        self.load_balancer_security_group = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup", vpc=self.vpc, description="Internal load balancer of the app tier",
            allow_all_outbound=False,
        )
        if config.is_distributed:
            self.load_balancer_security_group.add_ingress_rule(cloudfront, ec2.Port.tcp(80), "CloudFront VPC origin")
            self.load_balancer_security_group.add_egress_rule(
                self.app_security_group, ec2.Port.tcp(APP_PORT), "to the app instances"
            )
            self.app_security_group.add_ingress_rule(
                self.load_balancer_security_group, ec2.Port.tcp(APP_PORT), "from the load balancer"
            )
        else:
            self.app_security_group.add_ingress_rule(cloudfront, ec2.Port.tcp(APP_PORT), "CloudFront VPC origin")
        # The worker tier's hosts (stages that have one) listen on nothing: no inbound rule at
        # all; outbound to the database, the AWS APIs and the package mirror, as the app hosts.
        self.worker_security_group: ec2.SecurityGroup | None = None
        if config.has_worker_tier:
            self.worker_security_group = ec2.SecurityGroup(
                self, "WorkerSecurityGroup", vpc=self.vpc, description="Game job worker instances (no inbound)",
                allow_all_outbound=True,
            )


BALANCER_SUBNETS = "balancer"
"""Without NAT: the isolated subnets of the internal load balancer."""


def _subnets(config: StageConfig) -> list[ec2.SubnetConfiguration]:
    data = ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
    if config.nat == "none":
        return [
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=22,
                                    map_public_ip_on_launch=False),
            ec2.SubnetConfiguration(name=BALANCER_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            data,
        ]
    return [
        ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
        ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
        data,
    ]


def _nat_instance_user_data() -> ec2.UserData:
    """NAT on Amazon Linux 2023: packages with retries, forwarding and masquerading, then
    a health gate (forwarding on, the rule in place, the internet reachable); the exit
    code is the CloudFormation signal."""
    user_data = ec2.UserData.for_linux()
    user_data.add_commands(
        "set -uo pipefail",
        "for i in 1 2 3 4 5; do dnf install -y -q iptables-services aws-cfn-bootstrap && break; "
        "[ $i = 5 ] && exit 1; sleep $((i * 5)); done",
        "set -e",
        "systemctl enable --now iptables",
        "echo net.ipv4.ip_forward=1 > /etc/sysctl.d/90-nat.conf && sysctl -p /etc/sysctl.d/90-nat.conf",
        "iface=$(ip route show default | awk '{print $5; exit}')",
        'iptables -t nat -C POSTROUTING -o "$iface" -j MASQUERADE 2>/dev/null || '
        'iptables -t nat -A POSTROUTING -o "$iface" -j MASQUERADE',
        "iptables -F FORWARD",
        "service iptables save",
        '[ "$(sysctl -n net.ipv4.ip_forward)" = 1 ]',
        'iptables -t nat -C POSTROUTING -o "$iface" -j MASQUERADE',
        "for i in $(seq 1 12); do curl -sS -m 10 -o /dev/null https://sts.amazonaws.com && break; "
        "[ $i = 12 ] && exit 1; sleep 5; done",
    )
    return user_data
