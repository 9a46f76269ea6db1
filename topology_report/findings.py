"""What the analysis finds: tiers, single points of failure, unknowns, app units, and the
context the analysis modules share while they read a stage."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Model, Resource
from .placement import Spread
from .rules import BY_ID

TIERS = ("edge", "load balancing", "compute", "data", "storage", "network egress")

# Metadata a template can carry to name a single point of failure it accepts on purpose:
#   "Metadata": {"TopologyReport": {"AcceptedSinglePointOfFailure": "why"}}
ACCEPT_METADATA_KEY = "TopologyReport"
ACCEPT_METADATA_FIELD = "AcceptedSinglePointOfFailure"


@dataclass
class Spof:
    rule: str
    tier: str
    logical_id: str
    stack: str
    resource: str  # how the report names it
    reason: str
    accepted: str | None = None  # the reason it is accepted, when it is

    @property
    def fix(self) -> str:
        return BY_ID[self.rule].fix

    def to_dict(self) -> dict:
        return {"rule": self.rule, "tier": self.tier, "logical_id": self.logical_id,
                "stack": self.stack, "resource": self.resource, "reason": self.reason,
                "fix": self.fix, "accepted": self.accepted}


@dataclass
class Unknown:
    """A fact the templates do not fix, which would decide a single point of failure."""
    tier: str
    logical_id: str | None
    stack: str
    resource: str
    what: str
    reason: str

    def to_dict(self) -> dict:
        return {"tier": self.tier, "logical_id": self.logical_id, "stack": self.stack,
                "resource": self.resource, "what": self.what, "reason": self.reason}


@dataclass
class Tier:
    name: str
    present: bool = False
    lines: list[str] = field(default_factory=list)
    components: list[dict] = field(default_factory=list)
    spofs: list[Spof] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "present": self.present, "summary": self.lines,
                "components": self.components, "spofs": [s.to_dict() for s in self.spofs]}


@dataclass
class AppUnit:
    """What runs the app's own work: an Auto Scaling group, an instance that serves
    traffic, an ECS service, a Lambda function, or an App Runner service."""
    kind: str  # "asg", "instance", "ecs-service", "lambda" or "app-runner"
    resource: Resource
    min: int | None
    max: int | None
    desired: int | None
    instance_type: str | None
    azs: list[str]
    game_service: dict
    replicated: bool | None = False  # >= 2 running copies in >= 2 AZs (None: unknown)
    heals: bool = False
    scales: bool = False
    server: bool = True  # runs on servers the stage owns (needs a load balancer in front)
    spread: Spread | None = None
    # the lowest minimum a scheduled action sets, and that action (an Auto Scaling group's)
    scheduled_min: int | None = None
    scheduled_by: str | None = None
    worker: bool = False  # works a queue and serves no requests (queues.py): a worker tier


@dataclass
class Database:
    resource: Resource
    engine: str | None
    instance_class: str | None
    multi_az: bool
    max_connections_param: str | None
    storage_gb: int | None
    storage_type: str | None
    replica_of: str | None
    cluster: str | None
    instances: int = 1  # DB instances priced (a Multi-AZ DB cluster has 3)


def _accepted(res: Resource, accept: dict[str, str]) -> str | None:
    meta = res.metadata.get(ACCEPT_METADATA_KEY)
    if isinstance(meta, dict) and meta.get(ACCEPT_METADATA_FIELD):
        return str(meta[ACCEPT_METADATA_FIELD])
    for key in (res.logical_id, res.key):
        if key in accept:
            return accept[key] or "accepted on the command line"
    return None


class Ctx:
    """The analysis of one stage while it is being built."""

    def __init__(self, model: Model, accept: dict[str, str] | None = None):
        self.model = model
        self.accept = accept or {}
        self.tiers = {name: Tier(name) for name in TIERS}
        self.unknowns: list[Unknown] = []
        self.app_units: list[AppUnit] = []
        self.idle_instances: list[AppUnit] = []  # priced, but serve no traffic
        self.databases: list[Database] = []
        self.nat_instances: set[Resource] = set()
        self.consumers: list = []  # queues.Consumer: compute that consumes an SQS queue
        self.divided: list[dict] = []  # per consumed queue: who it divides from whom
        self.findings: list[Spof] = []  # findings of rules that are not single points of failure

    def finding(self, tier: str, res: Resource, rule: str, reason: str) -> None:
        """A finding of a rule that is not a single point of failure (rules.py says which):
        reported with its fix, but it does not change the verdict or fail the diff."""
        if rule not in BY_ID or BY_ID[rule].tier != tier or BY_ID[rule].spof:
            raise ValueError(f"rule {rule!r} ({tier}) is not a finding rule of "
                             f"topology_report/rules.py")
        self.findings.append(Spof(rule, tier, res.logical_id, res.stack.name,
                                  self.model.display(res), reason, _accepted(res, self.accept)))

    def spof(self, tier: str, res: Resource, rule: str, reason: str) -> None:
        if rule not in BY_ID or BY_ID[rule].tier != tier or not BY_ID[rule].spof:
            raise ValueError(f"rule {rule!r} ({tier}) is not in topology_report/rules.py")
        cond = self.model.conditional.get(res.key)
        if cond:  # the resource may not exist: an unknown, not a single point of failure
            self.unknown(tier, res, f"single point of failure ({rule})",
                         f"{reason}; but it exists only if condition {cond} holds, which "
                         f"depends on a value the templates do not fix")
            return
        self.tiers[tier].spofs.append(Spof(rule, tier, res.logical_id, res.stack.name,
                                           self.model.display(res), reason,
                                           _accepted(res, self.accept)))

    def confined(self, tier: str, res: Resource, spread: Spread, rule: str, reason: str,
                 what: str = "AZs") -> None:
        """A single point of failure ``rule`` when ``spread`` is one AZ; an unknown when the
        templates do not fix its AZs; nothing when it spans several."""
        if spread.one:
            self.spof(tier, res, rule, reason)
        elif not spread.known:
            self.unknown(tier, res, what, spread.reason or "not fixed by the template")

    def unknown(self, tier: str, res: Resource | None, what: str, reason: str) -> None:
        self.unknowns.append(Unknown(tier, res.logical_id if res else None,
                                     res.stack.name if res else "",
                                     self.model.display(res) if res else "the stage",
                                     what, reason))


def d(value: object) -> dict:
    """A mapping, or {} when the template has something else there."""
    return value if isinstance(value, dict) else {}


def lst(value: object) -> list:
    return value if isinstance(value, list) else []


_PLURALS = {"single point of failure": "single points of failure",
            "read replica": "read replicas"}


def plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else _PLURALS.get(word, word + 's')}"
