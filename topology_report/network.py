"""Network egress: subnets, their default routes, NAT gateways and NAT instances, and hosts that
reach the internet themselves (a public IPv4 address each, in a public subnet)."""

from __future__ import annotations

from .findings import Ctx, plural as _plural
from .model import Model, Resource
from .placement import _namespace, az_of_subnet as _az_of_subnet


def _azs(model: Model, subnets: list[Resource]) -> tuple[list[str], int]:
    """Known AZs of the subnets (sorted) and how many subnets have no fixed AZ."""
    known, unknown = set(), 0
    for s in subnets:
        az = _az_of_subnet(model, s)
        if az:
            known.add(az)
        else:
            unknown += 1
    return sorted(known), unknown


def _az_text(azs: list[str], unknown: int) -> str:
    if not azs and not unknown:
        return "AZs not known (its subnets come from outside these templates)"
    if not azs and unknown:
        return f"{unknown} subnet(s) whose AZ the template does not fix"
    text = f"{len(azs)} AZ{'s' if len(azs) != 1 else ''} ({', '.join(azs)})" if azs else "no AZ"
    if unknown:
        text += f" + {unknown} subnet(s) of unknown AZ"
    return text


class _Network:
    """Subnets, their route tables' default routes, and NAT devices."""

    def __init__(self, model: Model):
        self.model = model
        self.route_table_of: dict[Resource, Resource] = {}
        for assoc in model.of_type("AWS::EC2::SubnetRouteTableAssociation"):
            subnet = model.ref_one(assoc, "SubnetId", "AWS::EC2::Subnet")
            table = model.ref_one(assoc, "RouteTableId", "AWS::EC2::RouteTable")
            if subnet and table:
                self.route_table_of[subnet] = table
        self.default_route: dict[Resource, Resource] = {}  # route table -> target
        for route in model.of_type("AWS::EC2::Route"):
            dest = model.literal(route.stack, route.props.get("DestinationCidrBlock"))
            if dest != "0.0.0.0/0":
                continue
            table = model.ref_one(route, "RouteTableId", "AWS::EC2::RouteTable")
            target = None
            for prop in ("NatGatewayId", "InstanceId", "GatewayId", "NetworkInterfaceId",
                         "TransitGatewayId"):
                if prop in route.props:
                    target = model.ref_one(route, prop)
                    break
            if table and target:
                self.default_route[table] = target
        self.subnets = model.of_type("AWS::EC2::Subnet")

    def egress_target(self, subnet: Resource) -> Resource | None:
        table = self.route_table_of.get(subnet)
        return self.default_route.get(table) if table else None

    def kind(self, subnet: Resource) -> str:
        target = self.egress_target(subnet)
        if target is None:
            return "isolated"
        if target.type == "AWS::EC2::InternetGateway":
            return "public"
        return "private"

    def nat_devices(self) -> dict[Resource, list[Resource]]:
        served: dict[Resource, list[Resource]] = {}
        for gw in self.model.of_type("AWS::EC2::NatGateway"):
            served.setdefault(gw, [])
        for subnet in self.subnets:
            target = self.egress_target(subnet)
            if target is not None and target.type != "AWS::EC2::InternetGateway":
                served.setdefault(target, []).append(subnet)
        return served


def _recovery_alarm(model: Model, instance: Resource) -> Resource | None:
    for alarm in model.referrers(instance, "AWS::CloudWatch::Alarm"):
        actions = alarm.props.get("AlarmActions")
        text = repr(actions)
        if "ec2:recover" in text or (":automate:" in text and "recover" in text):
            return alarm
    return None




def _asks_for_a_public_address(model: Model, stack, interfaces: object) -> bool:
    return isinstance(interfaces, list) and any(
        isinstance(i, dict) and model.boolean(stack, i.get("AssociatePublicIpAddress")) is True
        for i in interfaces)


def _direct_egress(model: Model, net: _Network) -> list[dict]:
    """Auto Scaling groups and instances whose hosts get a public IPv4 address of their own
    (in the launch template or the instance) in public subnets only: their egress is the
    internet gateway, with no NAT device between (an instance that stops itself, a one-shot
    job, aside)."""
    found = []
    for asg in model.of_type("AWS::AutoScaling::AutoScalingGroup"):
        template = model.ref_one(asg, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
        data = template.props.get("LaunchTemplateData") if template else None
        if not isinstance(data, dict) or not _asks_for_a_public_address(
                model, template.stack, data.get("NetworkInterfaces")):
            continue
        subnets = [r for r in model.refs(asg.stack, asg.props.get("VPCZoneIdentifier"))
                   if r.type == "AWS::EC2::Subnet"]
        if subnets and all(net.kind(s) == "public" for s in subnets):
            found.append({"type": "direct-egress", "logical_id": asg.logical_id,
                          "hosts_min": model.number(asg.stack, asg.props.get("MinSize")),
                          "hosts_max": model.number(asg.stack, asg.props.get("MaxSize")),
                          "azs": _azs(model, subnets)[0]})
    for inst in model.of_type("AWS::EC2::Instance"):
        if str(model.literal(inst.stack, inst.props.get("InstanceInitiatedShutdownBehavior")) or "").lower() \
                == "terminate" or not _asks_for_a_public_address(model, inst.stack, inst.props.get("NetworkInterfaces")):
            continue
        subnets = [r for i in inst.props["NetworkInterfaces"] if isinstance(i, dict)
                   for r in model.refs(inst.stack, i.get("SubnetId")) if r.type == "AWS::EC2::Subnet"]
        if subnets and all(net.kind(s) == "public" for s in subnets):
            found.append({"type": "direct-egress", "logical_id": inst.logical_id, "hosts_min": 1,
                          "hosts_max": 1, "azs": _azs(model, subnets)[0]})
    return found


def analyze_network(ctx: Ctx) -> _Network:
    model, tiers, spof = ctx.model, ctx.tiers, ctx.spof
    net = _Network(model)
    nat_devices = net.nat_devices()
    nat_instances = ctx.nat_instances
    nat_instances.update(d for d in nat_devices if d.type == "AWS::EC2::Instance")
    for inst in model.of_type("AWS::EC2::Instance"):
        if model.boolean(inst.stack, inst.props.get("SourceDestCheck")) is False:
            nat_instances.add(inst)

    # ---- network egress ---------------------------------------------------------------
    t = tiers["network egress"]
    private = [s for s in net.subnets if net.kind(s) == "private"]
    gateways = [d for d in nat_devices if d.type == "AWS::EC2::NatGateway"]
    if nat_devices or private:
        t.present = True
    for device, served in nat_devices.items():
        served_azs, unfixed = _azs(model, served)
        if device.type == "AWS::EC2::NatGateway":
            home = model.ref_one(device, "SubnetId", "AWS::EC2::Subnet")
            home_az = _az_of_subnet(model, home) if home else None
            t.components.append({"type": "nat-gateway", "logical_id": device.logical_id,
                                 "az": home_az, "serves_azs": served_azs,
                                 "serves_subnets": len(served)})
            others = [az for az in served_azs if az != home_az]
            comparable = home_az is not None and all(
                _namespace(az) == _namespace(home_az) for az in served_azs)
            by_ns: dict[str, set[str]] = {}
            for az in served_azs:
                by_ns.setdefault(_namespace(az), set()).add(az)
            certain = max((len(v) for v in by_ns.values()), default=0) >= 2
            if not certain and not (others and comparable) and len(served_azs) > 1:
                ctx.unknown("network egress", device, "AZs it serves",
                            f"{' and '.join(served_azs)} are named differently and may be the "
                            f"same AZ")
            elif certain or (others and comparable):
                spof("network egress", device, "nat-gateway-shared",
                     f"one NAT gateway (in {home_az or 'an unknown AZ'}) serves private subnets"
                     f" in {', '.join(served_azs)}: if its AZ fails, private subnets in "
                     f"{', '.join(others) if comparable else 'the other AZs'} lose internet "
                     f"egress")
            elif unfixed and len(served) > 1:
                names = ", ".join(sub.logical_id for sub in served
                                  if not _az_of_subnet(model, sub))
                ctx.unknown("network egress", device, "AZs it serves",
                            f"it is the default route of {len(served)} private subnets, and "
                            f"{names} do not fix their AZ: whether it serves several AZs is "
                            f"not known")
        elif device in nat_instances or device.type == "AWS::EC2::Instance":
            nat_instances.add(device)
            itype = model.literal(device.stack, device.props.get("InstanceType"))
            recovery = _recovery_alarm(model, device)
            t.components.append({"type": "nat-instance", "logical_id": device.logical_id,
                                 "instance_type": itype, "serves_azs": served_azs,
                                 "auto_recovery": bool(recovery)})
            spof("network egress", device, "nat-instance",
                 f"a single EC2 instance does NAT for private subnets in "
                 f"{', '.join(served_azs) or 'its VPC'}: when it fails, they lose internet "
                 f"egress until it is recovered")
        else:
            t.components.append({"type": device.type, "logical_id": device.logical_id,
                                 "serves_azs": served_azs})
    for inst in nat_instances:
        if inst not in nat_devices:
            t.present = True
            t.components.append({"type": "nat-instance", "logical_id": inst.logical_id,
                                 "serves_azs": []})
            spof("network egress", inst, "nat-instance",
                 "a single EC2 instance with source/destination check off (a NAT instance)")
    if t.present:
        private_azs, _ = _azs(model, private)
        if gateways:
            gw_azs = sorted({c["az"] for c in t.components
                             if c["type"] == "nat-gateway" and c["az"]})
            per_az = (len(gateways) >= len(private_azs) and not
                      any(s.rule == "nat-gateway-shared" for s in t.spofs))
            t.lines.append(
                f"{_plural(len(gateways), 'NAT gateway')} in {_az_text(gw_azs, 0)}"
                + ("; one per AZ of the private subnets" if per_az else "")
                + " (managed, redundant within its AZ)")
        ninst = [c for c in t.components if c["type"] == "nat-instance"]
        if ninst:
            for c in ninst:
                rec = ", EC2 auto-recovery alarm" if c.get("auto_recovery") else ""
                t.lines.append(f"NAT instance {c['logical_id']} "
                               f"({c.get('instance_type') or 'type not fixed'}{rec})")
        if private:
            t.lines.append(f"{_plural(len(private), 'private subnet')} in "
                           f"{_az_text(private_azs, 0)} egress through NAT")
        elif not nat_devices:
            t.lines.append("no NAT")
    for c in _direct_egress(model, net):
        t.present = True
        t.components.append(c)
        hosts = c["hosts_min"] if c["hosts_min"] == c["hosts_max"] else f"{c['hosts_min']}..{c['hosts_max']}"
        t.lines.append(f"{c['logical_id']}: {hosts} host(s) in public subnets in {_az_text(c['azs'], 0)}, "
                       f"a public IPv4 address each: their own egress through the internet gateway "
                       f"(regional), no NAT device to fail")
    endpoints = model.of_type("AWS::EC2::VPCEndpoint")
    if endpoints:
        kinds = [str(model.literal(e.stack, e.props.get("VpcEndpointType")) or "Gateway")
                 for e in endpoints]
        t.lines.append(f"VPC endpoints: {kinds.count('Gateway')} gateway, "
                       f"{kinds.count('Interface')} interface (traffic that skips NAT)")
        t.components.extend({"type": "vpc-endpoint", "logical_id": e.logical_id, "kind": k}
                            for e, k in zip(endpoints, kinds, strict=True))
    if not t.present and not endpoints:
        t.lines.append("none in these templates (no NAT, no private subnets)")

    return net
