"""Which Availability Zones a resource spans, as far as the templates tell: known, one,
several, or unknown with the reason (never a guess).

AZs are compared within one namespace only: real names (us-east-1a), positions in the
region's list (`!Select [0, !GetAZs '']`, shown as AZ#0) and AZ IDs (use1-az1) can name the
same zone, so two of them from different namespaces prove nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import Model, Resource
from .loader import Stack

SUBNET = "AWS::EC2::Subnet"
_AZ_ID = re.compile(r"^[a-z]{2,4}\d-az\d+$")


def az_of_subnet(model: Model, subnet: Resource) -> str | None:
    value = subnet.props.get("AvailabilityZone")
    lit = model.literal(subnet.stack, value)
    if isinstance(lit, str):
        return lit
    if isinstance(value, dict) and "Fn::Select" in value:
        sel = value["Fn::Select"]
        if isinstance(sel, list) and sel and isinstance(sel[0], (int, str)):
            index = model.literal(subnet.stack, sel[0])
            if isinstance(index, (int, str)) and str(index).isdigit():
                return f"AZ#{index}"
    lit = model.literal(subnet.stack, subnet.props.get("AvailabilityZoneId"))
    return lit if isinstance(lit, str) else None


def _namespace(az: str) -> str:
    if az.startswith("AZ#"):
        return "position"
    return "id" if _AZ_ID.match(az) else "name"


@dataclass
class Spread:
    azs: list[str] = field(default_factory=list)  # the AZs the templates name
    subnets: int | None = 0  # how many subnets (None: not known)
    at_least: int = 0  # AZs it certainly spans
    at_most: int | None = 0  # AZs it can span at most (None: no bound known)
    reason: str | None = None  # why the count is not known
    every_az: bool = False  # !GetAZs: every AZ of the region

    @property
    def multi(self) -> bool:
        return self.every_az or self.at_least >= 2

    @property
    def one(self) -> bool:
        return not self.multi and self.at_most == 1

    @property
    def known(self) -> bool:
        return self.multi or self.one or (self.at_most == 0 and self.reason is None)

    def text(self) -> str:
        if self.every_az:
            return "every AZ of the region (!GetAZs)"
        names = ", ".join(self.azs)
        if self.multi:
            exact = self.at_most == self.at_least
            return (f"{'' if exact else 'at least '}{self.at_least} AZs"
                    + (f" ({names})" if names else ""))
        if self.one:
            return "1 AZ" + (f" ({names})" if names else "")
        if self.reason:
            return "AZs unknown: " + self.reason
        return "no AZ"

    def describe(self) -> str:
        """'2 subnets in 2 AZs (...)', or what is not known and why."""
        if self.every_az:
            return self.text()
        if self.subnets is None:
            return ("subnets from outside these templates, " if not self.azs else "") + \
                self.text()
        if self.subnets == 0:
            return self.text()
        return f"{self.subnet_text()} in {self.text()}"

    def subnet_text(self) -> str:
        if self.subnets is None:
            return "subnets not known"
        return f"{self.subnets} subnet{'' if self.subnets == 1 else 's'}"

    def to_dict(self) -> dict:
        return {"azs": self.azs, "subnets": self.subnets, "at_least": self.at_least,
                "at_most": self.at_most, "every_az": self.every_az,
                "known": self.known, "unknown_reason": None if self.known else self.reason}


def spread(model: Model, stack: Stack, value: object, zones: bool = False) -> Spread:
    """The spread of a list of subnets (or, with zones=True, of AZ names) as a template
    gives it: resources, literal IDs, parameters, imports, !GetAZs."""
    if value is None:
        return Spread()
    if isinstance(value, dict) and "Fn::GetAZs" in value:
        return Spread(every_az=True, subnets=None, at_most=None)
    items = value if isinstance(value, list) else [value]
    by_ns: dict[str, set[str]] = {}
    subnets, unknown_az, open_items, reasons = 0, 0, 0, []
    literal_ids = []
    for item in items:
        if isinstance(item, dict) and "Fn::GetAZs" in item:
            return Spread(every_az=True, subnets=None, at_most=None)
        refs = [r for r in model.refs(stack, item) if r.type == SUBNET]
        if refs:
            for subnet in refs:
                subnets += 1
                az = az_of_subnet(model, subnet)
                if az:
                    by_ns.setdefault(_namespace(az), set()).add(az)
                else:
                    unknown_az += 1
                    reasons.append(f"subnet {subnet.logical_id} does not fix its AZ")
            continue
        lit = model.literal(stack, item)
        values = lit if isinstance(lit, list) else [lit]
        if lit is None or any(not isinstance(v, str) for v in values):
            open_items += 1
            reasons.append(model.why_unknown(stack, item))
            continue
        for v in values:
            if zones:
                by_ns.setdefault(_namespace(v), set()).add(v)
            else:
                subnets += 1
                unknown_az += 1
                literal_ids.append(v)
    if literal_ids:
        reasons.append(f"literal subnet ID{'s' if len(literal_ids) > 1 else ''} "
                       f"{', '.join(literal_ids)}: the template does not say their AZs")
    known = sorted(az for names in by_ns.values() for az in names)
    at_least = max((len(v) for v in by_ns.values()), default=0)
    if unknown_az and not known:
        at_least = 1
    at_most = None if open_items else len(known) + unknown_az
    if len(by_ns) > 1 and at_least < 2:
        reasons.append(f"{' and '.join(known)} are named differently and may be the same AZ")
    if at_most is not None and at_most > at_least and at_least < 2 and not reasons:
        reasons.append("the subnets' AZs are not all fixed")
    return Spread(azs=known, subnets=None if open_items else subnets, at_least=at_least,
                  at_most=at_most, reason="; ".join(dict.fromkeys(reasons)) or None)


def merge(spreads: list[Spread]) -> Spread:
    """The spread of several things together (instances of one tier)."""
    by_ns: dict[str, set[str]] = {}
    unknown = 0
    reasons = []
    for s in spreads:
        if s.every_az:
            return s
        for az in s.azs:
            by_ns.setdefault(_namespace(az), set()).add(az)
        if not s.azs:
            unknown += 1
            if s.reason:
                reasons.append(s.reason)
    known = sorted(az for v in by_ns.values() for az in v)
    at_least = max((len(v) for v in by_ns.values()), default=0) or (1 if unknown else 0)
    at_most = len(known) + unknown
    if len(by_ns) > 1 and at_least < 2:
        reasons.append(f"{' and '.join(known)} are named differently and may be the same AZ")
    return Spread(azs=known, subnets=None, at_least=at_least, at_most=at_most,
                  reason="; ".join(dict.fromkeys(reasons)) or None)
