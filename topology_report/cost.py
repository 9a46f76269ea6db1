"""Monthly cost estimate of a stage from the dated price table (prices.json): one pricer per
service (EC2, NAT, VPC endpoints, load balancers, RDS, S3, CloudFront, the access lines'
CloudWatch Logs ingestion, flat monthly fees), each adding its lines and notes to the bill in
turn; then a note naming whatever no pricer priced."""

from __future__ import annotations

import json
from pathlib import Path

from .analyze import Analysis
from .catalog import classify
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


def load_prices(path: str | None = None) -> dict:
    file = Path(path) if path else PRICE_FILE
    try:
        prices = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{file}: cannot read the price table: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{file}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    for key in ("as_of", "region", "hours_per_month", "ec2", "rds_postgresql", "usage"):
        if key not in prices:
            raise ReportError(f"{file}: the price table has no {key!r}")
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
    """The estimate's lines and notes, in the order the pricers add them (the report's order)."""

    def __init__(self, prices: dict):
        self.prices = prices
        self.hours = prices["hours_per_month"]
        self.usage = prices["usage"]
        self.lines: list[dict] = []
        self.notes: list[str] = []

    def add(self, item: str, baseline: float, at_max: float | None = None, basis: str = "") -> None:
        self.lines.append({"item": item, "monthly": round(baseline, 2),
                           "monthly_at_max": round(at_max if at_max is not None else baseline, 2),
                           "basis": basis})

    def ec2_hourly(self, itype: str | None) -> float | None:
        entry = self.prices["ec2"].get(itype or "")
        return entry["hourly"] if entry else None


def _ec2(a: Analysis, bill: _Bill) -> None:
    """Each Auto Scaling group (at its minimum and at its maximum) and EC2 instance, and their
    gp3 root volumes; an instance that terminates itself on shutdown is noted, not priced."""
    m, prices, hours = a.model, bill.prices, bill.hours
    root_default = bill.usage["root_volume_gb_default"]
    for u in [x for x in a.app_units + a.idle_instances if x.kind in ("asg", "instance")]:
        if u.kind == "instance" and str(m.literal(u.resource.stack, u.resource.props.get(
                "InstanceInitiatedShutdownBehavior")) or "").lower() == "terminate" and u in a.idle_instances:
            # it terminates itself when its job is done (a deploy step): minutes, not a month
            bill.notes.append(f"{u.resource.logical_id}: an instance that terminates itself on shutdown "
                              f"(a one-shot job, e.g. a deploy step): not priced by the month")
            continue
        hourly = bill.ec2_hourly(u.instance_type)
        lo = u.min if u.kind == "asg" else 1
        hi = u.max if u.kind == "asg" else 1
        if hourly is None:
            bill.notes.append(f"{u.resource.logical_id}: instance type {u.instance_type or 'unknown'}"
                              f" is not in the price table: not priced")
            continue
        bill.add(f"EC2 {u.resource.logical_id} ({u.instance_type})", (lo or 0) * hourly * hours,
                 (hi or 0) * hourly * hours,
                 f"{lo}..{hi} x ${hourly}/h x {hours} h" if u.kind == "asg" else
                 f"1 x ${hourly}/h x {hours} h")
        template = m.ref_one(u.resource, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
        gb = _volume_gb(m, template or u.resource, root_default)
        bill.add(f"EBS gp3 root volumes of {u.resource.logical_id}",
                 (lo or 0) * gb * prices["ebs_gp3_gb_month"], (hi or 0) * gb * prices["ebs_gp3_gb_month"],
                 f"{gb} GB each x ${prices['ebs_gp3_gb_month']}/GB-month")


def _nat_instances(a: Analysis, bill: _Bill) -> None:
    """Each NAT instance and its public IPv4 address."""
    prices, hours = bill.prices, bill.hours
    for c in a.tiers["network egress"].components:
        if c["type"] != "nat-instance":
            continue
        hourly = bill.ec2_hourly(c.get("instance_type"))
        if hourly is None:
            bill.notes.append(f"NAT instance {c['logical_id']}: type not in the price table")
            continue
        bill.add(f"NAT instance {c['logical_id']} ({c['instance_type']})", hourly * hours, None,
                 f"${hourly}/h x {hours} h")
        ip = prices["public_ipv4_hourly"] * hours
        bill.add(f"public IPv4 address of {c['logical_id']}", ip, None,
                 f"${prices['public_ipv4_hourly']}/h")


def _nat_gateways(a: Analysis, bill: _Bill) -> None:
    """The NAT gateways, one line for all: the hours, the data they process, their Elastic IPs."""
    prices, hours = bill.prices, bill.hours
    gateways = [c for c in a.tiers["network egress"].components if c["type"] == "nat-gateway"]
    if gateways:
        n = len(gateways)
        gb = bill.usage["nat_gb_processed_month_per_nat"]
        bill.add(f"{n} NAT gateway(s)", n * (prices["nat_gateway_hourly"] * hours
                                             + gb * prices["nat_gateway_gb_processed"]
                                             + prices["public_ipv4_hourly"] * hours), None,
                 f"${prices['nat_gateway_hourly']}/h + {gb} GB x ${prices['nat_gateway_gb_processed']}"
                 f"/GB + an Elastic IP at ${prices['public_ipv4_hourly']}/h, each")


def _interface_endpoints(a: Analysis, bill: _Bill) -> None:
    """Interface VPC endpoints, billed per AZ: the AZs the app runs in."""
    prices = bill.prices
    interface = [c for c in a.tiers["network egress"].components
                 if c["type"] == "vpc-endpoint" and c.get("kind") == "Interface"]
    if interface:
        azs = max(1, len({az for u in a.app_units for az in u.azs}))
        bill.add(f"{len(interface)} interface VPC endpoint(s)",
                 len(interface) * azs * prices["interface_endpoint_hourly_per_az"] * bill.hours, None,
                 f"${prices['interface_endpoint_hourly_per_az']}/h per AZ x {azs} AZ(s)")


def _load_balancers(a: Analysis, bill: _Bill) -> None:
    """Each load balancer: its hours and the assumed LCUs (a network one at NLB rates)."""
    prices = bill.prices
    for c in a.tiers["load balancing"].components:
        kind = "nlb" if c["type"].startswith("network") else "alb"
        hourly, lcu = prices[f"{kind}_hourly"], prices[f"{kind}_lcu_hourly"]
        n_lcu = bill.usage["alb_average_lcu"]
        bill.add(f"load balancer {c['logical_id']}", (hourly + n_lcu * lcu) * bill.hours, None,
                 f"${hourly}/h + {n_lcu} LCU x ${lcu}/h")


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
        factor = db.instances if db.instances > 1 else (2 if db.multi_az else 1)
        unverified = prices["rds_postgresql"].get("_unverified") or {}
        if any((db.instance_class or "").startswith(c) for c in unverified.get("classes", [])):
            bill.notes.append(f"{db.resource.logical_id} ({db.instance_class}): {unverified['note']}")
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


def _s3(a: Analysis, bill: _Bill) -> None:
    """The buckets, one line for all: the assumed data stored and requests."""
    prices, usage = bill.prices, bill.usage
    buckets = [c for c in a.tiers["storage"].components if c["type"] == "s3-bucket"]
    if buckets:
        gb = usage["s3_gb_stored"]
        requests = (usage["s3_put_requests_month"] / 1000 * prices["s3_put_per_1000"]
                    + usage["s3_get_requests_month"] / 1000 * prices["s3_get_per_1000"])
        bill.add(f"S3 ({len(buckets)} bucket(s))", gb * prices["s3_standard_gb_month"] + requests,
                 None, f"{gb} GB in all x ${prices['s3_standard_gb_month']}/GB-month + "
                 f"{usage['s3_put_requests_month']} PUT + {usage['s3_get_requests_month']} GET")


def _cloudfront(a: Analysis, bill: _Bill) -> None:
    """The distributions, one line for all: the assumed data out and requests, less the
    always-free allowance if the price table has one (a note says what it is worth)."""
    prices, usage = bill.prices, bill.usage
    dists = [c for c in a.tiers["edge"].components if c["type"] == "cloudfront-distribution"]
    if dists:
        gb, req = usage["cloudfront_gb_out_month"], usage["cloudfront_requests_month"]
        free = prices.get("cloudfront_always_free")
        free_gb = free["gb_out_month"] if free else 0
        free_req = free["requests_month"] if free else 0
        paid_gb, paid_req = max(0, gb - free_gb), max(0, req - free_req)
        bill.add(f"CloudFront ({len(dists)} distribution(s))",
                 paid_gb * prices["cloudfront_gb_out"]
                 + paid_req / 10000 * prices["cloudfront_https_per_10000"], None,
                 f"{gb} GB out and {req} HTTPS requests"
                 + (f", less the always-free {free_gb} GB and {free_req} requests a month: "
                    f"{paid_gb} GB x ${prices['cloudfront_gb_out']}/GB + {paid_req} requests x "
                    f"${prices['cloudfront_https_per_10000']}/10k" if free else
                    f" x ${prices['cloudfront_gb_out']}/GB and ${prices['cloudfront_https_per_10000']}"
                    f"/10k (free tier left out: the price table has none)"))
        if free:
            bill.notes.append(
                f"CloudFront: {free['source']}; if other distributions of the account "
                f"already use it, add {gb} GB x ${prices['cloudfront_gb_out']}/GB + "
                f"{req} requests x ${prices['cloudfront_https_per_10000']}/10k = $"
                f"{gb * prices['cloudfront_gb_out'] + req / 10000 * prices['cloudfront_https_per_10000']:,.2f}")


def _access_lines(a: Analysis, bill: _Bill) -> None:
    """The game service's own access lines, shipped to CloudWatch Logs by its hosts: as many
    as the app's requests, times the share its hosts keep (GameService metadata)."""
    prices, hours = bill.prices, bill.hours
    services = [u.game_service for u in a.app_units if u.game_service]
    if services and "cloudwatch_logs_ingest_gb" in prices:
        rate = max(float(s.get("AccessLogSampleRate", 1.0)) for s in services)
        requests, line = bill.usage["app_requests_month"], bill.usage["access_line_bytes"]
        gb = requests * rate * line / 1e9
        per_second = requests / (hours * 3600)
        bill.add("CloudWatch Logs: the hosts' access lines", gb * prices["cloudwatch_logs_ingest_gb"], None,
                 f"{requests:,} app requests a month (~{per_second:,.1f}/s) x {rate:g} kept x {line} bytes = "
                 f"{gb:,.2f} GB x ${prices['cloudwatch_logs_ingest_gb']}/GB ingested "
                 f"(at 500 requests/s: "
                 f"${500 * hours * 3600 * rate * line / 1e9 * prices['cloudwatch_logs_ingest_gb']:,.2f})")


# Resources billed a flat monthly fee each: (type, its key in the price table, its label).
_MONTHLY_FEES = [("AWS::CloudWatch::Alarm", "cloudwatch_alarm_month", "CloudWatch alarm"),
                 ("AWS::CloudWatch::Dashboard", "cloudwatch_dashboard_month", "CloudWatch dashboard"),
                 ("AWS::SecretsManager::Secret", "secrets_manager_secret_month", "Secrets Manager secret"),
                 ("AWS::KMS::Key", "kms_key_month", "KMS key")]


def _monthly_fees(a: Analysis, bill: _Bill) -> None:
    """CloudWatch alarms and dashboards, Secrets Manager secrets, KMS keys: one line per type."""
    prices = bill.prices
    for rtype, key, label in _MONTHLY_FEES:
        n = len(a.model.of_type(rtype))
        if n:
            bill.add(f"{n} {label}(s)", n * prices[key], None, f"${prices[key]}/month each")


# In the order of the report's lines.
_PRICERS = (_ec2, _nat_instances, _nat_gateways, _interface_endpoints, _load_balancers, _rds, _s3,
            _cloudfront, _access_lines, _monthly_fees)


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
        f"prices: {prices['region']} on-demand, as of {prices['as_of']} ({PRICE_FILE.name}); "
        f"{bill.hours} hours a month",
        f"app instances: {bill.usage['app_instances']}",
        "not counted: data transfer between AZs and to the internet from EC2, backups beyond "
        "the free allowance, CloudWatch Logs other than the game service's access lines, "
        "CloudWatch metrics, VPC flow logs, Route 53, taxes",
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
