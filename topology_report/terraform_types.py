"""Which CloudFormation resource each Terraform resource is, with the properties the
analysis reads (catalog.py then says what the report does with that type, as for a
template: Terraform gets no rules of its own).

- TYPES: AWS provider types with a translation function (the types the analysis has rules
  for, and those a rule or the cost estimate reads through another resource).
- FOLDED: types that CloudFormation writes inside another resource (a target group's
  targets, a bucket's versioning, ...): added to that resource, not listed themselves.
- SIMPLE: types whose CloudFormation twin needs no property the report reads.
- FAMILIES: prefixes of support types (IAM, logs, DNS, ...), named after the CloudFormation
  namespace so that catalog.py classifies them as it does in a template.
- the generic layer: an AWS type none of the above names is read as its CloudFormation
  counterpart by name (`aws_redshift_cluster`: AWS::Redshift::Cluster; the words after
  `aws_`, joined, against the service and type of every CloudFormation type the resource
  schemas list, resource_kinds.txt) when that type has no specific rule. Its attributes go
  in under their CloudFormation names (`cluster_type`: ClusterType, `subnet_ids`:
  SubnetIds), so the generic layer (generic.py) judges it by its placement and count as it
  judges the template's.
- anything else keeps its Terraform type: catalog.py lists it as not analysed, by type and
  address.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Callable

from .catalog import classify
from .resource_kinds import PLACEMENT_PROPS, table
from .terraform import (HELPER_PROVIDERS, UNKNOWN, Plan, TfResource, View, getatt,
                        is_unknown, unknown)

Props = dict


def _put(props: dict, key: str, value: object) -> None:
    if value is not None and value != [] and value != {}:
        props[key] = value


# --- network -------------------------------------------------------------------------------


def _subnet(v: View) -> Props:
    p: Props = {}
    _put(p, "VpcId", v.ref("vpc_id"))
    az = v.value("availability_zone", why="availability_zone is not set: AWS picks the "
                 "subnet's AZ at apply time")
    az_id = v.known("availability_zone_id")
    if is_unknown(az) and az_id:
        az = None
    _put(p, "AvailabilityZone", az)
    _put(p, "AvailabilityZoneId", az_id)
    _put(p, "MapPublicIpOnLaunch", v.value("map_public_ip_on_launch", default=False))
    _put(p, "CidrBlock", v.known("cidr_block"))
    return p


_ROUTE_TARGETS = (("gateway_id", "GatewayId"), ("nat_gateway_id", "NatGatewayId"),
                  ("network_interface_id", "NetworkInterfaceId"),
                  ("instance_id", "InstanceId"), ("transit_gateway_id", "TransitGatewayId"),
                  ("vpc_peering_connection_id", "VpcPeeringConnectionId"),
                  ("egress_only_gateway_id", "EgressOnlyInternetGatewayId"))


def _route_props(v: View, prefix: tuple, table: object,
                 notes: list[str] | None = None) -> Props:
    p: Props = {}
    _put(p, "RouteTableId", table)
    _put(p, "DestinationCidrBlock", v.value(*prefix, "cidr_block") if prefix else
         v.value("destination_cidr_block"))
    unnamed = []
    for tf, cfn in _ROUTE_TARGETS:
        target = v.ref(*prefix, tf, default=None)
        # a target the plan cannot name is left out: network.py takes the first target a
        # route has, and an unnamed one would hide the one that is named
        if target is not None and not is_unknown(target) and target != "":
            p[cfn] = target
        elif is_unknown(target):
            unnamed.append(target[UNKNOWN])
    if unnamed and not any(cfn in p for _, cfn in _ROUTE_TARGETS) and notes is not None:
        where = "".join(f".{x}" if isinstance(x, str) else f"[{x}]" for x in prefix)
        notes.append(f"{v.res.address}{where}: left out, its target is not known: "
                     f"{'; '.join(unnamed)}")
    return p


def _route(v: View) -> Props:
    return _route_props(v, (), v.ref("route_table_id"), v.plan.notes)


def _route_table(v: View) -> Props:
    return {"VpcId": v.ref("vpc_id")} if v.ref("vpc_id") else {}


def _inline_routes(plan: Plan, v: View) -> list[tuple[str, str, Props]]:
    """aws_route_table's (and aws_default_route_table's) inline `route` blocks, as
    AWS::EC2::Route resources of their own."""
    out = []
    for i in range(v.count("route")):
        props = _route_props(v, ("route", i), getatt(v.res, "id"), plan.notes)
        if props.get("DestinationCidrBlock") in (None, "") and not props.get(
                "DestinationIpv6CidrBlock"):
            continue
        out.append((f"{v.res.address}.route[{i}]", "AWS::EC2::Route", props))
    return out


def _route_table_association(v: View) -> Props:
    p: Props = {}
    _put(p, "SubnetId", v.ref("subnet_id"))
    _put(p, "RouteTableId", v.ref("route_table_id"))
    return p


def _nat_gateway(v: View) -> Props:
    p: Props = {}
    _put(p, "SubnetId", v.ref("subnet_id"))
    _put(p, "AllocationId", v.ref("allocation_id", default=None))
    _put(p, "ConnectivityType", v.value("connectivity_type", default="public"))
    return p


def _eip(v: View) -> Props:
    p: Props = {}
    _put(p, "InstanceId", v.ref("instance", default=None))
    _put(p, "Domain", v.known("domain") or ("vpc" if v.known("vpc") else None))
    return p


def _eip_association(v: View) -> Props:
    p: Props = {}
    _put(p, "InstanceId", v.ref("instance_id", default=None))
    _put(p, "AllocationId", v.ref("allocation_id", default=None))
    return p


def _vpc_endpoint(v: View) -> Props:
    return {"VpcEndpointType": v.value("vpc_endpoint_type", default="Gateway"),
            "ServiceName": v.known("service_name")}


def _flow_log(v: View) -> Props:
    p: Props = {}
    _put(p, "LogDestinationType", v.value("log_destination_type", default="cloud-watch-logs"))
    _put(p, "TrafficType", v.value("traffic_type", default="ALL"))
    _put(p, "LogGroupName", v.ref("log_group_name", default=None))
    return p


# --- compute -------------------------------------------------------------------------------


def _volumes(v: View, *path: object) -> list[dict]:
    out = []
    for i, b in enumerate(v.blocks(*path)):
        size = b.get("volume_size")
        ebs = {"VolumeSize": size} if isinstance(size, (int, float)) else {}
        if b.get("volume_type"):
            ebs["VolumeType"] = b["volume_type"]
        if ebs:
            out.append({"DeviceName": b.get("device_name") or f"/dev/xvd{chr(97 + i)}",
                        "Ebs": ebs})
    return out


def _credit(v: View, *path: object) -> dict | None:
    for b in v.blocks(*path, "credit_specification") if path else v.blocks(
            "credit_specification"):
        if b.get("cpu_credits"):
            return {"CpuCredits": b["cpu_credits"]}
    return None


def _instance(v: View) -> Props:
    p: Props = {}
    _put(p, "InstanceType", v.value("instance_type", default=None))
    subnet = v.ref("subnet_id", default=None)
    # only when the configuration asks: a state's value is also true when the subnet maps
    # public addresses on launch, which the subnet already says
    public = v.known("associate_public_ip_address") if v.expression(
        ("associate_public_ip_address",)) else None
    if public is True:
        p["NetworkInterfaces"] = [{"DeviceIndex": "0", "AssociatePublicIpAddress": True,
                                   **({"SubnetId": subnet} if subnet is not None else {})}]
    else:
        _put(p, "SubnetId", subnet)
    if subnet is None or is_unknown(subnet):
        _put(p, "AvailabilityZone", v.value("availability_zone", default=None))
    _put(p, "SourceDestCheck", v.value("source_dest_check", default=True))
    _put(p, "InstanceInitiatedShutdownBehavior",
         v.value("instance_initiated_shutdown_behavior", default=None))
    for b in v.blocks("launch_template"):
        if b.get("id") or b.get("name") or v.is_unknown("launch_template", 0, "id"):
            p["LaunchTemplate"] = {"LaunchTemplateId": v.ref("launch_template", 0, "id")
                                   or v.ref("launch_template", 0, "name")}
    volumes = [{"DeviceName": "/dev/xvda", "Ebs": m["Ebs"]}
               for m in _volumes(v, "root_block_device")]
    _put(p, "BlockDeviceMappings", volumes)
    _put(p, "CreditSpecification", _credit(v))
    _put(p, "Monitoring", v.known("monitoring"))
    return p


def _user_data_text(v: View, *names: str) -> str | None:
    for name in names:
        text = v.known(name)
        if not isinstance(text, str) or not text:
            continue
        if name.endswith("base64") or re.fullmatch(r"[A-Za-z0-9+/=\s]{16,}", text):
            try:
                return base64.b64decode(text, validate=False).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return text
        return text
    return None


def _launch_template(v: View) -> Props:
    data: Props = {}
    _put(data, "InstanceType", v.value("instance_type", default=None))
    _put(data, "ImageId", v.known("image_id"))
    nics = []
    for nic in v.blocks("network_interfaces"):
        flag = nic.get("associate_public_ip_address")
        if flag in (True, "true", False, "false"):
            nics.append({"AssociatePublicIpAddress": flag in (True, "true")})
    _put(data, "NetworkInterfaces", nics)
    volumes = [{"DeviceName": b.get("device_name"), "Ebs": {
        k2: e[k] for k, k2 in (("volume_size", "VolumeSize"), ("volume_type", "VolumeType"))
        if e.get(k) is not None}}
        for b in v.blocks("block_device_mappings") for e in (b.get("ebs") or [])[:1]
        if isinstance(e, dict)]
    _put(data, "BlockDeviceMappings", [m for m in volumes if m["Ebs"]])
    _put(data, "CreditSpecification", _credit(v))
    _put(data, "UserData", _user_data_text(v, "user_data"))
    return {"LaunchTemplateData": data}


def _launch_configuration(v: View) -> Props:
    p: Props = {}
    _put(p, "InstanceType", v.value("instance_type", default=None))
    _put(p, "AssociatePublicIpAddress", v.known("associate_public_ip_address"))
    _put(p, "UserData", _user_data_text(v, "user_data", "user_data_base64"))
    return p


def _template_ref(v: View, *path: object) -> object:
    found = v.ref(*path, "id", default=None)
    if found is None or is_unknown(found):
        by_name = v.ref(*path, "name", default=None)
        found = by_name if by_name is not None and not is_unknown(by_name) else found
    return found


def _asg(v: View) -> Props:
    p: Props = {}
    p["MinSize"] = v.value("min_size")
    p["MaxSize"] = v.value("max_size")
    _put(p, "DesiredCapacity", v.value("desired_capacity", default=None))
    subnets = v.ref("vpc_zone_identifier", many=True, default=None)
    zones = v.value("availability_zones", default=None)
    if subnets:
        p["VPCZoneIdentifier"] = subnets if isinstance(subnets, list) else [subnets]
    elif zones:
        p["AvailabilityZones"] = zones
    elif v.is_unknown("vpc_zone_identifier") or v.is_unknown("availability_zones"):
        p["VPCZoneIdentifier"] = [unknown(
            "vpc_zone_identifier and availability_zones are known only at apply time"
            if v.expression(("vpc_zone_identifier",)) or v.expression(("availability_zones",))
            else "the configuration sets neither vpc_zone_identifier nor availability_zones")]
    if v.blocks("launch_template") or v.count("launch_template"):
        p["LaunchTemplate"] = {"LaunchTemplateId": _template_ref(v, "launch_template", 0)}
    _put(p, "LaunchConfigurationName", v.ref("launch_configuration", default=None))
    for mixed in v.blocks("mixed_instances_policy")[:1]:
        spec = ("mixed_instances_policy", 0, "launch_template", 0,
                "launch_template_specification", 0)
        lt = v.ref(*spec, "launch_template_id", default=None)
        if lt is None or is_unknown(lt):
            lt = v.ref(*spec, "launch_template_name", default=None) or lt
        overrides = [{"InstanceType": o.get("instance_type")}
                     for t in (mixed.get("launch_template") or [])[:1] if isinstance(t, dict)
                     for o in t.get("override") or [] if isinstance(o, dict)
                     and o.get("instance_type")]
        p["MixedInstancesPolicy"] = {"LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": lt},
            **({"Overrides": overrides} if overrides else {})}}
    p["HealthCheckType"] = v.value("health_check_type", default="EC2")
    _put(p, "TargetGroupARNs", v.ref("target_group_arns", many=True, default=None))
    _put(p, "LoadBalancerNames", v.ref("load_balancers", many=True, default=None))
    for k in ("MinSize", "MaxSize"):
        if p[k] is None:
            p.pop(k)
    return p


def _asg_extra(v: View) -> dict:
    if v.blocks("instance_refresh"):
        strategy = v.blocks("instance_refresh")[0].get("strategy") or "Rolling"
        return {"UpdatePolicy": {"AutoScalingInstanceRefresh": {"Strategy": strategy}}}
    return {}


def _scaling_policy(v: View) -> Props:
    p: Props = {"AutoScalingGroupName": v.ref("autoscaling_group_name")}
    p["PolicyType"] = v.value("policy_type", default="SimpleScaling")
    for tt in v.blocks("target_tracking_configuration")[:1]:
        cfg: dict = {}
        spec = (tt.get("predefined_metric_specification") or [{}])[:1]
        if spec and isinstance(spec[0], dict) and spec[0].get("predefined_metric_type"):
            cfg["PredefinedMetricSpecification"] = {
                "PredefinedMetricType": spec[0]["predefined_metric_type"]}
        if tt.get("target_value") is not None:
            cfg["TargetValue"] = tt["target_value"]
        p["TargetTrackingConfiguration"] = cfg
    return p


def _scheduled_action(v: View) -> Props:
    return {"AutoScalingGroupName": v.ref("autoscaling_group_name")}


def _eks_node_group(v: View) -> Props:
    """A managed node group is an Auto Scaling group EKS runs for the cluster."""
    p: Props = {}
    scaling = ("scaling_config", 0)
    p["MinSize"] = v.value(*scaling, "min_size")
    p["MaxSize"] = v.value(*scaling, "max_size")
    _put(p, "DesiredCapacity", v.value(*scaling, "desired_size", default=None))
    subnets = v.ref("subnet_ids", many=True)
    p["VPCZoneIdentifier"] = subnets if isinstance(subnets, list) else [subnets]
    if v.blocks("launch_template") or v.count("launch_template"):
        p["LaunchTemplate"] = {"LaunchTemplateId": _template_ref(v, "launch_template", 0)}
    types = v.known("instance_types")
    if isinstance(types, list) and types:
        p["MixedInstancesPolicy"] = {"LaunchTemplate": {"Overrides": [
            {"InstanceType": t} for t in types]}}
    p["HealthCheckType"] = "EC2"
    return p


def _ecs_service(v: View) -> Props:
    p: Props = {}
    _put(p, "Cluster", v.ref("cluster", default=None))
    strategy = v.value("scheduling_strategy", default="REPLICA")
    _put(p, "SchedulingStrategy", strategy)
    if strategy != "DAEMON":
        p["DesiredCount"] = v.value("desired_count", default=0)
    _put(p, "LaunchType", v.value("launch_type", default=None))
    providers = [{"CapacityProvider": b.get("capacity_provider")}
                 for b in v.blocks("capacity_provider_strategy")]
    _put(p, "CapacityProviderStrategy", providers)
    if v.blocks("network_configuration") or v.count("network_configuration"):
        p["NetworkConfiguration"] = {"AwsvpcConfiguration": {
            "Subnets": v.ref("network_configuration", 0, "subnets", many=True)}}
    _put(p, "PlacementConstraints", [
        {"Type": b.get("type"), **({"Expression": b["expression"]} if b.get("expression")
                                   else {})} for b in v.blocks("placement_constraints")])
    _put(p, "PlacementStrategies", [
        {"Type": b.get("type"), **({"Field": b["field"]} if b.get("field") else {})}
        for b in v.blocks("ordered_placement_strategy")])
    for b in v.blocks("deployment_circuit_breaker")[:1]:
        p["DeploymentConfiguration"] = {"DeploymentCircuitBreaker": {
            "Enable": bool(b.get("enable")), "Rollback": bool(b.get("rollback"))}}
    lbs = []
    for i in range(v.count("load_balancer")):
        tg = v.ref("load_balancer", i, "target_group_arn", default=None)
        elb = v.ref("load_balancer", i, "elb_name", default=None)
        lbs.append({k: x for k, x in (("TargetGroupArn", tg), ("LoadBalancerName", elb))
                    if x is not None})
    _put(p, "LoadBalancers", [x for x in lbs if x])
    return p


def _scalable_target(v: View) -> Props:
    p: Props = {"MinCapacity": v.value("min_capacity"), "MaxCapacity": v.value("max_capacity")}
    _put(p, "ResourceId", v.value("resource_id", default=None))
    _put(p, "ServiceNamespace", v.known("service_namespace"))
    return p


def _lambda(v: View) -> Props:
    p: Props = {}
    _put(p, "FunctionName", v.value("function_name", default=None))
    _put(p, "MemorySize", v.known("memory_size"))
    _put(p, "Runtime", v.known("runtime"))
    _put(p, "Timeout", v.known("timeout"))
    if v.blocks("vpc_config") or v.count("vpc_config"):
        subnets = v.ref("vpc_config", 0, "subnet_ids", many=True)
        if subnets:
            p["VpcConfig"] = {"SubnetIds": subnets}
    return p


def _app_runner(v: View) -> Props:
    """Without auto_scaling_configuration_arn in the configuration the provider fills in the
    ARN of App Runner's default configuration at apply time: the property is left out, as a
    template that sets none."""
    p: Props = {}
    if v.expression(("auto_scaling_configuration_arn",)) is not None or \
            v.known("auto_scaling_configuration_arn") is not None:
        _put(p, "AutoScalingConfigurationArn", v.ref("auto_scaling_configuration_arn"))
    return p


def _app_runner_scaling(v: View) -> Props:
    p: Props = {}
    _put(p, "MinSize", v.value("min_size", default=None))
    _put(p, "MaxSize", v.value("max_size", default=None))
    return p


def _function_ref(name: str, cfn: str) -> Callable[[View], Props]:
    return lambda v: {cfn: v.ref(name)}


def _redrive(v: View) -> dict | None:
    """An SQS redrive policy (a JSON string): its dead-letter queue by the ARN a known value
    holds (a state's), else by the references of the configuration's expression (a plan's)."""
    raw = v.known("redrive_policy")
    if isinstance(raw, str) and raw:
        try:
            policy = json.loads(raw)
        except ValueError:
            policy = None
        target = policy.get("deadLetterTargetArn") if isinstance(policy, dict) else None
        if not target:
            return None
        return {"deadLetterTargetArn": v._subst(target),
                **({"maxReceiveCount": policy["maxReceiveCount"]}
                   if "maxReceiveCount" in policy else {})}
    ref = v.ref("redrive_policy", default=None)
    return {"deadLetterTargetArn": ref} if ref is not None else None


def _sqs_queue(v: View) -> Props:
    p: Props = {}
    _put(p, "VisibilityTimeout", v.known("visibility_timeout_seconds"))
    _put(p, "RedrivePolicy", _redrive(v))
    return p


def _event_target(v: View) -> Props:
    return {"Targets": [{"Arn": v.ref("arn")}]}


def _schedule(v: View) -> Props:
    return {"Target": {"Arn": v.ref("target", 0, "arn")}}


def _sns_subscription(v: View) -> Props:
    return {"TopicArn": v.ref("topic_arn"), "Endpoint": v.ref("endpoint"),
            "Protocol": v.known("protocol")}


# --- load balancing --------------------------------------------------------------------------


def _lb(v: View) -> Props:
    p: Props = {"Type": v.value("load_balancer_type", default="application")}
    internal = v.value("internal", default=False)
    p["Scheme"] = ("internal" if internal is True else "internet-facing" if internal is False
                   else internal)
    mappings = [{"SubnetId": v.ref("subnet_mapping", i, "subnet_id")}
                for i in range(v.count("subnet_mapping"))]
    if mappings:
        p["SubnetMappings"] = mappings
    else:
        subnets = v.ref("subnets", many=True, default=None)
        if subnets:
            p["Subnets"] = subnets if isinstance(subnets, list) else [subnets]
    return p


def _elb(v: View) -> Props:
    p: Props = {}
    internal = v.value("internal", default=False)
    p["Scheme"] = "internal" if internal is True else "internet-facing"
    subnets = v.ref("subnets", many=True, default=None)
    zones = v.value("availability_zones", default=None)
    if subnets:
        p["Subnets"] = subnets if isinstance(subnets, list) else [subnets]
    elif zones:
        p["AvailabilityZones"] = zones
    _put(p, "Instances", v.ref("instances", many=True, default=None))
    return p


def _target_group(v: View) -> Props:
    p: Props = {"TargetType": v.value("target_type", default="instance")}
    _put(p, "Port", v.known("port"))
    _put(p, "Protocol", v.known("protocol"))
    return p


# --- data ----------------------------------------------------------------------------------


def _db_instance(v: View) -> Props:
    p: Props = {}
    _put(p, "Engine", v.value("engine", default=None))
    _put(p, "DBInstanceClass", v.value("instance_class", default=None))
    # multi_az is computed when the configuration does not set it: RDS's default is false
    p["MultiAZ"] = v.value("multi_az", default=False)
    _put(p, "AllocatedStorage", v.value("allocated_storage", default=None))
    _put(p, "MaxAllocatedStorage", v.known("max_allocated_storage") or None)
    _put(p, "StorageType", v.value("storage_type", default=None))
    _put(p, "SourceDBInstanceIdentifier", v.ref("replicate_source_db", default=None))
    _put(p, "DBSubnetGroupName", v.ref("db_subnet_group_name", default=None))
    _put(p, "DBParameterGroupName", v.ref("parameter_group_name", default=None))
    _put(p, "BackupRetentionPeriod", v.value("backup_retention_period", default=None))
    _put(p, "AvailabilityZone", v.value("availability_zone", default=None))
    _put(p, "EnableCloudwatchLogsExports", v.known("enabled_cloudwatch_logs_exports"))
    _put(p, "DBInstanceIdentifier", v.known("identifier"))
    for k in [k for k, x in p.items() if is_unknown(x) and k not in ("MultiAZ",)]:
        p.pop(k)
    return p


def _cluster_instance(v: View) -> Props:
    p: Props = {"DBClusterIdentifier": v.ref("cluster_identifier")}
    _put(p, "DBInstanceClass", v.value("instance_class", default=None))
    _put(p, "Engine", v.value("engine", default=None))
    return p


def _rds_cluster(v: View) -> Props:
    p: Props = {}
    _put(p, "Engine", v.value("engine", default=None))
    _put(p, "EngineMode", v.value("engine_mode", default="provisioned"))
    _put(p, "DBClusterIdentifier", v.known("cluster_identifier"))
    _put(p, "DBClusterInstanceClass", v.known("db_cluster_instance_class"))
    _put(p, "AllocatedStorage", v.known("allocated_storage"))
    _put(p, "StorageType", v.known("storage_type"))
    if v.blocks("serverlessv2_scaling_configuration"):
        b = v.blocks("serverlessv2_scaling_configuration")[0]
        p["ServerlessV2ScalingConfiguration"] = {"MinCapacity": b.get("min_capacity"),
                                                 "MaxCapacity": b.get("max_capacity")}
    return p


def _docdb_cluster(v: View) -> Props:
    return {"DBClusterIdentifier": v.known("cluster_identifier")} \
        if v.known("cluster_identifier") else {}


def _db_parameter_group(v: View) -> Props:
    params = {b["name"]: b.get("value") for b in v.blocks("parameter")
              if isinstance(b.get("name"), str)}
    return {"Parameters": params} if params else {}


def _db_subnet_group(v: View) -> Props:
    return {"SubnetIds": v.ref("subnet_ids", many=True)}


def _cache_cluster(v: View) -> Props:
    p: Props = {}
    _put(p, "Engine", v.value("engine", default=None))
    _put(p, "NumCacheNodes", v.value("num_cache_nodes", default=1))
    _put(p, "AZMode", v.value("az_mode", default="single-az"))
    _put(p, "CacheNodeType", v.known("node_type"))
    return p


def _replication_group(v: View) -> Props:
    p: Props = {}
    per_group = v.known("replicas_per_node_group")
    clusters = v.value("num_cache_clusters", default=None)
    if isinstance(clusters, int) and per_group is None:
        p["NumCacheClusters"] = clusters
    elif per_group is not None:
        p["ReplicasPerNodeGroup"] = per_group
    elif is_unknown(clusters):
        p["NumCacheClusters"] = clusters
    _put(p, "NumNodeGroups", v.known("num_node_groups"))
    p["AutomaticFailoverEnabled"] = v.value("automatic_failover_enabled", default=False)
    _put(p, "MultiAZEnabled", v.known("multi_az_enabled"))
    _put(p, "CacheNodeType", v.known("node_type"))
    return p


def _memorydb(v: View) -> Props:
    return {"NumReplicasPerShard": v.value("num_replicas_per_shard", default=1),
            "NumShards": v.value("num_shards", default=1)}


def _search(config_key: str) -> Callable[[View], Props]:
    def translate(v: View) -> Props:
        c = ("cluster_config", 0)
        cfg: dict = {"InstanceCount": v.value(*c, "instance_count", default=1),
                     "ZoneAwarenessEnabled": v.value(*c, "zone_awareness_enabled",
                                                     default=False)}
        count = v.known(*c, "zone_awareness_config", 0, "availability_zone_count")
        if count:
            cfg["ZoneAwarenessConfig"] = {"AvailabilityZoneCount": count}
        return {config_key: cfg}
    return translate


def _mq_broker(v: View) -> Props:
    return {"DeploymentMode": v.value("deployment_mode", default="SINGLE_INSTANCE"),
            "EngineType": v.known("engine_type")}


# --- storage and edge ------------------------------------------------------------------------


def _bucket(v: View) -> Props:
    p: Props = {}
    _put(p, "BucketName", v.known("bucket"))
    for b in v.blocks("versioning")[:1]:
        if b.get("enabled") is True:
            p["VersioningConfiguration"] = {"Status": "Enabled"}
    if v.blocks("replication_configuration"):
        p["ReplicationConfiguration"] = {"Rules": "replication_configuration"}
    return p


def _efs(v: View) -> Props:
    p: Props = {}
    _put(p, "AvailabilityZoneName", v.known("availability_zone_name"))
    return p


def _distribution(v: View) -> Props:
    origins = []
    known = {b.get("origin_id"): i for i, b in enumerate(v.blocks("origin"))}
    configured = v.expressions.get("origin") if isinstance(v.expressions.get("origin"),
                                                           list) else []
    by_id = {(b.get("origin_id") or {}).get("constant_value"): b for b in configured
             if isinstance(b, dict)}
    ids = list(known) or list(by_id)
    for n, origin_id in enumerate(ids):
        i = known.get(origin_id)
        value = v.blocks("origin")[i] if i is not None else {}
        block = by_id.get(origin_id) or (configured[n] if n < len(configured) else {})
        origin: dict = {"Id": origin_id}
        origin["DomainName"] = _block_ref(v, value.get("domain_name"), block.get("domain_name"))
        if value.get("s3_origin_config") or block.get("s3_origin_config"):
            origin["S3OriginConfig"] = {}
        vpc_known = [x for x in value.get("vpc_origin_config") or [] if isinstance(x, dict)]
        vpc_cfg = block.get("vpc_origin_config") if isinstance(block.get("vpc_origin_config"),
                                                               list) else []
        if vpc_known or vpc_cfg:
            vid = vpc_known[0].get("vpc_origin_id") if vpc_known else None
            expr = vpc_cfg[0].get("vpc_origin_id") if vpc_cfg and isinstance(
                vpc_cfg[0], dict) else None
            origin["VpcOriginConfig"] = {"VpcOriginId": _block_ref(v, vid, expr)}
        if value.get("custom_origin_config") or block.get("custom_origin_config"):
            origin["CustomOriginConfig"] = {}
        origins.append(origin)
    groups = len(v.blocks("origin_group"))
    return {"DistributionConfig": {"Origins": origins,
                                   **({"OriginGroups": {"Quantity": groups}} if groups else {})}}


def _block_ref(v: View, value: object, expr: object) -> object:
    """A reference inside a set of blocks, matched by a key rather than by position
    (Terraform orders a set's values by hash, its configuration as written)."""
    if isinstance(value, str) and value:
        return v._subst(value)
    if isinstance(expr, dict):
        if "constant_value" in expr:
            return expr["constant_value"]
        resolved = v.plan.resolve(expr.get("references") or [], v.res.module)
        found = [(m, a) for members, a in v._narrow(resolved) for m in members]
        if len(found) == 1:
            return getatt(*found[0])
        if resolved.reasons:
            return unknown("; ".join(resolved.reasons))
    return unknown("known only at apply time")


def _vpc_origin(v: View) -> Props:
    return {"VpcOriginEndpointConfig": {"Arn": v.ref("vpc_origin_endpoint_config", 0, "arn")}}


# --- observability and cost ----------------------------------------------------------------


def _alarm(v: View) -> Props:
    p: Props = {}
    _put(p, "AlarmActions", v.known("alarm_actions"))
    _put(p, "Namespace", v.known("namespace"))
    _put(p, "MetricName", v.known("metric_name"))
    metrics = [{"MetricStat": {"Metric": {"Namespace": m.get("namespace")}}}
               for q in v.blocks("metric_query") for m in (q.get("metric") or [])
               if isinstance(m, dict)]
    _put(p, "Metrics", metrics)
    return p


def _log_group(v: View) -> Props:
    p: Props = {}
    _put(p, "LogGroupName", v.known("name"))
    days = v.known("retention_in_days")
    _put(p, "RetentionInDays", days or None)
    return p


# --- the table -----------------------------------------------------------------------------

TYPES: dict[str, tuple[str, Callable[[View], Props]]] = {
    "aws_subnet": ("AWS::EC2::Subnet", _subnet),
    "aws_route": ("AWS::EC2::Route", _route),
    "aws_route_table": ("AWS::EC2::RouteTable", _route_table),
    "aws_default_route_table": ("AWS::EC2::RouteTable", _route_table),
    "aws_route_table_association": ("AWS::EC2::SubnetRouteTableAssociation",
                                    _route_table_association),
    "aws_nat_gateway": ("AWS::EC2::NatGateway", _nat_gateway),
    "aws_eip": ("AWS::EC2::EIP", _eip),
    "aws_eip_association": ("AWS::EC2::EIPAssociation", _eip_association),
    "aws_vpc_endpoint": ("AWS::EC2::VPCEndpoint", _vpc_endpoint),
    "aws_flow_log": ("AWS::EC2::FlowLog", _flow_log),
    "aws_instance": ("AWS::EC2::Instance", _instance),
    "aws_launch_template": ("AWS::EC2::LaunchTemplate", _launch_template),
    "aws_launch_configuration": ("AWS::AutoScaling::LaunchConfiguration",
                                 _launch_configuration),
    "aws_autoscaling_group": ("AWS::AutoScaling::AutoScalingGroup", _asg),
    "aws_autoscaling_policy": ("AWS::AutoScaling::ScalingPolicy", _scaling_policy),
    "aws_autoscaling_schedule": ("AWS::AutoScaling::ScheduledAction", _scheduled_action),
    "aws_eks_node_group": ("AWS::AutoScaling::AutoScalingGroup", _eks_node_group),
    "aws_ecs_service": ("AWS::ECS::Service", _ecs_service),
    "aws_appautoscaling_target": ("AWS::ApplicationAutoScaling::ScalableTarget",
                                  _scalable_target),
    "aws_lambda_function": ("AWS::Lambda::Function", _lambda),
    "aws_lambda_function_url": ("AWS::Lambda::Url",
                                _function_ref("function_name", "TargetFunctionArn")),
    "aws_lambda_event_source_mapping": ("AWS::Lambda::EventSourceMapping",
                                        lambda v: {"FunctionName": v.ref("function_name"),
                                                   "EventSourceArn": v.ref("event_source_arn")}),
    "aws_apprunner_service": ("AWS::AppRunner::Service", _app_runner),
    "aws_apprunner_auto_scaling_configuration_version": (
        "AWS::AppRunner::AutoScalingConfiguration", _app_runner_scaling),
    "aws_sqs_queue": ("AWS::SQS::Queue", _sqs_queue),
    "aws_lambda_permission": ("AWS::Lambda::Permission",
                              _function_ref("function_name", "FunctionName")),
    "aws_cloudwatch_event_target": ("AWS::Events::Rule", _event_target),
    "aws_scheduler_schedule": ("AWS::Scheduler::Schedule", _schedule),
    "aws_sns_topic_subscription": ("AWS::SNS::Subscription", _sns_subscription),
    "aws_api_gateway_integration": ("AWS::ApiGateway::Method",
                                    lambda v: {"Integration": {"Uri": v.ref("uri")}}),
    "aws_apigatewayv2_integration": ("AWS::ApiGatewayV2::Integration",
                                     _function_ref("integration_uri", "IntegrationUri")),
    "aws_lb": ("AWS::ElasticLoadBalancingV2::LoadBalancer", _lb),
    "aws_alb": ("AWS::ElasticLoadBalancingV2::LoadBalancer", _lb),
    "aws_elb": ("AWS::ElasticLoadBalancing::LoadBalancer", _elb),
    "aws_lb_target_group": ("AWS::ElasticLoadBalancingV2::TargetGroup", _target_group),
    "aws_alb_target_group": ("AWS::ElasticLoadBalancingV2::TargetGroup", _target_group),
    "aws_db_instance": ("AWS::RDS::DBInstance", _db_instance),
    "aws_rds_cluster": ("AWS::RDS::DBCluster", _rds_cluster),
    "aws_rds_cluster_instance": ("AWS::RDS::DBInstance", _cluster_instance),
    "aws_docdb_cluster": ("AWS::DocDB::DBCluster", _docdb_cluster),
    "aws_docdb_cluster_instance": ("AWS::DocDB::DBInstance", _cluster_instance),
    "aws_neptune_cluster": ("AWS::Neptune::DBCluster", _docdb_cluster),
    "aws_neptune_cluster_instance": ("AWS::Neptune::DBInstance", _cluster_instance),
    "aws_db_parameter_group": ("AWS::RDS::DBParameterGroup", _db_parameter_group),
    "aws_db_subnet_group": ("AWS::RDS::DBSubnetGroup", _db_subnet_group),
    "aws_elasticache_cluster": ("AWS::ElastiCache::CacheCluster", _cache_cluster),
    "aws_elasticache_replication_group": ("AWS::ElastiCache::ReplicationGroup",
                                          _replication_group),
    "aws_memorydb_cluster": ("AWS::MemoryDB::Cluster", _memorydb),
    "aws_opensearch_domain": ("AWS::OpenSearchService::Domain", _search("ClusterConfig")),
    "aws_elasticsearch_domain": ("AWS::Elasticsearch::Domain",
                                 _search("ElasticsearchClusterConfig")),
    "aws_mq_broker": ("AWS::AmazonMQ::Broker", _mq_broker),
    "aws_s3_bucket": ("AWS::S3::Bucket", _bucket),
    "aws_efs_file_system": ("AWS::EFS::FileSystem", _efs),
    "aws_cloudfront_distribution": ("AWS::CloudFront::Distribution", _distribution),
    "aws_cloudfront_vpc_origin": ("AWS::CloudFront::VpcOrigin", _vpc_origin),
    "aws_cloudwatch_metric_alarm": ("AWS::CloudWatch::Alarm", _alarm),
    "aws_cloudwatch_log_group": ("AWS::Logs::LogGroup", _log_group),
}

SIMPLE: dict[str, str] = {
    "aws_vpc": "AWS::EC2::VPC",
    "aws_internet_gateway": "AWS::EC2::InternetGateway",
    "aws_egress_only_internet_gateway": "AWS::EC2::EgressOnlyInternetGateway",
    "aws_internet_gateway_attachment": "AWS::EC2::VPCGatewayAttachment",
    "aws_vpc_ipv4_cidr_block_association": "AWS::EC2::VPCCidrBlock",
    "aws_security_group": "AWS::EC2::SecurityGroup",
    "aws_default_security_group": "AWS::EC2::SecurityGroup",
    "aws_security_group_rule": "AWS::EC2::SecurityGroupIngress",
    "aws_vpc_security_group_ingress_rule": "AWS::EC2::SecurityGroupIngress",
    "aws_vpc_security_group_egress_rule": "AWS::EC2::SecurityGroupEgress",
    "aws_network_acl": "AWS::EC2::NetworkAcl",
    "aws_default_network_acl": "AWS::EC2::NetworkAcl",
    "aws_network_acl_rule": "AWS::EC2::NetworkAclEntry",
    "aws_network_acl_association": "AWS::EC2::SubnetNetworkAclAssociation",
    "aws_network_interface": "AWS::EC2::NetworkInterface",
    "aws_ebs_volume": "AWS::EC2::Volume",
    "aws_volume_attachment": "AWS::EC2::VolumeAttachment",
    "aws_placement_group": "AWS::EC2::PlacementGroup",
    "aws_key_pair": "AWS::EC2::KeyPair",
    "aws_ec2_managed_prefix_list": "AWS::EC2::PrefixList",
    "aws_autoscaling_lifecycle_hook": "AWS::AutoScaling::LifecycleHook",
    "aws_autoscaling_notification": "AWS::AutoScaling::LifecycleHook",
    "aws_lb_listener": "AWS::ElasticLoadBalancingV2::Listener",
    "aws_alb_listener": "AWS::ElasticLoadBalancingV2::Listener",
    "aws_lb_listener_rule": "AWS::ElasticLoadBalancingV2::ListenerRule",
    "aws_alb_listener_rule": "AWS::ElasticLoadBalancingV2::ListenerRule",
    "aws_lb_listener_certificate": "AWS::ElasticLoadBalancingV2::ListenerCertificate",
    "aws_ecs_cluster": "AWS::ECS::Cluster",
    "aws_ecs_task_definition": "AWS::ECS::TaskDefinition",
    "aws_ecs_capacity_provider": "AWS::ECS::CapacityProvider",
    "aws_ecs_cluster_capacity_providers": "AWS::ECS::ClusterCapacityProviderAssociations",
    "aws_appautoscaling_policy": "AWS::ApplicationAutoScaling::ScalingPolicy",
    "aws_lambda_alias": "AWS::Lambda::Alias",
    "aws_lambda_layer_version": "AWS::Lambda::LayerVersion",
    "aws_lambda_function_event_invoke_config": "AWS::Lambda::EventInvokeConfig",
    "aws_cloudwatch_event_rule": "AWS::Events::Rule",
    "aws_cloudwatch_event_bus": "AWS::Events::EventBus",
    "aws_db_option_group": "AWS::RDS::OptionGroup",
    "aws_rds_cluster_parameter_group": "AWS::RDS::DBClusterParameterGroup",
    "aws_db_proxy": "AWS::RDS::DBProxy",
    "aws_db_proxy_default_target_group": "AWS::RDS::DBProxyTargetGroup",
    "aws_db_proxy_target": "AWS::RDS::DBProxyTargetGroup",
    "aws_db_proxy_endpoint": "AWS::RDS::DBProxyEndpoint",
    "aws_docdb_subnet_group": "AWS::DocDB::DBSubnetGroup",
    "aws_docdb_cluster_parameter_group": "AWS::DocDB::DBClusterParameterGroup",
    "aws_elasticache_subnet_group": "AWS::ElastiCache::SubnetGroup",
    "aws_elasticache_parameter_group": "AWS::ElastiCache::ParameterGroup",
    "aws_elasticache_user": "AWS::ElastiCache::User",
    "aws_elasticache_user_group": "AWS::ElastiCache::UserGroup",
    "aws_elasticache_serverless_cache": "AWS::ElastiCache::ServerlessCache",
    "aws_memorydb_subnet_group": "AWS::MemoryDB::SubnetGroup",
    "aws_memorydb_parameter_group": "AWS::MemoryDB::ParameterGroup",
    "aws_memorydb_acl": "AWS::MemoryDB::ACL",
    "aws_memorydb_user": "AWS::MemoryDB::User",
    "aws_mq_configuration": "AWS::AmazonMQ::Configuration",
    "aws_efs_mount_target": "AWS::EFS::MountTarget",
    "aws_efs_access_point": "AWS::EFS::AccessPoint",
    "aws_s3_bucket_policy": "AWS::S3::BucketPolicy",
    "aws_sqs_queue_policy": "AWS::SQS::QueuePolicy",
    "aws_sqs_queue_redrive_allow_policy": "AWS::SQS::QueuePolicy",
    "aws_sns_topic": "AWS::SNS::Topic",
    "aws_sns_topic_policy": "AWS::SNS::TopicPolicy",
    "aws_dynamodb_table": "AWS::DynamoDB::Table",
    "aws_dynamodb_global_table": "AWS::DynamoDB::GlobalTable",
    "aws_kinesis_stream": "AWS::Kinesis::Stream",
    "aws_sfn_state_machine": "AWS::StepFunctions::StateMachine",
    "aws_api_gateway_rest_api": "AWS::ApiGateway::RestApi",
    "aws_apigatewayv2_api": "AWS::ApiGatewayV2::Api",
    "aws_cognito_user_pool": "AWS::Cognito::UserPool",
    "aws_ecr_repository": "AWS::ECR::Repository",
    "aws_cloudfront_origin_access_control": "AWS::CloudFront::OriginAccessControl",
    "aws_cloudfront_origin_access_identity": "AWS::CloudFront::CloudFrontOriginAccessIdentity",
    "aws_cloudfront_cache_policy": "AWS::CloudFront::CachePolicy",
    "aws_cloudfront_origin_request_policy": "AWS::CloudFront::OriginRequestPolicy",
    "aws_cloudfront_response_headers_policy": "AWS::CloudFront::ResponseHeadersPolicy",
    "aws_cloudfront_function": "AWS::CloudFront::Function",
    "aws_cloudwatch_dashboard": "AWS::CloudWatch::Dashboard",
    "aws_cloudwatch_composite_alarm": "AWS::CloudWatch::CompositeAlarm",
    "aws_kms_key": "AWS::KMS::Key",
    "aws_kms_alias": "AWS::KMS::Alias",
    "aws_secretsmanager_secret": "AWS::SecretsManager::Secret",
    "aws_eks_cluster": "AWS::EKS::Cluster",
    "aws_eks_fargate_profile": "AWS::EKS::FargateProfile",
    "aws_eks_addon": "AWS::EKS::Addon",
}

# Terraform prefix -> the CloudFormation namespace of those support types (catalog.py
# classifies them: IAM, logs, SSM, ... hold no state and serve no traffic).
FAMILIES: dict[str, str] = {
    "aws_iam_": "AWS::IAM::", "aws_cloudwatch_log_": "AWS::Logs::", "aws_ssm_": "AWS::SSM::",
    "aws_secretsmanager_": "AWS::SecretsManager::", "aws_kms_": "AWS::KMS::",
    "aws_route53_": "AWS::Route53::", "aws_acm_": "AWS::CertificateManager::",
    "aws_wafv2_": "AWS::WAFv2::", "aws_appautoscaling_": "AWS::ApplicationAutoScaling::",
    "aws_service_discovery_": "AWS::ServiceDiscovery::", "aws_api_gateway_": "AWS::ApiGateway::",
    "aws_apigatewayv2_": "AWS::ApiGatewayV2::", "aws_scheduler_": "AWS::Scheduler::",
    "aws_budgets_": "AWS::Budgets::", "aws_codedeploy_": "AWS::CodeDeploy::",
    "aws_cognito_": "AWS::Cognito::", "aws_ssoadmin_": "AWS::SSO::",
}

# Folded into another resource: (the property of the target, how to find the target).
FOLDED = {"aws_lb_target_group_attachment", "aws_alb_target_group_attachment",
          "aws_autoscaling_attachment", "aws_elb_attachment", "aws_s3_bucket_versioning",
          "aws_s3_bucket_replication_configuration", "aws_appautoscaling_scheduled_action",
          "aws_sqs_queue_redrive_policy"}

# Not resources of their own in CloudFormation: settings of another resource, which a
# template writes as its properties (the rest of S3's per-bucket settings, ECR's and search
# domains' policies), and snapshots (copies of data at rest, which serve nothing).
_SETTINGS = re.compile(r"^(aws_s3_bucket_[a-z_]+|aws_ecr_(lifecycle|repository)_policy"
                       r"|aws_(elasticsearch|opensearch)_domain_policy"
                       r"|aws_ebs_snapshot(_copy)?|aws_(db|db_cluster|rds_cluster|docdb_cluster"
                       r"|neptune_cluster)_snapshot)$")


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.split("_") if part)


@functools.lru_cache(maxsize=1)
def _by_name() -> dict[tuple[str, str], str]:
    """CloudFormation types with no specific rule, by (service, type) in lower case without
    separators: ("redshift", "cluster") for AWS::Redshift::Cluster."""
    out = {}
    for rtype in table():
        _, service, name = rtype.split("::")
        if classify(rtype) == "unanalysed":
            out[(service.lower(), name.lower())] = rtype
    return out


@functools.lru_cache(maxsize=None)
def counterpart(tf_type: str) -> str | None:
    """The CloudFormation type an AWS provider type is named after, when that type has no
    specific rule: the words after `aws_` split in two, service then type (`aws_msk_cluster`:
    AWS::MSK::Cluster; `aws_elastic_beanstalk_environment`: AWS::ElasticBeanstalk::Environment;
    `aws_backup_vault`: AWS::Backup::BackupVault)."""
    if not tf_type.startswith("aws_"):
        return None
    words = tf_type[4:].split("_")
    for cut in range(1, len(words)):
        service, name = "".join(words[:cut]), "".join(words[cut:])
        # the type's name may repeat its service's (`aws_backup_vault`: AWS::Backup::BackupVault)
        found = _by_name().get((service, name)) or _by_name().get((service, service + name))
        if found:
            return found
    return None


# Attributes read as references to subnets (the rest are read as values).
_SUBNETS = {p for p in PLACEMENT_PROPS if "Subnet" in p}
_SKIPPED = {"tags", "tags_all", "timeouts"}


def _generic(v: View) -> Props:
    """The attributes of a type read by its counterpart's name (generic.py judges it), under
    their CloudFormation names, at any depth: known values as they are, unknown ones as the
    configuration gives them (or unknown, with the reason), subnets as references."""

    def walk(values: object, unknowns: object, path: tuple, depth: int) -> object:
        if depth > 6:
            return None
        if isinstance(values, list):
            marks = unknowns if isinstance(unknowns, list) else []
            return [walk(x, marks[i] if i < len(marks) else None, path + (i,), depth + 1)
                    for i, x in enumerate(values)]
        if not isinstance(values, dict):
            return values
        marks = unknowns if isinstance(unknowns, dict) else {}
        out = {}
        for key in list(values) + [k for k in marks if k not in values]:
            if key in _SKIPPED:
                continue
            name = _camel(key)
            if name in _SUBNETS:
                value = v.ref(*path, key, many=name.endswith("s"))
            elif marks.get(key) is True:
                value = v.value(*path, key)
            else:
                value = walk(values.get(key), marks.get(key), path + (key,), depth + 1)
            if value not in (None, [], {}):
                out[name] = value
        return out

    return walk(v.res.values, v.res.after_unknown, (), 0)


def cfn_type(res: TfResource) -> str | None:
    """The CloudFormation type a Terraform resource is read as; None: not part of the
    topology (a helper provider's resource, or folded into another resource)."""
    if res.provider_short in HELPER_PROVIDERS or res.type == "terraform_data":
        return None
    if res.type in TYPES:
        return TYPES[res.type][0]
    if res.type in SIMPLE:
        return SIMPLE[res.type]
    if res.type in FOLDED:
        return None
    if _SETTINGS.match(res.type):
        return None
    for prefix, namespace in FAMILIES.items():
        if res.type.startswith(prefix):
            return namespace + _camel(res.type[len(prefix):])
    return counterpart(res.type) or res.type  # else not analysed: listed by its Terraform type


# --- metadata from tags ----------------------------------------------------------------------

ACCEPT_TAG = "TopologyReport:AcceptedSinglePointOfFailure"
GAME_SERVICE_TAG = "TopologyReport:GameService"


def _game_service(text: str) -> dict:
    out: dict = {}
    for item in re.split(r"[\s,;]+", text.strip()):
        key, sep, value = item.partition("=")
        if not sep or not key:
            continue
        try:
            number = float(value)
            out[key] = int(number) if number.is_integer() and "." not in value else number
        except ValueError:
            out[key] = value
    return out


def _metadata(v: View, cfn: str) -> dict:
    res = v.res
    meta: dict = {"Terraform": {"address": res.address, "type": res.type,
                                **({"actions": res.actions} if res.actions else {})}}
    tags = v.tags()
    if isinstance(tags.get(ACCEPT_TAG), str) and tags[ACCEPT_TAG]:
        meta["TopologyReport"] = {"AcceptedSinglePointOfFailure": tags[ACCEPT_TAG]}
    if isinstance(tags.get(GAME_SERVICE_TAG), str):
        meta["GameService"] = _game_service(tags[GAME_SERVICE_TAG])
    return meta


# --- the translation -------------------------------------------------------------------------


def translate(plan: Plan) -> tuple[dict, list[str]]:
    """(a CloudFormation template of every managed resource, notes on what was left out)."""
    resources: dict[str, dict] = {}
    notes: list[str] = []
    helpers: dict[str, int] = {}
    folded: list[View] = []
    views: dict[str, View] = {}
    unknown_azs = []
    for res in plan.resources:
        if res.mode != "managed":
            continue
        rtype = cfn_type(res)
        v = View(plan, res)
        if rtype is None:
            if res.type in FOLDED:
                folded.append(v)
            elif _SETTINGS.match(res.type):
                pass  # a setting of the resource it names (a bucket's public access block)
            else:
                helpers[res.provider_short or res.type] = helpers.get(
                    res.provider_short or res.type, 0) + 1
            continue
        if res.type == "aws_elasticache_cluster" and v.known("replication_group_id"):
            notes.append(f"{res.address}: a member of a replication group, read with it")
            continue
        props: dict = {}
        extra: dict = {}
        if res.type in TYPES:
            props = TYPES[res.type][1](v)
            if res.type == "aws_autoscaling_group":
                extra = _asg_extra(v)
        elif rtype == counterpart(res.type):
            props = _generic(v)
        refs = v.references()
        if refs:
            props["TerraformReferences"] = refs  # what a whole-resource walk finds
        resources[res.address] = {"Type": rtype, "Properties": props,
                                  "Metadata": _metadata(v, rtype), **extra}
        views[res.address] = v
        if res.type in ("aws_route_table", "aws_default_route_table"):
            for lid, t, p in _inline_routes(plan, v):
                resources[lid] = {"Type": t, "Properties": p,
                                  "Metadata": {"Terraform": {"address": res.address,
                                                             "inline": "route"}}}
        if res.type == "aws_eks_node_group":
            notes.append(f"{res.address}: an EKS managed node group, read as the Auto Scaling "
                         f"group EKS runs for it; it scales out only by a cluster autoscaler "
                         f"(or Karpenter) in the cluster, which a plan does not show")
        if res.type == "aws_subnet" and is_unknown(props.get("AvailabilityZone")):
            unknown_azs.append(res.address)
    for v in folded:
        _fold(v, resources, notes)
    notes.extend(plan.notes)
    if unknown_azs:
        notes.append(f"AZ not known until apply (availability_zone is not set: AWS picks "
                     f"it): {', '.join(unknown_azs)}")
    if helpers:
        notes.append("not part of the topology (helper providers: no infrastructure): "
                     + ", ".join(f"{n} {k}" for k, n in sorted(helpers.items())))
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}, notes


def _target_of(ref: object, resources: dict, *types: str) -> dict | None:
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        target = resources.get(ref["Fn::GetAtt"][0])
        if target is not None and (not types or target["Type"] in types):
            return target
    return None


def _fold(v: View, resources: dict, notes: list[str]) -> None:
    """Add an attachment-like resource to the resource CloudFormation writes it in."""
    t = v.res.type
    tg_types = ("AWS::ElasticLoadBalancingV2::TargetGroup",)
    asg = ("AWS::AutoScaling::AutoScalingGroup",)
    if t in ("aws_lb_target_group_attachment", "aws_alb_target_group_attachment"):
        group = _target_of(v.ref("target_group_arn"), resources, *tg_types)
        if group is not None:
            group["Properties"].setdefault("Targets", []).append({"Id": v.ref("target_id")})
            return
    elif t == "aws_autoscaling_attachment":
        group = _target_of(v.ref("autoscaling_group_name"), resources, *asg)
        if group is not None:
            tg = v.ref("lb_target_group_arn", default=None)
            elb = v.ref("elb", default=None)
            if tg is not None:
                group["Properties"].setdefault("TargetGroupARNs", []).append(tg)
            if elb is not None:
                group["Properties"].setdefault("LoadBalancerNames", []).append(elb)
            return
    elif t == "aws_elb_attachment":
        elb = _target_of(v.ref("elb"), resources, "AWS::ElasticLoadBalancing::LoadBalancer")
        if elb is not None:
            elb["Properties"].setdefault("Instances", []).append(v.ref("instance"))
            return
    elif t in ("aws_s3_bucket_versioning", "aws_s3_bucket_replication_configuration"):
        bucket = _target_of(v.ref("bucket"), resources, "AWS::S3::Bucket") or next(
            (r for r in resources.values() if r["Type"] == "AWS::S3::Bucket"
             and r["Properties"].get("BucketName") == v.known("bucket")
             and v.known("bucket") is not None), None)
        if bucket is not None:
            if t == "aws_s3_bucket_versioning":
                status = v.known("versioning_configuration", 0, "status")
                if status == "Enabled":
                    bucket["Properties"]["VersioningConfiguration"] = {"Status": "Enabled"}
            else:
                bucket["Properties"]["ReplicationConfiguration"] = {"Rules": "replicated"}
            return
    elif t == "aws_sqs_queue_redrive_policy":
        queue = _target_of(v.ref("queue_url"), resources, "AWS::SQS::Queue")
        redrive = _redrive(v)
        if queue is not None and redrive:
            queue["Properties"]["RedrivePolicy"] = redrive
            return
    elif t == "aws_appautoscaling_scheduled_action":
        target = next((r for r in resources.values()
                       if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
                       and r["Properties"].get("ResourceId") == v.known("resource_id")
                       and v.known("resource_id") is not None), None)
        if target is not None:
            target["Properties"].setdefault("ScheduledActions", []).append(
                {"ScheduledActionName": v.known("name")})
            return
    notes.append(f"{v.res.address} ({t}): the resource it attaches to is not in this plan "
                 f"(or not known until apply): not read")
