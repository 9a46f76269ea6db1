"""What moto (the pinned version) needs to take our stacks through the real CDK CLI.

Two kinds, each small and each tested (tests/checks/test_moto_fixes.py shows the failure
without it and the result with it, on moto itself, so a moto upgrade that fixes one shows up
as a failing "still needed" test):

- **bugs** in moto's CloudFormation handlers of types it does support: each replaces one
  handler with the same code, corrected; written so it can go upstream as is;
- **handlers** for types moto's CloudFormation skips ("No Moto CloudFormation support for
  ..."), where our stacks or the rehearsal's checks need the resource to exist: each creates
  the resource in moto's own backend of that service (a secret in its Secrets Manager, a
  policy on its S3 bucket), so the resource is visible through the AWS API like any other.

Types still skipped (moto logs them) are listed in the README ("What the rehearsal cannot
prove") with what only a real account proves. Nothing here changes our templates.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto import __version__ as MOTO_VERSION

PINNED_MOTO = "5.2.6"
log = logging.getLogger("checks.rehearsal.emulator")

Undo = Callable[[], None]


@dataclass(frozen=True)
class Fix:
    name: str
    problem: str  # what goes wrong without it, as the CDK CLI or moto shows it
    apply: Callable[[], Undo]


FIXES: list[Fix] = []


def fix(problem: str) -> Callable[[Callable[[], Undo]], Callable[[], Undo]]:
    def register(apply_fn: Callable[[], Undo]) -> Callable[[], Undo]:
        FIXES.append(Fix(name=apply_fn.__name__.lstrip("_"), problem=problem, apply=apply_fn))
        return apply_fn

    return register


def _replace(owner: Any, attribute: str, new: Any) -> Undo:
    original = owner.__dict__[attribute]
    setattr(owner, attribute, new)
    return lambda: setattr(owner, attribute, original)


def _add(owner: Any, attribute: str, new: Any) -> Undo:
    assert attribute not in owner.__dict__, f"{owner.__name__}.{attribute} exists now: is this fix still needed?"
    setattr(owner, attribute, new)
    return lambda: delattr(owner, attribute)


def apply(names: list[str] | None = None) -> Undo:
    """Apply every fix (or those named); returns what undoes them, in reverse order."""
    if MOTO_VERSION != PINNED_MOTO:
        raise RuntimeError(
            f"checks/rehearsal/moto_fixes.py is written for moto {PINNED_MOTO}, this is {MOTO_VERSION}: "
            "run tests/checks/test_moto_fixes.py, drop the fixes moto no longer needs, then update PINNED_MOTO"
        )
    chosen = [f for f in FIXES if names is None or f.name in names]
    unknown = set(names or ()) - {f.name for f in FIXES}
    if unknown:
        raise ValueError(f"no such moto fix: {', '.join(sorted(unknown))}")
    undos = [f.apply() for f in chosen]

    def undo() -> None:
        for one in reversed(undos):
            one()

    return undo


# --- bugs in handlers moto has ----------------------------------------------------------


@fix(
    "AWS::KMS::Key: moto passes CloudFormation's Key/Value tags to KMS's tagger, which reads "
    "TagKey/TagValue (KeyError 'TagKey', a 500 on ExecuteChangeSet: the CLI reported the stack deployed "
    "with no key in it), and keeps the KeyPolicy as a JSON object where its KMS API expects the policy "
    "text (every later DescribeKey of the key is a 500)"
)
def _kms_key_properties() -> Undo:
    from moto.kms.models import Key

    original = Key.__dict__["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = dict(cloudformation_json["Properties"])
        properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
        properties["KeyPolicy"] = _json(properties["KeyPolicy"])
        return original(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id,
                        region_name, **kwargs)

    return _replace(Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


@fix(
    "AWS::EC2::SecurityGroup with an inline rule of IpProtocol -1 (all traffic): such a rule "
    "has no FromPort/ToPort, moto reads them unconditionally (KeyError 'FromPort'), and every "
    "Fn::GetAtt on the group then fails with 'references undefined resource'"
)
def _security_group_rule_ports() -> Undo:
    from moto.ec2.models.security_groups import SecurityGroup

    original = SecurityGroup.__dict__["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        rules = [
            {"FromPort": None, "ToPort": None, **rule}
            for rule in properties.get("SecurityGroupIngress", [])
        ]
        return original(cls, resource_name, {**cloudformation_json, "Properties": {**properties, "SecurityGroupIngress": rules}},
                        account_id, region_name, **kwargs)

    return _replace(SecurityGroup, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


@fix(
    "AWS::EC2::SecurityGroupIngress from a managed prefix list (SourcePrefixListId, e.g. CloudFront's "
    "origin-facing list): moto asserts a CIDR or a source group (AssertionError, a 500), and the stack stops"
)
def _ingress_from_prefix_list() -> Undo:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.security_groups import SecurityGroupIngress

    original = SecurityGroupIngress.__dict__["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        if "SourcePrefixListId" not in properties:
            return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = ec2_backends[account_id][region_name]
        group = backend.describe_security_groups(group_ids=[properties["GroupId"]])[0]
        backend.authorize_security_group_ingress(
            group_name_or_id=group.id, ip_protocol=properties["IpProtocol"], from_port=properties.get("FromPort"),
            to_port=properties.get("ToPort"), ip_ranges=[],
            prefix_list_ids=[{"PrefixListId": properties["SourcePrefixListId"],
                              "Description": properties.get("Description", "")}],
        )
        return cls(group, properties)

    return _replace(SecurityGroupIngress, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


@fix(
    "change sets by name: a change set's name is unique per stack, but moto's DescribeChangeSet, "
    "ExecuteChangeSet and DeleteChangeSet ignore the StackName and take the first change set of that name "
    "in the region (`cdk deploy --change-set-name X` makes one per stack: every stack was shown the "
    "first stack's changes); a missing one is 'Stack with id X does not exist' on describe (CloudFormation: "
    "ChangeSetNotFound, which the CLI waits for) and a 500 on delete (CloudFormation: success, which "
    "the CLI relies on before every `cdk diff`; the SDK retried the 500 for about 40 s per stack); "
    "GetTemplate ignores ChangeSetName"
)
def _change_sets_per_stack() -> Undo:
    from moto.cloudformation.exceptions import CloudFormationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult, EmptyResult

    class ChangeSetNotFound(CloudFormationError):
        code = "ChangeSetNotFound"

        def __init__(self, name: str) -> None:
            super().__init__(f"ChangeSet [{name}] does not exist")
            self.code = "ChangeSetNotFound"

    def find(backend, change_set_name: str, stack_name: str | None):
        if change_set_name in backend.change_sets:  # an ARN
            return backend.change_sets[change_set_name]
        for change_set in reversed(list(backend.change_sets.values())):  # the newest first
            if (change_set.change_set_name == change_set_name and change_set.stack_id in backend.stacks
                    and stack_name in (None, change_set.stack_name, change_set.stack_id)):
                return change_set  # of a live stack: a deleted stack's change sets are gone with it
        return None

    def describe_change_set(self) -> ActionResult:
        name, stack_name = self._get_param("ChangeSetName"), self._get_param("StackName")
        change_set = find(self.cloudformation_backend, name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(name)
        return ActionResult(change_set)

    def delete_change_set(self) -> ActionResult:
        change_set = find(self.cloudformation_backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
        if change_set is not None:
            del self.cloudformation_backend.change_sets[change_set.change_set_id]
        return EmptyResult()

    original_execute = CloudFormationBackend.__dict__["execute_change_set"]

    def execute_change_set(self, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = find(self, change_set_name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(change_set_name)
        original_execute(self, change_set.change_set_id, stack_name)

    def get_template(self) -> ActionResult:
        name, stack_name = self._get_param("ChangeSetName"), self._get_param("StackName")
        if not name:
            return ActionResult({"TemplateBody": self.cloudformation_backend.get_template(stack_name)})
        change_set = find(self.cloudformation_backend, name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(name)
        return ActionResult({"TemplateBody": change_set.template})

    undos = [
        _replace(CloudFormationResponse, "describe_change_set", describe_change_set),
        _replace(CloudFormationResponse, "delete_change_set", delete_change_set),
        _replace(CloudFormationResponse, "get_template", get_template),
        _replace(CloudFormationBackend, "execute_change_set", execute_change_set),
    ]
    return lambda: [undo() for undo in reversed(undos)] and None


@fix(
    "ExecuteChangeSet (how the CDK CLI deploys): moto never evaluates the template's Outputs for a "
    "change set (so no stack has outputs or exports, and the next stack fails with 'No export named "
    "...'), and a resource that fails to create is a 500 on the API call while the stack still reads "
    "*_COMPLETE, so the CLI reports a broken stack as deployed. Here a failure marks the stack "
    "ROLLBACK_COMPLETE / UPDATE_ROLLBACK_COMPLETE with the error as the reason, as CloudFormation does "
    "(moto does not undo what it created before the failure)"
)
def _change_set_execution() -> Undo:
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.parsing import OutputMap

    original = CloudFormationBackend.__dict__["execute_change_set"]

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = next((cs for cs in reversed(list(self.change_sets.values()))
                           if change_set_name in (cs.change_set_id, cs.change_set_name) and cs.stack_id in self.stacks
                           and stack_name in (None, cs.stack_name, cs.stack_id)), None)
        if change_set is None:
            return original(self, change_set_name, stack_name)  # ChangeSetNotFound
        stack = self.stacks[change_set.stack_id]
        creating = change_set.change_set_type == "CREATE"
        # Fn::ImportValue reads the region's exports (moto gives a change set's stack none)
        stack.cross_stack_resources = stack.resource_map.cross_stack_resources = self.exports
        try:
            original(self, change_set_name, stack_name)
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            previous = [name for name, export in self.exports.items() if export.exporting_stack_id == stack.stack_id]
            stack.output_map = stack._create_output_map()
            stack.outputs  # noqa: B018  evaluated now: an output that cannot be read fails the deploy
            for name in previous:
                self.exports.pop(name)
            for export in stack.exports:
                if export.name in self.exports:
                    raise ValidationError(message=f"Export with name {export.name} is already exported by another stack")
                self.exports[export.name] = export
        except Exception as error:  # the API call succeeds; the stack fails, with the reason
            reason = f"{type(error).__name__}: {error}"
            log.error("%s: %s failed: %s\n%s", stack.name, "create" if creating else "update", reason,
                      traceback.format_exc())
            stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)  # none: the stack failed
            stack._add_stack_event("CREATE_FAILED" if creating else "UPDATE_FAILED", resource_status_reason=reason)
            stack.status = "ROLLBACK_COMPLETE" if creating else "UPDATE_ROLLBACK_COMPLETE"
            stack._add_stack_event(stack.status)
            change_set.execution_status = "EXECUTE_FAILED"

    return _replace(CloudFormationBackend, "execute_change_set", execute_change_set)


@fix(
    "custom resources (Custom::...): moto invokes their Lambda handler in Docker; with no Docker daemon "
    "the invocation fails, nothing answers the response URL, and the resource never completes. Here the "
    "handler is not run: the resource is marked created with no data and the emulator says so in one "
    "line (the README lists what these handlers do, which only a real account proves)"
)
def _custom_resources_without_docker() -> Undo:
    from moto.cloudformation.custom_model import CustomModel

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        resource = CustomModel(region_name, "rehearsal", kwargs["LogicalId"], resource_name)
        resource.set_data({})
        log.info("%s (%s): handler not run (no Lambda runtime here)", kwargs["LogicalId"], kwargs["ResourceType"])
        return resource

    return _replace(CustomModel, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


@fix(
    "Fn::GetStackOutput (the intrinsic of CDK's weak cross-stack references, which cdk.json turns on): "
    "moto does not know it and passes the dict on as the value, e.g. as a security group's VpcId "
    "(TypeError: unhashable type: 'dict')"
)
def _get_stack_output() -> Undo:
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import cloudformation_backends

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and "Fn::GetStackOutput" in resource_json:
            spec = original(resource_json["Fn::GetStackOutput"], resources_map)
            backend = cloudformation_backends[resources_map._account_id][spec.get("Region", resources_map._region_name)]
            stacks = [s for s in backend.stacks.values() if s.name == spec["StackName"] and "DELETE" not in s.status]
            outputs = {o["OutputKey"]: o["OutputValue"] for s in stacks for o in (s.outputs or [])}
            if spec["OutputName"] not in outputs:
                raise ValidationError(message=f"Fn::GetStackOutput: stack {spec['StackName']} has no output {spec['OutputName']}")
            return outputs[spec["OutputName"]]
        return original(resource_json, resources_map)

    return _replace(parsing, "clean_json", clean_json)


@fix(
    "AWS::RDS::DBParameterGroup: moto's model has no physical id, so a Ref to it (a DB instance's "
    "DBParameterGroupName) is the Python object, and the instance fails "
    "(AttributeError: 'DBParameterGroup' object has no attribute 'startswith')"
)
def _db_parameter_group_ref() -> Undo:
    from moto.rds.models import DBParameterGroup

    return _add(DBParameterGroup, "physical_resource_id", property(lambda self: self.name))


@fix(
    "S3 bucket policies with a Condition: moto evaluates a statement whose condition it cannot read "
    "(it passes no request context, e.g. aws:SecureTransport) as DENIED whatever its Effect, so the "
    "CDK bootstrap bucket's TLS-only Deny refuses every request (the CLI's asset upload: 403, "
    "'UnknownError'). In IAM a statement whose condition does not hold does not apply; here a "
    "conditional statement does not apply (moto has no TLS, so a TLS-only rule is not shown either way)"
)
def _bucket_policy_conditions() -> Undo:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode())
        statements = policy.get("Statement", [])
        statements = [s for s in (statements if isinstance(statements, list) else [statements]) if "Condition" not in s]
        return IAMPolicy(json.dumps({**policy, "Statement": statements})).is_action_permitted(action, resource)

    return _replace(FakeBucket, "get_permission", get_permission)


@fix(
    "AWS::RDS::DBInstance's Fn::GetAtt knows only Endpoint.Address and Endpoint.Port; a template that "
    "reads DbiResourceId (what IAM database authentication's rds-db:connect ARN needs) or DBInstanceArn "
    "fails: 'does not support attribute type DbiResourceId'"
)
def _db_instance_attributes() -> Undo:
    from moto.rds.models import DBInstance

    original = DBInstance.__dict__["get_cfn_attribute"]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "DbiResourceId":
            return self.dbi_resource_id
        if attribute_name == "DBInstanceArn":
            return self.arn
        return original(self, attribute_name)

    return _replace(DBInstance, "get_cfn_attribute", get_cfn_attribute)


@fix(
    "Fn::GetAtt on a resource of a type moto skips (no moto backend has it, e.g. "
    "AWS::CloudFront::VpcOrigin): moto fails the stack ('references undefined resource') where a Ref "
    "to the same resource is nothing. Here both are nothing, with a line saying so; the attribute's "
    "validity is cfn-lint's check in `make synth`"
)
def _get_att_of_skipped_type() -> Undo:
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and "Fn::GetAtt" in resource_json:
            logical_id, attribute = resource_json["Fn::GetAtt"][:2] if isinstance(resource_json["Fn::GetAtt"], list) \
                else resource_json["Fn::GetAtt"].split(".", 1)
            declared = resources_map._resource_json_map.get(logical_id)
            if declared is not None and parsing.resource_class_from_type(declared["Type"]) is None:
                log.info("Fn::GetAtt %s.%s: %s is not emulated; no value", logical_id, attribute, declared["Type"])
                return None
        return original(resource_json, resources_map)

    return _replace(parsing, "clean_json", clean_json)


@fix(
    "AWS::SSM::Parameter with Tags: in CloudFormation they are a JSON object ({key: value}); moto reads "
    "a list of Key/Value pairs (TypeError: string indices must be integers)"
)
def _ssm_parameter_tags() -> Undo:
    from moto.ssm.models import Parameter

    original = Parameter.__dict__["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = dict(cloudformation_json["Properties"])
        if isinstance(properties.get("Tags"), dict):
            properties["Tags"] = [{"Key": k, "Value": v} for k, v in properties["Tags"].items()]
        return original(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id, region_name,
                        **kwargs)

    return _replace(Parameter, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


@fix(
    "UpdateTerminationProtection (what the CDK CLI calls for a stack with terminationProtection, e.g. "
    "scale-out's stateful stacks): moto answers NotImplementedError, a 500, and the deploy fails; and "
    "moto's DeleteStack ignores the protection. Here the flag is set, and a protected stack refuses "
    "deletion with CloudFormation's message"
)
def _termination_protection() -> Undo:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_bool_param("EnableTerminationProtection")
        return ActionResult({"StackId": stack.stack_id})

    original_delete = CloudFormationBackend.__dict__["delete_stack"]

    def delete_stack(self, name_or_stack_id: str) -> None:
        for stack in self.stacks.values():
            if name_or_stack_id in (stack.stack_id, stack.name) and stack.enable_termination_protection:
                raise ValidationError(
                    message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
                )
        original_delete(self, name_or_stack_id)

    undo_api = _add(CloudFormationResponse, "update_termination_protection", update_termination_protection)
    undo_delete = _replace(CloudFormationBackend, "delete_stack", delete_stack)
    return lambda: (undo_delete(), undo_api())


@fix(
    "Elastic Load Balancing v2 attributes that CloudWatch dimensions read: moto's target group has no "
    "Fn::GetAtt at all (AttributeError: 'FakeTargetGroup' object has no attribute 'get_cfn_attribute') "
    "and its load balancer raises NotImplementedError for LoadBalancerFullName (an empty dimension)"
)
def _elbv2_attributes() -> Undo:
    from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup

    original = FakeLoadBalancer.__dict__["get_cfn_attribute"]

    def load_balancer_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "LoadBalancerFullName":  # app/<name>/<id>
            return self.arn.split(":loadbalancer/", 1)[1]
        return original(self, attribute_name)

    def target_group_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        values = {
            "TargetGroupFullName": self.arn.split(":", 5)[5],  # targetgroup/<name>/<id>
            "TargetGroupName": self.name,
            "TargetGroupArn": self.arn,
            "LoadBalancerArns": list(self.load_balancer_arns),
        }
        if attribute_name not in values:
            raise UnformattedGetAttTemplateException()
        return values[attribute_name]

    undo_lb = _replace(FakeLoadBalancer, "get_cfn_attribute", load_balancer_attribute)
    undo_tg = _add(FakeTargetGroup, "get_cfn_attribute", target_group_attribute)
    return lambda: (undo_tg(), undo_lb())


@fix(
    "change sets: moto lists each resource's Action only, with no Replacement, Scope or Details; "
    "`cdk diff` reads a change set's Details to show which properties change, so against moto it "
    "drops them (an instance type change disappears from the diff). Here Replacement and Details are "
    "filled in as CloudFormation's static evaluation does: from the resource schemas' "
    "createOnlyProperties and the update behaviours of the CDK CLI's spec (checks/changes.py, the "
    "classifier `make diff` uses offline); a value known only at deploy time is not evaluated"
)
def _change_set_details() -> Undo:
    from moto.cloudformation.models import ChangeSet

    from checks.changes import _matches, classify, conditional_paths, create_only_paths

    original = ChangeSet.__dict__["diff"]

    def diff(self):
        changes = original(self)
        before = self.stack.template_dict if self.change_set_type == "UPDATE" else {}
        classified = classify(before=before or {}, after=self.template_dict)
        parsed = self.stack.resource_map._parsed_resources
        for change in changes:
            logical_id = change.logical_resource_id
            change.physical_resource_id = getattr(parsed.get(logical_id), "physical_resource_id", None)
            change.scope, change.details, change.replacement = [], [], None
            if change.action != "Modify" or logical_id not in classified:
                continue
            resource = classified[logical_id]
            change.replacement = {"replaced": "True", "may-replace": "Conditional"}.get(resource.kind, "False")
            for dotted_path in resource.changed:
                attribute, *path = dotted_path.split(".")
                target = {"Attribute": attribute}
                if attribute == "Properties" and path:
                    target["Name"] = path[0]
                    path_t = tuple(int(p) if p.isdigit() else p for p in path)
                    target["RequiresRecreation"] = (
                        "Always" if any(_matches(path_t, c) for c in create_only_paths(change.resource_type))
                        else "Conditionally" if any(_matches(path_t, c) for c in conditional_paths(change.resource_type))
                        else "Never"
                    )
                if attribute not in change.scope:
                    change.scope.append(attribute)
                detail = {"Target": target, "Evaluation": "Static", "ChangeSource": "DirectModification"}
                if detail not in change.details:
                    change.details.append(detail)
            for reason in resource.reasons:  # a value another resource's update changes
                cascade = re.match(r"(\S+) (?:reads|references (?:new|replaced)) (\S+)", reason)
                if cascade:
                    path, causing = cascade.groups()
                    attribute, name = path.split(".")[0], path.split(".")[1] if "." in path else None
                    target = {"Attribute": attribute, **({"Name": name} if name else {}),
                              "RequiresRecreation": {"replaced": "Always", "may-replace": "Conditionally"}.get(
                                  resource.kind, "Never")}
                    change.scope = sorted({*change.scope, attribute})
                    change.details.append({"Target": target, "Evaluation": "Dynamic", "ChangeSource": "ResourceAttribute",
                                           "CausingEntity": causing})
        return changes

    return _replace(ChangeSet, "diff", diff)


@fix(
    "EC2 networking resources have no deletion in moto's CloudFormation (route tables, routes, subnet "
    "associations, internet gateways and their attachments, NAT gateways, Elastic IPs, flow logs, VPC "
    "endpoints): they stay when their stack is deleted, and the VPC's deletion then fails ('The vpc ... "
    "has dependencies and cannot be deleted'), so `cdk destroy` of a network stack never completes"
)
def _ec2_network_deletion() -> Undo:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.flow_logs import FlowLogs
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.ec2.models.route_tables import Route, RouteTable
    from moto.ec2.models.subnets import SubnetRouteTableAssociation
    from moto.ec2.models.vpcs import VPCEndPoint
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    def deleter(action: Callable[[Any, Any], None]) -> Callable[..., None]:
        def delete(self, account_id: str, region_name: str) -> None:
            try:
                action(self, ec2_backends[account_id][region_name])
            except EC2ClientError as error:  # already gone with its parent: deleted
                if "NotFound" not in error.code and "Invalid" not in error.code:
                    raise
        return delete

    def detach(attachment, backend) -> None:
        if attachment.gateway_id and attachment.gateway_id.startswith("igw-"):
            backend.detach_internet_gateway(attachment.gateway_id, attachment.vpc_id)
        elif attachment.gateway_id:
            backend.detach_vpn_gateway(attachment.gateway_id, attachment.vpc_id)

    actions = {
        SubnetRouteTableAssociation: lambda a, b: b.subnet_associations.pop(f"{a.route_table_id}:{a.subnet_id}", None),
        Route: lambda r, b: b.delete_route(r.route_table.id, r.destination_cidr_block, r.destination_ipv6_cidr_block,
                                           r.destination_prefix_list.id if r.destination_prefix_list else None),
        RouteTable: lambda t, b: b.delete_route_table(t.id),
        VPCGatewayAttachment: detach,
        InternetGateway: lambda g, b: b.delete_internet_gateway(g.id),
        NatGateway: lambda n, b: b.delete_nat_gateway(n.id),
        ElasticAddress: lambda e, b: b.release_address(allocation_id=e.allocation_id),
        FlowLogs: lambda f, b: b.delete_flow_logs([f.id]),
        VPCEndPoint: lambda e, b: b.delete_vpc_endpoints([e.id]),
    }
    undos = [_add(cls, "delete", deleter(action)) for cls, action in actions.items()]
    return lambda: [undo() for undo in reversed(undos)] and None


@fix(
    "AWS::KMS::Key deleted with its stack: CloudFormation schedules the key's deletion "
    "(PendingWindowInDays, 7 to 30 days: the key is PendingDeletion meanwhile); moto deletes it at once "
    "and leaves its tags behind, so the next DescribeKey on it is a 500"
)
def _kms_key_pending_deletion() -> Undo:
    from moto.kms.models import Key, kms_backends

    def delete(self, account_id: str, region_name: str) -> None:
        kms_backends[account_id][region_name].schedule_key_deletion(self.id, self._cfn_pending_window)

    original = Key.__dict__["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        key = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        key._cfn_pending_window = int(cloudformation_json["Properties"].get("PendingWindowInDays", 30))
        return key

    undo_delete = _replace(Key, "delete", delete)
    undo_create = _replace(Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    return lambda: (undo_create(), undo_delete())


@fix(
    "DeletionPolicy: Snapshot on an RDS instance: CloudFormation takes a final snapshot before deleting "
    "it (what a destroyed stage leaves behind, and pays for); moto deletes the instance with no snapshot"
)
def _db_snapshot_on_delete() -> Undo:
    from moto.cloudformation.parsing import ResourceMap
    from moto.rds.models import DBInstance, rds_backends

    original = ResourceMap.__dict__["_delete_resource"]

    def _delete_resource(self, parsed_resource, resource_json) -> None:
        if isinstance(parsed_resource, DBInstance) and resource_json.get("DeletionPolicy") == "Snapshot":
            from moto.cloudformation.utils import random_suffix

            stack_name = self["AWS::StackName"]
            snapshot = f"{stack_name}-{parsed_resource.logical_resource_id}-{random_suffix()}".lower()[:255]
            rds_backends[self._account_id][self._region_name].delete_db_instance(
                parsed_resource.db_instance_identifier, final_db_snapshot_identifier=snapshot
            )
            return
        original(self, parsed_resource, resource_json)

    return _replace(ResourceMap, "_delete_resource", _delete_resource)


@fix(
    "AWS::RDS::DBInstance without a Port: moto's CloudFormation gives every engine 3306 (MySQL's), so a "
    "PostgreSQL instance's Endpoint.Port and what the hosts are told is 3306; RDS uses the engine's "
    "default (5432)"
)
def _db_instance_default_port() -> Undo:
    from moto.rds.models import DBInstance

    original = DBInstance.__dict__["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = dict(cloudformation_json["Properties"])
        properties.setdefault("Port", DBInstance.default_port(properties.get("Engine", "")))
        return original(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id, region_name,
                        **kwargs)

    return _replace(DBInstance, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


@fix(
    "UsePreviousValue on an SSM-typed parameter (every CDK stack's BootstrapVersion): the previous value "
    "is the parameter's name (/cdk-bootstrap/.../version), but moto reuses what it resolved to ('33') "
    "and then looks that up as a name: every update of a stack fails "
    "(AttributeError: 'NoneType' object has no attribute 'value')"
)
def _previous_ssm_parameter_values() -> Undo:
    from moto.cloudformation.models import Stack

    def stack_parameters(self) -> dict[str, Any]:
        values = dict(self.resource_map.resolved_parameters)
        for key, slot in (self.resource_map._template.get("Parameters") or {}).items():
            if str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::"):
                values[key] = self.resource_map.input_parameters.get(key, slot.get("Default"))
        return values

    return _replace(Stack, "stack_parameters", property(stack_parameters))


@fix(
    "an update of a resource whose type has no update handler in moto (e.g. AWS::EC2::Instance's "
    "InstanceType): the stack forgets the resource (it stays in its service, but a Ref to it is "
    "nothing, it is not listed and never deleted). Here the stack keeps it as it was, and the emulator "
    "says that the update was not applied"
)
def _keep_resources_without_update() -> Undo:
    from moto.cloudformation import parsing

    original = parsing.parse_and_update_resource

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        updated = original(logical_id, resource_json, resources_map, account_id, region_name)
        if updated is None and logical_id in resources_map._parsed_resources:
            existing = resources_map._parsed_resources[logical_id]
            if existing is not None:
                log.info("%s (%s): update not applied (moto has no update for this type); kept as it was",
                         logical_id, resource_json["Type"])
                return existing
        return updated

    return _replace(parsing, "parse_and_update_resource", parse_and_update_resource)


@fix(
    "an update of an AWS::AutoScaling::AutoScalingGroup (a new launch template version, a new max size): "
    "moto deletes the group and creates a new one, so its scaling policies (and instances) are gone; "
    "CloudFormation updates the group in place and rolls its instances by the UpdatePolicy. Here the "
    "group is updated in place (UpdateAutoScalingGroup); its instances are not rolled"
)
def _auto_scaling_group_update() -> Undo:
    from moto.autoscaling.models import FakeAutoScalingGroup, autoscaling_backends

    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        p = cloudformation_json["Properties"]

        def number(key: str) -> int | None:  # CloudFormation passes "3"; the API's integers
            return int(p[key]) if p.get(key) is not None else None

        return autoscaling_backends[account_id][region_name].update_auto_scaling_group(
            name=original_resource.name, availability_zones=p.get("AvailabilityZones", []),
            desired_capacity=number("DesiredCapacity"), max_size=number("MaxSize"), min_size=number("MinSize"),
            launch_config_name=p.get("LaunchConfigurationName"), launch_template=p.get("LaunchTemplate", {}),
            vpc_zone_identifier=",".join(p.get("VPCZoneIdentifier", [])) or None,
            health_check_period=number("HealthCheckGracePeriod"), health_check_type=p.get("HealthCheckType"),
            new_instances_protected_from_scale_in=p.get("NewInstancesProtectedFromScaleIn", False),
            mixed_instances_policy=p.get("MixedInstancesPolicy"),
        )

    return _replace(FakeAutoScalingGroup, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))


@fix(
    "AWS::AutoScaling::AutoScalingGroup's LifecycleHookSpecificationList (hooks that hold the group's "
    "very first instances): moto ignores it, so the group has no launch hook. Here the group's hooks are "
    "created with it"
)
def _auto_scaling_group_lifecycle_hooks() -> Undo:
    from moto.autoscaling.models import FakeAutoScalingGroup, autoscaling_backends

    original = FakeAutoScalingGroup.__dict__["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        group = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        for hook in cloudformation_json["Properties"].get("LifecycleHookSpecificationList") or []:
            autoscaling_backends[account_id][region_name].create_lifecycle_hook(
                name=hook["LifecycleHookName"], as_name=group.name, transition=hook["LifecycleTransition"],
                timeout=int(hook["HeartbeatTimeout"]) if hook.get("HeartbeatTimeout") is not None else None,
                result=hook.get("DefaultResult", "ABANDON"),
            )
        return group

    return _replace(FakeAutoScalingGroup, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


@fix(
    "a new launch template version does not reach its Auto Scaling group: moto updates only resources "
    "whose template text changed, but the group's LaunchTemplate.Version is Fn::GetAtt "
    "LatestVersionNumber of the template, whose value changes when the template is updated; "
    "CloudFormation updates the group (and rolls its instances). Here a resource that reads a version "
    "attribute of a resource being updated is updated too (and shows in the change set)"
)
def _version_attribute_updates() -> Undo:
    from moto.cloudformation.parsing import ResourceMap

    from checks.changes import _VERSION_ATTRIBUTES, _references

    original = ResourceMap.__dict__["build_resource_diff"]

    def build_resource_diff(self, other_template, parameters=None):
        actions = original(self, other_template, parameters)
        new = other_template["Resources"]
        changing = set(actions["Modify"])
        grew = True
        while grew:  # to a fixed point: a version bump can cascade
            grew = False
            for name, resource in new.items():
                if name in changing or name not in self._resource_json_map:
                    continue
                if any(target in changing and attribute in _VERSION_ATTRIBUTES
                       for _, target, attribute in _references(resource.get("Properties", {}))):
                    actions["Modify"].append(name)
                    changing.add(name)
                    grew = True
        return actions

    return _replace(ResourceMap, "build_resource_diff", build_resource_diff)


# --- handlers for types moto's CloudFormation skips ------------------------------------

EXTENSIONS: dict[str, type] = {}


class ExtensionResource:
    """The part of moto's CloudFormationModel interface its stack code calls on a resource."""

    cloudformation_type_name = ""
    physical_resource_id = ""

    def is_created(self) -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name) -> None:
        pass

    def delete(self, account_id: str, region_name: str) -> None:
        pass


def extension(resource_type: str) -> Callable[[type], type]:
    def register(cls: type) -> type:
        EXTENSIONS[resource_type] = cls
        return cls

    return register


@fix(
    "resource types moto's CloudFormation skips ('No Moto CloudFormation support for ...') although "
    "moto's backend of the service has the resource: a Ref to one becomes nothing, a Fn::GetAtt fails "
    "the stack; handled here for the types listed in EXTENSIONS"
)
def _extension_types() -> Undo:
    from moto.cloudformation import parsing

    original = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str):
        if resource_type in EXTENSIONS:
            return EXTENSIONS[resource_type]
        return original(resource_type)

    return _replace(parsing, "resource_class_from_type", resource_class_from_type)


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _generated_name(logical_id: str) -> str:
    from moto.cloudformation.utils import random_suffix

    return f"{logical_id}-{random_suffix()}"


@extension("AWS::SecretsManager::Secret")
class Secret(ExtensionResource):
    """A secret in moto's Secrets Manager; GenerateSecretString as CloudFormation does it
    (the template's JSON with a random string under GenerateStringKey). Ref: the ARN."""

    def __init__(self, arn: str) -> None:
        self.arn = self.physical_resource_id = arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[account_id][region_name]
        properties = cloudformation_json["Properties"]
        value = properties.get("SecretString")
        if "GenerateSecretString" in properties:
            spec = properties["GenerateSecretString"]
            password = backend.get_random_password(
                password_length=int(spec.get("PasswordLength", 32)),
                exclude_characters=spec.get("ExcludeCharacters", ""),
                exclude_numbers=bool(spec.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(spec.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(spec.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(spec.get("ExcludeLowercase", False)),
                include_space=bool(spec.get("IncludeSpace", False)),
                require_each_included_type=bool(spec.get("RequireEachIncludedType", True)),
            )
            password = json.loads(password)["RandomPassword"] if password.startswith("{") else password
            if "GenerateStringKey" in spec:
                value = json.dumps({**json.loads(spec.get("SecretStringTemplate", "{}")), spec["GenerateStringKey"]: password})
            else:
                value = password
        name = properties.get("Name") or _generated_name(kwargs.get("LogicalId", resource_name))
        created = backend.create_secret(
            name=name, secret_string=value, secret_binary=None, description=properties.get("Description"),
            tags=properties.get("Tags", []), kms_key_id=properties.get("KmsKeyId"), client_request_token=None,
            replica_regions=[], force_overwrite=False,
        )
        return cls(json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        from moto.secretsmanager.models import secretsmanager_backends

        properties = cloudformation_json["Properties"]
        secret = secretsmanager_backends[account_id][region_name].describe_secret(original_resource.arn)
        secret.description = properties.get("Description", secret.description)  # the value is kept, as in AWS
        return original_resource

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Id":
            return self.arn
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.secretsmanager.models import secretsmanager_backends

        secretsmanager_backends[account_id][region_name].delete_secret(
            self.arn, recovery_window_in_days=None, force_delete_without_recovery=True
        )


@extension("AWS::SecretsManager::SecretTargetAttachment")
class SecretTargetAttachment(ExtensionResource):
    """Writes the database's engine, host, port and identifier into the secret's JSON, as
    CloudFormation does for an RDS instance. Ref: the secret's ARN."""

    def __init__(self, secret_arn: str) -> None:
        self.physical_resource_id = secret_arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.rds.models import rds_backends
        from moto.secretsmanager.models import secretsmanager_backends

        properties = cloudformation_json["Properties"]
        if properties.get("TargetType") != "AWS::RDS::DBInstance":
            raise NotImplementedError(f"SecretTargetAttachment to {properties.get('TargetType')}")
        database = rds_backends[account_id][region_name].describe_db_instances(properties["TargetId"])[0]
        secrets = secretsmanager_backends[account_id][region_name]
        current = json.loads(secrets.get_secret_value(properties["SecretId"], None, "AWSCURRENT")["SecretString"])
        current.update(engine=database.engine, host=database.address, port=database.port,
                       dbInstanceIdentifier=database.db_instance_identifier)
        secrets.put_secret_value(properties["SecretId"], json.dumps(current), None, None, ["AWSCURRENT"])
        return cls(properties["SecretId"])


@extension("AWS::S3::BucketPolicy")
class BucketPolicy(ExtensionResource):
    """The policy on moto's bucket (GetBucketPolicy returns it). Ref: the bucket name."""

    def __init__(self, bucket: str) -> None:
        self.physical_resource_id = bucket

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.s3.models import s3_backends

        properties = cloudformation_json["Properties"]
        s3_backends[account_id]["aws"].put_bucket_policy(properties["Bucket"], _json(properties["PolicyDocument"]).encode())
        return cls(properties["Bucket"])

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.s3.models import s3_backends

        backend = s3_backends[account_id]["aws"]
        if self.physical_resource_id in backend.buckets:
            backend.delete_bucket_policy(self.physical_resource_id)


@extension("AWS::SNS::TopicPolicy")
class TopicPolicy(ExtensionResource):
    """The policy on moto's topics (GetTopicAttributes' Policy)."""

    def __init__(self, topics: list[str]) -> None:
        self.topics = topics
        self.physical_resource_id = _generated_name("TopicPolicy")

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sns.models import sns_backends

        properties = cloudformation_json["Properties"]
        for topic in properties["Topics"]:
            # the backend takes the attribute's Python name (the API's "Policy")
            sns_backends[account_id][region_name].set_topic_attribute(topic, "policy", _json(properties["PolicyDocument"]))
        return cls(properties["Topics"])


@extension("AWS::SQS::QueuePolicy")
class QueuePolicy(ExtensionResource):
    """The policy on moto's queues (GetQueueAttributes' Policy). Queues: their URLs."""

    def __init__(self, queues: list[str]) -> None:
        self.queues = queues
        self.physical_resource_id = _generated_name("QueuePolicy")

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sqs.models import sqs_backends

        properties = cloudformation_json["Properties"]
        for url in properties["Queues"]:
            sqs_backends[account_id][region_name].set_queue_attributes(
                url.rstrip("/").rsplit("/", 1)[-1], {"Policy": _json(properties["PolicyDocument"])})
        return cls(properties["Queues"])


def _items(values: list | None, **extra: Any) -> dict[str, Any]:
    """A CloudFormation list as the CloudFront API (and moto) shape it: {Quantity, Items}."""
    values = list(values or [])
    return {"Quantity": len(values), "Items": values, **extra} if values else {"Quantity": 0, **extra}


def _cloudfront_behavior(cfn: dict[str, Any]) -> dict[str, Any]:
    behavior = {k: v for k, v in cfn.items() if k not in ("AllowedMethods", "CachedMethods")}
    if "AllowedMethods" in cfn:
        behavior["AllowedMethods"] = _items(cfn["AllowedMethods"], CachedMethods=_items(cfn.get("CachedMethods", ["GET", "HEAD"])))
    return behavior


def _cloudfront_config(cfn: dict[str, Any], caller_reference: str) -> dict[str, Any]:
    """AWS::CloudFront::Distribution's DistributionConfig in the API's shape."""
    config = {k: v for k, v in cfn.items() if k not in ("Origins", "CacheBehaviors", "Aliases", "CustomErrorResponses",
                                                         "DefaultCacheBehavior", "IPV6Enabled", "ViewerCertificate")}
    origins = []
    for origin in cfn.get("Origins", []):
        origin = dict(origin)
        if "OriginCustomHeaders" in origin:
            origin["CustomHeaders"] = _items(origin.pop("OriginCustomHeaders"))
        if "CustomOriginConfig" in origin:
            custom = dict(origin["CustomOriginConfig"])
            custom["OriginSslProtocols"] = _items(custom.pop("OriginSSLProtocols", []))
            origin["CustomOriginConfig"] = custom
        origins.append(origin)
    config.update(
        CallerReference=caller_reference,
        Origins=_items(origins),
        DefaultCacheBehavior=_cloudfront_behavior(cfn["DefaultCacheBehavior"]),
        CacheBehaviors=_items([_cloudfront_behavior(b) for b in cfn.get("CacheBehaviors", [])]),
        Aliases=_items(cfn.get("Aliases")),
        CustomErrorResponses=_items(cfn.get("CustomErrorResponses")),
        IsIPV6Enabled=cfn.get("IPV6Enabled", True),
    )
    if "ViewerCertificate" in cfn:
        certificate = dict(cfn["ViewerCertificate"])
        for cfn_key, api_key in (("AcmCertificateArn", "ACMCertificateArn"), ("IamCertificateId", "IAMCertificateId")):
            if cfn_key in certificate:
                certificate[api_key] = certificate.pop(cfn_key)
        config["ViewerCertificate"] = certificate
    return config


@extension("AWS::CloudFront::Distribution")
class Distribution(ExtensionResource):
    """A distribution in moto's CloudFront (GetDistribution returns it). Ref: its id;
    Fn::GetAtt: Id, DomainName (moto's random *.cloudfront.net)."""

    def __init__(self, distribution: Any) -> None:
        self.distribution = distribution
        self.physical_resource_id = distribution.distribution_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.cloudfront.models import cloudfront_backends

        properties = cloudformation_json["Properties"]
        config = _cloudfront_config(properties["DistributionConfig"], caller_reference=_generated_name(resource_name))
        distribution, _, _ = cloudfront_backends[account_id]["global"].create_distribution(config, properties.get("Tags", []))
        return cls(distribution)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        from moto.cloudfront.models import cloudfront_backends

        backend = cloudfront_backends[account_id]["global"]
        old = original_resource.distribution
        config = _cloudfront_config(cloudformation_json["Properties"]["DistributionConfig"],
                                    caller_reference=old.distribution_config.caller_reference)
        distribution, _, _ = backend.update_distribution(dist_config=config, _id=old.distribution_id, if_match=old.etag)
        return cls(distribution)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Id":
            return self.distribution.distribution_id
        if attribute_name == "DomainName":
            return self.distribution.domain_name
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudfront.models import cloudfront_backends

        cloudfront_backends[account_id]["global"].delete_distribution(self.distribution.distribution_id, if_match=True)


@extension("AWS::CloudFront::OriginAccessControl")
class OriginAccessControl(ExtensionResource):
    """An origin access control in moto's CloudFront. Ref and Fn::GetAtt Id: its id."""

    def __init__(self, control_id: str) -> None:
        self.physical_resource_id = control_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.cloudfront.models import cloudfront_backends

        config = cloudformation_json["Properties"]["OriginAccessControlConfig"]
        return cls(cloudfront_backends[account_id]["global"].create_origin_access_control(dict(config)).id)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Id":
            return self.physical_resource_id
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudfront.models import cloudfront_backends

        cloudfront_backends[account_id]["global"].delete_origin_access_control(self.physical_resource_id)


@extension("AWS::CloudWatch::Alarm")
class MetricAlarm(ExtensionResource):
    """An alarm in moto's CloudWatch (DescribeAlarms returns it, with its actions). Ref: its
    name; Fn::GetAtt Arn."""

    def __init__(self, alarm: Any) -> None:
        self.alarm = alarm
        self.physical_resource_id = alarm.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends

        p = cloudformation_json["Properties"]
        queries = None
        if p.get("Metrics"):
            queries = []
            for query in p["Metrics"]:
                stat = query.get("MetricStat")
                metric_stat = None
                if stat:
                    metric = stat["Metric"]
                    metric_stat = MetricStat(
                        metric=Metric(metric_name=metric["MetricName"], namespace=metric.get("Namespace"),
                                      dimensions=[Dimension(name=d["Name"], value=d["Value"])
                                                  for d in metric.get("Dimensions", [])]),
                        period=stat.get("Period"), stat=stat.get("Stat"), unit=stat.get("Unit"),
                    )
                queries.append(MetricDataQuery(query_id=query["Id"], label=query.get("Label"), period=query.get("Period"),
                                               return_data=query.get("ReturnData"), expression=query.get("Expression"),
                                               metric_stat=metric_stat))
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=p.get("AlarmName") or _generated_name(kwargs.get("LogicalId", resource_name)),
            namespace=p.get("Namespace"), metric_name=p.get("MetricName"), metric_data_queries=queries,
            comparison_operator=p["ComparisonOperator"], evaluation_periods=int(p["EvaluationPeriods"]),
            datapoints_to_alarm=p.get("DatapointsToAlarm"), period=p.get("Period"), threshold=p.get("Threshold"),
            statistic=p.get("Statistic"), extended_statistic=p.get("ExtendedStatistic"),
            description=p.get("AlarmDescription"), dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []), ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []), unit=p.get("Unit"),
            actions_enabled=bool(p.get("ActionsEnabled", True)), treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"), tags=p.get("Tags", []),
        )
        return cls(alarm)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        # PutMetricAlarm replaces an alarm of the same name: the name (Ref) stays
        properties = {"AlarmName": original_resource.alarm.name, **cloudformation_json["Properties"]}
        return cls.create_from_cloudformation_json(new_resource_name, {**cloudformation_json, "Properties": properties},
                                                   account_id, region_name)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.alarm.alarm_arn
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([self.alarm.name])


@extension("AWS::AutoScaling::ScalingPolicy")
class ScalingPolicy(ExtensionResource):
    """A scaling policy in moto's Auto Scaling (DescribePolicies returns it). Ref: its ARN."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.physical_resource_id = policy.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.autoscaling.models import autoscaling_backends

        p = cloudformation_json["Properties"]
        policy = autoscaling_backends[account_id][region_name].put_scaling_policy(
            name=p.get("PolicyName") or _generated_name(kwargs.get("LogicalId", resource_name)),
            policy_type=p.get("PolicyType", "SimpleScaling"), metric_aggregation_type=p.get("MetricAggregationType"),
            adjustment_type=p.get("AdjustmentType"), as_name=p["AutoScalingGroupName"],
            min_adjustment_magnitude=p.get("MinAdjustmentMagnitude"), scaling_adjustment=p.get("ScalingAdjustment"),
            cooldown=p.get("Cooldown"), target_tracking_config=p.get("TargetTrackingConfiguration"),
            step_adjustments=p.get("StepAdjustments"), estimated_instance_warmup=p.get("EstimatedInstanceWarmup"),
            predictive_scaling_configuration=p.get("PredictiveScalingConfiguration"),
        )
        return cls(policy)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        properties = {"PolicyName": original_resource.policy.name, **cloudformation_json["Properties"]}
        return cls.create_from_cloudformation_json(new_resource_name, {**cloudformation_json, "Properties": properties},
                                                   account_id, region_name)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.policy.arn
        if attribute_name == "PolicyName":
            return self.policy.name
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.autoscaling.models import autoscaling_backends

        backend = autoscaling_backends[account_id][region_name]
        if self.policy.name in backend.policies:
            backend.delete_policy(self.policy.name)


@extension("AWS::EC2::SecurityGroupEgress")
class SecurityGroupEgress(ExtensionResource):
    """An egress rule on moto's security group (DescribeSecurityGroups shows it)."""

    def __init__(self, group_id: str, rule: dict[str, Any]) -> None:
        self.group_id, self.rule = group_id, rule
        self.physical_resource_id = _generated_name("sgr")

    @staticmethod
    def _rule(properties: dict[str, Any]) -> dict[str, Any]:
        rule: dict[str, Any] = {"ip_protocol": properties["IpProtocol"], "from_port": properties.get("FromPort"),
                                "to_port": properties.get("ToPort"), "ip_ranges": [], "source_groups": [],
                                "prefix_list_ids": []}
        if "CidrIp" in properties:
            rule["ip_ranges"] = [{"CidrIp": properties["CidrIp"], "Description": properties.get("Description", "")}]
        if "CidrIpv6" in properties:
            rule["ip_ranges"] = [{"CidrIpv6": properties["CidrIpv6"], "Description": properties.get("Description", "")}]
        if "DestinationSecurityGroupId" in properties:
            rule["source_groups"] = [{"GroupId": properties["DestinationSecurityGroupId"]}]
        if "DestinationPrefixListId" in properties:
            rule["prefix_list_ids"] = [{"PrefixListId": properties["DestinationPrefixListId"]}]
        return rule

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.ec2.models import ec2_backends

        properties = cloudformation_json["Properties"]
        rule = cls._rule(properties)
        ec2_backends[account_id][region_name].authorize_security_group_egress(properties["GroupId"], **rule)
        return cls(properties["GroupId"], rule)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.ec2.exceptions import EC2ClientError
        from moto.ec2.models import ec2_backends

        try:
            ec2_backends[account_id][region_name].revoke_security_group_egress(self.group_id, **self.rule)
        except EC2ClientError:  # the group is gone already, and the rule with it
            pass


@extension("AWS::SNS::Subscription")
class Subscription(ExtensionResource):
    """A subscription in moto's SNS (ListSubscriptionsByTopic returns it). Ref: its ARN."""

    def __init__(self, arn: str) -> None:
        self.physical_resource_id = arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.sns.models import sns_backends

        p = cloudformation_json["Properties"]
        subscription = sns_backends[account_id][region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        return cls(subscription.arn)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sns.models import sns_backends

        sns_backends[account_id][region_name].unsubscribe(self.physical_resource_id)


@extension("AWS::SecretsManager::ResourcePolicy")
class SecretResourcePolicy(ExtensionResource):
    """The resource policy on moto's secret (GetResourcePolicy returns it)."""

    def __init__(self, secret_id: str) -> None:
        self.physical_resource_id = secret_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.secretsmanager.models import secretsmanager_backends

        p = cloudformation_json["Properties"]
        secretsmanager_backends[account_id][region_name].put_resource_policy(p["SecretId"], _json(p["ResourcePolicy"]))
        return cls(p["SecretId"])

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.secretsmanager.exceptions import SecretNotFoundException
        from moto.secretsmanager.models import secretsmanager_backends

        try:
            secretsmanager_backends[account_id][region_name].delete_resource_policy(self.physical_resource_id)
        except SecretNotFoundException:
            pass
