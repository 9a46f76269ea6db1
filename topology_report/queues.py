"""Divided work: compute that consumes an SQS queue.

Who consumes a queue is read from IAM: an allowed statement whose actions include
sqs:ReceiveMessage (`sqs:*`, `sqs:Receive*`, `*`, ...) on the queue (by Ref, Fn::GetAtt, an
import or a Sub of them; a `*` resource names no queue and is not counted; Deny and NotAction
are not read), in an AWS::IAM::Policy, ManagedPolicy or RolePolicy attached to a role, or a
role's inline policies; the role is the one an Auto Scaling group's (or an instance's)
launch template or launch configuration gives through its instance profile, or an ECS
service's task role. A Lambda function consumes a queue when an
AWS::Lambda::EventSourceMapping (or a SAM SQS event) feeds it from the queue. Who sends to
a queue is read the same way, from sqs:SendMessage (a Lambda function's role too).

A consumer that also serves requests (a load balancer's target, or an instance behind a
CloudFront origin) works the queue on the same machines: the work is divided by process, not
by machine. One that serves none is a worker tier, divided from the senders by the queue.
`workers` runs before the compute tier (a worker instance is app compute though no load
balancer targets it); `analyze_queues` after it: it renames the compute tier's
not-replicated findings on a worker as a lone worker (`worker-lone`) and raises the queues'
own findings (`queue-no-dlq`, `queue-visibility-short`), which are not single points of
failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from .compute import _origin_targets, _targets
from .findings import AppUnit, Ctx, d, lst
from .model import Model, Resource

SQS = "AWS::SQS::Queue"
ASG = "AWS::AutoScaling::AutoScalingGroup"
INSTANCE = "AWS::EC2::Instance"
ECS_SERVICE = "AWS::ECS::Service"
LAMBDA_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
ROLE = "AWS::IAM::Role"
PROFILE = "AWS::IAM::InstanceProfile"
# AWS: set the queue's visibility timeout to at least six times the function's timeout
# (Lambda's "Using Lambda with Amazon SQS"); Lambda's default timeout is 3 s, SQS's
# default visibility timeout 30 s.
VISIBILITY_FACTOR = 6
LAMBDA_DEFAULT_TIMEOUT = 3
SQS_DEFAULT_VISIBILITY = 30
# The compute rules that say a unit is not replicated: on a worker tier they are one
# lone-worker finding instead.
NOT_REPLICATED = ("asg-min-one", "asg-one-az", "lone-instance", "ecs-desired-one",
                  "ecs-one-az", "lambda-one-az")


@dataclass
class Consumer:
    res: Resource
    queue: Resource
    how: str  # "its role InstanceRole may receive from it", "event source mapping M"
    serves: str | None  # how it serves requests too ("behind a load balancer"), or None

    @property
    def worker(self) -> bool:
        return self.serves is None


def _allows(actions: object, action: str) -> bool:
    names = actions if isinstance(actions, list) else [actions]
    return any(isinstance(a, str) and fnmatchcase(action, a.lower()) for a in names)


def _documents(model: Model) -> list[tuple[Resource, object, list[Resource]]]:
    """(policy resource, policy document, roles it is attached to) for every IAM policy."""
    out = []
    for pol in model.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        roles = [r for r in model.refs(pol.stack, pol.props.get("Roles")) if r.type == ROLE]
        if pol.type == "AWS::IAM::ManagedPolicy":
            roles += [r for r in model.referrers(pol, ROLE) if r not in roles]
        out.append((pol, pol.props.get("PolicyDocument"), roles))
    for pol in model.of_type("AWS::IAM::RolePolicy"):
        roles = [r for r in model.refs(pol.stack, pol.props.get("RoleName")) if r.type == ROLE]
        out.append((pol, pol.props.get("PolicyDocument"), roles))
    for role in model.of_type(ROLE):
        for inline in lst(role.props.get("Policies")):
            out.append((role, d(inline).get("PolicyDocument"), [role]))
    return out


def grants(model: Model, action: str) -> dict[Resource, set[Resource]]:
    """Role -> the queues an allowed statement of its policies grants ``action`` on."""
    out: dict[Resource, set[Resource]] = {}
    for pol, doc, roles in _documents(model):
        statements = d(doc).get("Statement")
        for st in (statements if isinstance(statements, list) else [statements]):
            st = d(st)
            if str(st.get("Effect")) != "Allow" or not _allows(st.get("Action"), action):
                continue
            queues = [q for q in model.refs(pol.stack, st.get("Resource")) if q.type == SQS]
            for role in roles:
                out.setdefault(role, set()).update(queues)
    return out


def _profile_roles(model: Model, holder: Resource | None, value: object) -> list[Resource]:
    if holder is None:
        return []
    out = []
    for r in model.refs(holder.stack, value):
        if r.type == PROFILE:
            out += [x for x in model.refs(r.stack, r.props.get("Roles")) if x.type == ROLE]
        elif r.type == ROLE:
            out.append(r)
    return out


def _launch_roles(model: Model, launch: Resource | None) -> list[Resource]:
    if launch is None:
        return []
    if launch.type == "AWS::EC2::LaunchTemplate":
        return _profile_roles(model, launch, d(launch.props.get("LaunchTemplateData")).get(
            "IamInstanceProfile"))
    return _profile_roles(model, launch, launch.props.get("IamInstanceProfile"))


def roles_of(model: Model, res: Resource) -> list[Resource]:
    """The IAM roles a compute resource's code runs as."""
    if res.type == ASG:
        launch = (model.ref_one(res, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
                  or model.ref_one(res, "MixedInstancesPolicy", "AWS::EC2::LaunchTemplate")
                  or model.ref_one(res, "LaunchConfigurationName",
                                   "AWS::AutoScaling::LaunchConfiguration"))
        return _launch_roles(model, launch)
    if res.type == INSTANCE:
        return (_profile_roles(model, res, res.props.get("IamInstanceProfile")) or
                _launch_roles(model, model.ref_one(res, "LaunchTemplate",
                                                   "AWS::EC2::LaunchTemplate")))
    if res.type == ECS_SERVICE:
        task = model.ref_one(res, "TaskDefinition", "AWS::ECS::TaskDefinition")
        return [r for r in model.refs(task.stack, task.props.get("TaskRoleArn"))
                if r.type == ROLE] if task else []
    if res.type in LAMBDA_TYPES:
        return [r for r in model.refs(res.stack, res.props.get("Role")) if r.type == ROLE]
    return []


def _serves(model: Model, res: Resource) -> str | None:
    """How a compute resource serves requests (None: it does not, as far as these templates
    show): a load balancer's target, an ECS service's load balancer, a CloudFront origin."""
    if res.type == ASG:
        if (model.refs(res.stack, res.props.get("TargetGroupARNs")) or
                model.refs(res.stack, res.props.get("LoadBalancerNames"))):
            return "behind a load balancer"
    elif res.type == ECS_SERVICE:
        if lst(res.props.get("LoadBalancers")):
            return "behind a load balancer"
    elif res.type == INSTANCE:
        if any(res in members for members in _targets(model).values()):
            return "behind a load balancer"
        if res in _origin_targets(model):
            return "as a CloudFront origin"
    return None  # a Lambda function fed by a queue is a worker whatever else invokes it


def _compute(model: Model) -> list[Resource]:
    return model.of_type(ASG, INSTANCE, ECS_SERVICE)


def consumers(model: Model) -> list[Consumer]:
    """Every (compute, queue) pair where the compute consumes the queue."""
    out: list[Consumer] = []
    receive = grants(model, "sqs:receivemessage")
    if receive:
        for res in _compute(model):
            for role in roles_of(model, res):
                for q in sorted(receive.get(role, ()), key=lambda r: r.key):
                    if not any(c.res == res and c.queue == q for c in out):
                        out.append(Consumer(res, q, f"its role {role.logical_id} may "
                                                    f"receive from it", _serves(model, res)))
    for esm in model.of_type("AWS::Lambda::EventSourceMapping"):
        queue = model.ref_one(esm, "EventSourceArn", SQS)
        fn = model.ref_one(esm, "FunctionName", *LAMBDA_TYPES)
        if queue and fn:
            out.append(Consumer(fn, queue, f"event source mapping {esm.logical_id}", None))
    for fn in model.of_type("AWS::Serverless::Function"):
        for name, event in d(fn.props.get("Events")).items():
            if d(event).get("Type") == "SQS":
                for queue in model.refs(fn.stack, d(d(event).get("Properties")).get("Queue")):
                    if queue.type == SQS:
                        out.append(Consumer(fn, queue, f"its SQS event {name}", None))
    return out


def workers(ctx: Ctx) -> None:
    """Before the compute tier: the stage's consumers (``ctx.consumers``)."""
    ctx.consumers = consumers(ctx.model)


def senders(model: Model) -> dict[Resource, list[Resource]]:
    """Queue -> the compute whose role may send to it."""
    send = grants(model, "sqs:sendmessage")
    out: dict[Resource, list[Resource]] = {}
    if not send:
        return out
    for res in _compute(model) + model.of_type(*LAMBDA_TYPES):
        for role in roles_of(model, res):
            for q in send.get(role, ()):
                if res not in out.setdefault(q, []):
                    out[q].append(res)
    return out


def _unit(ctx: Ctx, res: Resource) -> AppUnit | None:
    return next((u for u in ctx.app_units if u.resource == res), None)


def _replication(unit: AppUnit | None) -> str:
    if unit is None:
        return "not part of the app tier"
    if unit.kind == "lambda":
        return ("replicated (Lambda runs in every AZ)" if unit.replicated else
                "not replicated (attached to subnets in one AZ)" if unit.replicated is False
                else "replication unknown (its subnets' AZs are not fixed)")
    count = (f"min {unit.min}" if unit.kind in ("asg", "ecs-service") else "1 instance")
    azs = f"{len(unit.azs)} AZ{'s' if len(unit.azs) != 1 else ''}" if unit.azs else "AZs unknown"
    state = {True: "replicated", False: "not replicated", None: "replication unknown"}[
        unit.replicated]
    return f"{state} ({count} over {azs})"


def _seconds(ctx: Ctx, res: Resource, prop: str, default: int) -> int | None:
    """A property in seconds: AWS's default when it is not set, None when not fixed."""
    if prop not in res.props:
        return default
    return ctx.model.number(res.stack, res.props.get(prop))


def analyze_queues(ctx: Ctx) -> None:
    model = ctx.model
    if not ctx.consumers:
        return
    sent = senders(model)
    dead_letter_targets = {q for queue in model.of_type(SQS) for q in model.refs(
        queue.stack, d(queue.props.get("RedrivePolicy")).get("deadLetterTargetArn"))}
    queues: list[Resource] = []
    for c in ctx.consumers:
        if c.queue not in queues:
            queues.append(c.queue)
    relabelled: set[Resource] = set()
    for queue in queues:
        mine = [c for c in ctx.consumers if c.queue == queue]
        redrive = d(queue.props.get("RedrivePolicy"))
        dlq = model.ref_one(queue, "RedrivePolicy", SQS)
        # a dead-letter queue these templates do not define: named by its ARN, if literal
        target = model.literal(queue.stack, redrive.get("deadLetterTargetArn"))
        dlq_name = (model.display(dlq) if dlq else
                    str(target).rsplit(":", 1)[-1] if isinstance(target, str) and target else
                    "one these templates do not define" if redrive else None)
        receives = model.number(queue.stack, redrive.get("maxReceiveCount"))
        visibility = _seconds(ctx, queue, "VisibilityTimeout", SQS_DEFAULT_VISIBILITY)
        entry = {"queue": queue.logical_id, "stack": queue.stack.name,
                 "resource": model.display(queue),
                 "dead_letter_queue": dlq.logical_id if dlq else dlq_name,
                 "max_receives": receives, "visibility_timeout_s": visibility,
                 "senders": [{"logical_id": s.logical_id, "resource": model.display(s),
                              "replicated": _replication(_unit(ctx, s))}
                             for s in sent.get(queue, [])],
                 "consumers": [], "lines": []}
        for c in mine:
            unit = _unit(ctx, c.res)
            shape = "worker tier" if c.worker else "same machines"
            entry["consumers"].append({
                "logical_id": c.res.logical_id, "resource": model.display(c.res),
                "type": c.res.type, "how": c.how, "serves_requests": c.serves,
                "shape": shape, "replicated": unit.replicated if unit else None,
                "replication": _replication(unit)})
            if c.worker:
                if unit is not None:
                    unit.worker = True
                senders_text = ", ".join(f"{s['resource']} (sends; {s['replicated']})"
                                         for s in entry["senders"]
                                         if s["logical_id"] != c.res.logical_id)
                worker = (f"the worker tier {model.display(c.res)} ({c.how}; "
                          + ("" if c.res.type in LAMBDA_TYPES else "serves no requests; ")
                          + f"{_replication(unit)})")
                entry["lines"].append(
                    f"queue {model.display(queue)} divides {senders_text} from {worker}"
                    if senders_text else
                    f"queue {model.display(queue)} feeds {worker}; no other compute of these "
                    f"templates may send to it (an AWS service or another stack does)")
                if unit is not None and c.res not in relabelled:
                    relabelled.add(c.res)
                    _lone_worker(ctx, c)
            else:
                entry["lines"].append(
                    f"queue {model.display(queue)}: divided work, same machines: "
                    f"{model.display(c.res)} serves requests ({c.serves}) and works the "
                    f"queue ({c.how}): the work is divided by process, not by machine, which "
                    f"is fine for a small stage (a burst of jobs competes with requests for "
                    f"the same hosts); {_replication(unit)}")
        entry["lines"].append(
            (f"dead-letter queue {dlq_name}" + (f" after {receives} receives"
                                               if receives else "")
             if dlq_name else "no dead-letter queue")
            + f"; visibility timeout {visibility if visibility is not None else '?'} s")
        ctx.divided.append(entry)
        if not dlq_name and queue not in dead_letter_targets:
            ctx.finding("data", queue, "queue-no-dlq",
                        f"the queue {model.display(queue)} is consumed by "
                        + ", ".join(c.res.logical_id for c in mine)
                        + " and has no dead-letter queue (no RedrivePolicy): a message its "
                          "consumer cannot process comes back after every visibility timeout "
                          "until the queue's retention drops it, unseen")
        for c in mine:
            if c.res.type in LAMBDA_TYPES and visibility is not None:
                timeout = _seconds(ctx, c.res, "Timeout", LAMBDA_DEFAULT_TIMEOUT)
                if timeout is not None and visibility < VISIBILITY_FACTOR * timeout:
                    ctx.finding("data", queue, "queue-visibility-short",
                                f"the visibility timeout of queue {model.display(queue)} "
                                f"({visibility} s) is shorter than "
                                + (f"the timeout of its consumer {c.res.logical_id} "
                                   f"({timeout} s): Lambda refuses the event source mapping"
                                   if visibility < timeout else
                                   f"{VISIBILITY_FACTOR} x the timeout of its consumer "
                                   f"{c.res.logical_id} ({timeout} s), the least AWS "
                                   f"advises: a message "
                                   f"whose batch is retried or throttled can be received "
                                   f"again while the first run still works on it"))


def _lone_worker(ctx: Ctx, c: Consumer) -> None:
    """The compute tier's not-replicated findings on a worker, as one lone-worker finding."""
    tier = ctx.tiers["compute"]
    mine = [s for s in tier.spofs if s.logical_id == c.res.logical_id
            and s.stack == c.res.stack.name and s.rule in NOT_REPLICATED]
    if not mine:
        return
    for s in mine:
        tier.spofs.remove(s)
    ctx.spof("compute", c.res, "worker-lone",
             f"a lone worker: {ctx.model.display(c.res)} works the queue "
             f"{ctx.model.display(c.queue)} and is not replicated: "
             + "; ".join(s.reason for s in mine))
