"""The deploy rehearsal: the user's own deploy commands, through the real CDK CLI, against
an AWS API emulator on this machine (no account, no credentials, no network).

    make rehearse                     # or: python -m checks.rehearsal [--stages starter,small,scale-out]

What it does, in order, and stops at the first failure with the step's output:

1. starts the emulator (`checks.rehearsal.emulator`) on a free loopback port; it is stopped
   at the end whatever happens;
2. runs ``make bootstrap``, then ``make deploy STAGE=...`` for each stage: the targets and
   the ``scripts/deploy.sh`` a user runs, with only the emulator's endpoint and dummy
   credentials in the environment (the user's own AWS configuration is removed, so nothing
   can reach a real account) and ``--require-approval never`` (nobody is there to approve);
3. checks what landed through the AWS API: every stack of the stage complete, the site URL
   output, and everything the hosts read, taken from their own user data: the bootstrap
   script, service bundle and wheelhouse in the bootstrap bucket, the secrets and the
   parameter, the media bucket, the database endpoint;
4. per stage, a code change and a config change: ``make diff STAGE=...`` must name every
   resource the change set changes; the change sets (``--method prepare-change-set``) are
   read per stack: no database, secret, bucket or key is ever replaced or deleted, and the
   expected resources change as expected; then the change is deployed and checked as in 3;
5. ``make destroy STAGE=starter``: what is left must be exactly what is retained on purpose
   (the README's "Tear down and deploy again"), then starter deploys again; small's and
   scale-out's deliberate teardown, step by step as the README gives it, also ends with the stage
   deployed again.

Every command's output is in ``build/rehearsal/`` (one log per step, and the emulator's).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from checks.changes import STATEFUL_TYPES
from checks.rehearsal import emulator

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "build" / "rehearsal"
README = ROOT / "README.md"
STAGES = ("starter", "small", "scale-out")
# The stages whose data is protected (termination and deletion protection): torn down by the
# README's deliberate procedure, not by `make destroy` alone.
PROTECTED = ("small", "scale-out")
STACKS = ("foundation", "network", "data", "storage", "app", "observability")
# The README's deploy command, and no one to answer the approval prompt.
DEPLOY_ARGS = "-c alarm_emails=ops@example.com --require-approval never"
PROBE = ROOT / "game_service" / "_deploy_rehearsal_probe.py"
NOT_EMULATED_BEGIN = "<!-- rehearsal:not-emulated:begin -->"
NOT_EMULATED_END = "<!-- rehearsal:not-emulated:end -->"


class RehearsalFailed(Exception):
    pass


@dataclass(frozen=True)
class Change:
    """One weekly change to a stage, deployed through a reviewed change set."""

    name: str
    stage: str
    args: str = ""  # extra `-c key=value` context
    code: bool = False  # a new file in game_service/ (the service bundle changes)
    expect: Callable[[dict[str, list[dict]]], str | None] = lambda changes: None
    """Given {stack: [ResourceChange...]}, None or what is wrong."""


def _find(changes: dict[str, list[dict]], resource_type: str, action: str | None = None) -> list[dict]:
    return [c for cs in changes.values() for c in cs
            if c["ResourceType"] == resource_type and (action is None or c["Action"] == action)]


def _of(changes: list[dict], prefix: str) -> list[dict]:
    return [c for c in changes if c["LogicalResourceId"].startswith(prefix)]


def _migrates_once(changes: dict[str, list[dict]]) -> str | None:
    """A release's migration runs on a new instance (its logical ID carries the user data's hash)."""
    instances = _find(changes, "AWS::EC2::Instance")
    if len(_of(instances, "Migration")) != 2 or {c["Action"] for c in _of(instances, "Migration")} != {"Add", "Remove"}:
        return "the release's migration instance is not replaced by a new one (each release migrates once)"
    return None


def _starter_code(changes: dict[str, list[dict]]) -> str | None:
    # The instance's logical ID carries its user data's hash: a new instance, the old one removed.
    tier = _of(_find(changes, "AWS::EC2::Instance"), "Tier")
    if sorted(c["Action"] for c in tier) != ["Add", "Remove"]:
        return "the app instance is not replaced by a new one (Add + Remove of an AWS::EC2::Instance)"
    return _migrates_once(changes)


def _rolls_launch_template(changes: dict[str, list[dict]]) -> str | None:
    if not _of(_find(changes, "AWS::EC2::LaunchTemplate", "Modify"), "Tier"):
        return "the launch template is not updated (a new version that the group rolls out)"
    if _find(changes, "AWS::AutoScaling::AutoScalingGroup", "Remove") or _of(_find(changes, "AWS::EC2::Instance"), "Tier"):
        return "the Auto Scaling group or an instance is replaced: the group should roll its instances instead"
    return None


def _scale_out_code(changes: dict[str, list[dict]]) -> str | None:
    return _rolls_launch_template(changes) or _migrates_once(changes)


def _starter_instance_type(changes: dict[str, list[dict]]) -> str | None:
    modified = _find(changes, "AWS::EC2::Instance", "Modify")
    if not modified or modified[0]["Replacement"] != "Conditional":
        return "the instance type change is not an in-place update that may interrupt (Replacement: Conditional)"
    return None


def _scale_out_size(changes: dict[str, list[dict]]) -> str | None:
    groups = _find(changes, "AWS::AutoScaling::AutoScalingGroup", "Modify")
    if not groups or groups[0]["Replacement"] != "False":
        return "the group is not updated in place (MaxSize)"
    return _rolls_launch_template(changes)


CHANGES = (
    # Each change stays in place for the next one of its stage (the code change deploys with
    # the new instance type), so each change set shows one change.
    Change("instance type", "starter", args="-c instance_type=t4g.medium", expect=_starter_instance_type),
    Change("code change", "starter", code=True, expect=_starter_code),
    Change("instance type and max size", "small", args="-c instance_type=t4g.medium -c max_instances=6",
           expect=_scale_out_size),
    Change("code change", "small", code=True, expect=_scale_out_code),
    Change("instance type and max size", "scale-out", args="-c instance_type=c7g.xlarge -c max_instances=20",
           expect=_scale_out_size),
    Change("code change", "scale-out", code=True, expect=_scale_out_code),
)


@dataclass
class Rehearsal:
    endpoint: emulator.Endpoint
    home: Path
    steps: int = 0
    stage_args: dict[str, str] = field(default_factory=dict)
    """The ARGS each stage is deployed with now (the changes so far)."""

    # --- running the user's commands -------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The user's environment without any AWS or CDK setting of theirs, plus the emulator."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
        env.update(self.endpoint.client_env())
        env.update(
            AWS_CONFIG_FILE=str(self.home / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.home / "no-aws-credentials"),
            HOME=str(self.home),  # the CDK CLI's cache (~/.cdk) stays out of the user's
            MAKEFLAGS="",
        )
        env.pop("ACCOUNT", None)
        return env

    def make(self, target: str, stage: str | None = None, args: str = "", *, expect_failure: bool = False) -> str:
        command = ["make", "--no-print-directory", target]
        if stage:
            command.append(f"STAGE={stage}")
        if args:
            command.append(f"ARGS={args}")
        shown = " ".join(shlex.quote(c) if " " in c else c for c in command)
        self.steps += 1
        log_file = LOGS / f"{self.steps:02d}-{target}{'-' + stage if stage else ''}.log"
        started = time.monotonic()
        with log_file.open("w") as out:
            out.write(f"$ {shown}\n")
            out.flush()
            result = subprocess.run(command, cwd=ROOT, env=self.env(), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, text=True, timeout=1800)
        output = log_file.read_text()
        took = time.monotonic() - started
        if (result.returncode != 0) != expect_failure:
            tail = "\n".join(output.splitlines()[-40:])
            raise RehearsalFailed(f"`{shown}` exited {result.returncode} ({log_file.relative_to(ROOT)}):\n{tail}")
        say(f"{shown}: {'failed, as expected' if expect_failure else 'ok'} ({took:.0f} s)")
        return output

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint.url, region_name=emulator.REGION,
                            aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")

    # --- what landed -----------------------------------------------------------------------

    def stack(self, name: str) -> dict:
        return self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]

    def check_deployed(self, stage: str) -> str:
        """Every stack complete; the site URL; what the hosts read. Returns the site URL."""
        for suffix in STACKS:
            status = self.stack(f"{stage}-{suffix}")["StackStatus"]
            if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                raise RehearsalFailed(f"{stage}-{suffix} is {status}")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in self.stack(f"{stage}-app").get("Outputs", [])}
        site_url = outputs.get("SiteUrl", "")
        if not re.fullmatch(r"https://[a-z0-9]+\.cloudfront\.net", site_url):
            raise RehearsalFailed(f"{stage}-app: output SiteUrl is {site_url!r}, not the distribution's https URL")
        read = self.check_host_inputs(stage, site_url)
        say(f"  {stage}: 6 stacks complete; SiteUrl {site_url}; the hosts' inputs present: {', '.join(read)}")
        say(f"  {stage}: {self.check_alarms(stage)}; {self.check_app_tier(stage)}")
        return site_url

    def stack_resources(self, stack: str, resource_type: str, prefix: str = "") -> list[str]:
        summaries = self.client("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
        return [r["PhysicalResourceId"] for r in summaries
                if r["ResourceType"] == resource_type and r["LogicalResourceId"].startswith(prefix)]

    def check_alarms(self, stage: str) -> str:
        """Every alarm of the stage acts: notifies the stage's topic (which has the subscriber) or
        recovers its instance (EC2 automate actions)."""
        outputs = {o["OutputKey"]: o["OutputValue"] for o in self.stack(f"{stage}-foundation").get("Outputs", [])}
        topic = outputs["AlarmTopicArn"]
        names = [n for suffix in ("app", "observability") for n in self.stack_resources(f"{stage}-{suffix}", "AWS::CloudWatch::Alarm")]
        alarms = self.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        notify = [a for a in alarms if topic in a["AlarmActions"]]
        recover = [a for a in alarms if any(":automate:" in action for action in a["AlarmActions"])]
        silent = sorted(a["AlarmName"] for a in alarms if a not in notify and a not in recover)
        if len(alarms) != len(names) or not alarms or silent:
            raise RehearsalFailed(f"{stage}: {len(names)} alarms in the templates, {len(alarms)} in CloudWatch; "
                                  f"acting on nothing (neither {topic} nor a recovery): {silent}")
        endpoints = [s["Endpoint"] for s in self.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
        if "ops@example.com" not in endpoints:
            raise RehearsalFailed(f"{stage}: the alarm topic's subscribers are {endpoints}, not ops@example.com")
        recovering = f", {len(recover)} recover the instance" if recover else ""
        return f"{len(notify)} alarms notify the topic, which ops@example.com subscribes to{recovering}"

    def check_app_tier(self, stage: str) -> str:
        groups = self.stack_resources(f"{stage}-app", "AWS::AutoScaling::AutoScalingGroup", prefix="Tier")
        if not groups:
            instances = self.stack_resources(f"{stage}-app", "AWS::EC2::Instance", prefix="Tier")
            return f"{len(instances)} app instance"
        said = "Auto Scaling group " + self._check_group(stage, "Tier", hooks={"launch": "ABANDON"})
        # a worker tier (scale-out): its own group, hooks and scaling policy
        if self.stack_resources(f"{stage}-app", "AWS::AutoScaling::AutoScalingGroup", prefix="Workers"):
            said += "; worker tier " + self._check_group(stage, "Workers", hooks={"launch": "ABANDON",
                                                                                 "drain": "CONTINUE"})
        return said

    def _check_group(self, stage: str, prefix: str, *, hooks: dict[str, str]) -> str:
        """The group whose logical ID starts with ``prefix``: its instances launched, its subnets
        in >= 2 AZs, a scaling policy, and the hooks its hosts complete, as their user data
        names them (``launch``: --lifecycle-hook, ``drain``: --drain-hook), with the default
        results given."""
        autoscaling = self.client("autoscaling")
        (name,) = self.stack_resources(f"{stage}-app", "AWS::AutoScaling::AutoScalingGroup", prefix=prefix)
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        # Where the group may launch (AWS balances its instances over these; moto puts them all in the first)
        subnets = self.client("ec2").describe_subnets(SubnetIds=group["VPCZoneIdentifier"].split(","))["Subnets"]
        zones = {subnet["AvailabilityZone"] for subnet in subnets}
        policies = autoscaling.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
        if len(group["Instances"]) < group["MinSize"] or len(zones) < 2 or not policies:
            raise RehearsalFailed(f"{stage}: the {prefix} group has {len(group['Instances'])} instances (min "
                                  f"{group['MinSize']}), subnets in {sorted(zones)}, {len(policies)} scaling policies")
        found = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
        user_data = self.user_data(stage, prefix)
        said = []
        for kind, result in hooks.items():
            transition = "LAUNCHING" if kind == "launch" else "TERMINATING"
            flag = "--lifecycle-hook" if kind == "launch" else "--drain-hook"
            named = re.search(rf"{flag} (\S+)", user_data)
            hook = [h for h in found if h["LifecycleTransition"] == f"autoscaling:EC2_INSTANCE_{transition}"]
            if len(hook) != 1 or not named or hook[0]["LifecycleHookName"] != named.group(1) \
                    or hook[0]["DefaultResult"] != result:
                raise RehearsalFailed(f"{stage}: the {prefix} group's {kind} hooks {hook}, the hosts complete "
                                      f"{named.group(1) if named else 'none'} ({flag})")
            said.append(f"{kind} hook {hook[0]['LifecycleHookName']} ({result} after {hook[0]['HeartbeatTimeout']} s)")
        return (f"{group['MinSize']}..{group['MaxSize']} over {len(zones)} AZs: {len(group['Instances'])} instances "
                f"launched, {len(policies)} scaling policy, " + ", ".join(said) + " (the hosts complete them)")

    def user_data(self, stage: str, prefix: str = "Tier") -> str:
        """The hosts' user data as deployed: the instance's (starter) or the group's launch
        template's; ``prefix``: the logical IDs of the tier (Tier: the app's, the release's
        migration has its own; Workers: the worker tier's)."""
        ec2 = self.client("ec2")
        resources = self.client("cloudformation").list_stack_resources(StackName=f"{stage}-app")["StackResourceSummaries"]
        by_type = {r["ResourceType"]: r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"].startswith(prefix)}
        if "AWS::AutoScaling::AutoScalingGroup" in by_type:
            group = self.client("autoscaling").describe_auto_scaling_groups(
                AutoScalingGroupNames=[by_type["AWS::AutoScaling::AutoScalingGroup"]])["AutoScalingGroups"][0]
            spec = group["LaunchTemplate"]
            version = self.client("ec2").describe_launch_template_versions(
                LaunchTemplateId=spec["LaunchTemplateId"], Versions=[spec["Version"]])["LaunchTemplateVersions"][0]
            encoded = version["LaunchTemplateData"]["UserData"]
        else:
            instance = by_type["AWS::EC2::Instance"]
            encoded = ec2.describe_instance_attribute(InstanceId=instance, Attribute="userData")["UserData"]["Value"]
        return base64.b64decode(encoded).decode()

    def migration_user_data(self, stage: str) -> str:
        """The user data of the release's migration instance, as deployed."""
        (instance,) = self.stack_resources(f"{stage}-app", "AWS::EC2::Instance", prefix="Migration")
        encoded = self.client("ec2").describe_instance_attribute(InstanceId=instance, Attribute="userData")["UserData"]["Value"]
        return base64.b64decode(encoded).decode()

    def check_host_inputs(self, stage: str, site_url: str) -> list[str]:
        user_data, migration = self.user_data(stage), self.migration_user_data(stage)
        env, migration_env = _env_of(user_data), _env_of(migration)
        checked = []
        s3 = self.client("s3")
        for url in re.findall(r"s3://[^\s]+", user_data + migration):
            bucket, key = url.removeprefix("s3://").split("/", 1)
            s3.head_object(Bucket=bucket, Key=key)
        if _bundle(user_data) != _bundle(migration):
            raise RehearsalFailed(f"{stage}: the migration runs {_bundle(migration)}, the hosts {_bundle(user_data)}")
        checked.append("bootstrap script, service bundle and wheelhouse in the bootstrap bucket (the hosts' and "
                       "the migration's: the same release)")
        if "GAME_DB_ADMIN_SECRET_ID" in env:
            raise RehearsalFailed(f"{stage}: the hosts are told where the master secret is")
        secrets = self.client("secretsmanager")
        master = json.loads(secrets.get_secret_value(SecretId=migration_env["GAME_DB_ADMIN_SECRET_ID"])["SecretString"])
        if not {"username", "password", "host", "port"} <= master.keys():
            raise RehearsalFailed(f"{stage}: the database secret lacks username/password/host/port: {sorted(master)}")
        app_secret = json.loads(secrets.get_secret_value(SecretId=env["GAME_APP_SECRET_ID"])["SecretString"])
        if len(app_secret.get("session_secret", "")) < 32:
            raise RehearsalFailed(f"{stage}: the app secret has no session signing key")
        checked.append("the app secret (the master secret: the migration's only)")
        parameter = self.client("ssm").get_parameter(Name=env["GAME_PUBLIC_BASE_URL_PARAMETER"])["Parameter"]["Value"]
        if parameter != site_url:
            raise RehearsalFailed(f"{stage}: parameter {env['GAME_PUBLIC_BASE_URL_PARAMETER']} is {parameter!r}, not {site_url}")
        checked.append(f"parameter {env['GAME_PUBLIC_BASE_URL_PARAMETER']}")
        distribution = self.client("ssm").get_parameter(Name=env["GAME_CDN_DISTRIBUTION_PARAMETER"])["Parameter"]["Value"]
        domain = self.client("cloudfront").get_distribution(Id=distribution)["Distribution"]["DomainName"]
        if site_url != f"https://{domain}":
            raise RehearsalFailed(f"{stage}: parameter {env['GAME_CDN_DISTRIBUTION_PARAMETER']} names distribution "
                                  f"{distribution} ({domain}), not the site's")
        checked.append(f"parameter {env['GAME_CDN_DISTRIBUTION_PARAMETER']}")
        s3.head_bucket(Bucket=env["GAME_MEDIA_BUCKET"])
        checked.append("the media bucket")
        database = self.client("rds").describe_db_instances(DBInstanceIdentifier=f"{stage}-game")["DBInstances"][0]
        endpoint = (database["Endpoint"]["Address"], str(database["Endpoint"]["Port"]))
        if (env["GAME_DB_HOST"], env["GAME_DB_PORT"]) != endpoint or (master["host"], str(master["port"])) != endpoint:
            raise RehearsalFailed(f"{stage}: the hosts are told {env['GAME_DB_HOST']}:{env['GAME_DB_PORT']}, "
                                  f"the secret {master['host']}:{master['port']}; the database is at {':'.join(endpoint)}")
        checked.append("the database endpoint")
        return checked

    # --- changes -----------------------------------------------------------------------------

    def rehearse_change(self, change: Change) -> None:
        say(f"{change.stage}: {change.name}")
        self.stage_args[change.stage] = f"{self.stage_args.get(change.stage, DEPLOY_ARGS)} {change.args}".strip()
        args = self.stage_args[change.stage]
        with _probe(change.code):
            diff = self.make("diff", change.stage, args)
            if re.search(r"Number of stacks with differences: 0\b", diff):
                raise RehearsalFailed(f"make diff STAGE={change.stage} says nothing differs after the {change.name}")
            name = f"rehearsal-{self.steps:02d}"
            self.make("deploy", change.stage, f"{args} --method prepare-change-set --change-set-name {name}")
            changes = self.change_sets(change.stage, name)
            self.report_changes(change, changes)
            # What the templates change must be in the diff (a resource updated only because
            # another one's attribute changes, e.g. a new launch template version, is not: cdk
            # diff compares templates)
            direct = {c["LogicalResourceId"] for cs in changes.values() for c in cs
                      if c["Action"] != "Modify" or any(d["ChangeSource"] == "DirectModification" for d in c["Details"])}
            missing = sorted(direct - set(re.findall(r"\b(\w+)\b", diff)))
            if missing:
                raise RehearsalFailed(f"make diff STAGE={change.stage} does not name {', '.join(missing)}, which the change sets change")
            bundle_before = _bundle(self.user_data(change.stage))
            self.make("deploy", change.stage, args)
        self.check_deployed(change.stage)
        bundle_after = _bundle(self.user_data(change.stage))
        if change.code and bundle_after == bundle_before:
            raise RehearsalFailed(f"{change.stage}: after the code change the hosts still fetch {bundle_before}")
        if change.code:
            say(f"  {change.stage}: the hosts now fetch the new service bundle {bundle_after.rsplit('/', 1)[1]}")

    def change_sets(self, stage: str, name: str) -> dict[str, list[dict]]:
        cloudformation = self.client("cloudformation")
        changes = {}
        for suffix in STACKS:
            described = cloudformation.describe_change_set(StackName=f"{stage}-{suffix}", ChangeSetName=name)
            changes[suffix] = [c["ResourceChange"] for c in described["Changes"]]
        return changes

    def report_changes(self, change: Change, changes: dict[str, list[dict]]) -> None:
        for stack, cs in changes.items():
            for c in cs:
                replacement = f", replacement {c['Replacement']}" if c.get("Replacement") not in (None, "False") else ""
                causes = sorted({d["CausingEntity"] for d in c.get("Details", []) if d.get("CausingEntity")})
                because = f", because {', '.join(causes)} changes" if causes else ""
                say(f"  change set {change.stage}-{stack}: {c['Action']} {c['LogicalResourceId']} ({c['ResourceType']})"
                    f"{replacement}{because}")
        lost = [
            f"{stack}: {c['LogicalResourceId']} ({c['ResourceType']}) {c['Action']}, replacement {c.get('Replacement')}"
            for stack, cs in changes.items() for c in cs
            if c["ResourceType"] in STATEFUL_TYPES and (c["Action"] == "Remove" or c.get("Replacement") in ("True", "Conditional"))
        ]
        if lost:
            raise RehearsalFailed(f"{change.stage}, {change.name}: stateful resources would be lost:\n  " + "\n  ".join(lost))
        wrong = change.expect(changes)
        if wrong:
            raise RehearsalFailed(f"{change.stage}, {change.name}: {wrong}")
        say(f"  {change.stage}, {change.name}: no database, secret, bucket or key replaced or deleted")

    # --- teardown ----------------------------------------------------------------------------

    def leftovers(self, stage: str) -> list[str]:
        """What still carries the stage's tag, one short line each (generated suffixes dropped;
        terminated instances do not count)."""
        found = []
        tagging = self.client("resourcegroupstaggingapi")
        for resource in tagging.get_resources(TagFilters=[{"Key": "stage", "Values": [stage]}])["ResourceTagMappingList"]:
            arn = resource["ResourceARN"]
            service, rest = arn.split(":")[2], arn.split(":", 5)[5]
            if service == "ec2" and rest.startswith("instance/"):
                state = self.client("ec2").describe_instances(InstanceIds=[rest.split("/")[1]])
                if state["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated":
                    continue
            if service == "kms":
                found.append(f"KMS key ({self.client('kms').describe_key(KeyId=arn)['KeyMetadata']['KeyState']})")
            elif service == "s3":
                found.append(f"bucket {re.sub(r'-[a-z0-9]{12}$', '', rest)}")
            elif service == "rds" and rest.startswith("snapshot:"):
                found.append("final database snapshot")
            elif service == "secretsmanager":
                found.append(f"secret {rest.removeprefix('secret:').split('-')[0]}")
            elif service == "logs":
                found.append(f"log group {rest.removeprefix('log-group:')}")
            else:
                found.append(f"{service} {rest}")
        return sorted(found)

    def check_leftovers(self, stage: str, retained: list[str]) -> None:
        left = self.leftovers(stage)
        if left != sorted(retained):
            raise RehearsalFailed(f"{stage}: after make destroy, left: {left}; retained on purpose: {sorted(retained)}")
        say(f"  {stage}: left after destroy, all retained on purpose: {', '.join(left)}")

    def existing_stacks(self, stage: str) -> list[str]:
        names = {s["StackName"] for s in self.client("cloudformation").describe_stacks()["Stacks"]}
        return [suffix for suffix in STACKS if f"{stage}-{suffix}" in names]

    def destroy_and_redeploy(self, stage: str) -> None:
        """starter: `make destroy`, then `make deploy` (the README's "Tear down and deploy again")."""
        say(f"{stage}: destroy, then deploy again")
        self.make("destroy", stage, "--force")
        if self.existing_stacks(stage):
            raise RehearsalFailed(f"{stage}: {self.existing_stacks(stage)} still exist after make destroy")
        self.check_leftovers(stage, [f"bucket {stage}-storage-{b}bucket" for b in ("logs", "media", "static")]
                             + ["KMS key (PendingDeletion)", "final database snapshot"])
        self.make("deploy", stage, DEPLOY_ARGS)
        self.check_deployed(stage)

    def tear_down_production(self, stage: str) -> None:
        """small and scale-out: the README's deliberate teardown, step by step (its `aws` commands are
        the API calls below), ending with the stage deployed again."""
        say(f"{stage}: the teardown procedure, then deploy again")
        output = self.make("destroy", stage, "--force", expect_failure=True)
        if "have termination protection: nothing was deleted" not in output:
            raise RehearsalFailed(f"{stage}: make destroy failed, but not on termination protection")
        if self.existing_stacks(stage) != list(STACKS):
            raise RehearsalFailed(f"{stage}: make destroy refused, yet only {self.existing_stacks(stage)} remain")
        say(f"  {stage}: make destroy refuses a protected stage and deletes nothing")
        protected = {"data", "storage"}
        cloudformation = self.client("cloudformation")
        for suffix in sorted(protected):  # step 1
            cloudformation.update_termination_protection(StackName=f"{stage}-{suffix}", EnableTerminationProtection=False)
        self.client("rds").modify_db_instance(  # step 2
            DBInstanceIdentifier=f"{stage}-game", DeletionProtection=False, ApplyImmediately=True)
        self.make("destroy", stage, "--force")  # step 3
        if self.existing_stacks(stage):
            raise RehearsalFailed(f"{stage}: {self.existing_stacks(stage)} still exist after the teardown")
        rds_logs = [f"/aws/rds/instance/{stage}-game/{kind}" for kind in ("postgresql", "upgrade")]
        self.check_leftovers(stage, [f"bucket {stage}-storage-{b}bucket" for b in ("logs", "media", "static")]
                             + ["KMS key (Enabled)", "final database snapshot", "secret GameAppSecret",
                                "secret GameDatabaseSecret"] + [f"log group {name}" for name in rds_logs])
        for name in rds_logs:  # step 4: their fixed names would block the next deploy
            self.client("logs").delete_log_group(logGroupName=name)
        self.make("deploy", stage, DEPLOY_ARGS)
        self.check_deployed(stage)


def _env_of(user_data: str) -> dict[str, str]:
    """The environment file a user data writes."""
    return dict(line.split("=", 1) for line in _between(user_data, "<<'GAME_ENV_EOF'\n", "\nGAME_ENV_EOF").splitlines())


def _bundle(user_data: str) -> str:
    return re.search(r"--bundle (s3://\S+)", user_data).group(1)


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


@contextmanager
def _probe(active: bool) -> Iterator[None]:
    """A harmless new file in the service for one change; removed whatever happens."""
    if not active:
        yield
        return
    PROBE.write_text('"""Deploy rehearsal probe: a code change."""\n')
    try:
        yield
    finally:
        PROBE.unlink(missing_ok=True)


def say(line: str) -> None:
    print(f"rehearse: {line}", flush=True)


def not_emulated_in_readme() -> set[str]:
    text = README.read_text()
    block = _between(text, NOT_EMULATED_BEGIN, NOT_EMULATED_END) if NOT_EMULATED_BEGIN in text else ""
    return set(re.findall(r"`((?:AWS|Custom)::[A-Za-z0-9:]+)`", block))


def rehearse(stages: tuple[str, ...]) -> None:
    shutil.rmtree(LOGS, ignore_errors=True)
    (LOGS / "home").mkdir(parents=True)
    PROBE.unlink(missing_ok=True)  # a killed run cannot leave its code change behind
    notes = logging.FileHandler(LOGS / "emulator.log")
    notes.setFormatter(logging.Formatter("%(message)s"))
    emulator_log = logging.getLogger("checks.rehearsal.emulator")
    emulator_log.addHandler(notes)
    emulator_log.setLevel(logging.INFO)
    logging.getLogger("werkzeug").addHandler(notes)  # a 500's traceback
    started = time.monotonic()
    try:
        with emulator.running() as endpoint:
            say(f"emulator at {endpoint.url} (logs in {LOGS.relative_to(ROOT)}/)")
            run = Rehearsal(endpoint=endpoint, home=LOGS / "home")
            run.make("bootstrap", stages[0])
            for stage in stages:
                run.make("deploy", stage, DEPLOY_ARGS)
                run.check_deployed(stage)
            for change in CHANGES:
                if change.stage in stages:
                    run.rehearse_change(change)
            if "starter" in stages:
                run.destroy_and_redeploy("starter")
            for stage in PROTECTED:
                if stage in stages:
                    run.tear_down_production(stage)
            listed = not_emulated_in_readme()
            unlisted = sorted(endpoint.skipped_types - listed)
            if unlisted:
                raise RehearsalFailed(
                    f"the emulator skipped {', '.join(unlisted)}: list them in README.md between "
                    f"{NOT_EMULATED_BEGIN} and {NOT_EMULATED_END} with what only a real account proves"
                )
            say(f"not emulated (README, 'What the rehearsal cannot prove'): {', '.join(sorted(endpoint.skipped_types))}")
    finally:
        emulator_log.removeHandler(notes)
        logging.getLogger("werkzeug").removeHandler(notes)
    say(f"PASS: {', '.join(stages)} bootstrapped, deployed, changed, diffed, torn down and deployed again "
        f"in {time.monotonic() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.rehearsal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated (default: %(default)s)")
    args = parser.parse_args(argv)
    stages = tuple(s for s in args.stages.split(",") if s)
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}; allowed: {', '.join(STAGES)}")
    try:
        rehearse(stages)
    except RehearsalFailed as failure:
        say(f"FAIL: {failure}")
        return 1
    return 0
