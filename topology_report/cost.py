"""Monthly cost estimate of a stage from the dated price table (prices.json, every entry with
its source and the date it was read): one pricer per service (EC2 and its CPU credits, NAT and
its traffic, public IPv4 addresses, VPC endpoints, load balancers, RDS with its backups and CPU
credits, traffic between AZs, S3, CloudFront, CloudWatch Logs ingestion and storage, custom
metrics, flat monthly fees, KMS requests), each adding its lines, assumptions and notes to the
bill in turn; then a note naming whatever no pricer priced."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .analyze import Analysis
from .catalog import classify
from .findings import d
from .loader import ReportError

PRICE_FILE = Path(__file__).with_name("prices.json")

# Types the estimate prices (or that cost nothing by themselves); any other type that is
# not a support type is named as "not priced", so that $0 never means "nothing here".
PRICED_ELSEWHERE = {
    "AWS::EC2::Instance", "AWS::AutoScaling::AutoScalingGroup", "AWS::EC2::NatGateway",
    "AWS::EC2::VPCEndpoint", "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancing::LoadBalancer", "AWS::RDS::DBInstance", "AWS::S3::Bucket",
    "AWS::CloudFront::Distribution", "AWS::EC2::Subnet", "AWS::EC2::RouteTable",
    "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::CloudFront::VpcOrigin",
    "AWS::CloudFormation::Stack", "AWS::RDS::DBProxy",
}


# Keys of the price table that are not price entries; every other key is one, and so is each
# class of the "ec2" and "rds_postgresql" groups (keys starting with "_" are comments).
_TABLE_KEYS = {"as_of", "region", "currency", "source", "hours_per_month", "usage"}
_GROUPS = ("ec2", "rds_postgresql")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_entries(file: Path, prices: dict) -> None:
    """Every price entry is an object naming its source and the date it was read."""
    for key, value in prices.items():
        if key in _TABLE_KEYS:
            continue
        entries = ([(f"{key}.{k}", v) for k, v in value.items() if not k.startswith("_")]
                   if key in _GROUPS and isinstance(value, dict) else [(key, value)])
        for name, entry in entries:
            if not isinstance(entry, dict):
                raise ReportError(f"{file}: price entry {name!r} must be an object with its price, "
                                  f"'source' and 'as_of'")
            for field in ("source", "as_of"):
                if not entry.get(field):
                    raise ReportError(f"{file}: price entry {name!r} has no {field!r} "
                                      f"(where its price was read, and the date)")
            if not _DATE.match(str(entry["as_of"])):
                raise ReportError(f"{file}: price entry {name!r}: 'as_of' {entry['as_of']!r} "
                                  f"is not a date (YYYY-MM-DD)")


def load_prices(path: str | None = None) -> dict:
    file = Path(path) if path else PRICE_FILE
    try:
        prices = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{file}: cannot read the price table: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{file}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(prices, dict):
        raise ReportError(f"{file}: the price table is not a JSON object")
    for key in ("as_of", "region", "hours_per_month", "ec2", "rds_postgresql", "usage"):
        if key not in prices:
            raise ReportError(f"{file}: the price table has no {key!r}")
    _check_entries(file, prices)
    return prices


def _volume_gb(model, res, default: int) -> int:
    data = res.props.get("LaunchTemplateData") or res.props
    mappings = data.get("BlockDeviceMappings") if isinstance(data, dict) else None
    total = 0
    for mapping in mappings if isinstance(mappings, list) else []:
        ebs = mapping.get("Ebs") if isinstance(mapping, dict) else None
        if isinstance(ebs, dict):
            total += model.number(res.stack, ebs.get("VolumeSize")) or default
    return total or default


class _Bill:
    """The estimate's lines, assumptions and notes, in the order the pricers add them (the
    report's order)."""

    def __init__(self, prices: dict):
        self.prices = prices
        self.hours = prices["hours_per_month"]
        self.usage = prices["usage"]
        self.lines: list[dict] = []
        self.assumptions: list[str] = []
        self.notes: list[str] = []

    def add(self, item: str, baseline: float, at_max: float | None = None, basis: str = "") -> None:
        self.lines.append({"item": item, "monthly": round(baseline, 2),
                           "monthly_at_max": round(at_max if at_max is not None else baseline, 2),
                           "basis": basis})

    def rate(self, key: str) -> float:
        """A price entry's figure (its "usd")."""
        entry = self.prices.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("usd"), (int, float)):
            raise ReportError(f"the price table has no 'usd' figure for {key!r}")
        return entry["usd"]

    def ec2_entry(self, itype: str | None) -> dict | None:
        return self.prices["ec2"].get(itype or "")

    def ec2_hourly(self, itype: str | None) -> float | None:
        entry = self.ec2_entry(itype)
        return entry["hourly"] if entry else None


def _one_shot(m, res) -> bool:
    """An instance that terminates itself on shutdown (a deploy step): minutes, not a month."""
    return res.type == "AWS::EC2::Instance" and str(m.literal(res.stack, res.props.get(
        "InstanceInitiatedShutdownBehavior")) or "").lower() == "terminate"


def _hosts(a: Analysis) -> list:
    """The app's and idle EC2 hosts priced by the month: Auto Scaling groups and instances."""
    return [u for u in a.app_units + a.idle_instances if u.kind in ("asg", "instance")
            and not (u in a.idle_instances and _one_shot(a.model, u.resource))]


def _counts(u) -> tuple[int, int]:
    return ((u.min or 0), (u.max or 0)) if u.kind == "asg" else (1, 1)


def _spot(m, u) -> str | None:
    """Why ``u``'s instances may be Spot capacity (None: on-demand): an instance or its launch
    template asking for the spot market, a launch configuration's SpotPrice, or a group's
    mixed instances policy with less than all of it on-demand."""
    template = m.ref_one(u.resource, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
    asked = [(u.resource, u.resource.props)]
    if template is not None:
        asked.append((template, d(template.props.get("LaunchTemplateData"))))
    for res, data in asked:
        market = m.literal(res.stack, d(data.get("InstanceMarketOptions")).get("MarketType"))
        if str(market or "").lower() == "spot":
            return "it asks for the spot market"
    config = m.ref_one(u.resource, "LaunchConfigurationName", "AWS::AutoScaling::LaunchConfiguration")
    if config is not None and config.props.get("SpotPrice") is not None:
        return "its launch configuration sets a SpotPrice"
    dist = d(d(u.resource.props.get("MixedInstancesPolicy")).get("InstancesDistribution"))
    share = m.literal(u.resource.stack, dist.get("OnDemandPercentageAboveBaseCapacity"))
    if share is not None and str(share).isdigit() and int(share) < 100:
        return f"its mixed instances policy keeps {share}% on-demand above the base"
    return None


def _ec2(a: Analysis, bill: _Bill) -> None:
    """Each Auto Scaling group (at its minimum and at its maximum) and EC2 instance, and their
    gp3 root volumes; an instance that terminates itself on shutdown is noted, not priced."""
    m, hours = a.model, bill.hours
    root_default = bill.usage["root_volume_gb_default"]
    gp3 = bill.rate("ebs_gp3_gb_month")
    for u in [x for x in a.idle_instances if x.kind == "instance" and _one_shot(m, x.resource)]:
        bill.notes.append(f"{u.resource.logical_id}: an instance that terminates itself on shutdown "
                          f"(a one-shot job, e.g. a deploy step): not priced by the month")
    for u in _hosts(a):
        hourly = bill.ec2_hourly(u.instance_type)
        lo, hi = _counts(u)
        if hourly is None:
            bill.notes.append(f"{u.resource.logical_id}: instance type {u.instance_type or 'unknown'}"
                              f" is not in the price table: not priced")
            continue
        spot = _spot(m, u)
        bill.add(f"EC2 {u.resource.logical_id} ({u.instance_type})", lo * hourly * hours,
                 hi * hourly * hours,
                 (f"{lo}..{hi} x ${hourly}/h x {hours} h" if u.kind == "asg" else
                  f"1 x ${hourly}/h x {hours} h")
                 + (f"; Spot capacity ({spot}): priced at on-demand rates, an upper bound (Spot "
                    f"prices vary by hour and AZ)" if spot else ""))
        # the instance's own block devices, else its launch template's, else the default
        template = m.ref_one(u.resource, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
        gb = next((g for g in (_volume_gb(m, r, 0) for r in (u.resource, template) if r is not None) if g),
                  root_default)
        bill.add(f"EBS gp3 root volumes of {u.resource.logical_id}", lo * gb * gp3, hi * gb * gp3,
                 f"{gb} GB each x ${gp3}/GB-month")


def _credit_spec(m, res) -> str | None:
    """The instance's or its launch template's CpuCredits ("standard"/"unlimited"), if set."""
    template = m.ref_one(res, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
    for data in (res.props, (template.props.get("LaunchTemplateData") or {}) if template else {}):
        spec = data.get("CreditSpecification") if isinstance(data, dict) else None
        if isinstance(spec, dict) and spec.get("CpuCredits"):
            return str(m.literal(res.stack, spec["CpuCredits"]) or "").lower() or None
    return None


_ROLE = {"app": "app hosts", "nat": "NAT instances", "db": "databases"}


def average_cpu_percent(usage: dict, hours: float, role: str, vcpu: int, hosts: int = 1,
                        requests_per_s: float | None = None) -> float:
    """The average CPU of one burstable machine at the assumed traffic: what it spends idle (the
    role's assumption) plus its share of the requests at the measured CPU per request (app
    hosts share them; the database serves them all), at most 100%."""
    idle = usage["burstable_idle_cpu_percent"][role]
    if role == "nat":
        return idle
    rps = usage["app_requests_month"] / (hours * 3600) if requests_per_s is None else requests_per_s
    ms = usage["app_cpu_ms_per_request"] if role == "app" else usage["db_cpu_ms_per_request"]
    return min(100.0, idle + rps / max(hosts, 1) * ms / 1000 / vcpu * 100)


def _cpu_credits(a: Analysis, bill: _Bill) -> None:
    """Burstable instances and DB classes (t4g, t3) run in unlimited mode unless set to standard:
    an average CPU above the class's baseline is billed as surplus credits per vCPU-hour. The
    average follows from the assumed traffic (``average_cpu_percent``); app hosts other than
    the app tier's and NAT instances only idle. A Multi-AZ standby runs no queries and earns its
    own credits, so only the primary is counted. Beside each line: the same at a busy
    ``busy_requests_per_s``, where a small class runs out of baseline."""
    m, hours, use = a.model, bill.hours, bill.usage
    busy = use["busy_requests_per_s"]
    ec2_rate, rds_rate = bill.rate("ec2_cpu_credit_vcpu_hour"), bill.rate("rds_cpu_credit_vcpu_hour")
    found = []
    # (role, resource, type, min, max, serves the requests)
    items = [("app", u.resource, u.instance_type, *_counts(u), u in a.app_units) for u in _hosts(a)]
    for c in a.tiers["network egress"].components:
        if c["type"] == "nat-instance":
            res = next((r for r in m.of_type("AWS::EC2::Instance") if r.logical_id == c["logical_id"]), None)
            items.append(("nat", res, c.get("instance_type"), 1, 1, False))

    def surplus(cpu: float, entry: dict) -> float:  # vCPU-hours a month above the baseline, one machine
        return max(0.0, cpu - entry["baseline_cpu_percent"]) / 100 * entry["vcpu"] * hours

    for role, res, itype, lo, hi, serves in items:
        entry = bill.ec2_entry(itype)
        if not entry or "baseline_cpu_percent" not in entry:
            continue
        found.append(role)
        if res is not None and _credit_spec(m, res) == "standard":
            bill.notes.append(f"{res.logical_id} ({itype}): standard credit mode, no surplus credits "
                              f"(it is throttled to its baseline instead)")
            continue
        rps = None if serves else 0.0  # None: the assumed traffic
        cpu = {n: average_cpu_percent(use, hours, role, entry["vcpu"], n, rps) for n in (lo, hi)}
        at_busy = lo * surplus(average_cpu_percent(use, hours, role, entry["vcpu"], lo, busy), entry) * ec2_rate
        shown = " / ".join(f"{cpu[n]:.1f}%" for n in dict.fromkeys((lo, hi)))
        bill.add(f"CPU credits of {res.logical_id if res is not None else itype} ({itype}, unlimited)",
                 lo * surplus(cpu[lo], entry) * ec2_rate, hi * surplus(cpu[hi], entry) * ec2_rate,
                 f"{shown} average CPU each (baseline {entry['baseline_cpu_percent']}%) x {entry['vcpu']} vCPU"
                 f" x {hours} h x ${ec2_rate}/vCPU-h above it"
                 + (f" (at {busy:g} requests/s: ${at_busy:,.2f})" if serves else ""))
    for db in a.databases:
        entry = bill.prices["rds_postgresql"].get(db.instance_class or "")
        if db.cluster or not entry or "baseline_cpu_percent" not in entry:
            continue
        found.append("db")
        cpu = average_cpu_percent(use, hours, "db", entry["vcpu"])
        at_busy = surplus(average_cpu_percent(use, hours, "db", entry["vcpu"], 1, busy), entry) * rds_rate
        bill.add(f"CPU credits of {db.resource.logical_id} ({db.instance_class})",
                 surplus(cpu, entry) * rds_rate, None,
                 f"{cpu:.1f}% average CPU (baseline {entry['baseline_cpu_percent']}%) x {entry['vcpu']} vCPU x "
                 f"{hours} h x ${rds_rate}/vCPU-h above it, the primary only (at {busy:g} requests/s: ${at_busy:,.2f})")
    if found:
        idle = use["burstable_idle_cpu_percent"]
        bill.assumptions.append(
            "burstable classes: unlimited credit mode (the default of t4g/t3 and of RDS); average CPU = "
            "idle (" + ", ".join(f"{_ROLE[r]} {idle[r]}%" for r in dict.fromkeys(found)) + ") + the assumed "
            f"requests at {use['app_cpu_ms_per_request']:g} CPU ms each on an app host (shared by the tier's "
            f"hosts) and {use['db_cpu_ms_per_request']:g} on the database (the scale curve's measured work per "
            "request, README)")


def _nat_instances(a: Analysis, bill: _Bill) -> None:
    """Each NAT instance (its public IPv4 address is in the public IPv4 line)."""
    for c in a.tiers["network egress"].components:
        if c["type"] != "nat-instance":
            continue
        hourly = bill.ec2_hourly(c.get("instance_type"))
        if hourly is None:
            bill.notes.append(f"NAT instance {c['logical_id']}: type not in the price table")
            continue
        bill.add(f"NAT instance {c['logical_id']} ({c['instance_type']})", hourly * bill.hours, None,
                 f"${hourly}/h x {bill.hours} h")


def _nat_gateways(a: Analysis, bill: _Bill) -> None:
    """The NAT gateways, one line for all: their hours and the data they process (their
    Elastic IPs are in the public IPv4 line)."""
    hours = bill.hours
    gateways = [c for c in a.tiers["network egress"].components if c["type"] == "nat-gateway"]
    if gateways:
        n = len(gateways)
        gb = bill.usage["nat_gb_processed_month_per_nat"]
        hourly, per_gb = bill.rate("nat_gateway_hourly"), bill.rate("nat_gateway_gb_processed")
        bill.add(f"{n} NAT gateway(s)", n * (hourly * hours + gb * per_gb), None,
                 f"${hourly}/h x {hours} h + {gb} GB processed x ${per_gb}/GB, each")


def _nat_traffic(a: Analysis, bill: _Bill) -> None:
    """Data out to the internet through the NATs (gateways and instances) at the assumed
    volume; data in from the internet is free, and a NAT instance adds no processing charge."""
    nats = [c for c in a.tiers["network egress"].components
            if c["type"] in ("nat-gateway", "nat-instance")]
    if nats:
        gb, per_gb = bill.usage["nat_gb_out_internet_month_per_nat"], bill.rate("internet_out_gb")
        bill.add(f"data out to the internet through {len(nats)} NAT(s)", len(nats) * gb * per_gb, None,
                 f"{gb} GB a month through each x ${per_gb}/GB (data in is free)")
        bill.assumptions.append(
            f"NAT traffic: {bill.usage['nat_gb_processed_month_per_nat']} GB processed and {gb} GB out "
            f"to the internet a month per NAT (packages, AWS APIs outside the VPC's endpoints)")


def _subnet_public(m, subnet) -> bool:
    return subnet is not None and m.boolean(subnet.stack, subnet.props.get("MapPublicIpOnLaunch")) is True


def _asks_public_ip(m, stack, data) -> bool | None:
    """AssociatePublicIpAddress of the first network interface, if set."""
    nics = data.get("NetworkInterfaces") if isinstance(data, dict) else None
    for nic in nics if isinstance(nics, list) else []:
        if isinstance(nic, dict) and "AssociatePublicIpAddress" in nic:
            return m.boolean(stack, nic["AssociatePublicIpAddress"])
    return None


def _has_public_ip(m, res, subnets: list) -> bool:
    """An instance (or an Auto Scaling group's instances) gets a public IPv4 address: its
    network interface asks for one, or it does not say and its subnets map one on launch."""
    template = m.ref_one(res, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
    for data in (res.props, (template.props.get("LaunchTemplateData") or {}) if template else {}):
        asked = _asks_public_ip(m, res.stack, data)
        if asked is not None:
            return asked
    return bool(subnets) and all(_subnet_public(m, s) for s in subnets)


def _public_ipv4(a: Analysis, bill: _Bill) -> None:
    """Every public IPv4 address, in use or idle: Elastic IPs (a NAT gateway's among them), a
    NAT gateway's own address when no Elastic IP of the templates is its, instances and Auto
    Scaling groups that get one (a public subnet that maps them on launch, or a network
    interface that asks), and internet-facing load balancers (one per subnet or AZ)."""
    m = a.model
    found: list[tuple[str, int, int]] = []
    eips = m.of_type("AWS::EC2::EIP")
    if eips:
        found.append(("Elastic IP(s)", len(eips), len(eips)))
    for nat in m.of_type("AWS::EC2::NatGateway"):
        private = str(m.literal(nat.stack, nat.props.get("ConnectivityType")) or "") == "private"
        if not private and not m.ref_one(nat, "AllocationId", "AWS::EC2::EIP"):
            found.append((f"NAT gateway {nat.logical_id}", 1, 1))
    with_eip = {r.key for e in m.of_type("AWS::EC2::EIP", "AWS::EC2::EIPAssociation")
                for r in m.refs(e.stack, e.props) if r.type == "AWS::EC2::Instance"}
    for inst in m.of_type("AWS::EC2::Instance"):
        if inst.key in with_eip or _one_shot(m, inst):
            continue
        subnets = [r for r in m.refs(inst.stack, [inst.props.get("SubnetId"), inst.props.get("NetworkInterfaces")])
                   if r.type == "AWS::EC2::Subnet"]
        if _has_public_ip(m, inst, subnets):
            found.append((f"instance {inst.logical_id} (auto-assigned)", 1, 1))
    for asg in m.of_type("AWS::AutoScaling::AutoScalingGroup"):
        subnets = [r for r in m.refs(asg.stack, asg.props.get("VPCZoneIdentifier")) if r.type == "AWS::EC2::Subnet"]
        if _has_public_ip(m, asg, subnets):
            unit = next((u for u in a.app_units + a.idle_instances if u.resource == asg), None)
            lo, hi = _counts(unit) if unit else (1, 1)
            found.append((f"of the instances of {asg.logical_id}", lo, hi))
    for lb in m.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancing::LoadBalancer"):
        scheme = str(m.literal(lb.stack, lb.props.get("Scheme")) or "internet-facing")
        kind = str(m.literal(lb.stack, lb.props.get("Type")) or "application")
        if scheme == "internal" or kind == "gateway":
            continue
        places = next((v for v in (lb.props.get(k) for k in ("SubnetMappings", "Subnets", "AvailabilityZones"))
                       if isinstance(v, list) and v), None)
        n = len(places) if places else 2
        found.append((f"of load balancer {lb.logical_id} (one per {'subnet' if places else 'AZ, 2 assumed'})", n, n))
    if found:
        lo, hi = sum(x[1] for x in found), sum(x[2] for x in found)
        per_month = bill.rate("public_ipv4_hourly") * bill.hours
        bill.add(f"{lo} public IPv4 address(es)" + (f" ({hi} at max)" if hi != lo else ""),
                 lo * per_month, hi * per_month,
                 " + ".join((f"{x}..{y} " if x != y else f"{x} ") + name for name, x, y in found)
                 + f"; x ${bill.rate('public_ipv4_hourly')}/h x {bill.hours} h each")


def _interface_endpoints(a: Analysis, bill: _Bill) -> None:
    """Interface VPC endpoints, billed per AZ: the AZs the app runs in."""
    interface = [c for c in a.tiers["network egress"].components
                 if c["type"] == "vpc-endpoint" and c.get("kind") == "Interface"]
    if interface:
        azs = max(1, len({az for u in a.app_units for az in u.azs}))
        hourly = bill.rate("interface_endpoint_hourly_per_az")
        bill.add(f"{len(interface)} interface VPC endpoint(s)",
                 len(interface) * azs * hourly * bill.hours, None, f"${hourly}/h per AZ x {azs} AZ(s)")


def _load_balancers(a: Analysis, bill: _Bill) -> None:
    """Each load balancer: its hours and the assumed LCUs (a network one at NLB rates)."""
    for c in a.tiers["load balancing"].components:
        if c["type"].startswith("classic"):  # by the hour and the GB, at its own rates
            hourly, per_gb = bill.rate("clb_hourly"), bill.rate("clb_gb_processed")
            gb = bill.usage["cloudfront_gb_out_month"]
            bill.add(f"classic load balancer {c['logical_id']}", hourly * bill.hours + gb * per_gb, None,
                     f"${hourly}/h + {gb} GB processed a month (the assumed traffic out) x ${per_gb}/GB")
            continue
        kind = "nlb" if c["type"].startswith("network") else "alb"
        hourly, lcu = bill.rate(f"{kind}_hourly"), bill.rate(f"{kind}_lcu_hourly")
        n_lcu = bill.usage["alb_average_lcu"]
        bill.add(f"load balancer {c['logical_id']}", (hourly + n_lcu * lcu) * bill.hours, None,
                 f"${hourly}/h + {n_lcu} LCU x ${lcu}/h")


def _rds_factor(db) -> int:
    """DB instances billed: a Multi-AZ DB instance's standby doubles it (its storage too)."""
    return db.instances if db.instances > 1 else (2 if db.multi_az else 1)


def _rds(a: Analysis, bill: _Bill) -> None:
    """Each RDS DB instance (times its standbys or cluster instances) and its storage; Aurora
    cluster members are named, not priced."""
    prices, hours = bill.prices, bill.hours
    storage_prices = prices["rds_storage_gb_month"]
    for db in a.databases:
        if db.cluster:
            bill.notes.append(f"{db.resource.logical_id}: Aurora cluster members are not priced")
            continue
        entry = prices["rds_postgresql"].get(db.instance_class or "")
        if not entry:
            bill.notes.append(f"{db.resource.logical_id}: DB class {db.instance_class} is not in the "
                              f"price table: not priced")
            continue
        factor = _rds_factor(db)
        layout = ("Multi-AZ DB cluster, 3 instances" if db.instances == 3 else
                  "Multi-AZ" if db.multi_az else "Single-AZ")
        if (db.engine or "postgres") not in ("postgres", "aurora-postgresql"):
            bill.notes.append(f"{db.resource.logical_id}: priced at the PostgreSQL rate of its class; "
                              f"{db.engine} rates differ")
        bill.add(f"RDS {db.resource.logical_id} ({db.instance_class}, {layout})",
                 factor * entry["hourly"] * hours, None,
                 f"{factor} x ${entry['hourly']}/h x {hours} h")
        gb = db.storage_gb or 20
        per_gb = storage_prices.get(db.storage_type or "gp2", storage_prices["gp2"])
        bill.add(f"RDS storage of {db.resource.logical_id} ({db.storage_type or 'gp2'})",
                 factor * gb * per_gb, None, f"{factor} x {gb} GB x ${per_gb}/GB-month")


def _rds_backups(a: Analysis, bill: _Bill) -> None:
    """Automated backups of each RDS DB instance: a full copy of the data in use plus each
    retained day's changes, free up to the DB's provisioned storage, the rest per GB-month."""
    m, usage = a.model, bill.usage
    used_share, change = usage["db_storage_used_share"], usage["db_daily_change_share"]
    per_gb = bill.rate("rds_backup_gb_month")
    priced = False
    for db in a.databases:
        if db.cluster or db.instance_class not in bill.prices["rds_postgresql"]:
            continue
        days = m.number(db.resource.stack, db.resource.props.get("BackupRetentionPeriod"))
        days = 1 if days is None else days
        if days == 0:
            continue
        gb = db.storage_gb or 20
        used = gb * used_share
        backup = used + used * change * days
        billed = max(0.0, backup - gb)
        priced = True
        bill.add(f"RDS backups of {db.resource.logical_id} ({days} days)", billed * per_gb, None,
                 f"{used:g} GB in use + {days} days x {change:g} x {used:g} GB changed = {backup:,.1f} GB, "
                 f"less {gb} GB free = {billed:,.1f} GB x ${per_gb}/GB-month")
    if priced:
        bill.assumptions.append(f"RDS backups: data in use {used_share:g} of the provisioned storage, "
                                f"{change:g} of it changed a day")


def _cross_az(a: Analysis, bill: _Bill) -> None:
    """Traffic between the app and its database across AZs, both ways, at the assumed bytes
    per request: the share of the app's requests served in an AZ other than the DB's (the
    app's AZs weighed alike; the DB in one of them unless its AZ is set)."""
    m = a.model
    app_azs = sorted({az for u in a.app_units for az in u.azs})
    dbs = [db for db in a.databases if not db.cluster]
    if not app_azs or not dbs:
        return
    requests, per_request = bill.usage["app_requests_month"], bill.usage["db_bytes_per_request"]
    gb = requests * per_request / 1e9
    per_gb = bill.rate("cross_az_gb_each_way")
    for db in dbs:
        az = m.literal(db.resource.stack, db.resource.props.get("AvailabilityZone"))
        other = len([x for x in app_azs if x != az]) if isinstance(az, str) else len(app_azs) - 1
        share = other / len(app_azs)
        where = f"in {az}" if isinstance(az, str) else "assumed in one of the app's AZs (its AZ is not set)"
        if share == 0:
            bill.assumptions.append(f"traffic between AZs: the app runs in {', '.join(app_azs)} and "
                                    f"{db.resource.logical_id} is {where}: none counted")
            continue
        bill.add(f"traffic between AZs: app <-> {db.resource.logical_id}", gb * share * 2 * per_gb, None,
                 f"{requests:,} requests x {per_request} bytes = {gb:,.1f} GB x {other}/{len(app_azs)} "
                 f"across AZs x 2 (out of one, into the other) x ${per_gb}/GB")
        bill.assumptions.append(f"traffic between AZs: {per_request} bytes between the app and the DB per "
                                f"request; {db.resource.logical_id} {where}; a Multi-AZ standby's "
                                f"replication and a load balancer's traffic to its targets are free")


def _s3(a: Analysis, bill: _Bill) -> None:
    """The buckets, one line for all: the assumed data stored and requests."""
    usage = bill.usage
    buckets = [c for c in a.tiers["storage"].components if c["type"] == "s3-bucket"]
    if buckets:
        gb = usage["s3_gb_stored"]
        requests = (usage["s3_put_requests_month"] / 1000 * bill.rate("s3_put_per_1000")
                    + usage["s3_get_requests_month"] / 1000 * bill.rate("s3_get_per_1000"))
        bill.add(f"S3 ({len(buckets)} bucket(s))", gb * bill.rate("s3_standard_gb_month") + requests,
                 None, f"{gb} GB in all x ${bill.rate('s3_standard_gb_month')}/GB-month + "
                 f"{usage['s3_put_requests_month']} PUT + {usage['s3_get_requests_month']} GET")


def _cloudfront(a: Analysis, bill: _Bill) -> None:
    """The distributions, one line for all: the assumed data out and requests, less the
    always-free allowance if the price table has one (a note says what it is worth)."""
    prices, usage = bill.prices, bill.usage
    dists = [c for c in a.tiers["edge"].components if c["type"] == "cloudfront-distribution"]
    if dists:
        gb, req = usage["cloudfront_gb_out_month"], usage["cloudfront_requests_month"]
        per_gb, per_10k = bill.rate("cloudfront_gb_out"), bill.rate("cloudfront_https_per_10000")
        free = prices.get("cloudfront_always_free")
        free_gb = free["gb_out_month"] if free else 0
        free_req = free["requests_month"] if free else 0
        paid_gb, paid_req = max(0, gb - free_gb), max(0, req - free_req)
        bill.add(f"CloudFront ({len(dists)} distribution(s))",
                 paid_gb * per_gb + paid_req / 10000 * per_10k, None,
                 f"{gb} GB out and {req} HTTPS requests"
                 + (f", less the always-free {free_gb} GB and {free_req} requests a month: "
                    f"{paid_gb} GB x ${per_gb}/GB + {paid_req} requests x ${per_10k}/10k" if free else
                    f" x ${per_gb}/GB and ${per_10k}/10k (free tier left out: the price table has none)"))
        if free:
            bill.notes.append(
                f"CloudFront: {free['terms']}; if other distributions of the account "
                f"already use it, add {gb} GB x ${per_gb}/GB + {req} requests x ${per_10k}/10k = $"
                f"{gb * per_gb + req / 10000 * per_10k:,.2f}")


def _access_gb(a: Analysis, bill: _Bill) -> tuple[float, float] | None:
    """GB a month of the game service's access lines, and the share its hosts keep."""
    # a worker tier serves no requests: it writes no access lines
    services = [u.game_service for u in a.app_units if u.game_service and not u.worker]
    if not services:
        return None
    rate = max(float(s.get("AccessLogSampleRate", 1.0)) for s in services)
    return bill.usage["app_requests_month"] * rate * bill.usage["access_line_bytes"] / 1e9, rate


def _access_lines(a: Analysis, bill: _Bill) -> None:
    """The game service's own access lines, shipped to CloudWatch Logs by its hosts: as many
    as the app's requests, times the share its hosts keep (GameService metadata)."""
    access = _access_gb(a, bill)
    if access:
        gb, rate = access
        per_gb, hours = bill.rate("cloudwatch_logs_ingest_gb"), bill.hours
        requests, line = bill.usage["app_requests_month"], bill.usage["access_line_bytes"]
        per_second = requests / (hours * 3600)
        bill.add("CloudWatch Logs: the hosts' access lines", gb * per_gb, None,
                 f"{requests:,} app requests a month (~{per_second:,.1f}/s) x {rate:g} kept x {line} bytes = "
                 f"{gb:,.2f} GB x ${per_gb}/GB ingested "
                 f"(at 500 requests/s: ${500 * hours * 3600 * rate * line / 1e9 * per_gb:,.2f})")


def _retention(m, group) -> int | None:
    days = m.number(group.stack, group.props.get("RetentionInDays")) if group is not None else None
    return days


def _app_log_group(a: Analysis):
    """The log group the app's hosts ship to: the one their instance or launch template names."""
    m = a.model
    for u in a.app_units:
        template = m.ref_one(u.resource, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
        for res in (u.resource, template):
            if res is not None:
                group = next((r for r in m.refs(res.stack, res.props) if r.type == "AWS::Logs::LogGroup"), None)
                if group is not None:
                    return group
    return None


def _logs(a: Analysis, bill: _Bill) -> None:
    """CloudWatch Logs beside the access lines: VPC flow logs (by the traffic they record) and
    RDS log exports at their assumed volumes, ingested; then the storage of everything
    ingested at its log group's retention (steady state: a month's GB x retention / month)."""
    m, usage = a.model, bill.usage
    ingest = bill.rate("cloudwatch_logs_ingest_gb")
    stored: list[tuple[str, float, int | None]] = []  # (what, GB a month, retention days)
    access = _access_gb(a, bill)
    if access:
        stored.append(("access lines", access[0], _retention(m, _app_log_group(a))))
    for flow in m.of_type("AWS::EC2::FlowLog"):
        dest = str(m.literal(flow.stack, flow.props.get("LogDestinationType")) or "cloud-watch-logs")
        traffic = str(m.literal(flow.stack, flow.props.get("TrafficType")) or "ALL")
        if dest != "cloud-watch-logs":
            bill.notes.append(f"flow log {flow.logical_id}: delivered to {dest}, not priced")
            continue
        gb = usage["flow_log_gb_month_per_log"].get(traffic, usage["flow_log_gb_month_per_log"]["ALL"])
        bill.add(f"CloudWatch Logs: flow log {flow.logical_id} ({traffic})", gb * ingest, None,
                 f"{gb} GB a month assumed x ${ingest}/GB ingested")
        group = m.ref_one(flow, "LogGroupName", "AWS::Logs::LogGroup")
        stored.append((f"flow log {flow.logical_id}", gb, _retention(m, group)))
    groups = {str(m.literal(g.stack, g.props.get("LogGroupName"))): g for g in m.of_type("AWS::Logs::LogGroup")}
    for db in a.databases:
        exports = m.literal(db.resource.stack, db.resource.props.get("EnableCloudwatchLogsExports")) or []
        if not isinstance(exports, list) or not exports:
            continue
        name = m.literal(db.resource.stack, db.resource.props.get("DBInstanceIdentifier"))
        per = usage["rds_log_export_gb_month"]
        gb = sum(per.get(str(x), per["default"]) for x in exports)
        bill.add(f"CloudWatch Logs: RDS log exports of {db.resource.logical_id}", gb * ingest, None,
                 " + ".join(f"{per.get(str(x), per['default'])} GB ({x})" for x in exports)
                 + f" a month assumed x ${ingest}/GB ingested")
        retention = [_retention(m, groups.get(f"/aws/rds/instance/{name}/{x}")) for x in exports]
        stored.append((f"RDS log exports of {db.resource.logical_id}", gb,
                       max((r for r in retention if r), default=None)))
    if stored:
        never = usage["log_retention_days_when_never_expires"]
        per_gb, days_a_month = bill.rate("cloudwatch_logs_storage_gb_month"), bill.hours / 24
        total = sum(gb * (days or never) / days_a_month for _, gb, days in stored)
        bill.add("CloudWatch Logs storage", total * per_gb, None,
                 "; ".join(f"{what}: {gb:g} GB x {days or never} days" + ("" if days else " (never expires: assumed)")
                           for what, gb, days in stored)
                 + f"; / {days_a_month:g} days = {total:,.2f} GB stored x ${per_gb}/GB-month")
        bill.assumptions.append(
            "CloudWatch Logs: flow logs " + ", ".join(f"{k} {v} GB" for k, v in usage["flow_log_gb_month_per_log"].items())
            + " a month; RDS log exports " + ", ".join(f"{k} {v} GB" for k, v in usage["rds_log_export_gb_month"].items())
            + " a month each; stored uncompressed (CloudWatch bills compressed bytes: an upper bound)")


def _custom_namespaces(m) -> list[str]:
    """Namespaces other than AWS/... that the stage's alarms read: metrics it publishes."""
    found = []
    for alarm in m.of_type("AWS::CloudWatch::Alarm"):
        metrics = alarm.props.get("Metrics")
        values = [alarm.props.get("Namespace")] + [
            ((x.get("MetricStat") or {}).get("Metric") or {}).get("Namespace")
            for x in (metrics if isinstance(metrics, list) else []) if isinstance(x, dict)]
        for v in values:
            ns = m.literal(alarm.stack, v)
            if isinstance(ns, str) and not ns.startswith("AWS/") and ns not in found:
                found.append(ns)
    return found


def _custom_metrics(a: Analysis, bill: _Bill) -> None:
    """Custom metrics the hosts publish, when the stage's alarms read a custom namespace: the
    assumed count per host, per Auto Scaling group and per stage (the CloudWatch agent's
    configuration and the hosts' own reports are on the hosts, not in the templates), per
    metric-month; and the hosts' PutMetricData requests."""
    namespaces = _custom_namespaces(a.model)
    hosts = [u for u in a.app_units if u.kind in ("asg", "instance")]
    if not namespaces or not hosts:
        return
    use = bill.usage
    per_host, per_group, per_stage = (use["custom_metrics_per_host"], use["custom_metrics_per_group"],
                                      use["custom_metrics_per_stage"])
    groups = sum(1 for u in hosts if u.kind == "asg")
    lo, hi = (sum(_counts(u)[i] for u in hosts) for i in (0, 1))
    metrics_lo, metrics_hi = (n * per_host + groups * per_group + per_stage for n in (lo, hi))
    rate = bill.rate("cloudwatch_custom_metric_month")
    bill.add(f"CloudWatch custom metrics ({', '.join(namespaces)})", metrics_lo * rate, metrics_hi * rate,
             f"{lo}..{hi} host(s) x {per_host} + {groups} group(s) x {per_group} + {per_stage} = "
             f"{metrics_lo}..{metrics_hi} metrics x ${rate}/metric-month")
    requests, per_1000 = use["metric_requests_month_per_host"], bill.rate("cloudwatch_put_metric_data_per_1000")
    bill.add("CloudWatch PutMetricData requests", lo * requests / 1000 * per_1000, hi * requests / 1000 * per_1000,
             f"{lo}..{hi} host(s) x {requests:,} requests a month x ${per_1000}/1,000")
    bill.assumptions.append(
        f"custom metrics: {per_host} per app host and {per_group} per Auto Scaling group (the hosts' "
        f"CloudWatch agent: memory and disk, by instance and by group), {per_stage} per stage (the "
        f"hosts' readiness), {requests:,} PutMetricData requests a month per host; the alarms read "
        f"{', '.join(namespaces)}")


# Resources billed a flat monthly fee each: (type, its key in the price table, its label).
_MONTHLY_FEES = [("AWS::CloudWatch::Alarm", "cloudwatch_alarm_month", "CloudWatch alarm"),
                 ("AWS::CloudWatch::Dashboard", "cloudwatch_dashboard_month", "CloudWatch dashboard"),
                 ("AWS::SecretsManager::Secret", "secrets_manager_secret_month", "Secrets Manager secret"),
                 ("AWS::KMS::Key", "kms_key_month", "KMS key")]


def _monthly_fees(a: Analysis, bill: _Bill) -> None:
    """CloudWatch alarms and dashboards, Secrets Manager secrets, KMS keys: one line per type."""
    for rtype, key, label in _MONTHLY_FEES:
        n = len(a.model.of_type(rtype))
        if n:
            bill.add(f"{n} {label}(s)", n * bill.rate(key), None, f"${bill.rate(key)}/month each")


def _kms_requests(a: Analysis, bill: _Bill) -> None:
    """Requests to the stage's KMS keys (encrypted storage, logs, secrets) at the assumed count."""
    keys = len(a.model.of_type("AWS::KMS::Key"))
    if keys:
        n, rate = bill.usage["kms_requests_month_per_key"], bill.rate("kms_requests_per_10000")
        bill.add(f"KMS requests ({keys} key(s))", keys * n / 10000 * rate, None,
                 f"{n:,} requests a month per key assumed x ${rate}/10k")


# In the order of the report's lines.
_PRICERS = (_ec2, _cpu_credits, _nat_instances, _nat_gateways, _nat_traffic, _public_ipv4,
            _interface_endpoints, _load_balancers, _rds, _rds_backups, _cross_az, _s3, _cloudfront,
            _access_lines, _logs, _custom_metrics, _monthly_fees, _kms_requests)


def _note_unpriced(a: Analysis, bill: _Bill) -> None:
    """Name every resource no line prices (and no support type), so that $0 never means
    "nothing here": the unanalysed ones, then the rest by type."""
    unseen = {x["logical_id"] for x in a.unanalysed}
    if a.unanalysed:
        bill.notes.append("not analysed, so not priced: " + ", ".join(
            f"{x['resource']} ({x['type']})" for x in a.unanalysed))
    unpriced: dict[str, list[str]] = {}
    for res in a.model.resources:
        if res.type in PRICED_ELSEWHERE or classify(res.type) == "support" or \
                res.logical_id in unseen or any(
                f" {res.logical_id} (" in x["item"] for x in bill.lines):
            continue
        unpriced.setdefault(res.type, []).append(res.logical_id)
    if unpriced:
        bill.notes.append("not priced (no rates in the price table): " + "; ".join(
            f"{rtype} {', '.join(ids)}" for rtype, ids in sorted(unpriced.items())))


def _note_region(a: Analysis, bill: _Bill) -> None:
    region = bill.prices["region"]
    if a.region and a.region != region:
        bill.notes.append(f"the templates deploy to {a.region}, but the price table is "
                          f"{region}'s: prices in {a.region} differ; pass --prices with a "
                          f"table for {a.region} for its own figures")


def _assumptions(bill: _Bill) -> list[str]:
    prices = bill.prices
    return [
        f"prices: {prices['region']} on-demand, as of {prices['as_of']} ({PRICE_FILE.name}, each "
        f"price with its source and date); {bill.hours} hours a month",
        f"app instances: {bill.usage['app_instances']}",
        f"app traffic: {bill.usage['app_requests_month']:,} requests a month",
        *bill.assumptions,
        "not counted: data out to the internet other than through NAT, the hosts' bootstrap "
        "lines and Lambda functions' logs, RDS Enhanced Monitoring's logs, metrics other than the "
        "hosts' custom metrics, Secrets Manager API requests and CloudWatch API requests other than "
        "the hosts' PutMetricData, manual and final "
        "snapshots, the free tiers of KMS requests and data out, Route 53, taxes",
    ]


def estimate(a: Analysis, prices: dict) -> dict:
    """The stage's monthly cost: a line per thing priced (at the baseline and at the Auto
    Scaling groups' maximum), the notes on what is not priced, and the assumptions."""
    bill = _Bill(prices)
    for price in _PRICERS:
        price(a, bill)
    _note_unpriced(a, bill)
    _note_region(a, bill)
    return {"currency": prices["currency"], "as_of": prices["as_of"], "region": prices["region"],
            "deploys_to": a.region,
            "lines": bill.lines, "total": round(sum(x["monthly"] for x in bill.lines), 2),
            "total_at_max": round(sum(x["monthly_at_max"] for x in bill.lines), 2),
            "assumptions": _assumptions(bill), "not_priced": bill.notes}
