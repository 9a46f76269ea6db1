"""The cost estimate: one of our stages' bill recomputed by hand from the price table and the
synthesized templates' facts, line by line; each pricer on a minimal hand-written template;
and a price table whose entry lacks its source or date refused in one line."""

import json

import pytest

from topology_report.cli import main
from topology_report.cost import PRICE_FILE, load_prices
from topology_report.loader import ReportError, load

from .conftest import SNAPSHOTS, analysis_of, report_of
from .test_spof_rules import NAT_PER_AZ, asg


def _lines(report):
    return {x["item"]: (x["monthly"], x["monthly_at_max"]) for x in report["cost"]["lines"]}


def _cost(path, prices):
    (stage,) = load(str(path))
    return report_of(stage, prices)["cost"]


# --- one of our stages, by hand ----------------------------------------------------------------


class _Stage:
    """A stage's synthesized templates, read as plain JSON: resources by type, Ref targets."""

    def __init__(self, stacks: dict[str, dict]):
        self.res = {lid: r for t in stacks.values() for lid, r in t["Resources"].items()}

    def of(self, rtype):
        return {lid: r for lid, r in self.res.items() if r["Type"] == rtype}

    def ref(self, value):
        """The logical ID a Ref, a GetAtt or a cross-stack output of a Ref names."""
        if isinstance(value, dict) and "Ref" in value:
            return value["Ref"]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
        if isinstance(value, dict) and "Fn::GetStackOutput" in value:  # PublishOutputRef<Id><hash>
            name = value["Fn::GetStackOutput"]["OutputName"]
            return next(lid for lid in self.res if name.startswith(f"PublishOutputRef{lid}"))
        return None


def _by_hand(stage: _Stage, prices: dict) -> dict[str, tuple[float, float]]:
    """Every line of the stage's bill, (baseline, at max), computed from the price table."""
    usd = lambda key: prices[key]["usd"]  # noqa: E731
    hours, use = prices["hours_per_month"], prices["usage"]
    rps = use["app_requests_month"] / (hours * 3600)
    bill: dict[str, tuple[float, float]] = {}

    def add(item, lo, hi=None):
        bill[item] = (lo, lo if hi is None else hi)

    def credits(entry, role, rate, hosts=1):
        """One machine's surplus credits: idle CPU plus its share of the requests' CPU."""
        work = 0 if role == "nat" else rps / hosts * use[f"{role}_cpu_ms_per_request"] / 1000 / entry["vcpu"] * 100
        cpu = min(100, use["burstable_idle_cpu_percent"][role] + work)
        return max(0, cpu - entry["baseline_cpu_percent"]) / 100 * entry["vcpu"] * hours * usd(rate)

    # the app's hosts: an Auto Scaling group (its launch template carries GameService metadata),
    # or the instance that carries it (with its own block devices)
    hosts = []
    for lid, group in stage.of("AWS::AutoScaling::AutoScalingGroup").items():
        p = group["Properties"]
        lt = stage.res[stage.ref(p["LaunchTemplate"]["LaunchTemplateId"])]
        hosts.append(dict(id=lid, type=lt["Properties"]["LaunchTemplateData"]["InstanceType"],
                          devices=lt["Properties"]["LaunchTemplateData"], min=int(p["MinSize"]),
                          max=int(p["MaxSize"]), azs=len(p["VPCZoneIdentifier"]), group=True,
                          # scale-out's worker tier serves no requests: no GameService metadata
                          game=lt.get("Metadata", {}).get("GameService")))
    for lid, inst in stage.of("AWS::EC2::Instance").items():
        if "GameService" in inst.get("Metadata", {}):
            hosts.append(dict(id=lid, type=inst["Properties"]["InstanceType"], devices=inst["Properties"],
                              min=1, max=1, azs=1, group=False, game=inst["Metadata"]["GameService"]))
    assert hosts, "the stage has no app hosts"
    for h in hosts:
        lid, itype, lo, hi = h["id"], h["type"], h["min"], h["max"]
        entry = prices["ec2"][itype]
        add(f"EC2 {lid} ({itype})", lo * entry["hourly"] * hours, hi * entry["hourly"] * hours)
        gb = sum(m["Ebs"]["VolumeSize"] for m in h["devices"].get("BlockDeviceMappings", [])) \
            or use["root_volume_gb_default"]
        add(f"EBS gp3 root volumes of {lid}", lo * gb * usd("ebs_gp3_gb_month"), hi * gb * usd("ebs_gp3_gb_month"))
        if "baseline_cpu_percent" in entry:
            add(f"CPU credits of {lid} ({itype}, unlimited)", lo * credits(entry, "app", "ec2_cpu_credit_vcpu_hour", lo),
                hi * credits(entry, "app", "ec2_cpu_credit_vcpu_hour", hi))

    # NAT: instances (SourceDestCheck false) and gateways; their traffic out
    nat_instances = {lid: r for lid, r in stage.of("AWS::EC2::Instance").items()
                     if r["Properties"].get("SourceDestCheck") is False}
    for lid, inst in nat_instances.items():
        itype = inst["Properties"]["InstanceType"]
        entry = prices["ec2"][itype]
        add(f"NAT instance {lid} ({itype})", entry["hourly"] * hours)
        if "baseline_cpu_percent" in entry:
            add(f"CPU credits of {lid} ({itype}, unlimited)", credits(entry, "nat", "ec2_cpu_credit_vcpu_hour"))
    gateways = stage.of("AWS::EC2::NatGateway")
    if gateways:
        add(f"{len(gateways)} NAT gateway(s)", len(gateways) * (
            usd("nat_gateway_hourly") * hours + use["nat_gb_processed_month_per_nat"] * usd("nat_gateway_gb_processed")))
    nats = len(gateways) + len(nat_instances)
    if nats:
        add(f"data out to the internet through {nats} NAT(s)",
            nats * use["nat_gb_out_internet_month_per_nat"] * usd("internet_out_gb"))

    # public IPv4: Elastic IPs, and instances in a subnet that maps public IPs on launch
    public_subnets = {lid for lid, s in stage.of("AWS::EC2::Subnet").items()
                      if s["Properties"].get("MapPublicIpOnLaunch")}
    ipv4 = len(stage.of("AWS::EC2::EIP")) + sum(
        1 for r in stage.of("AWS::EC2::Instance").values()
        if stage.ref(r["Properties"].get("SubnetId")) in public_subnets)
    for lb in stage.of("AWS::ElasticLoadBalancingV2::LoadBalancer").values():
        if lb["Properties"].get("Scheme") != "internal":
            ipv4 += len(lb["Properties"]["Subnets"])
    if ipv4:
        add(f"{ipv4} public IPv4 address(es)", ipv4 * usd("public_ipv4_hourly") * hours)

    for lid, lb in stage.of("AWS::ElasticLoadBalancingV2::LoadBalancer").items():
        add(f"load balancer {lid}", (usd("alb_hourly") + use["alb_average_lcu"] * usd("alb_lcu_hourly")) * hours)

    # the database: instance hours and storage (twice when Multi-AZ), backups, CPU credits,
    # traffic to the app across AZs
    log_groups = {r["Properties"].get("LogGroupName"): r for r in stage.of("AWS::Logs::LogGroup").values()}
    stored = []  # (GB a month, retention days)
    for lid, db in stage.of("AWS::RDS::DBInstance").items():
        p = db["Properties"]
        klass, gb = p["DBInstanceClass"], int(p["AllocatedStorage"])
        entry = prices["rds_postgresql"][klass]
        factor = 2 if p.get("MultiAZ") else 1
        add(f"RDS {lid} ({klass}, {'Multi-AZ' if factor == 2 else 'Single-AZ'})", factor * entry["hourly"] * hours)
        add(f"RDS storage of {lid} ({p['StorageType']})", factor * gb * prices["rds_storage_gb_month"][p["StorageType"]])
        days = int(p["BackupRetentionPeriod"])
        used = gb * use["db_storage_used_share"]
        add(f"RDS backups of {lid} ({days} days)",
            max(0, used * (1 + use["db_daily_change_share"] * days) - gb) * usd("rds_backup_gb_month"))
        if "baseline_cpu_percent" in entry:
            add(f"CPU credits of {lid} ({klass})", credits(entry, "db", "rds_cpu_credit_vcpu_hour"))
        app_azs = max(h["azs"] for h in hosts)  # our subnets: one per AZ
        if app_azs > 1:  # the DB's AZ is not set: in one of the app's
            gb_a_month = use["app_requests_month"] * use["db_bytes_per_request"] / 1e9
            add(f"traffic between AZs: app <-> {lid}",
                gb_a_month * (app_azs - 1) / app_azs * 2 * usd("cross_az_gb_each_way"))
        exports = p.get("EnableCloudwatchLogsExports", [])
        per = use["rds_log_export_gb_month"]
        export_gb = sum(per.get(x, per["default"]) for x in exports)
        add(f"CloudWatch Logs: RDS log exports of {lid}", export_gb * usd("cloudwatch_logs_ingest_gb"))
        stored.append((export_gb, max(log_groups[f"/aws/rds/instance/{p['DBInstanceIdentifier']}/{x}"]
                                      ["Properties"]["RetentionInDays"] for x in exports)))

    # storage and edge: one line each for all buckets and distributions (within the free tier)
    buckets = len(stage.of("AWS::S3::Bucket"))
    add(f"S3 ({buckets} bucket(s))", use["s3_gb_stored"] * usd("s3_standard_gb_month")
        + use["s3_put_requests_month"] / 1000 * usd("s3_put_per_1000")
        + use["s3_get_requests_month"] / 1000 * usd("s3_get_per_1000"))
    free = prices["cloudfront_always_free"]
    assert use["cloudfront_gb_out_month"] <= free["gb_out_month"]
    assert use["cloudfront_requests_month"] <= free["requests_month"]
    add(f"CloudFront ({len(stage.of('AWS::CloudFront::Distribution'))} distribution(s))", 0)

    # CloudWatch Logs: access lines, flow logs, and the storage of all at their retention
    # the hosts that serve the requests write the access lines (a worker tier's metadata
    # carries no sample rate: it serves none)
    (game,) = [h["game"] for h in hosts if h["game"] and "AccessLogSampleRate" in h["game"]]
    access_gb = use["app_requests_month"] * game["AccessLogSampleRate"] * use["access_line_bytes"] / 1e9
    add("CloudWatch Logs: the hosts' access lines", access_gb * usd("cloudwatch_logs_ingest_gb"))
    service_group = next(r for name, r in log_groups.items() if isinstance(name, str) and name.endswith("/service"))
    stored.append((access_gb, service_group["Properties"]["RetentionInDays"]))
    for lid, flow in stage.of("AWS::EC2::FlowLog").items():
        traffic = flow["Properties"]["TrafficType"]
        gb = use["flow_log_gb_month_per_log"][traffic]
        add(f"CloudWatch Logs: flow log {lid} ({traffic})", gb * usd("cloudwatch_logs_ingest_gb"))
        group = stage.res[stage.ref(flow["Properties"]["LogGroupName"])]
        stored.append((gb, group["Properties"]["RetentionInDays"]))
    add("CloudWatch Logs storage",
        sum(gb * days / (hours / 24) for gb, days in stored) * usd("cloudwatch_logs_storage_gb_month"))

    # metrics, alarms, dashboards, secrets, keys
    namespaces = sorted({ns for a in stage.of("AWS::CloudWatch::Alarm").values() for ns in
                         [a["Properties"].get("Namespace")] + [m.get("MetricStat", {}).get("Metric", {}).get("Namespace")
                                                              for m in a["Properties"].get("Metrics", [])]
                         if ns and not ns.startswith("AWS/")})
    assert namespaces, "the alarms read no custom namespace"
    per_host, per_group = use["custom_metrics_per_host"], use["custom_metrics_per_group"]
    groups = sum(1 for h in hosts if h["group"])
    lo, hi = sum(h["min"] for h in hosts), sum(h["max"] for h in hosts)
    add(f"CloudWatch custom metrics ({', '.join(namespaces)})",
        *((n * per_host + groups * per_group + use["custom_metrics_per_stage"]) * usd("cloudwatch_custom_metric_month")
          for n in (lo, hi)))
    add("CloudWatch PutMetricData requests",
        *(n * use["metric_requests_month_per_host"] / 1000 * usd("cloudwatch_put_metric_data_per_1000") for n in (lo, hi)))
    for rtype, key, label in [("AWS::CloudWatch::Alarm", "cloudwatch_alarm_month", "CloudWatch alarm"),
                              ("AWS::CloudWatch::Dashboard", "cloudwatch_dashboard_month", "CloudWatch dashboard"),
                              ("AWS::SecretsManager::Secret", "secrets_manager_secret_month", "Secrets Manager secret"),
                              ("AWS::KMS::Key", "kms_key_month", "KMS key")]:
        n = len(stage.of(rtype))
        if n:
            add(f"{n} {label}(s)", n * usd(key))
    keys = len(stage.of("AWS::KMS::Key"))
    add(f"KMS requests ({keys} key(s))", keys * use["kms_requests_month_per_key"] / 10000 * usd("kms_requests_per_10000"))
    return bill


@pytest.mark.parametrize("name", ["scale-out", "starter"])
def test_a_stage_bill_recomputed_by_hand_from_the_price_table(name, assembly_dir, templates, prices):
    (stage,) = [s for s in load(str(assembly_dir)) if s.name == name]
    cost = report_of(stage, prices)["cost"]
    lines = _lines({"cost": cost})
    expected = _by_hand(_Stage(templates[name]), prices)
    # the custom metrics' line names the namespaces the alarms read, in the order it met them
    (metrics_item,) = [k for k in lines if k.startswith("CloudWatch custom metrics (")]
    namespaces = sorted(metrics_item.removeprefix("CloudWatch custom metrics (").removesuffix(")").split(", "))
    lines[f"CloudWatch custom metrics ({', '.join(namespaces)})"] = lines.pop(metrics_item)
    assert sorted(lines) == sorted(expected)
    for item, (lo, hi) in expected.items():
        assert lines[item] == pytest.approx((lo, hi), abs=0.006), item
    assert cost["total"] == pytest.approx(sum(lo for lo, _ in expected.values()), abs=0.01 * len(expected))
    assert cost["total_at_max"] == pytest.approx(sum(hi for _, hi in expected.values()), abs=0.01 * len(expected))
    assert cost["total"] == round(sum(x["monthly"] for x in cost["lines"]), 2)


# --- each pricer on a minimal template ---------------------------------------------------------

PUBLIC_SUBNET = """
PubMapA:
  Type: AWS::EC2::Subnet
  Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.8.0/24, AvailabilityZone: eu-west-1a, MapPublicIpOnLaunch: true}
PubMapB:
  Type: AWS::EC2::Subnet
  Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.9.0/24, AvailabilityZone: eu-west-1b, MapPublicIpOnLaunch: true}
"""


def test_public_ipv4_counts_elastic_ips_auto_assigned_addresses_and_internet_facing_load_balancers(template, prices):
    cost = _cost(template(NAT_PER_AZ + PUBLIC_SUBNET + """
Box:
  Type: AWS::EC2::Instance
  Properties: {InstanceType: t4g.small, ImageId: ami-1, SubnetId: !Ref PubMapA}
Private:
  Type: AWS::EC2::Instance
  Properties: {InstanceType: t4g.small, ImageId: ami-1, SubnetId: !Ref PrivA}
Asked:
  Type: AWS::EC2::Instance
  Properties:
    InstanceType: t4g.small
    ImageId: ami-1
    NetworkInterfaces: [{DeviceIndex: '0', AssociatePublicIpAddress: true, SubnetId: !Ref PrivB}]
Public:
  Type: AWS::ElasticLoadBalancingV2::LoadBalancer
  Properties: {Subnets: [!Ref PubMapA, !Ref PubMapB]}
Internal:
  Type: AWS::ElasticLoadBalancingV2::LoadBalancer
  Properties: {Scheme: internal, Subnets: [!Ref PrivA, !Ref PrivB]}
"""), prices)
    # two NAT gateways' Elastic IPs, Box (public subnet), Asked (its interface asks), 2 for Public
    expected = 2 + 1 + 1 + 2
    line = next(x for x in cost["lines"] if x["item"].endswith("public IPv4 address(es)"))
    assert line["item"] == f"{expected} public IPv4 address(es)"
    assert line["monthly"] == round(expected * prices["public_ipv4_hourly"]["usd"] * 730, 2)
    assert "Private" not in line["basis"] and "Internal" not in line["basis"]
    # the NAT gateways' line no longer carries their Elastic IPs (counted once, here)
    nat = next(x for x in cost["lines"] if x["item"] == "2 NAT gateway(s)")
    assert "Elastic IP" not in nat["basis"]


def test_an_auto_scaling_group_in_public_subnets_has_an_address_per_instance(template, prices):
    cost = _cost(template(PUBLIC_SUBNET + asg(2, ["PubMapA", "PubMapB"], max_size=5)), prices)
    line = next(x for x in cost["lines"] if "public IPv4" in x["item"])
    per_month = prices["public_ipv4_hourly"]["usd"] * 730
    assert (line["monthly"], line["monthly_at_max"]) == (round(2 * per_month, 2), round(5 * per_month, 2))
    assert "2..5 of the instances of Group" in line["basis"]


def _busy(prices: dict, **usage) -> dict:
    """The price table with other load assumptions."""
    return {**prices, "usage": {**prices["usage"], **usage}}


@pytest.mark.parametrize("credits", [None, "unlimited", "standard"])
def test_burstable_instances_pay_surplus_credits_above_their_baseline(template, prices, credits):
    """Here an idle CPU of 30% on a t4g.micro (baseline 10%, 2 vCPUs), the template's only
    host, which also serves the assumed requests."""
    spec = f", CreditSpecification: {{CpuCredits: {credits}}}" if credits else ""
    busy = _busy(prices, burstable_idle_cpu_percent={**prices["usage"]["burstable_idle_cpu_percent"], "app": 30})
    cost = _cost(template(NAT_PER_AZ + f"""
Bastion:
  Type: AWS::EC2::Instance
  Properties: {{InstanceType: t4g.micro, ImageId: ami-1, SubnetId: !Ref PrivA{spec}}}
"""), busy)
    items = _lines({"cost": cost})
    if credits == "standard":
        assert not any(k.startswith("CPU credits") for k in items)
        assert any("Bastion (t4g.micro): standard credit mode" in n for n in cost["not_priced"])
        return
    use = prices["usage"]
    cpu = 30 + use["app_requests_month"] / (730 * 3600) * use["app_cpu_ms_per_request"] / 1000 / 2 * 100
    assert items["CPU credits of Bastion (t4g.micro, unlimited)"][0] == round(
        (cpu - 10) / 100 * 2 * 730 * prices["ec2_cpu_credit_vcpu_hour"]["usd"], 2) > 0
    assert any(a.startswith("burstable classes: unlimited") for a in cost["assumptions"])


def test_the_app_tiers_credits_follow_the_assumed_traffic_shared_by_its_hosts(assembly_dir, prices):
    """At the assumed traffic our small hosts stay under their baseline; at the busy rate a
    lone t4g.micro goes above it and the line says what that costs."""
    (stage,) = [s for s in load(str(assembly_dir)) if s.name == "starter"]
    report = report_of(stage, prices)
    ((item, (baseline, _)),) = [(k, v) for k, v in _lines(report).items()
                                if k.startswith("CPU credits of Tier") and "t4g.micro" in k]
    (line,) = [x for x in report["cost"]["lines"] if x["item"] == item]
    use, rate = prices["usage"], prices["ec2_cpu_credit_vcpu_hour"]["usd"]
    quiet = use["burstable_idle_cpu_percent"]["app"] + use["app_requests_month"] / (730 * 3600) \
        * use["app_cpu_ms_per_request"] / 1000 / 2 * 100
    assert quiet < 10 and baseline == 0, (quiet, baseline)
    busy = use["burstable_idle_cpu_percent"]["app"] + use["busy_requests_per_s"] * use["app_cpu_ms_per_request"] / 1000 / 2 * 100
    assert f"(at {use['busy_requests_per_s']:g} requests/s: ${(busy - 10) / 100 * 2 * 730 * rate:,.2f})" in line["basis"]


DB = """
DbSubnets:
  Type: AWS::RDS::DBSubnetGroup
  Properties: {{DBSubnetGroupDescription: db, SubnetIds: [!Ref PrivA, !Ref PrivB]}}
Db:
  Type: AWS::RDS::DBInstance
  Properties:
    Engine: postgres
    DBInstanceClass: {klass}
    AllocatedStorage: '{gb}'
    StorageType: gp3
    DBSubnetGroupName: !Ref DbSubnets
    BackupRetentionPeriod: {days}
    {extra}
"""


def test_a_burstable_database_pays_surplus_credits_for_its_primary_only(template, prices):
    cost = _cost(template(DB.format(klass="db.t4g.small", gb=20, days=1, extra="MultiAZ: true")), prices)
    entry, use = prices["rds_postgresql"]["db.t4g.small"], prices["usage"]
    cpu = use["burstable_idle_cpu_percent"]["db"] + use["app_requests_month"] / (730 * 3600) \
        * use["db_cpu_ms_per_request"] / 1000 / entry["vcpu"] * 100
    assert _lines({"cost": cost})["CPU credits of Db (db.t4g.small)"][0] == round(
        max(0, cpu - entry["baseline_cpu_percent"]) / 100 * entry["vcpu"] * 730
        * prices["rds_cpu_credit_vcpu_hour"]["usd"], 2)
    # a database busy with requests from elsewhere: all its requests' CPU is the primary's
    busy = _cost(template(DB.format(klass="db.t4g.small", gb=20, days=1, extra="MultiAZ: true"), name="b.yaml"),
                 _busy(prices, app_requests_month=800 * 730 * 3600))
    cpu = use["burstable_idle_cpu_percent"]["db"] + 800 * use["db_cpu_ms_per_request"] / 1000 / entry["vcpu"] * 100
    assert cpu > entry["baseline_cpu_percent"]
    assert _lines({"cost": busy})["CPU credits of Db (db.t4g.small)"][0] == round(
        (cpu - entry["baseline_cpu_percent"]) / 100 * entry["vcpu"] * 730 * prices["rds_cpu_credit_vcpu_hour"]["usd"], 2)
    # Multi-AZ: instance hours and storage both twice
    assert _lines({"cost": cost})["RDS storage of Db (gp3)"][0] == round(
        2 * 20 * prices["rds_storage_gb_month"]["gp3"], 2)


@pytest.mark.parametrize("days", [0, 1, 35])
def test_rds_backups_are_billed_beyond_the_provisioned_storage(template, prices, days):
    cost = _cost(template(DB.format(klass="db.m7g.large", gb=100, days=days, extra="MultiAZ: false")), prices)
    items = _lines({"cost": cost})
    if days == 0:
        assert not any(k.startswith("RDS backups") for k in items)
        return
    use = prices["usage"]
    used = 100 * use["db_storage_used_share"]
    billed = max(0, used + used * use["db_daily_change_share"] * days - 100)
    assert items[f"RDS backups of Db ({days} days)"][0] == round(billed * prices["rds_backup_gb_month"]["usd"], 2)
    if days == 35:
        assert billed > 0


@pytest.mark.parametrize("db_az, crossing", [(None, 1), ("eu-west-1c", 2)])
def test_traffic_between_the_app_and_its_database_across_azs(template, prices, db_az, crossing):
    extra = f"AvailabilityZone: {db_az}" if db_az else "MultiAZ: false"
    cost = _cost(template(NAT_PER_AZ + asg(2, ["PrivA", "PrivB"])
                          + DB.format(klass="db.m7g.large", gb=20, days=1, extra=extra)), prices)
    use = prices["usage"]
    gb = use["app_requests_month"] * use["db_bytes_per_request"] / 1e9
    assert _lines({"cost": cost})["traffic between AZs: app <-> Db"][0] == round(
        gb * crossing / 2 * 2 * prices["cross_az_gb_each_way"]["usd"], 2)


def test_an_app_in_one_az_with_its_database_pays_no_traffic_between_azs(template, prices):
    cost = _cost(template(NAT_PER_AZ + asg(2, ["PrivA"])
                          + DB.format(klass="db.m7g.large", gb=20, days=1, extra="AvailabilityZone: eu-west-1a")),
                 prices)
    assert not any(k.startswith("traffic between AZs") for k in _lines({"cost": cost}))
    assert any("traffic between AZs" in a and "none counted" in a for a in cost["assumptions"])


def test_flow_logs_are_ingested_and_stored_at_their_log_groups_retention(template, prices):
    cost = _cost(template("""
FlowGroup:
  Type: AWS::Logs::LogGroup
  Properties: {RetentionInDays: 7}
Flow:
  Type: AWS::EC2::FlowLog
  Properties: {ResourceId: !Ref Vpc, ResourceType: VPC, TrafficType: ALL, LogGroupName: !Ref FlowGroup,
               DeliverLogsPermissionArn: arn:aws:iam::1:role/x}
ToS3:
  Type: AWS::EC2::FlowLog
  Properties: {ResourceId: !Ref Vpc, ResourceType: VPC, TrafficType: REJECT, LogDestinationType: s3,
               LogDestination: arn:aws:s3:::b}
"""), prices)
    items = _lines({"cost": cost})
    gb = prices["usage"]["flow_log_gb_month_per_log"]["ALL"]
    assert items["CloudWatch Logs: flow log Flow (ALL)"][0] == round(gb * prices["cloudwatch_logs_ingest_gb"]["usd"], 2)
    assert items["CloudWatch Logs storage"][0] == round(
        gb * 7 / (730 / 24) * prices["cloudwatch_logs_storage_gb_month"]["usd"], 2)
    assert any("flow log ToS3: delivered to s3, not priced" in n for n in cost["not_priced"])


def test_custom_metrics_are_priced_when_the_alarms_read_a_custom_namespace(template, prices):
    alarm = """
HostMemory:
  Type: AWS::CloudWatch::Alarm
  Properties: {{Namespace: {ns}, MetricName: mem_used_percent, Statistic: Average, Period: 60,
               EvaluationPeriods: 1, Threshold: 90, ComparisonOperator: GreaterThanThreshold}}
"""
    use, rate = prices["usage"], prices["cloudwatch_custom_metric_month"]["usd"]
    cost = _cost(template(NAT_PER_AZ + asg(2, ["PrivA", "PrivB"], max_size=5) + alarm.format(ns="Shop/Host")), prices)
    line = _lines({"cost": cost})["CloudWatch custom metrics (Shop/Host)"]
    per_host, per_group, per_stage = (use["custom_metrics_per_host"], use["custom_metrics_per_group"],
                                      use["custom_metrics_per_stage"])
    assert line == (round((2 * per_host + per_group + per_stage) * rate, 2),
                    round((5 * per_host + per_group + per_stage) * rate, 2))
    requests = _lines({"cost": cost})["CloudWatch PutMetricData requests"]
    per_1000 = prices["cloudwatch_put_metric_data_per_1000"]["usd"]
    assert requests == tuple(round(n * use["metric_requests_month_per_host"] / 1000 * per_1000, 2) for n in (2, 5))
    cost = _cost(template(NAT_PER_AZ + asg(2, ["PrivA", "PrivB"]) + alarm.format(ns="AWS/EC2")), prices)
    assert not any(k.startswith("CloudWatch custom metrics") for k in _lines({"cost": cost}))


def test_kms_requests_are_priced_per_key(template, prices):
    cost = _cost(template("""
Key:
  Type: AWS::KMS::Key
  Properties: {KeyPolicy: {}}
"""), prices)
    n = prices["usage"]["kms_requests_month_per_key"]
    assert _lines({"cost": cost})["KMS requests (1 key(s))"][0] == round(
        n / 10000 * prices["kms_requests_per_10000"]["usd"], 2)


def test_a_nat_instance_pays_its_traffic_out_and_its_address(template, prices):
    from .test_spof_rules import NAT_INSTANCE
    a = analysis_of(template(NAT_INSTANCE))
    assert [c["type"] for c in a.tiers["network egress"].components if c["type"] == "nat-instance"]
    items = _lines({"cost": _cost(template(NAT_INSTANCE), prices)})
    gb = prices["usage"]["nat_gb_out_internet_month_per_nat"]
    assert items["data out to the internet through 1 NAT(s)"][0] == round(gb * prices["internet_out_gb"]["usd"], 2)


# --- the price table ---------------------------------------------------------------------------


@pytest.mark.parametrize("where, field, named", [
    (("nat_gateway_hourly",), "source", "'nat_gateway_hourly'"),
    (("nat_gateway_hourly",), "as_of", "'nat_gateway_hourly'"),
    (("ec2", "t4g.small"), "source", "'ec2.t4g.small'"),
    (("rds_postgresql", "db.m7g.large"), "as_of", "'rds_postgresql.db.m7g.large'"),
])
def test_a_price_without_its_source_or_date_is_refused_in_one_line(tmp_path, where, field, named):
    table = json.loads(PRICE_FILE.read_text())
    entry = table
    for key in where:
        entry = entry[key]
    del entry[field]
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    with pytest.raises(ReportError) as exc:
        load_prices(str(path))
    message = str(exc.value)
    assert "\n" not in message and named in message and repr(field) in message


def test_the_report_refuses_such_a_table_with_exit_code_2_and_one_line(tmp_path, capsys):
    table = json.loads(PRICE_FILE.read_text())
    del table["public_ipv4_hourly"]["source"]
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    assert main([str(SNAPSHOTS / "starter"), "--prices", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'public_ipv4_hourly' has no 'source'" in err


def test_every_price_in_the_shipped_table_has_a_source_and_a_date(prices):
    assert prices["as_of"] >= max(
        e["as_of"] for k, v in prices.items() if isinstance(v, dict) and k not in ("usage",)
        for e in ([x for n, x in v.items() if not n.startswith("_")] if k in ("ec2", "rds_postgresql") else [v]))
    # RDS for PostgreSQL's own rates for db.m7g/db.r7g, not copies of MySQL's marked as such
    assert "_unverified" not in prices["rds_postgresql"]
    assert not any("MySQL" in json.dumps(e) for e in prices["rds_postgresql"].values())


def test_a_classic_load_balancer_is_priced_at_its_own_rates_not_an_albs(template, prices):
    cost = _cost(template(NAT_PER_AZ + asg(2, ["PrivA", "PrivB"]) + """
Classic:
  Type: AWS::ElasticLoadBalancing::LoadBalancer
  Properties:
    Subnets: [!Ref PubA, !Ref PubB]
    Listeners: [{LoadBalancerPort: '80', InstancePort: '80', Protocol: HTTP}]
"""), prices)
    line = next(x for x in cost["lines"] if "Classic" in x["item"])
    gb = prices["usage"]["cloudfront_gb_out_month"]
    assert line["item"] == "classic load balancer Classic"
    assert line["monthly"] == round(prices["clb_hourly"]["usd"] * 730 + gb * prices["clb_gb_processed"]["usd"], 2)
    assert "LCU" not in line["basis"]


@pytest.mark.parametrize(("how", "spot"), [
    ("Lt", False),
    ("LtSpot", True),
    ("Mixed", True),
])
def test_spot_capacity_is_said_to_be_priced_at_on_demand_rates(template, prices, how, spot):
    group = asg(2, ["PrivA", "PrivB"])
    if how == "LtSpot":
        group = group.replace("{InstanceType: t4g.small, ImageId: ami-1}",
                              "{InstanceType: t4g.small, ImageId: ami-1, InstanceMarketOptions: {MarketType: spot}}")
    if how == "Mixed":
        group = group.replace("    LaunchTemplate: {LaunchTemplateId: !Ref Lt, Version: !GetAtt Lt.LatestVersionNumber}",
                              "    MixedInstancesPolicy:\n      InstancesDistribution: {OnDemandPercentageAboveBaseCapacity: 25}\n"
                              "      LaunchTemplate:\n        LaunchTemplateSpecification: {LaunchTemplateId: !Ref Lt, "
                              "Version: !GetAtt Lt.LatestVersionNumber}")
    cost = _cost(template(NAT_PER_AZ + group), prices)
    line = next(x for x in cost["lines"] if x["item"].startswith("EC2 Group"))
    assert line["monthly"] == round(2 * prices["ec2"]["t4g.small"]["hourly"] * 730, 2)
    assert ("Spot capacity" in line["basis"] and "upper bound" in line["basis"]) is spot
