"""Change rehearsal: the changes engineers make every week, synthesized and read
through the offline diff (checks.changes), as a reviewer would read `make diff`.

Each case synthesizes one stage before and after the change (the baseline once per
session), classifies every resource of every stack, and asserts what gets replaced,
what is updated in place, and that no stateful resource (database, secrets, buckets)
is replaced or deleted. The first tests check the classifier itself on small
hand-written templates (fast, no synth).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from checks.assembly import ROOT, cdk_json_context, stage_templates
from node_runtime import NODE_BIN
from checks.changes import ResourceChange, classify, main

SERVICE_DIR = ROOT / "game_service"
PROBE_NAME = "_change_rehearsal_probe"
# The new file of the code and static cases, relative to game_service/: written into a copy
# of the service that the variant's synth ships, never into the repository (other tests
# synthesize from it at the same time).
PROBES = (Path(f"{PROBE_NAME}.py"), Path("static") / f"{PROBE_NAME}.txt")

if TYPE_CHECKING:
    from aws_cdk import App

Changes = dict[str, dict[str, ResourceChange]]
"""{stack ("app", "data"...): {logical ID: change}}."""


# --- the classifier on hand-written templates ---------------------------------------


def _template(**resources: dict) -> dict:
    return {"Resources": resources}


def _res(type_: str, path: str | None = None, **props) -> dict:
    resource: dict = {"Type": type_, "Properties": props}
    if path:
        resource["Metadata"] = {"aws:cdk:path": path}
    return resource


def test_create_only_property_replaces_and_mutable_one_updates_in_place() -> None:
    before = _template(Db=_res("AWS::RDS::DBInstance", DBName="game", AllocatedStorage="20"))
    renamed = classify(before=before, after=_template(Db=_res("AWS::RDS::DBInstance", DBName="play", AllocatedStorage="20")))
    grown = classify(before=before, after=_template(Db=_res("AWS::RDS::DBInstance", DBName="game", AllocatedStorage="40")))
    assert renamed["Db"].kind == "replaced" and renamed["Db"].reasons == ["DBName changed"]
    assert grown["Db"].kind == "modified" and grown["Db"].changed == ["Properties.AllocatedStorage"]


def test_changed_logical_id_of_one_construct_is_a_replacement_and_cascades_through_ref() -> None:
    before = _template(
        InstanceAAAA=_res("AWS::EC2::Instance", "S/App/Instance", ImageId="ami-1"),
        Alarm=_res("AWS::CloudWatch::Alarm", Dimensions=[{"Name": "InstanceId", "Value": {"Ref": "InstanceAAAA"}}]),
        Eip=_res("AWS::EC2::EIPAssociation", InstanceId={"Ref": "InstanceAAAA"}),
    )
    after = _template(
        InstanceBBBB=_res("AWS::EC2::Instance", "S/App/Instance", ImageId="ami-1"),
        Alarm=_res("AWS::CloudWatch::Alarm", Dimensions=[{"Name": "InstanceId", "Value": {"Ref": "InstanceBBBB"}}]),
        Eip=_res("AWS::EC2::EIPAssociation", InstanceId={"Ref": "InstanceBBBB"}),
    )
    changes = classify(before=before, after=after)
    assert changes["InstanceAAAA"].kind == "replaced"
    assert changes["InstanceAAAA"].new_logical_id == "InstanceBBBB"
    assert changes["Alarm"].kind == "modified"  # Dimensions: updated in place
    # EIPAssociation.InstanceId is create-only: a new association for the new instance.
    assert changes["Eip"].kind == "replaced"
    assert changes["Eip"].reasons[0] == "InstanceId changed"
    assert "InstanceBBBB" not in changes


def test_cascade_to_a_create_only_property_replaces_the_referencing_resource() -> None:
    before = _template(
        Subnets=_res("AWS::RDS::DBSubnetGroup", DBSubnetGroupDescription="a", SubnetIds=["s-1"], DBSubnetGroupName="one"),
        Db=_res("AWS::RDS::DBInstance", DBSubnetGroupName={"Ref": "Subnets"}),
        Reader=_res("AWS::SSM::Parameter", Type="String", Value={"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
    )
    after = json.loads(json.dumps(before))
    after["Resources"]["Subnets"]["Properties"]["DBSubnetGroupName"] = "two"
    changes = classify(before=before, after=after)
    assert changes["Subnets"].kind == "replaced"
    assert changes["Db"].kind == "replaced"
    assert changes["Db"].reasons == ["DBSubnetGroupName references replaced Subnets, create-only"]
    assert changes["Reader"].kind == "modified"  # reads an attribute of the replaced database


def test_uncomparable_intrinsic_and_conditional_update_may_replace() -> None:
    before = _template(Vm=_res("AWS::EC2::Instance", SubnetId={"Fn::ImportValue": "net-subnet"}, InstanceType="t4g.small"))
    after = _template(Vm=_res("AWS::EC2::Instance", SubnetId="subnet-123", InstanceType="t4g.medium"))
    change = classify(before=before, after=after)["Vm"]
    assert change.kind == "may-replace"
    assert any(r.startswith("SubnetId changed (create-only; an intrinsic") for r in change.reasons)
    assert "InstanceType changed (may cause replacement)" in change.reasons


def test_cli_flags_stateful_deletion_first_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _template(
        Media=_res("AWS::S3::Bucket", "S/Storage/Media"),
        Topic=_res("AWS::SNS::Topic", "S/Obs/Topic", DisplayName="a"),
    )
    after = _template(Topic=_res("AWS::SNS::Topic", "S/Obs/Topic", DisplayName="b"))
    (tmp_path / "before.json").write_text(json.dumps(before))
    (tmp_path / "after.json").write_text(json.dumps(after))
    assert main([str(tmp_path / "before.json"), str(tmp_path / "after.json")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("!! DELETE STATEFUL -/after Media (AWS::S3::Bucket)")
    assert lines[2].startswith("   modify -/after Topic (AWS::SNS::Topic)")
    # The same change without the bucket: nothing stateful, exit 0.
    (tmp_path / "after.json").write_text(json.dumps(_template(Media=before["Resources"]["Media"], **after["Resources"])))
    assert main([str(tmp_path / "before.json"), str(tmp_path / "after.json")]) == 0


# --- synthesized variants --------------------------------------------------------------


@dataclass(frozen=True)
class Synth:
    outdir: Path
    templates: dict[str, dict]  # {"app"|"data"|...: template}
    stack_ids: dict[str, str]  # {"app": "starter/App"...} for the CDK CLI


@contextmanager
def _service_with(probe: Path, tmp: Path) -> Iterator[None]:
    """The app ships a copy of game_service/ with one new file (the bundle and the static
    page are read from there) for the synth inside this block."""
    import patterns.game_service_host
    import stacks.app_stack

    copy = tmp / "game_service"
    shutil.copytree(SERVICE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / probe).write_text('"""Change rehearsal probe: a new file."""\n')
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(patterns.game_service_host, "SERVICE_DIR", copy)
        patch.setattr(stacks.app_stack, "STATIC_DIR", copy / "static")
        yield


@dataclass(frozen=True)
class Variant:
    """One weekly change to one stage: config values, a probe file, or a construct added."""

    stage: str
    config: tuple[tuple[str, object], ...] = ()
    probe: Path | None = None
    customize: Callable[[App], None] | None = None


def _add_alarm(app: App) -> None:
    """What an engineer adds to the observability stack: one more alarm to the topic."""
    from aws_cdk import Duration
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_cloudwatch_actions as cw_actions

    observability = app.node.find_child("starter").observability
    alarm = cloudwatch.Alarm(
        observability,
        "RehearsalQueueDepth",
        metric=cloudwatch.Metric(namespace="Game/Rehearsal", metric_name="QueueDepth", period=Duration.minutes(1)),
        threshold=100,
        evaluation_periods=3,
        alarm_description="Change rehearsal: one more alarm",
    )
    alarm.add_alarm_action(cw_actions.SnsAction(observability.topic))


VARIANTS: dict[str, Variant] = {
    "starter": Variant("starter"),
    "scale-out": Variant("scale-out"),
    "starter code": Variant("starter", probe=PROBES[0]),
    "scale-out code": Variant("scale-out", probe=PROBES[0]),
    "starter static": Variant("starter", probe=PROBES[1]),
    "scale-out static": Variant("scale-out", probe=PROBES[1]),
    "starter instance type": Variant("starter", config=(("instance_type", "t4g.medium"),)),
    "scale-out instance type": Variant("scale-out", config=(("instance_type", "c7g.xlarge"),)),
    "scale-out max size": Variant("scale-out", config=(("max_instances", 20),)),
    "starter postgres 16": Variant("starter", config=(("postgres_version", "16.10"),)),
    "starter alarm": Variant("starter", customize=_add_alarm),
    "starter ami": Variant("starter", config=(("machine_image_id", "ami-0123456789abcdef0"),)),
    "scale-out ami": Variant("scale-out", config=(("machine_image_id", "ami-0123456789abcdef0"),)),
}


@pytest.fixture(scope="session")
def synth_variant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Synth]]:
    """synth_variant(variant=...) -> Synth of that one stage (each variant once per session)."""
    cache: dict[Variant, Synth] = {}

    def _synth(*, variant: Variant) -> Synth:
        if variant in cache:
            return cache[variant]
        from app import build_app
        from stacks.config import STAGES

        config = replace(STAGES[variant.stage], **dict(variant.config))
        outdir = tmp_path_factory.mktemp(f"rehearsal-{variant.stage}") / "cdk.out"

        def build_and_synth() -> None:  # assets are fingerprinted as the app is built
            app = build_app(cdk_json_context(), str(outdir), configs=[config], checks=False)  # templates only
            if variant.customize is not None:
                variant.customize(app)
            app.synth()

        if variant.probe is None:
            build_and_synth()
        else:
            with _service_with(variant.probe, tmp_path_factory.mktemp("service")):
                build_and_synth()
        stacks = stage_templates(outdir)[config.name]
        manifest = json.loads((outdir / f"assembly-{config.name}" / "manifest.json").read_text())
        cache[variant] = Synth(
            outdir=outdir,
            templates={name.removeprefix(f"{config.name}-"): json.loads(p.read_text()) for name, p in stacks.items()},
            stack_ids={
                art["properties"]["stackName"].removeprefix(f"{config.name}-"): art["displayName"]
                for art in manifest["artifacts"].values()
                if art.get("type") == "aws:cloudformation:stack"
            },
        )
        return cache[variant]

    yield _synth


@pytest.fixture(scope="session")
def variant(synth_variant) -> Callable[[str], Synth]:
    """variant(name) -> the synthesized variant named in VARIANTS."""

    def _get(name: str) -> Synth:
        return synth_variant(variant=VARIANTS[name])

    return _get


def rehearse(*, before: Synth, after: Synth) -> Changes:
    """Changes of every stack of one stage; stacks without any change are left out."""
    result = {}
    for stack in sorted(set(before.templates) | set(after.templates)):
        changes = classify(before=before.templates.get(stack, {}), after=after.templates.get(stack, {}))
        if changes:
            result[stack] = changes
    return result


def of_kind(changes: Changes, *kinds: str) -> set[tuple[str, str]]:
    """{(stack, resource type)} of the changes of these kinds."""
    return {(stack, c.type) for stack, by_id in changes.items() for c in by_id.values() if c.kind in kinds}


def only_change(changes: Changes, *, stack: str, type_: str) -> ResourceChange:
    """The one change of ``type_`` in ``stack``, the release's migration aside (its own
    instance and launch template: ``migration_change``)."""
    found = [c for c in changes.get(stack, {}).values() if c.type == type_ and not c.logical_id.startswith("Migration")]
    assert len(found) == 1, f"expected one changed {type_} in {stack}, found {found}"
    return found[0]


def tier_changes(changes: Changes, type_: str) -> dict[str, ResourceChange]:
    """The app stack's changes of ``type_`` by the tier that owns them (the app tier's
    ``Tier...``, the worker tier's ``Workers...``), the release's migration aside."""
    found = [c for c in changes.get("app", {}).values() if c.type == type_ and not c.logical_id.startswith("Migration")]
    by_tier = {tier: c for c in found for tier in ("Tier", "Workers") if c.logical_id.startswith(tier)}
    assert len(by_tier) == len(found), found
    return by_tier


def migration_change(changes: Changes) -> ResourceChange | None:
    """The change of the release's migration instance (patterns/migration.py), if any."""
    found = [c for c in changes.get("app", {}).values()
             if c.type == "AWS::EC2::Instance" and c.logical_id.startswith("Migration")]
    assert len(found) <= 1, found
    return found[0] if found else None


def assert_nothing_stateful_lost(changes: Changes, *, may_replace_ok: set[tuple[str, str]] = frozenset()) -> None:
    """No database, secret, bucket, key... replaced or deleted (or flagged "may be
    replaced", unless the case expects exactly that) in any stack."""
    lost = [
        f"{stack}/{c.logical_id} ({c.type}) {c.kind}: {c.reasons}"
        for stack, by_id in changes.items()
        for c in by_id.values()
        if c.stateful and (c.destructive or (c.kind == "may-replace" and (stack, c.type) not in may_replace_ok))
    ]
    assert not lost, "stateful resources at risk:\n" + "\n".join(lost)


# --- code and static files ---


@pytest.mark.slow
def test_code_change_replaces_the_starter_instance_and_nothing_stateful(variant) -> None:
    changes = rehearse(before=variant("starter"), after=variant("starter code"))

    assert of_kind(changes, "replaced") == {("app", "AWS::EC2::Instance")}
    instance = only_change(changes, stack="app", type_="AWS::EC2::Instance")
    assert instance.new_logical_id is not None, "user data causes replacement: the logical ID carries its hash"
    assert "Properties.UserData" in instance.changed
    assert of_kind(changes, "may-replace", "added", "removed") == set()
    assert not [c for by_id in changes.values() for c in by_id.values() if c.stateful], "code touched a stateful resource"
    migration = migration_change(changes)
    assert migration and migration.kind == "replaced" and migration.new_logical_id, "each release migrates once"
    assert_nothing_stateful_lost(changes)


@pytest.mark.slow
def test_code_change_rolls_a_new_launch_template_version_through_the_scale_out_group(variant) -> None:
    changes = rehearse(before=variant("scale-out"), after=variant("scale-out code"))

    # the release's migration runs on a new instance; the hosts roll in place
    migration = migration_change(changes)
    assert migration and migration.kind == "replaced" and migration.new_logical_id, "each release migrates once"
    assert of_kind(changes, "replaced", "may-replace", "added", "removed") == {("app", "AWS::EC2::Instance")}
    # the app hosts and the worker hosts run the same bundle: both tiers roll a new version
    templates = tier_changes(changes, "AWS::EC2::LaunchTemplate")
    assert set(templates) == {"Tier", "Workers"}, templates
    for template in templates.values():
        assert template.kind == "modified" and "Properties.LaunchTemplateData.UserData" in template.changed
    groups = tier_changes(changes, "AWS::AutoScaling::AutoScalingGroup")
    assert set(groups) == {"Tier", "Workers"}, groups
    for group in groups.values():
        assert group.kind == "modified"
        assert any("LatestVersionNumber" in reason for reason in group.reasons), group.reasons
    assert set(changes) == {"app"}
    assert_nothing_stateful_lost(changes)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_static_file_change_only_redeploys_the_static_content(variant, stage: str) -> None:
    changes = rehearse(before=variant(stage), after=variant(f"{stage} static"))

    assert_nothing_stateful_lost(changes)
    deployment = only_change(changes, stack="app", type_="Custom::CDKBucketDeployment")
    assert deployment.kind == "modified" and any(p.startswith("Properties.SourceObjectKeys") for p in deployment.changed)
    assert of_kind(changes, "added", "removed", "modified", "may-replace", "replaced") == {
        ("app", "Custom::CDKBucketDeployment")
    }


# --- config changes ---


@pytest.mark.slow
def test_instance_type_change_may_replace_the_starter_instance(variant) -> None:
    """CloudFormation updates InstanceType "conditionally": an EBS-backed instance is
    stopped and started, an instance-store one replaced; `cdk diff` says "may be
    replaced", and so do we (a reviewer must look), never a silent in-place update."""
    changes = rehearse(before=variant("starter"), after=variant("starter instance type"))

    assert of_kind(changes, "replaced", "added", "removed") == set()
    assert of_kind(changes, "may-replace") == {("app", "AWS::EC2::Instance")}
    instance = only_change(changes, stack="app", type_="AWS::EC2::Instance")
    assert instance.changed == ["Properties.InstanceType"]
    assert instance.reasons == ["InstanceType changed (may cause replacement)"]
    assert set(changes) == {"app"}
    assert_nothing_stateful_lost(changes)


@pytest.mark.slow
def test_instance_type_change_updates_the_scale_out_launch_template_in_place(variant) -> None:
    changes = rehearse(before=variant("scale-out"), after=variant("scale-out instance type"))

    assert of_kind(changes, "replaced", "may-replace", "added", "removed") == set()
    template = only_change(changes, stack="app", type_="AWS::EC2::LaunchTemplate")
    assert template.changed == ["Properties.LaunchTemplateData.InstanceType"]
    assert of_kind(changes, "modified") == {("app", "AWS::EC2::LaunchTemplate"), ("app", "AWS::AutoScaling::AutoScalingGroup")}
    assert_nothing_stateful_lost(changes)


@pytest.mark.slow
def test_max_size_change_only_updates_the_group(variant) -> None:
    changes = rehearse(before=variant("scale-out"), after=variant("scale-out max size"))

    assert of_kind(changes, "modified") == {("app", "AWS::AutoScaling::AutoScalingGroup")}
    assert of_kind(changes, "replaced", "may-replace", "added", "removed") == set()
    group = only_change(changes, stack="app", type_="AWS::AutoScaling::AutoScalingGroup")
    assert sorted(group.changed) == ["Properties.MaxSize"]
    assert_nothing_stateful_lost(changes)


@pytest.mark.slow
def test_engine_minor_version_bump_updates_the_database_in_place(synth_variant) -> None:
    """17.6 -> 17.7: the rehearsal of a minor bump. The newer minor is added to the
    tested versions for this synth only (the shipped list names what has been tested)."""
    import stacks.config

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stacks.config, "POSTGRES_VERSIONS", (*stacks.config.POSTGRES_VERSIONS, "17.7"))
        before, after = (synth_variant(variant=Variant("starter", config=(("postgres_version", v),))) for v in ("17.6", "17.7"))
    changes = rehearse(before=before, after=after)

    assert of_kind(changes, "replaced", "may-replace", "added", "removed") == set()
    database = only_change(changes, stack="data", type_="AWS::RDS::DBInstance")
    assert database.changed == ["Properties.EngineVersion"]
    assert_nothing_stateful_lost(changes)


@pytest.mark.slow
def test_engine_major_version_upgrade_keeps_the_database(variant) -> None:
    """16.10 -> 17.6 (the shipped one): the parameter group's family is create-only, so
    a new group replaces it; the instance gets the new engine version in place and
    switches group, which CloudFormation calls a conditional update ("may be
    replaced" in `cdk diff`, a reboot in practice). It is never a definite replacement."""
    changes = rehearse(before=variant("starter postgres 16"), after=variant("starter"))

    assert of_kind(changes, "replaced") == {("data", "AWS::RDS::DBParameterGroup")}
    assert "Family changed" in only_change(changes, stack="data", type_="AWS::RDS::DBParameterGroup").reasons
    database = only_change(changes, stack="data", type_="AWS::RDS::DBInstance")
    assert database.kind == "may-replace"
    assert database.changed == ["Properties.EngineVersion"]
    assert [r for r in database.reasons if "DBParameterGroupName references replaced" in r], database.reasons
    assert of_kind(changes, "added", "removed") == set()
    assert set(changes) == {"data"}
    assert_nothing_stateful_lost(changes, may_replace_ok={("data", "AWS::RDS::DBInstance")})


@pytest.mark.slow
def test_ami_bump_replaces_the_starter_instances_and_rolls_the_scale_out_group(variant) -> None:
    """The pinned image changes only in a reviewed bump; this is what the reviewer sees."""
    starter = rehearse(before=variant("starter"), after=variant("starter ami"))
    assert of_kind(starter, "replaced") == {("app", "AWS::EC2::Instance"), ("network", "AWS::EC2::Instance")}
    assert "Properties.ImageId" in only_change(starter, stack="app", type_="AWS::EC2::Instance").changed
    assert_nothing_stateful_lost(starter)

    scale_out = rehearse(before=variant("scale-out"), after=variant("scale-out ami"))
    assert of_kind(scale_out, "replaced", "may-replace", "added", "removed") == {("app", "AWS::EC2::Instance")}
    assert migration_change(scale_out).kind == "replaced"  # the next migration boots the new image too
    templates = tier_changes(scale_out, "AWS::EC2::LaunchTemplate")
    assert set(templates) == {"Tier", "Workers"}, templates  # the app hosts and the worker hosts
    for template in templates.values():
        assert template.kind == "modified" and template.changed == ["Properties.LaunchTemplateData.ImageId"]
    assert_nothing_stateful_lost(scale_out)


@pytest.mark.slow
def test_adding_an_alarm_only_adds_an_alarm(variant) -> None:
    changes = rehearse(before=variant("starter"), after=variant("starter alarm"))

    assert of_kind(changes, "added") == {("observability", "AWS::CloudWatch::Alarm")}
    assert [c for c in changes["observability"].values()][0].logical_id.startswith("RehearsalQueueDepth")
    assert sum(len(by_id) for by_id in changes.values()) == 1
    assert_nothing_stateful_lost(changes)


# --- the classifier agrees with the pinned `cdk diff` ---

_CDK_RESOURCE_LINE = re.compile(r"^\[([~+-])\] (AWS::\S+|Custom::\S+) \S+ (\S+)(?: (.+))?$")


def _cdk_diff(*, before: Synth, after: Synth, stack: str, tmp_path: Path) -> str:
    (tmp_path / "before.json").write_text(json.dumps(before.templates[stack]))
    result = subprocess.run(
        [str(NODE_BIN / "cdk"), "diff", "--no-notices", "--exclusively", "--app", str(after.outdir),
         "--template", str(tmp_path / "before.json"), after.stack_ids[stack]],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "1", "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def _impacts_from_cdk(output: str) -> dict[str, str]:
    """{logical ID: "replace" | "may be replaced" | "destroy" | "add"} from `cdk diff`'s resource lines."""
    impacts = {}
    for line in output.splitlines():
        match = _CDK_RESOURCE_LINE.match(line.strip())
        if not match:
            continue
        sign, _, logical_id, impact = match.groups()
        if sign == "+":
            impacts[logical_id] = "add"
        elif sign == "-":
            impacts[logical_id] = "destroy"
        elif impact in ("replace", "may be replaced"):
            impacts[logical_id] = impact
    return impacts


def _impacts_from_ours(changes: dict[str, ResourceChange]) -> dict[str, str]:
    impacts = {}
    for c in changes.values():
        if c.kind == "added":
            impacts[c.logical_id] = "add"
        elif c.kind == "removed":
            impacts[c.logical_id] = "destroy"
        elif c.kind == "replaced" and c.new_logical_id:
            impacts[c.logical_id], impacts[c.new_logical_id] = "destroy", "add"
        elif c.kind == "replaced":
            impacts[c.logical_id] = "replace"
        elif c.kind == "may-replace":
            impacts[c.logical_id] = "may be replaced"
    return impacts


@pytest.mark.slow
def test_cdk_diff_says_the_starter_instance_may_be_replaced_by_an_instance_type_change(variant, tmp_path: Path) -> None:
    before, after = variant("starter"), variant("starter instance type")
    output = _cdk_diff(before=before, after=after, stack="app", tmp_path=tmp_path)
    ours = only_change(rehearse(before=before, after=after), stack="app", type_="AWS::EC2::Instance")

    assert ours.kind == "may-replace"
    assert f"AWS::EC2::Instance App/Tier/Instance {ours.logical_id} may be replaced" in output, output
    assert "InstanceType (may cause replacement)" in output, output
    assert "requires replacement" not in output, output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("before", "after", "stack", "impacts"),
    [
        ("starter", "starter code", "app", {"destroy", "add"}),  # a changed logical ID
        ("starter postgres 16", "starter", "data", {"replace", "may be replaced"}),  # create-only, cascade
        ("scale-out", "scale-out code", "app", {"destroy", "add"}),  # the hosts in place; a new migration
    ],
)
def test_cdk_diff_agrees_on_what_is_replaced_or_destroyed(
    variant, tmp_path: Path, before: str, after: str, stack: str, impacts: set[str]
) -> None:
    output = _cdk_diff(before=variant(before), after=variant(after), stack=stack, tmp_path=tmp_path)
    ours = _impacts_from_ours(classify(before=variant(before).templates[stack], after=variant(after).templates[stack]))

    assert "Resources" in output, output  # cdk diff saw resource changes
    assert set(ours.values()) == impacts
    assert ours == _impacts_from_cdk(output), output


def test_folder_mode_reads_masked_snapshots_and_flags_a_stateful_replacement_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The committed snapshots against a copy of themselves in which the database was
    renamed (DBName is create-only): the only flagged line, first, exit 1."""
    snapshots = ROOT / "tests" / "snapshots"
    for source in snapshots.glob("starter/*.template.json"):
        target = tmp_path / "starter" / source.name
        target.parent.mkdir(exist_ok=True)
        target.write_text(source.read_text())
    data = tmp_path / "starter" / "starter-data.template.json"
    template = json.loads(data.read_text())
    (database,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance"]
    database["Properties"]["DBName"] = "renamed"
    data.write_text(json.dumps(template))

    assert main([str(snapshots), str(snapshots), "starter"]) == 0
    assert "no resource changes" in capsys.readouterr().out
    assert main([str(snapshots), str(tmp_path), "starter"]) == 1
    flagged = [line for line in capsys.readouterr().out.splitlines() if line.startswith("!! ")]
    assert flagged[0].startswith("!! REPLACE STATEFUL starter/data ") and flagged[0].endswith(
        "(AWS::RDS::DBInstance): because DBName changed"
    ), flagged
    assert flagged[-1] == "!! a STATEFUL resource would be replaced or deleted: data at risk"
