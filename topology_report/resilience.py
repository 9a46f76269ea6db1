"""What happens when it fails: per disruption (one instance lost, one AZ lost, the database's
primary lost, a bad release, the region lost), the recovery time (RTO) and the data lost
(RPO), estimated offline from the templates' facts and the assumed figures of ASSUMPTIONS,
each printed with its source. A figure the templates and the table cannot give is
"unknown" with the reason; a recovery that nothing automates is "unbounded" with the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .analyze import Analysis, AppUnit, Database
from .findings import d
from .loader import ReportError
from .model import Model, Resource
from .network import _recovery_alarm

# (id, what a reviewer calls it)
DISRUPTIONS = (
    ("instance", "one instance lost"),
    ("az", "one AZ lost"),
    ("db", "the database's primary lost"),
    ("release", "a bad release"),
    ("region", "the region lost"),
)

# The assumed figures (seconds), each with its source. The templates' own facts (health
# check intervals and thresholds, instance warmup, grace period, alarm periods, Multi-AZ,
# backup retention, update policies) are read from them and printed as such.
ASSUMPTIONS: dict[str, dict] = {
    "lb-health-check-defaults": {
        "figure": "30 s interval, 2 failed checks (when the target group does not set them)",
        "low": 60, "high": 60,
        "source": "Elastic Load Balancing, Health checks for Application Load Balancer target "
                  "groups (HealthCheckIntervalSeconds and UnhealthyThresholdCount defaults)"},
    "ec2-status-detect": {
        "figure": "60-120 s to notice a failed instance by EC2 status checks",
        "low": 60, "high": 120,
        "source": "Amazon EC2, Status checks for your instances (run every minute); "
                  "Auto Scaling health checks act on an impaired status"},
    "instance-boot": {
        "figure": "60-300 s from launch until the app answers (when the group gives no "
                  "instance warmup or health check grace period)",
        "low": 60, "high": 300,
        "source": "an assumption: the AMI and the user data decide; measure your own"},
    "ecs-task-start": {
        "figure": "30-120 s to start a replacement task",
        "low": 30, "high": 120,
        "source": "an assumption: the image size and the task's start-up decide"},
    "lb-az-dns": {
        "figure": "60 s for clients to stop using a failed AZ's load balancer node",
        "low": 0, "high": 60,
        "source": "Elastic Load Balancing: the load balancer's DNS name has a 60 s TTL and "
                  "Route 53 stops answering with an unhealthy node"},
    "rds-multi-az-failover": {
        "figure": "60-120 s failover to the synchronous standby, no data lost",
        "low": 60, "high": 120,
        "source": "Amazon RDS User Guide, Multi-AZ DB instance deployments (failovers "
                  "typically complete within 60-120 seconds)"},
    "rds-multi-az-cluster-failover": {
        "figure": "up to 35 s failover to a reader, no data lost",
        "low": 0, "high": 35,
        "source": "Amazon RDS User Guide, Multi-AZ DB cluster deployments (failover "
                  "typically under 35 seconds)"},
    "aurora-failover": {
        "figure": "30-60 s failover to an Aurora replica; up to 10 min to recreate a lone "
                  "instance (the storage keeps 6 copies in 3 AZs: no data lost)",
        "low": 30, "high": 60,
        "source": "Amazon Aurora User Guide, High availability for Amazon Aurora"},
    "rds-restore": {
        "figure": "15-60 min to restore a database to a point in time (a new instance from "
                  "the snapshot, then the logs replayed)",
        "low": 900, "high": 3600,
        "source": "an assumption for a database of up to ~100 GB: AWS publishes no figure; "
                  "it grows with the size and the logs to replay: time a restore of yours"},
    "rds-log-upload": {
        "figure": "up to 5 min of writes lost by a point-in-time restore",
        "low": 0, "high": 300,
        "source": "Amazon RDS User Guide, Restoring a DB instance to a specified time (RDS "
                  "uploads transaction logs to S3 every 5 minutes)"},
    "release-detect": {
        "figure": "5 min to notice a release that passes its health checks but misbehaves",
        "low": 300, "high": 300,
        "source": "an assumption: an alarm of five one-minute periods on errors; a release "
                  "that fails its health checks is caught by the deploy itself"},
    "stateless-app": {
        "figure": "app instances and tasks hold no data of record (RPO 0 when one is lost)",
        "low": 0, "high": 0,
        "source": "an assumption the templates cannot show (our game service keeps its state "
                  "in PostgreSQL and S3)"},
    "release-on-instance": {
        "figure": "a release reaches a lone EC2 instance by replacing it, so a rollback is a "
                  "new instance's boot",
        "low": 0, "high": 0,
        "source": "an assumption: how a release reaches a plain instance is not in the "
                  "template (CDK replaces an instance whose user data changes)"},
    "lambda-redeploy": {
        "figure": "up to 60 s to deploy a function's previous version",
        "low": 0, "high": 60,
        "source": "an assumption: a function update is live in seconds"},
    "app-runner-replace": {
        "figure": "30-120 s for App Runner to start an instance in place of a lost one",
        "low": 30, "high": 120,
        "source": "an assumption: App Runner publishes no figure; the image size and the "
                  "app's start-up decide, as for a container task"},
    "app-runner-deploy": {
        "figure": "3-10 min for App Runner to deploy the previous image",
        "low": 180, "high": 600,
        "source": "an assumption: App Runner publishes no figure; a deployment starts new "
                  "instances and moves traffic once they pass their health checks"},
}


@dataclass
class Span:
    """A duration in seconds: low..high, or unknown (with why), or unbounded (with why)."""
    low: float = 0.0
    high: float = 0.0
    unknown: str | None = None
    unbounded: str | None = None
    label: str = "unbounded"  # the unbounded case in a few words (a table cell)

    @property
    def worst(self) -> float:
        """For comparisons: unbounded is worse than anything; unknown is not comparable."""
        return math.inf if self.unbounded else self.high

    def __add__(self, other: "Span") -> "Span":
        if self.unbounded or other.unbounded:  # unbounded whatever the other part is
            return self if self.unbounded else other
        if self.unknown or other.unknown:
            return Span(unknown=self.unknown or other.unknown)
        return Span(self.low + other.low, self.high + other.high)

    def times(self, n: int) -> "Span":
        return self if self.unknown or self.unbounded else Span(self.low * n, self.high * n)

    def text(self, short: bool = False) -> str:
        if self.unknown:
            return "unknown" if short else f"unknown ({self.unknown})"
        if self.unbounded:
            return self.label if short else f"{self.label} ({self.unbounded})"
        return duration_range(self.low, self.high)

    def to_dict(self) -> dict:
        return {"low_s": None if self.unknown or self.unbounded else self.low,
                "high_s": None if self.unknown or self.unbounded else self.high,
                "text": self.text(), "short": self.text(short=True), "unknown": self.unknown,
                "unbounded": self.unbounded}


def duration(seconds: float) -> str:
    if seconds == 0:
        return "0"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def duration_range(low: float, high: float) -> str:
    if low == high:
        return duration(high)
    if low == 0:
        return f"up to {duration(high)}"
    if high < 120:
        return f"{low:.0f}-{high:.0f} s"
    if high < 7200:
        return f"{low / 60:.3g}-{high / 60:.3g} min"
    return f"{low / 3600:.3g}-{high / 3600:.3g} h"


def _assumed(key: str) -> Span:
    a = ASSUMPTIONS[key]
    return Span(a["low"], a["high"])


ZERO = Span()


@dataclass
class Item:
    """How one resource fares in one disruption."""
    component: str
    rto: Span
    rpo: Span
    why: str
    assumptions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"component": self.component, "rto": self.rto.to_dict(),
                "rpo": self.rpo.to_dict(), "why": self.why, "assumptions": self.assumptions}


def _worst(spans: list[Span]) -> Span:
    """The worst of several: unbounded beats all; an unknown makes the worst unknown unless
    something is unbounded (the unknown one might be worse than every known one)."""
    if not spans:
        return ZERO
    unbounded = [s for s in spans if s.unbounded]
    if unbounded:
        return unbounded[0]
    unknown = [s for s in spans if s.unknown]
    if unknown:
        return unknown[0]
    return max(spans, key=lambda s: (s.high, s.low))


# --- facts read from the templates -----------------------------------------------------------


class _Facts:
    def __init__(self, a: Analysis):
        self.a = a
        self.model: Model = a.model

    def _target_groups(self, unit: AppUnit) -> list[Resource]:
        model, res = self.model, unit.resource
        if unit.kind == "asg":
            return [r for r in model.refs(res.stack, res.props.get("TargetGroupARNs"))
                    if r.type == "AWS::ElasticLoadBalancingV2::TargetGroup"] + \
                   [r for r in model.refs(res.stack, res.props.get("LoadBalancerNames"))
                    if r.type == "AWS::ElasticLoadBalancing::LoadBalancer"]
        if unit.kind == "ecs-service":
            return [r for r in model.refs(res.stack, res.props.get("LoadBalancers"))
                    if r.type in ("AWS::ElasticLoadBalancingV2::TargetGroup",
                                  "AWS::ElasticLoadBalancing::LoadBalancer")]
        if unit.kind == "instance":
            return model.referrers(res, "AWS::ElasticLoadBalancingV2::TargetGroup",
                                   "AWS::ElasticLoadBalancing::LoadBalancer")
        return []

    def lb_detect(self, unit: AppUnit) -> tuple[Span, str, list[str]] | None:
        """How long until the load balancer stops sending to a failed target."""
        groups = self._target_groups(unit)
        if not groups:
            return None
        worst, text, used = None, "", []
        for tg in groups:
            model = self.model
            if tg.type == "AWS::ElasticLoadBalancing::LoadBalancer":
                hc = d(tg.props.get("HealthCheck"))
                iv_raw, th_raw = hc.get("Interval"), hc.get("UnhealthyThreshold")
            else:
                iv_raw = tg.props.get("HealthCheckIntervalSeconds")
                th_raw = tg.props.get("UnhealthyThresholdCount")
            interval = 30 if iv_raw is None else model.number(tg.stack, iv_raw)
            threshold = 2 if th_raw is None else model.number(tg.stack, th_raw)
            if interval is None or threshold is None:
                why = model.why_unknown(tg.stack, iv_raw if interval is None else th_raw)
                return (Span(unknown=f"{tg.logical_id}'s health check: {why}"),
                        f"{tg.logical_id}'s health check is not fixed", [])
            span = Span(interval * threshold, interval * threshold)
            if worst is None or span.high > worst.high:
                worst = span
                text = (f"{tg.logical_id} stops sending to it after {threshold} failed "
                        f"checks {interval} s apart")
                used = ["lb-health-check-defaults"] if iv_raw is None or th_raw is None else []
        return worst, text, used

    def boot(self, unit: AppUnit) -> tuple[Span, str, list[str]]:
        """Launch until the app answers."""
        model, res = self.model, unit.resource
        if unit.kind == "ecs-service":
            return _assumed("ecs-task-start"), "a new task starts", ["ecs-task-start"]
        if unit.kind == "asg":
            warm_raw, grace_raw = res.props.get("DefaultInstanceWarmup"), \
                res.props.get("HealthCheckGracePeriod")
            warm = model.number(res.stack, warm_raw) if warm_raw is not None else None
            grace = model.number(res.stack, grace_raw) if grace_raw is not None else None
            if warm and grace:
                low, high = min(warm, grace), max(warm, grace)
                return (Span(low, high), f"a replacement boots in {duration_range(low, high)}"
                        f" (between the group's instance warmup, {warm} s, and its health "
                        f"check grace period, {grace} s)", [])
            if warm or grace:
                v = warm or grace
                return (Span(v, v), f"a replacement boots in {duration(v)} (the group's "
                        + ("instance warmup" if warm else "health check grace period") + ")",
                        [])
        return (_assumed("instance-boot"), "a replacement boots in "
                + _assumed("instance-boot").text(), ["instance-boot"])

    def replace(self, unit: AppUnit) -> tuple[Span, str, list[str]]:
        """Notice a failed instance or task and bring up a new one."""
        boot, boot_text, used = self.boot(unit)
        lb = self.lb_detect(unit)
        health = str(self.model.literal(unit.resource.stack,
                                        unit.resource.props.get("HealthCheckType")) or "EC2")
        if unit.kind == "ecs-service" and lb:
            detect, detect_text, u2 = lb
        elif unit.kind == "asg" and "ELB" in health and lb:
            detect, detect_text, u2 = lb
        elif unit.kind == "ecs-service":
            detect, detect_text, u2 = ZERO, "ECS notices a stopped task", []
        else:
            detect, detect_text, u2 = (_assumed("ec2-status-detect"),
                                       "EC2 status checks notice it", ["ec2-status-detect"])
        return detect + boot, f"{detect_text}; {boot_text}", used + u2

    def instance_recovery(self, res: Resource) -> tuple[Span, str, list[str]]:
        """A lone EC2 instance (app or NAT) whose host fails."""
        model = self.model
        alarm = _recovery_alarm(model, res)
        if alarm is None:
            template = model.ref_one(res, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
            options = d(d(template.props.get("LaunchTemplateData")).get("MaintenanceOptions")) \
                if template else {}
            if str(model.literal(res.stack, options.get("AutoRecovery"))).lower() == "disabled":
                return (Span(unbounded="no recovery alarm or group replaces it, and EC2's "
                                       "automatic recovery is disabled",
                             label="until replaced by hand"), "nothing replaces it", [])
            why = ("no recovery alarm or group replaces it; EC2's simplified automatic "
                   "recovery (on by default for the instance types that support it) may "
                   "recover it after a host failure, but the templates do not say whether "
                   "this type supports it, and nothing replaces it after any other failure")
            return Span(unknown=why), "no recovery alarm or group replaces it", []
        periods = model.number(alarm.stack, alarm.props.get("EvaluationPeriods")) or 1
        period = model.number(alarm.stack, alarm.props.get("Period")) or 60
        detect = Span(periods * period, periods * period)
        return (detect + _assumed("instance-boot"),
                f"alarm {alarm.logical_id} recovers it after {periods} x {period} s of failed "
                f"system checks, then it boots in {_assumed('instance-boot').text()}",
                ["instance-boot"])


# --- per disruption -----------------------------------------------------------------------------


def _nat_instances(a: Analysis) -> list[Resource]:
    ids = {c["logical_id"] for c in a.tiers["network egress"].components
           if c["type"] == "nat-instance"}
    return [r for r in a.model.resources if r.logical_id in ids and r.type ==
            "AWS::EC2::Instance"]


def _peers(a: Analysis, unit: AppUnit) -> list[str]:
    for c in a.tiers["compute"].components:
        if c["type"] == "ec2-instance" and c["logical_id"] == unit.resource.logical_id:
            return c.get("load_balanced_with") or []
    return []


def _stateless() -> Span:
    return ZERO


def _worker_item(a: Analysis, unit: AppUnit, name: str, others: str) -> Item:
    """A replicated worker tier that loses instances: the others keep receiving from the
    queue; the jobs the lost ones held come back after the queue's visibility timeout."""
    timeouts = [q["visibility_timeout_s"] for q in a.divided for c in q["consumers"]
                if c["logical_id"] == unit.resource.logical_id]
    queues = ", ".join(q["queue"] for q in a.divided for c in q["consumers"]
                       if c["logical_id"] == unit.resource.logical_id)
    span = (Span(unknown=f"the visibility timeout of {queues} is not fixed")
            if None in timeouts else Span(0, max(timeouts, default=0)))
    return Item(name, span, ZERO, f"a worker tier: {others} keep receiving from {queues}; the "
                f"jobs the lost ones held are received again after the visibility timeout"
                + (f" ({span.text()})" if not span.unknown else ""),
                ["stateless-app"])


def _app_runner_item(unit: AppUnit, name: str, where: str) -> Item:
    """An App Runner service's instance lost (alone or with its AZ): the others it keeps
    provisioned serve (App Runner spreads them over AZs) while it starts a new one."""
    if unit.min is None:
        return Item(name, Span(unknown="its provisioned instances (MinSize) are not fixed by "
                                       "the templates"), ZERO, "provisioned instances unknown")
    if unit.min >= 2:
        return Item(name, ZERO, ZERO, f"App Runner keeps {unit.min} instances provisioned over "
                    f"AZs: the others serve while it replaces the one {where}",
                    ["stateless-app"])
    return Item(name, _assumed("app-runner-replace"), ZERO,
                f"the only provisioned instance ({where}): App Runner starts another",
                ["app-runner-replace", "stateless-app"])


def _instance_lost(f: _Facts) -> list[Item]:
    a, model = f.a, f.model
    items = []
    for unit in a.app_units:
        name = model.display(unit.resource)
        if unit.kind == "lambda":
            items.append(Item(name, ZERO, ZERO, "a Lambda function runs on AWS's managed "
                              "fleet: a lost host is replaced by AWS per request"))
            continue
        if unit.kind == "app-runner":
            items.append(_app_runner_item(unit, name, "lost"))
            continue
        if unit.kind == "instance":
            peers = _peers(a, unit)
            lb = f.lb_detect(unit)
            if peers and lb:
                span, text, used = lb
                items.append(Item(name, span, ZERO, f"{text}; its load-balanced peers "
                                  f"({', '.join(peers)}) serve", used + ["stateless-app"]))
            else:
                span, text, used = f.instance_recovery(unit.resource)
                items.append(Item(name, span, ZERO, f"a lone instance: {text}",
                                  used + ["stateless-app"]))
            continue
        floor = unit.min
        when = ""
        if floor is not None and unit.scheduled_min is not None and unit.scheduled_min < floor:
            floor, when = unit.scheduled_min, f"at the times of {unit.scheduled_by}: "
        if floor is None:
            items.append(Item(name, Span(unknown="its minimum size is not fixed"), ZERO,
                              "the group's minimum is not fixed by the templates"))
            continue
        lb = f.lb_detect(unit)
        if floor >= 2 and unit.worker:
            items.append(_worker_item(a, unit, name, f"{when}the other workers"))
        elif floor >= 2 and lb:
            span, text, used = lb
            _, boot_text, u2 = f.boot(unit)
            others = "the other instance serves" if floor == 2 else \
                f"the other {floor - 1} serve"
            items.append(Item(name, span, ZERO, f"{when}{text}; {others} meanwhile "
                              f"({boot_text})", used + u2 + ["stateless-app"]))
        else:
            span, text, used = f.replace(unit)
            thing = "instance" if unit.kind == "asg" else "task"
            lone = ("no instance runs (minimum 0)" if floor == 0 else
                    f"the only {thing}" if floor == 1 else
                    f"no load balancer moves traffic off a failed {thing}")
            items.append(Item(name, span, ZERO, f"{when}{lone}: {text}",
                              used + ["stateless-app"]))
    for nat in _nat_instances(a):
        span, text, used = f.instance_recovery(nat)
        items.append(Item("NAT instance " + model.display(nat) + ", egress only", span, ZERO,
                          f"the private subnets lose internet egress: {text}", used))
    return items


def _az_lost(f: _Facts) -> list[Item]:
    a, model = f.a, f.model
    items = []
    until_az = "it cannot move to another AZ by itself"
    for unit in a.app_units:
        name = model.display(unit.resource)
        sp = unit.spread
        if sp is not None and sp.one and unit.kind != "instance":
            items.append(Item(name, Span(unbounded=until_az, label="until the AZ returns"),
                              ZERO, "confined to one AZ", ["stateless-app"]))
            continue
        if unit.kind == "lambda":
            items.append(Item(name, ZERO, ZERO, "runs in the other AZs" if sp and sp.multi
                              else "a managed function", []))
            continue
        if unit.kind == "app-runner":
            items.append(_app_runner_item(unit, name, "in the lost AZ"))
            continue
        if unit.kind == "instance":
            peers = _peers(a, unit)
            lb = f.lb_detect(unit)
            if peers and unit.replicated and lb:
                span, text, used = lb
                items.append(Item(name, span, ZERO, f"{text}; its peers in the other AZs "
                                  f"serve", used + ["stateless-app"]))
            elif unit.replicated is None:
                items.append(Item(name, Span(unknown="its AZs are not fixed by the templates"),
                                  ZERO, "AZs unknown", ["stateless-app"]))
            else:
                items.append(Item(name, Span(unbounded=until_az,
                                             label="until the AZ returns"), ZERO,
                                  "an instance (and its recovery) is bound to its AZ",
                                  ["stateless-app"]))
            continue
        if sp is None or not sp.known or unit.min is None:
            items.append(Item(name, Span(unknown=(sp.reason if sp and not sp.known else None)
                                         or "its AZs or minimum are not fixed"), ZERO,
                              "AZs or size unknown", ["stateless-app"]))
            continue
        lb = f.lb_detect(unit)
        night = unit.scheduled_min is not None and unit.scheduled_min < 2
        if unit.replicated and unit.worker and not night:
            items.append(_worker_item(a, unit, name, "the workers in the other AZs"))
        elif unit.replicated and lb and not night:
            span, text, used = lb
            _, boot_text, u2 = f.boot(unit)
            items.append(Item(name, span, ZERO, f"{text}; the instances in the other AZs "
                              f"serve while the group replaces the lost ones there "
                              f"({boot_text})", used + u2 + ["stateless-app"]))
        else:
            span, text, used = f.replace(unit)
            when = f"at the times of {unit.scheduled_by}: " if night else ""
            items.append(Item(name, span, ZERO, f"{when}the group launches in another AZ: "
                              f"{text}", used + ["stateless-app"]))
    one_az_lbs = {s.logical_id for s in a.open_spofs if s.rule == "lb-one-az"}
    unknown_lbs = {u.logical_id: u.reason for u in a.unknowns if u.tier == "load balancing"}
    for lb in a.tiers["load balancing"].components:
        lid = lb["logical_id"]
        if lid in one_az_lbs:
            items.append(Item(lid, Span(unbounded="the load balancer is in one AZ",
                                        label="until the AZ returns"), ZERO,
                              "a load balancer in one AZ"))
        elif lid in unknown_lbs:
            items.append(Item(lid, Span(unknown=f"its AZs: {unknown_lbs[lid]}"), ZERO,
                              "AZs unknown"))
        else:
            items.append(Item(lid, _assumed("lb-az-dns"), ZERO,
                              "a load balancer node in every AZ: clients drop the failed "
                              "AZ's node", ["lb-az-dns"]))
    for db in _primaries(a):
        items.append(_db_item(f, db, az=True))
    items += _clusters(a)
    for c in a.tiers["network egress"].components:
        if c["type"] == "nat-gateway" and len(c.get("serves_azs") or []) > 1:
            items.append(Item("NAT gateway " + c["logical_id"] + ", egress only",
                              Span(unbounded="the other AZs' private subnets have no egress "
                                             "until routes change", label="until the AZ returns"),
                              ZERO,
                              "one NAT gateway serves private subnets in several AZs"))
    for nat in _nat_instances(a):
        items.append(Item("NAT instance " + model.display(nat) + ", egress only",
                          Span(unbounded=until_az, label="until the AZ returns"), ZERO,
                          "a NAT instance (and its recovery) is bound to its AZ"))
    handled = {"lone-instance", "asg-min-one", "asg-one-az", "lb-one-az", "db-single-az",
               "db-cluster-one-instance", "db-subnet-group-one-az", "nat-gateway-shared",
               "nat-instance",
               "targets-one-az", "ecs-desired-one", "ecs-one-az", "lambda-one-az",
               "app-runner-min-one",
               "worker-lone"}  # a worker's recovery is its unit's, as for the rule it renames
    for s in a.open_spofs:
        if s.rule not in handled:
            items.append(Item(s.resource, Span(unknown=f"single point of failure ({s.rule}) "
                                                       f"with no recovery figures in the table"),
                              Span(unknown="no recovery figures for this type"), s.reason))
    return items


def _primaries(a: Analysis) -> list[Database]:
    return [db for db in a.databases if not db.replica_of and not db.cluster]


def _retention(model: Model, res: Resource) -> int | None:
    raw = res.props.get("BackupRetentionPeriod")
    return 1 if raw is None else model.number(res.stack, raw)


def _db_item(f: _Facts, db: Database, az: bool) -> Item:
    model, res = f.model, db.resource
    name = model.display(res)
    if res.type in ("AWS::RDS::DBCluster", "AWS::DocDB::DBCluster") and db.instances == 3 \
            and res.props.get("DBClusterInstanceClass") is not None:
        return Item(name, _assumed("rds-multi-az-cluster-failover"), ZERO,
                    "a Multi-AZ DB cluster fails over to a reader in another AZ",
                    ["rds-multi-az-cluster-failover"])
    broken = [s for s in f.a.spofs if s.rule == "db-subnet-group-one-az" and
              s.logical_id == res.logical_id and s.stack == res.stack.name]
    if broken:
        why = "a deploy would fail: its DB subnet group is in one AZ"
        return Item(name, Span(unknown=why), Span(unknown=why), broken[0].reason)
    raw = res.props.get("MultiAZ")
    if res.type == "AWS::RDS::DBInstance" and raw is not None and \
            model.boolean(res.stack, raw) is None:
        why = f"Multi-AZ: {model.why_unknown(res.stack, raw)}"
        return Item(name, Span(unknown=why), Span(unknown=why), "Multi-AZ is not fixed")
    if db.multi_az:
        return Item(name, _assumed("rds-multi-az-failover"), ZERO,
                    "Multi-AZ: fails over to the synchronous standby in another AZ",
                    ["rds-multi-az-failover"])
    days = _retention(model, res)
    restore = _assumed("rds-restore")
    if days is None:
        rpo = Span(unknown="backup retention: " + model.why_unknown(
            res.stack, res.props.get("BackupRetentionPeriod")))
    elif days == 0:
        rpo = Span(unbounded="automated backups are off (BackupRetentionPeriod 0)",
                   label="all since the last manual snapshot")
    else:
        rpo = _assumed("rds-log-upload")
    return Item(name, restore, rpo,
                f"Single-AZ: no standby; a point-in-time restore "
                f"{'into another AZ ' if az else ''}from automated backups kept "
                f"{'?' if days is None else days} day(s)"
                + (" (CloudFormation's default)" if "BackupRetentionPeriod" not in res.props
                   else ""),
                ["rds-restore"] + (["rds-log-upload"] if days else []))


def _clusters(a: Analysis) -> list[Item]:
    """Aurora and DocumentDB clusters (Multi-AZ DB clusters are in a.databases)."""
    items = []
    for c in a.tiers["data"].components:
        if c["type"] != "db-cluster" or c.get("multi_az_db_cluster"):
            continue
        span = _assumed("aurora-failover") if c["instances"] >= 2 else Span(0, 600)
        items.append(Item(c["logical_id"], span, ZERO,
                          "fails over to a replica" if c["instances"] >= 2 else
                          "one instance: the cluster creates a new one (its storage keeps "
                          "copies in 3 AZs)", ["aurora-failover"]))
    return items


def _db_lost(f: _Facts) -> list[Item]:
    return [_db_item(f, db, az=False) for db in _primaries(f.a)] + _clusters(f.a)


def _release(f: _Facts) -> list[Item]:
    a, model = f.a, f.model
    items = []
    detect = _assumed("release-detect")
    rpo = Span(unknown="depends on what the bad release wrote: nothing if it wrote no bad "
                       "data; a point-in-time restore to before it loses what was written "
                       "since")
    for unit in a.app_units:
        name = model.display(unit.resource)
        res = unit.resource
        if unit.kind == "lambda":
            items.append(Item(name, detect + _assumed("lambda-redeploy"), rpo,
                              "a deploy of the previous version",
                              ["release-detect", "lambda-redeploy"]))
            continue
        if unit.kind == "app-runner":
            items.append(Item(name, detect + _assumed("app-runner-deploy"), rpo,
                              "a deployment of the previous image",
                              ["release-detect", "app-runner-deploy"]))
            continue
        if unit.kind == "instance":
            boot, text, used = f.boot(unit)
            items.append(Item(name, detect + boot, rpo,
                              f"a rollback launches the previous release on a new instance: "
                              f"{text}", ["release-detect", "release-on-instance"] + used))
            continue
        if unit.kind == "ecs-service":
            boot, text, used = f.boot(unit)
            items.append(Item(name, detect + boot, rpo,
                              f"a rollback deploys the previous task definition: {text}",
                              ["release-detect"] + used))
            continue
        update = d(res.raw.get("UpdatePolicy"))
        refresh = d(update.get("AutoScalingInstanceRefresh"))
        rolling = d(update.get("AutoScalingRollingUpdate"))
        floor = unit.min or 1
        kind = next((c.get("update_policy") for c in a.tiers["compute"].components
                     if c["logical_id"] == res.logical_id and
                     c["type"] == "auto-scaling-group"), None)
        gated = ""
        if refresh:
            prefs = d(refresh.get("Preferences"))
            max_h = model.number(res.stack, prefs.get("MaxHealthyPercentage")) or 100
            min_h = model.number(res.stack, prefs.get("MinHealthyPercentage"))
            min_h = 90 if min_h is None else min_h
            batch = max(1, math.ceil(floor * (max_h - 100) / 100) if max_h > 100 else
                        floor - math.ceil(floor * min_h / 100))
            how = (f"an instance refresh ({batch} at a time: healthy between {min_h}% and "
                   f"{max_h}%) that waits for healthy instances")
            if min_h >= 100:
                gated = ("a release that fails its health checks never takes traffic (the "
                         "refresh keeps every old instance until a new one is healthy); one "
                         "that passes them ")
        elif kind == "instance refresh":
            batch, how = 1, ("an instance refresh whose preferences are not in the "
                             "UpdatePolicy (one at a time taken)")
        elif rolling:
            batch = model.number(res.stack, rolling.get("MaxBatchSize")) or 1
            how = f"a rolling update ({batch} at a time)"
        elif "AutoScalingReplacingUpdate" in update:
            batch, how = floor, "a replacing update (a whole new group)"
        else:
            items.append(Item(name, Span(unbounded="no update policy: a new launch template "
                                                   "does not reach running instances",
                                         label="until replaced by hand"), rpo,
                              "no update policy"))
            continue
        batches = math.ceil(floor / batch)
        boot, text, used = f.boot(unit)
        items.append(Item(name, detect + boot.times(batches), rpo,
                          (gated or "a bad release ") + f"is rolled back by {how}: "
                          f"{batches} round(s) of {text.removeprefix('a replacement boots in ')}",
                          ["release-detect"] + used))
    return items


def _region(f: _Facts) -> list[Item]:
    a, model = f.a, f.model
    copies = []
    for r in model.resources:
        p = r.props
        if r.type == "AWS::S3::Bucket" and "ReplicationConfiguration" in p:
            copies.append(f"S3 replication of {r.logical_id}")
        elif r.type == "AWS::RDS::DBInstance" and p.get("SourceRegion"):
            copies.append(f"cross-region replica {r.logical_id}")
        elif r.type in ("AWS::RDS::GlobalCluster", "AWS::DynamoDB::GlobalTable"):
            copies.append(f"{r.type.split('::')[-1]} {r.logical_id}")
        elif r.type == "AWS::Backup::BackupPlan" and "CopyActions" in repr(p):
            copies.append(f"backup copies of plan {r.logical_id}")
    stateful = a.tiers["data"].present or a.tiers["storage"].present
    if copies:
        why = "copies outside the region: " + ", ".join(copies)
        return [Item("the stage", Span(unknown=f"{why}; the report has no recovery figures "
                                               f"for a failover between regions"),
                     Span(unknown=why + "; their lag is not in the templates"), why)]
    return [Item("the stage", Span(unbounded="nothing runs in another region",
                                   label="a rebuild in another region"),
                 Span(unbounded="no copy outside the region: backups and snapshots stay in it",
                      label="all data") if stateful else ZERO,
                 "no replica, global table, cross-region backup copy or bucket replication "
                 "in the templates")]


def recovery(a: Analysis) -> dict:
    f = _Facts(a)
    builders = {"instance": _instance_lost, "az": _az_lost, "db": _db_lost,
                "release": _release, "region": _region}
    rows, used = [], []
    for key, label in DISRUPTIONS:
        items = builders[key](f)
        if not items:
            rows.append({"disruption": key, "label": label, "applies": False,
                         "rto": ZERO.to_dict(), "rpo": ZERO.to_dict(),
                         "why": "nothing of this kind in the templates", "items": []})
            continue
        rto, rpo = _worst([i.rto for i in items]), _worst([i.rpo for i in items])
        rto_item = next(i for i in items if i.rto is rto)
        rpo_item = next(i for i in items if i.rpo is rpo)
        for i in items:
            used.extend(k for k in i.assumptions if k not in used)
        rows.append({"disruption": key, "label": label, "applies": True,
                     "rto": rto.to_dict(), "rpo": rpo.to_dict(),
                     "rto_from": rto_item.component, "rpo_from": rpo_item.component,
                     "why": f"{rto_item.component}: {rto_item.why}",
                     "items": [i.to_dict() for i in items]})
    return {"disruptions": rows,
            "assumptions": [{"key": k, "figure": ASSUMPTIONS[k]["figure"],
                             "source": ASSUMPTIONS[k]["source"]} for k in used]}


# --- policy: limits on the estimates, and the check ---------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)")
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
POLICY_KEYS = tuple(f"{m}.{k}" for k, _ in DISRUPTIONS for m in ("rto", "rpo"))


def parse_duration(text: str, where: str) -> float:
    t = text.strip().lower()
    if t in ("0", "0s"):
        return 0.0
    m = _DURATION.fullmatch(t)
    if not m:
        raise ReportError(f"{where}: expected a duration such as 0, 30s, 5m, 2h or 1d, "
                          f"got {text.strip()!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_policy(specs: list[str], files: list[str]) -> dict[str, float]:
    """`rto.az=5m,rpo.az=0` (from --policy, or one or more to a line in a --policy-file, where
    `#` starts a comment) -> {"rto.az": 300.0, "rpo.az": 0.0}."""
    entries: list[tuple[str, str]] = []
    for spec in specs:
        entries += [("--policy", x) for x in spec.split(",") if x.strip()]
    for path in files:
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except OSError as exc:
            raise ReportError(f"--policy-file {path}: {exc.strerror or exc}") from None
        for n, line in enumerate(lines, 1):
            line = line.split("#", 1)[0]
            entries += [(f"{path}:{n}", x) for x in line.split(",") if x.strip()]
    policy: dict[str, float] = {}
    for where, entry in entries:
        key, sep, value = entry.partition("=")
        key = key.strip().lower()
        if not sep or key not in POLICY_KEYS:
            raise ReportError(f"{where}: expected KEY=DURATION with KEY one of "
                              f"{', '.join(POLICY_KEYS)}, got {entry.strip()!r}")
        policy[key] = parse_duration(value, f"{where}: {key}")
    return policy


def check_policy(rec: dict, policy: dict[str, float]) -> list[dict]:
    """Each limit against the stage's estimate: ok, breaks (the estimate's worst case is
    above the limit) or unknown (the estimate is unknown: it cannot be shown within)."""
    rows = {row["disruption"]: row for row in rec["disruptions"]}
    out = []
    for key in POLICY_KEYS:
        if key not in policy:
            continue
        measure, disruption = key.split(".")
        row, limit = rows[disruption], policy[key]
        est = row[measure]
        worst = math.inf if est["unbounded"] else est["high_s"]
        if not row["applies"]:
            status, worst = "ok", 0.0
        elif est["unknown"]:
            status = "unknown"
        else:
            status = "ok" if worst <= limit else "breaks"
        label = "RTO" if measure == "rto" else "RPO"
        verb = {"ok": "within", "breaks": "BREAKS", "unknown": "CANNOT BE CHECKED against"}
        out.append({"key": key, "disruption": row["label"], "measure": label,
                    "limit_s": limit, "estimate": est["text"], "worst_s": worst,
                    "status": status,
                    "text": f"{row['label']}: {label} {est['text']} {verb[status]} the "
                            f"limit {duration(limit)} ({key})"
                            + (f": from {row.get(measure + '_from')}" if status != "ok" and
                               row.get(measure + "_from") else "")})
    return out
