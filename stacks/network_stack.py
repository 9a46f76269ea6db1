"""Network: VPC over the stage's AZs, NAT per stage, S3 gateway endpoint, flow logs,
and the security groups of the app tier and its load balancer (references flow one
way: network -> data/storage -> app; the database's group lives with the database)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from patterns.nag import acknowledge
from patterns.retention import retention
from stacks.config import StageConfig

APP_PORT = 8000
"""Port the game service listens on inside the VPC."""


class NetworkStack(Stack):
    @property
    def availability_zones(self) -> list[str]:
        # The stage names its zones; without this CDK asks AWS for the region's
        # zones at synth time (a context lookup that needs credentials).
        return self._zones

    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        self._zones = list(config.availability_zones)

        if config.nat == "gateway-per-az":
            nat_provider = ec2.NatProvider.gateway()
            nat_count = len(config.availability_zones)
        else:
            # Starter: one t4g.nano NAT instance (~$3/month) instead of a NAT gateway
            # (~$33/month + data). A single point of failure for egress only
            # (package installs, AWS APIs); S3 traffic uses the gateway endpoint.
            nat_provider = ec2.NatProvider.instance_v2(
                instance_type=ec2.InstanceType("t4g.nano"),
                machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=ec2.AmazonLinuxCpuType.ARM_64),
                default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
            )
            nat_count = 1

        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            availability_zones=list(config.availability_zones),
            nat_gateway_provider=nat_provider,
            nat_gateways=nat_count,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )

        # CDK's synth validation warns about literal AZs (W3010). They are literal on
        # purpose: the stage names its zones so synth asks AWS nothing and every
        # account gets the same, reviewable subnets.
        acknowledge(
            self.vpc,
            "CloudFormation-Validate::W3010",
            "The stage config names its availability zones so synth is offline and deterministic; "
            "Fn::GetAZs would choose zones at deploy time, differently per account.",
        )

        if config.nat == "instance":
            nat_instance: ec2.NatInstanceProviderV2 = nat_provider  # type: ignore[assignment]
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

        # Security groups of the tiers. The load balancer (scale-out) and the app
        # instances accept traffic only from inside the VPC, where CloudFront's VPC
        # origin reaches them; nothing is reachable from the internet directly.
        self.app_security_group = ec2.SecurityGroup(
            self, "AppSecurityGroup", vpc=self.vpc, description="Game service instances", allow_all_outbound=True
        )
        self.load_balancer_security_group = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup", vpc=self.vpc, description="Internal load balancer of the app tier",
            allow_all_outbound=False,
        )
        if config.is_distributed:
            self.load_balancer_security_group.add_ingress_rule(
                ec2.Peer.ipv4(config.vpc_cidr), ec2.Port.tcp(80), "CloudFront VPC origin"
            )
            self.load_balancer_security_group.add_egress_rule(
                self.app_security_group, ec2.Port.tcp(APP_PORT), "to the app instances"
            )
            self.app_security_group.add_ingress_rule(
                self.load_balancer_security_group, ec2.Port.tcp(APP_PORT), "from the load balancer"
            )
        else:
            self.app_security_group.add_ingress_rule(
                ec2.Peer.ipv4(config.vpc_cidr), ec2.Port.tcp(APP_PORT), "CloudFront VPC origin"
            )
