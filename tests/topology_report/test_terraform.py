"""Terraform input: `terraform show -json` of plans and states (format_version 0.x and
1.x) and raw state files, read as their CloudFormation equivalents with Terraform
addresses as logical IDs, so that the same analysis answers for them.

Data: our stages' twins planned offline (examples/terraform/plans/, committed; the slow
test_terraform_plans.py regenerates them), real public plans (terraform/public/) and a real
state of the starter's twin (terraform/state/); see terraform/README.md. The hand-made
plans below test one rule each.
"""

import gzip
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from topology_report.cli import main
from topology_report.loader import load
from topology_report import terraform_kinds
from topology_report.resource_kinds import TF_TABLE
from topology_report.terraform_types import counterpart

from .conftest import REPO, SNAPSHOTS, report_of

DATA = Path(__file__).parent / "terraform"
PLANS = REPO / "examples" / "terraform" / "plans"
CHANGES = PLANS / "changes"
STATE = DATA / "state" / "starter-moto.state.json"
RAW_STATE = DATA / "state" / "starter-moto.tfstate"


def _unzipped(tmp_path_factory, name: str) -> Path:
    out = tmp_path_factory.mktemp("public") / name.removesuffix(".gz")
    out.write_bytes(gzip.decompress((DATA / "public" / name).read_bytes()))
    return out


@pytest.fixture(scope="module")
def checkov_plan(tmp_path_factory):
    return _unzipped(tmp_path_factory, "checkov-tfplan.json.gz")


@pytest.fixture(scope="module")
def infracost_2020_plan(tmp_path_factory):
    return _unzipped(tmp_path_factory, "infracost-plan-2020-3f88dcf.json.gz")


def report(path, prices, accept=None):
    (stage,) = load(str(path))
    return report_of(stage, prices, accept=accept)


def spofs(r, open_only=True):
    return {(s["logical_id"], s["rule"]) for s in r["single_points_of_failure"]
            if not (open_only and s["accepted"])}


def spof_types(r):
    """(rule, tier, CloudFormation type) of each open single point of failure."""
    model = r["_analysis"].model
    return Counter((s["rule"], s["tier"], next(x.type for x in model.resources
                                                if x.logical_id == s["logical_id"]))
                   for s in r["single_points_of_failure"] if not s["accepted"])


# --- what was read -------------------------------------------------------------------------


def test_says_which_format_it_read(prices, checkov_plan, infracost_2020_plan, tmp_path):
    prior = tmp_path / "prior.json"  # a 0.1 plan's prior_state is a 0.1 state document
    prior.write_text(json.dumps(json.loads(infracost_2020_plan.read_text())["prior_state"]))
    cases = [(PLANS / "starter.plan.json", "terraform-plan", "format_version 1.2", "1.11.4"),
             (DATA / "public" / "infracost-plan.json", "terraform-plan", "format_version 0.2",
              "1.0.2"),
             (checkov_plan, "terraform-plan", "format_version 0.1", "0.12.23"),
             (infracost_2020_plan, "terraform-plan", "format_version 0.1", "0.12.28"),
             (STATE, "terraform-state", "format_version 1.0", "1.11.4"),
             (prior, "terraform-state", "format_version 0.1", "0.12.28"),
             (RAW_STATE, "terraform-raw-state", "state file version 4", "1.11.4")]
    for path, kind, fmt, version in cases:
        r = report(path, prices)
        assert r["input"] == {"kind": kind, "format": fmt, "terraform_version": version}, path
        first = r["notes"][0]
        assert first.startswith("read as a Terraform "), first
        assert fmt in first and f"Terraform {version}" in first, first
        json.dumps([{k: v for k, v in r.items() if not k.startswith("_")}], default=str)


def test_the_text_says_it_too(capsys):
    assert main([str(PLANS / "scale-out.plan.json")]) == 0
    out = capsys.readouterr().out
    assert "Note: read as a Terraform plan (`terraform show -json` of a plan file): the " \
           "planned values, after the change; format_version 1.2, Terraform 1.11.4" in out
    assert "its changes: 50 to create" in out


def test_a_template_is_still_a_template(capsys, tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}))
    (stage,) = load(str(path))
    assert stage.input is None and stage.notes == []
    path.write_text(json.dumps({"format": "something else"}))
    assert main([str(path)]) == 2
    assert "not a CloudFormation template (no Resources section)" in capsys.readouterr().err


@pytest.mark.parametrize("data, message", [
    ({"format_version": "2.0", "planned_values": {}}, "format_version '2.0'"),
    ({"version": 3, "terraform_version": "0.11.14", "modules": []},
     "a Terraform state file of version 3"),
])
def test_formats_it_does_not_know_exit_2(capsys, tmp_path, data, message):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "\n" == err[-1] and err.count("\n") == 1, err


def test_a_folder_of_plans_is_a_stage_per_plan(capsys):
    stages = load(str(PLANS))
    assert [s.name for s in stages] == ["scale-out", "starter"]
    assert main([str(PLANS), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "| starter |" in out and "| scale-out |" in out


def test_a_folder_mixing_plans_and_templates_is_refused(capsys, tmp_path):
    (tmp_path / "plan.json").write_text((PLANS / "starter.plan.json").read_text())
    (tmp_path / "t.yaml").write_text("Resources: {B: {Type: AWS::S3::Bucket}}\n")
    assert main([str(tmp_path)]) == 2
    assert "both Terraform JSON" in capsys.readouterr().err


# --- our stages' twins ---------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_the_terraform_twin_gets_the_same_answer(prices, stage):
    (cfn_stage,) = load(str(SNAPSHOTS / stage))
    cfn = report_of(cfn_stage, prices)
    tf = report(PLANS / f"{stage}.plan.json", prices)
    assert tf["verdict"] == cfn["verdict"]
    assert spof_types(tf) == spof_types(cfn)
    for key in ("binding", "max_instances", "budget_ok"):
        assert tf["capacity"].get(key) == cfn["capacity"].get(key), key
    # The twins have no worker tier: a Terraform plan's IAM is not read, so a group that only
    # works a queue would be taken for app hosts there (topology_report/README.md). The
    # stage's worker tier (scale-out: up to 6 hosts x a job worker's pool of 2) is the whole
    # difference in the connection budget; the job worker beside a starter's server is in both.
    workers = cfn["capacity"].get("worker_connections", 0)
    assert workers == {"starter": 0, "scale-out": 12}[stage]
    assert tf["capacity"]["peak_connections"] == cfn["capacity"]["peak_connections"] - workers


def test_the_starters_single_points_of_failure_are_named_by_address(prices):
    r = report(PLANS / "starter.plan.json", prices)
    assert spofs(r) == {
        ("aws_instance.app", "lone-instance"),
        ("aws_db_instance.game", "db-single-az"),
        # a module's module, counted: module.nat_instance[0] in module.network
        ("module.network.module.nat_instance[0].aws_instance.this", "nat-instance"),
    }
    egress = r["tiers"]["network egress"]["summary"]
    assert "2 private subnets in 2 AZs (us-east-1a, us-east-1b) egress through NAT" in egress


def test_unknowns_are_followed_through_the_configuration(prices):
    """The scale-out plan leaves every subnet ID, ARN and name unknown; the report follows
    the configuration's references through module outputs (module.network's
    private_subnet_ids), count.index (a route table per AZ, each to its own NAT gateway)
    and sets of blocks matched by key (CloudFront origins)."""
    r = report(PLANS / "scale-out.plan.json", prices)
    assert r["unknowns"] == [] and r["unanalysed"] == []
    (asg,) = [c for c in r["tiers"]["compute"]["components"]
              if c["type"] == "auto-scaling-group"]
    assert asg["azs"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert asg["target_groups"] == ["aws_lb_target_group.app"]
    gateways = {c["logical_id"]: c["serves_azs"] for c in
                r["tiers"]["network egress"]["components"] if c["type"] == "nat-gateway"}
    assert gateways == {f"module.network.aws_nat_gateway.this[{i}]": [az]
                        for i, az in enumerate(["us-east-1a", "us-east-1b", "us-east-1c"])}
    (cdn,) = r["tiers"]["edge"]["components"]
    assert {o["id"]: o["target"] for o in cdn["origins"]} == {
        "app": "aws_lb.app", "media": "module.storage.aws_s3_bucket.media",
        "static": "module.storage.aws_s3_bucket.static"}


def test_the_capacity_model_reads_the_game_service_tag(prices):
    r = report(PLANS / "scale-out.plan.json", prices)
    (asg,) = [c for c in r["tiers"]["compute"]["components"]
              if c["type"] == "auto-scaling-group"]
    assert asg["game_service"] == {"WorkersPerInstance": 2, "DbPoolSizePerWorker": 10, "DbMaxOverflowPerWorker": 0,
                                   "DbListenersPerWorker": 1, "AccessLogSampleRate": 0.01}
    # 12 instances at max x 2 workers x (a pool of 10 + the live-updates listener)
    assert r["capacity"]["applicable"] and r["capacity"]["peak_connections"] == 264


# --- the diff gate on plans ----------------------------------------------------------------


@pytest.mark.parametrize("after, address, rule", [
    ("scale-out-one-nat-gateway.plan.json", "module.network.aws_nat_gateway.this[0]",
     "nat-gateway-shared"),
    ("scale-out-single-az-db.plan.json", "aws_db_instance.game", "db-single-az"),
])
def test_the_diff_gate_fails_a_plan_that_adds_a_single_point_of_failure(
        capsys, after, address, rule):
    before = PLANS / "scale-out.plan.json"
    assert main(["diff", str(before), str(CHANGES / after)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL: new single point of failure: {address}: " in out
    assert out.rstrip().endswith("Result: FAIL (" + after.removesuffix(".plan.json") + ")")
    assert main(["diff", str(before), str(CHANGES / after), "--json"]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert [(s["logical_id"], s["rule"]) for s in
            result["new_single_points_of_failure"]] == [(address, rule)]
    # the way back resolves it, and passes
    assert main(["diff", str(CHANGES / after), str(before)]) == 0
    assert f"resolved single point of failure: {address}" in capsys.readouterr().out


def test_the_diff_gate_passes_a_plan_against_itself_and_an_accepted_one(capsys):
    before = PLANS / "scale-out.plan.json"
    assert main(["diff", str(before), str(before)]) == 0
    after = CHANGES / "scale-out-single-az-db.plan.json"
    assert main(["diff", str(before), str(after),
                 "--accept", "aws_db_instance.game=a staging copy"]) == 0


def test_one_plan_is_diffed_against_the_state_it_was_planned_against(capsys):
    """`diff PLAN`: the starter's twin of today planned against the state of one apply of an
    earlier version (moto; that apply stopped before the CloudFront parts, terraform/README.md):
    BEFORE is the plan's prior_state, AFTER its planned values; the same answer as the diff of
    that state's own `terraform show -json` and the plan."""
    plan = CHANGES / "starter-against-its-state.plan.json"
    acted = {rc["address"]: rc["change"]["actions"] for rc in json.loads(plan.read_text())["resource_changes"]
             if rc["change"]["actions"] != ["no-op"]}
    assert acted == {"aws_cloudfront_distribution.edge": ["create"], "aws_cloudfront_vpc_origin.app": ["create"],
                     "aws_instance.app": ["update"]}  # + the edge; the instance's capacity tag
    assert main(["diff", str(plan), "--json"]) == 0
    (one,) = json.loads(capsys.readouterr().out)
    assert "edge" not in one["before"] and "edge, data, storage are delegated" in one["after"]
    assert one["changes"] == ["connection budget: 20 of 109 usable -> 24 of 109 usable",
                              "CloudFront aws_cloudfront_distribution.edge origins: added (3)"]
    notes = one["after_report"]["notes"]
    assert notes[0].startswith("read as a Terraform plan"), notes
    assert main(["diff", str(STATE), str(plan), "--json"]) == 0
    (two,) = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in two.items() if k != "after_report"} == \
        {k: v for k, v in one.items() if k != "after_report"}


@pytest.mark.parametrize("given, says", [
    (PLANS / "starter.plan.json", "the plan has no prior_state (it was planned without a state, so "
                                  "everything in it is new): give BEFORE and AFTER"),
    (SNAPSHOTS / "small", "is not the JSON of a Terraform plan (terraform show -json PLANFILE); "
                          "give BEFORE and AFTER"),
    (STATE, "is not the JSON of a Terraform plan"),
    (PLANS / "nothing.plan.json", "no such file or folder"),
])
def test_one_input_to_diff_must_be_a_plan_with_its_prior_state(capsys, given, says):
    assert main(["diff", str(given)]) == 2
    err = capsys.readouterr().err
    assert says in err and str(given) in err and "Traceback" not in err, err


# --- a real state ---------------------------------------------------------------------------


def test_a_state_reads_like_the_plan(prices):
    """IDs are known in a state: subnets, route targets (the NAT instance's network
    interface) and subnet groups are found by their IDs and names."""
    plan, state = report(PLANS / "starter.plan.json", prices), report(STATE, prices)
    assert spofs(state) == spofs(plan)
    assert state["verdict"]["kind"] == plan["verdict"]["kind"] == "functionally decomposed"
    assert state["tiers"]["network egress"]["summary"] == [
        line for line in plan["tiers"]["network egress"]["summary"]]
    (db,) = [c for c in state["tiers"]["data"]["components"] if c["type"] == "db-instance"]
    assert db["subnet_group_azs"] == ["us-east-1a", "us-east-1b"]
    assert state["unknowns"] == [] and state["unanalysed"] == []


def test_a_raw_state_file_reads_like_its_json(prices):
    shown, raw = report(STATE, prices), report(RAW_STATE, prices)
    for key in ("verdict", "tiers", "single_points_of_failure", "unknowns", "unanalysed",
                "capacity", "cost"):
        assert raw[key] == shown[key], key


# --- real public plans ---------------------------------------------------------------------


def test_infracosts_example_plan(prices):
    r = report(DATA / "public" / "infracost-plan.json", prices)
    assert r["verdict"]["kind"] == "single machine"
    assert spofs(r) == {("aws_instance.web_app", "lone-instance")}
    assert any("aws_lambda_function.hello_world: nothing here invokes it" in line
               for line in r["tiers"]["compute"]["summary"])


def test_infracosts_2020_plan_explains_what_it_cannot_see(prices, infracost_2020_plan):
    r = report(infracost_2020_plan, prices)
    assert spofs(r) == {
        ("aws_autoscaling_group.lc1", "asg-min-one"),
        ("aws_autoscaling_group.lt1", "asg-min-one"),
        ("aws_autoscaling_group.mixed-instance-lt1", "asg-min-one"),
        ("aws_db_instance.db_mysql", "db-single-az"),
        ("aws_db_instance.db_postgresql", "db-single-az"),
        ("aws_db_instance.db_postgresql_iops", "db-single-az")}
    unknown = {(u["logical_id"], u["what"]): u["reason"] for u in r["unknowns"]}
    assert unknown[("aws_autoscaling_group.lc1", "AZs")] == \
        "the configuration sets neither vpc_zone_identifier nor availability_zones"
    assert unknown[("aws_lb.nlb1", "AZs")] == "no subnets or AZs given (the default VPC's)"
    assert all(reason for reason in unknown.values())
    assert r["verdict"]["kind"] == "functionally decomposed"
    assert "(or not known to be)" in r["verdict"]["headline"]


def test_checkovs_plan(prices, checkov_plan):
    r = report(checkov_plan, prices)
    assert spofs(r) == {
        ("aws_elb.weblb", "lb-one-az"),
        ("aws_instance.web_host", "lone-instance"),
        ("aws_db_instance.default", "db-single-az"),
        ("aws_elasticsearch_domain.monitoring-framework", "search-one-node"),
        # a Neptune cluster of one instance (aws_neptune_cluster_instance.default[0]): no replica to fail over to
        ("aws_neptune_cluster.default", "db-cluster-one-instance")}
    assert r["unanalysed"] == []  # EKS's cluster too is judged (the generic layer: by its placement)
    # read as AWS::EKS::Cluster with its attributes under their CloudFormation names: its
    # vpc_config's subnets are followed to their AZs, as a template's VpcConfig.SubnetIds
    (eks,) = [c for c in r["tiers"]["compute"]["components"] if c["logical_id"] == "aws_eks_cluster.eks_cluster"]
    assert (eks["type"], eks["one"], eks["many"], eks["unknown"]) == (
        "generic", [], ["VpcConfig[0].SubnetIds: 2 AZs (us-west-2a, us-west-2b)"], [])
    assert r["unknowns"] == []
    assert "not part of the topology (helper providers: no infrastructure): 1 null" in \
        r["notes"]
    # an instance nothing routes to is not the app (a bastion, as in a template)
    (db_app,) = [c for c in r["tiers"]["compute"]["components"]
                 if c["logical_id"] == "aws_instance.db_app"]
    assert db_app["serves_traffic"] is False


@pytest.mark.parametrize("tf_type, cfn", [
    ("aws_redshift_cluster", "AWS::Redshift::Cluster"),
    ("aws_msk_cluster", "AWS::MSK::Cluster"),
    ("aws_elastic_beanstalk_environment", "AWS::ElasticBeanstalk::Environment"),
    ("aws_docdbelastic_cluster", "AWS::DocDBElastic::Cluster"),
    ("aws_backup_vault", "AWS::Backup::BackupVault"),  # the type's name repeats the service's
    ("aws_ecs_service", None),  # AWS::ECS::Service has a specific rule: read by its own mapping only
    ("aws_fsx_lustre_file_system", None),  # no CloudFormation type of that name
    ("google_compute_instance", None),
])
def test_a_type_with_no_mapping_is_read_as_its_cloudformation_counterpart_by_name(tf_type, cfn):
    assert counterpart(tf_type) == cfn


# --- one rule each, on hand-made plans -----------------------------------------------------


def _plan(resources, module_calls=None, children=None):
    """A plan's JSON: resources as (address, type, values, after_unknown, expressions)."""
    def entry(address, rtype, values):
        name = address.split(".")[-1].split("[")[0]
        index = None
        if address.endswith("]"):
            raw = address[address.rindex("[") + 1:-1]
            index = json.loads(raw) if raw.startswith('"') else int(raw)
        return {"address": address, "mode": "managed", "type": rtype, "name": name,
                "index": index, "provider_name": "registry.terraform.io/hashicorp/aws",
                "values": values}

    config = {}
    for address, rtype, _, _, expressions in resources:
        if "module." in address:
            continue
        rel = address.split("[")[0]
        config.setdefault(rel, {"address": rel, "mode": "managed", "type": rtype,
                                "name": rel.split(".")[-1], "expressions": expressions})
    root = {"resources": [entry(a, t, v) for a, t, v, _, _ in resources if "module." not in a]}
    if children:
        root["child_modules"] = [{"address": addr, "resources": [
            entry(a, t, v) for a, t, v, _, _ in resources if a.startswith(addr + ".")]}
            for addr in children]
    return {"format_version": "1.2", "terraform_version": "1.11.4",
            "planned_values": {"root_module": root},
            "resource_changes": [{"address": a, "mode": "managed", "type": t,
                                  "change": {"actions": ["create"], "after": v,
                                             "after_unknown": u}}
                                 for a, t, v, u, _ in resources],
            "configuration": {"root_module": {"resources": list(config.values()),
                                              **({"module_calls": module_calls}
                                                 if module_calls else {})}}}


SUBNETS = [
    ("aws_subnet.a[0]", "aws_subnet", {"availability_zone": "eu-west-1a"}, {"id": True}, {}),
    ("aws_subnet.a[1]", "aws_subnet", {"availability_zone": "eu-west-1b"}, {"id": True}, {}),
]


def _asg(expressions, values=None, unknown=None):
    values = {"min_size": 2, "max_size": 4, **(values or {})}
    return ("aws_autoscaling_group.app", "aws_autoscaling_group", values,
            {"vpc_zone_identifier": True, **(unknown or {})},
            {"min_size": {"constant_value": 2}, **expressions})


def _terraform_plans_script():
    """scripts/terraform-plans.py as a module: where it finds Terraform and the provider."""
    spec = importlib.util.spec_from_file_location("terraform_plans", REPO / "scripts" / "terraform-plans.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(tmp_path, plan, name="t.plan.json"):
    path = tmp_path / name
    path.write_text(json.dumps(plan))
    return path


def _asg_component(r):
    (asg,) = [c for c in r["tiers"]["compute"]["components"]
              if c["type"] == "auto-scaling-group"]
    return asg


@pytest.mark.parametrize("subnets, expected", [
    (["aws_subnet.a[0]"], ("aws_fsx_lustre_file_system.scratch", "generic-data-one")),
    (["aws_subnet.a"], None),  # two subnets in two AZs: judged, no single point of failure
])
def test_a_type_nothing_maps_is_judged_by_the_providers_schema(prices, tmp_path, subnets, expected):
    """aws_fsx_lustre_file_system has no mapping and no CloudFormation type of its name (FSx
    has one AWS::FSx::FileSystem): the AWS provider's schema classifies it (terraform_kinds.txt:
    holds state) and the generic layer judges it by its subnets, followed to their AZs."""
    fsx = ("aws_fsx_lustre_file_system.scratch", "aws_fsx_lustre_file_system",
           {"deployment_type": "SCRATCH_2", "storage_capacity": 1200}, {"subnet_ids": True},
           {"subnet_ids": {"references": subnets}})
    r = report(_write(tmp_path, _plan([*SUBNETS, fsx])), prices)
    (c,) = [c for c in r["tiers"]["data"]["components"] if c["logical_id"] == fsx[0]]
    assert (c["type"], c["resource_type"]) == ("generic", "aws_fsx_lustre_file_system")
    assert r["unanalysed"] == []
    if expected:
        assert spofs(r) == {expected}
        assert c["one"] == ["SubnetIds: 1 subnet in 1 AZ (eu-west-1a)"], c
    else:
        assert spofs(r) == set() and c["many"] == ["SubnetIds: 2 AZs (eu-west-1a, eu-west-1b)"], c


def test_every_provider_type_is_classified_and_the_committed_table_is_current(tmp_path):
    """terraform_kinds.txt against the schema of the AWS provider in the local mirror
    (`terraform providers schema -json`; skipped where Terraform or the mirror is missing)."""
    tool = _terraform_plans_script()
    try:
        terraform, mirror = tool.find_terraform(), tool.find_mirror()
    except tool.Missing as exc:
        pytest.skip(str(exc))
    (tmp_path / "main.tf").write_text('terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n')
    cache = tmp_path.parent / "plugin-cache"
    cache.mkdir(exist_ok=True)
    env = tool.environment(tool.cli_config(tmp_path, mirror, cache))
    tool.run([terraform, "init", "-input=false", "-no-color", "-backend=false"], tmp_path, env)
    schema = json.loads(tool.run([terraform, "providers", "schema", "-json"], tmp_path, env))
    text, unclassified = terraform_kinds.generate(schema)
    assert unclassified == []
    assert TF_TABLE.read_text() == text, "run python -m topology_report.terraform_kinds SCHEMA.json"
    kinds = {t: k for t, k, _ in (line.split() for line in text.splitlines() if not line.startswith("#"))}
    assert len(kinds) > 1400 and set(kinds.values()) == {"compute", "data", "network", "support"}
    # what a reader would expect of a few well-known types
    assert kinds["aws_instance"] == kinds["aws_emr_cluster"] == kinds["aws_mwaa_environment"] == "compute"
    assert kinds["aws_db_instance"] == kinds["aws_fsx_lustre_file_system"] == kinds["aws_msk_cluster"] == "data"
    assert kinds["aws_lb"] == kinds["aws_vpc_endpoint_service"] == "network"
    assert kinds["aws_iam_role"] == kinds["aws_backup_plan"] == kinds["aws_cloudwatch_metric_alarm"] == "support"


def test_a_splat_reference_names_every_instance(prices, tmp_path):
    plan = _plan([*SUBNETS, _asg({"vpc_zone_identifier": {"references": ["aws_subnet.a"]}})])
    r = report(_write(tmp_path, plan), prices)
    assert _asg_component(r)["azs"] == ["eu-west-1a", "eu-west-1b"]
    assert ("aws_autoscaling_group.app", "asg-one-az") not in spofs(r)


def test_one_instance_by_index_is_one_az(prices, tmp_path):
    plan = _plan([*SUBNETS, _asg({"vpc_zone_identifier": {
        "references": ["aws_subnet.a[1].id", "aws_subnet.a[1]", "aws_subnet.a"]}})])
    r = report(_write(tmp_path, plan), prices)
    assert ("aws_autoscaling_group.app", "asg-one-az") in spofs(r)


@pytest.mark.parametrize("refs, reason", [
    (["local.subnets"], "vpc_zone_identifier is known only at apply time: computed from "
                        "local.subnets (a plan's JSON does not carry the expressions of "
                        "local values)"),
    (["data.aws_subnets.app.ids", "data.aws_subnets.app"],
     "vpc_zone_identifier is known only at apply time: computed from data source "
     "aws_subnets.app, which is read only at apply time"),
])
def test_what_cannot_be_followed_is_unknown_with_the_reason(prices, tmp_path, refs, reason):
    plan = _plan([*SUBNETS, _asg({"vpc_zone_identifier": {"references": refs}})])
    r = report(_write(tmp_path, plan), prices)
    assert [(u["logical_id"], u["what"], u["reason"]) for u in r["unknowns"]] == [
        ("aws_autoscaling_group.app", "AZs", reason)]
    assert r["verdict"]["kind"] != "distributed"


def test_a_subnet_whose_az_aws_picks_is_unknown(prices, tmp_path):
    subnets = [(f"aws_subnet.x[{i}]", "aws_subnet", {}, {"availability_zone": True,
                                                          "id": True}, {}) for i in range(2)]
    plan = _plan([*subnets, _asg({"vpc_zone_identifier": {"references": ["aws_subnet.x"]}})])
    r = report(_write(tmp_path, plan), prices)
    assert [u["reason"] for u in r["unknowns"]] == [
        "subnet aws_subnet.x[0] does not fix its AZ; subnet aws_subnet.x[1] does not fix "
        "its AZ"]
    assert "AZ not known until apply (availability_zone is not set: AWS picks it): " \
           "aws_subnet.x[0], aws_subnet.x[1]" in r["notes"]


def test_a_multi_az_flag_computed_from_another_resource_is_unknown(prices, tmp_path):
    plan = _plan([("aws_db_instance.db", "aws_db_instance",
                   {"engine": "postgres", "instance_class": "db.t4g.micro"},
                   {"multi_az": True},
                   {"multi_az": {"references": ["aws_ssm_parameter.ha.value",
                                                "aws_ssm_parameter.ha"]}}),
                  ("aws_ssm_parameter.ha", "aws_ssm_parameter", {}, {"value": True}, {})])
    r = report(_write(tmp_path, plan), prices)
    assert [(u["what"], u["reason"]) for u in r["unknowns"]] == [
        ("Multi-AZ", "multi_az is known only at apply time (from aws_ssm_parameter.ha.value)")]
    assert not spofs(r)


def test_multi_az_the_configuration_does_not_set_is_rds_default(prices, tmp_path):
    plan = _plan([("aws_db_instance.db", "aws_db_instance", {"engine": "postgres"},
                   {"multi_az": True}, {})])
    assert spofs(report(_write(tmp_path, plan), prices)) == {("aws_db_instance.db",
                                                              "db-single-az")}


@pytest.mark.parametrize("nat_refs, shared", [
    (["aws_nat_gateway.n", "each.key"], False),  # each AZ's route to its own gateway
    (['aws_nat_gateway.n["eu-west-1a"].id', 'aws_nat_gateway.n["eu-west-1a"]',
      "aws_nat_gateway.n"], True),  # every route to one gateway
    (["aws_nat_gateway.n", "local.pick"], None),  # which one: not in the plan's JSON
])
def test_each_key_picks_its_own_instance(prices, tmp_path, nat_refs, shared):
    """Subnets, NAT gateways, route tables and routes keyed by AZ (for_each): a reference
    with each.key names the instance of the same key (count.index: the scale-out plan)."""
    azs = ("eu-west-1a", "eu-west-1b")

    def keyed(address, rtype, values, unknown, expressions):
        return [(f'{address}["{az}"]', rtype, values(az), unknown, expressions) for az in azs]

    plan = _plan([
        *keyed("aws_subnet.private", "aws_subnet", lambda az: {"availability_zone": az},
               {"id": True}, {}),
        *keyed("aws_subnet.public", "aws_subnet", lambda az: {"availability_zone": az},
               {"id": True}, {}),
        *keyed("aws_nat_gateway.n", "aws_nat_gateway", lambda az: {},
               {"id": True, "subnet_id": True},
               {"subnet_id": {"references": ["aws_subnet.public", "each.key"]}}),
        *keyed("aws_route_table.private", "aws_route_table", lambda az: {}, {"id": True}, {}),
        *keyed("aws_route.nat", "aws_route", lambda az: {"destination_cidr_block": "0.0.0.0/0"},
               {"nat_gateway_id": True, "route_table_id": True},
               {"nat_gateway_id": {"references": nat_refs},
                "route_table_id": {"references": ["aws_route_table.private", "each.key"]}}),
        *keyed("aws_route_table_association.p", "aws_route_table_association", lambda az: {},
               {"subnet_id": True, "route_table_id": True},
               {"subnet_id": {"references": ["aws_subnet.private", "each.key"]},
                "route_table_id": {"references": ["aws_route_table.private", "each.key"]}}),
    ])
    r = report(_write(tmp_path, plan), prices)
    egress = r["tiers"]["network egress"]
    served = {c["logical_id"]: c["serves_azs"] for c in egress["components"]
              if c["type"] == "nat-gateway"}
    if shared is None:  # the routes are left out: their subnets have no egress to judge
        assert served == {'aws_nat_gateway.n["eu-west-1a"]': [],
                          'aws_nat_gateway.n["eu-west-1b"]': []}
        assert 'aws_route.nat["eu-west-1a"]: left out, its target is not known: ' \
               'nat_gateway_id is one of aws_nat_gateway.n["eu-west-1a"], ' \
               'aws_nat_gateway.n["eu-west-1b"]: which one depends on an expression the ' \
               "plan's JSON does not show" in r["notes"]
    elif shared:
        assert spofs(r) == {('aws_nat_gateway.n["eu-west-1a"]', "nat-gateway-shared")}
    else:
        assert served == {f'aws_nat_gateway.n["{az}"]': [az] for az in azs}
        assert not egress["spofs"]


def test_module_variables_and_outputs_are_followed(prices, tmp_path):
    """A subnet list passed into a module (module.app's var.subnets) from another module's
    output (module.net's ids): the ASG inside module.app is in both AZs."""
    net = [(f"module.net.aws_subnet.s[{i}]", "aws_subnet", {"availability_zone": az},
            {"id": True}, {}) for i, az in enumerate(("eu-west-1a", "eu-west-1b"))]
    asg = ("module.app.aws_autoscaling_group.g", "aws_autoscaling_group",
           {"min_size": 2, "max_size": 4}, {"vpc_zone_identifier": True}, {})
    calls = {
        "net": {"source": "./net", "module": {
            "resources": [{"address": "aws_subnet.s", "mode": "managed", "type": "aws_subnet",
                           "name": "s", "expressions": {}}],
            "outputs": {"ids": {"expression": {"references": ["aws_subnet.s"]}}}}},
        "app": {"source": "./app",
                "expressions": {"subnets": {"references": ["module.net.ids", "module.net"]}},
                "module": {"resources": [{
                    "address": "aws_autoscaling_group.g", "mode": "managed",
                    "type": "aws_autoscaling_group", "name": "g", "expressions": {
                        "vpc_zone_identifier": {"references": ["var.subnets"]}}}]}}}
    plan = _plan([*net, asg], module_calls=calls, children=["module.net", "module.app"])
    r = report(_write(tmp_path, plan), prices)
    assert _asg_component(r)["azs"] == ["eu-west-1a", "eu-west-1b"]


def test_a_tag_accepts_a_single_point_of_failure(prices, tmp_path):
    plan = _plan([("aws_db_instance.db", "aws_db_instance",
                   {"engine": "postgres", "multi_az": False, "tags": {
                       "TopologyReport:AcceptedSinglePointOfFailure": "a staging copy"}},
                   {}, {})])
    r = report(_write(tmp_path, plan), prices)
    (s,) = r["single_points_of_failure"]
    assert (s["logical_id"], s["accepted"]) == ("aws_db_instance.db", "a staging copy")


def test_attachments_are_folded_into_what_they_attach_to(prices, tmp_path):
    instances = [(f"aws_instance.web[{i}]", "aws_instance",
                  {"instance_type": "t3.micro", "availability_zone": az},
                  {"id": True, "subnet_id": True}, {})
                 for i, az in enumerate(("eu-west-1a", "eu-west-1b"))]
    tg = ("aws_lb_target_group.web", "aws_lb_target_group", {"port": 80}, {"arn": True}, {})
    attach = [(f"aws_lb_target_group_attachment.web[{i}]", "aws_lb_target_group_attachment",
               {}, {"target_group_arn": True, "target_id": True},
               {"target_group_arn": {"references": ["aws_lb_target_group.web.arn",
                                                    "aws_lb_target_group.web"]},
                "target_id": {"references": ["aws_instance.web", "count.index"]}})
              for i in range(2)]
    r = report(_write(tmp_path, _plan([*instances, tg, *attach])), prices)
    web = {c["logical_id"]: c["load_balanced_with"] for c in
           r["tiers"]["compute"]["components"] if c["type"] == "ec2-instance"}
    assert web == {"aws_instance.web[0]": ["aws_instance.web[1]"],
                   "aws_instance.web[1]": ["aws_instance.web[0]"]}
    assert not any(s["rule"] == "lone-instance" for s in r["single_points_of_failure"])


def test_other_providers_types(prices, tmp_path):
    plan = _plan([("random_id.suffix", "random_id", {}, {}, {}),
                  ("aws_foo_widget.w", "aws_foo_widget", {}, {}, {}),
                  ("aws_iam_role.r", "aws_iam_role", {}, {}, {})])
    plan["planned_values"]["root_module"]["resources"][0]["provider_name"] = \
        "registry.terraform.io/hashicorp/random"
    r = report(_write(tmp_path, plan), prices)
    assert [(x["logical_id"], x["type"]) for x in r["unanalysed"]] == [
        ("aws_foo_widget.w", "aws_foo_widget")]
    assert "not part of the topology (helper providers: no infrastructure): 1 random" in \
        r["notes"]
    assert r["verdict"]["kind"] == "unknown"


def test_the_setup_terraform_wrappers_output_is_read(prices, tmp_path):
    """hashicorp/setup-terraform's wrapper (on by default) writes its command line before
    the JSON and ::set-output lines after it: the JSON is taken from between them."""
    plan = (DATA / "public" / "infracost-plan.json").read_text().strip()
    path = tmp_path / "plan.json"
    path.write_text("[command]/home/runner/work/_temp/terraform-bin show -json plan.tfplan\n"
                    + plan + "\n::set-output name=stderr::\n::set-output name=exitcode::0\n")
    r = report(path, prices)
    assert spofs(r) == {("aws_instance.web_app", "lone-instance")}
    assert "hashicorp/setup-terraform's wrapper" in r["notes"][1]


def test_every_instance_with_a_variable_beside_it_is_some_of_them(prices, tmp_path):
    """`slice(aws_subnet.a[*].id, 0, var.n)`: the references name every subnet, but which
    ones the list keeps is not in the plan's JSON: unknown, not two AZs."""
    plan = _plan([*SUBNETS, _asg({"vpc_zone_identifier": {
        "references": ["aws_subnet.a", "var.n"]}})])
    plan["variables"] = {"n": {"value": 1}}
    r = report(_write(tmp_path, plan), prices)
    (u,) = r["unknowns"]
    assert (u["logical_id"], u["what"]) == ("aws_autoscaling_group.app", "AZs")
    assert "it is some of aws_subnet.a[0], aws_subnet.a[1] (named with var.n: which ones " \
           "it keeps depends on an expression the plan's JSON does not show)" in u["reason"]


def test_an_instance_by_index_beside_one_by_count_index_is_either(prices, tmp_path):
    """`var.single ? aws_nat_gateway.n[0].id : aws_nat_gateway.n[count.index].id`:
    Terraform lists aws_nat_gateway.n once for n[0] and once on its own."""
    public = [(f"aws_subnet.pub[{i}]", "aws_subnet", {"availability_zone": az},
               {"id": True}, {}) for i, az in enumerate(("eu-west-1a", "eu-west-1b"))]
    nat = [(f"aws_nat_gateway.n[{i}]", "aws_nat_gateway", {}, {"id": True, "subnet_id": True},
            {"subnet_id": {"references": ["aws_subnet.pub", "count.index"]}}) for i in range(2)]
    route = [(f"aws_route.r[{i}]", "aws_route", {"destination_cidr_block": "0.0.0.0/0"},
              {"nat_gateway_id": True},
              {"nat_gateway_id": {"references": [
                  "var.single", "aws_nat_gateway.n[0].id", "aws_nat_gateway.n[0]",
                  "aws_nat_gateway.n", "aws_nat_gateway.n", "count.index"]}})
             for i in range(2)]
    r = report(_write(tmp_path, _plan([*public, *nat, *route])), prices)
    assert "aws_route.r[1]: left out, its target is not known: nat_gateway_id is one of " \
           "aws_nat_gateway.n[0], aws_nat_gateway.n[1]: which one depends on an expression " \
           "the plan's JSON does not show" in r["notes"]
    assert not any(n.startswith("aws_route.r[0]") for n in r["notes"])  # [0] either way


@pytest.mark.parametrize("scaling, spof", [
    (None, True),  # the provider fills in App Runner's default configuration (MinSize 1)
    ({"min_size": 1, "max_size": 5}, True),
    ({"min_size": 3, "max_size": 10}, False),
])
def test_an_app_runner_service_is_judged_by_its_provisioned_minimum(prices, tmp_path, scaling, spof):
    service = ("aws_apprunner_service.game", "aws_apprunner_service", {"service_name": "game"},
               {"auto_scaling_configuration_arn": True, "arn": True},
               {"auto_scaling_configuration_arn": {"references": [
                   "aws_apprunner_auto_scaling_configuration_version.ha.arn",
                   "aws_apprunner_auto_scaling_configuration_version.ha"]}} if scaling else {})
    resources = [service]
    if scaling:
        resources.append(("aws_apprunner_auto_scaling_configuration_version.ha",
                          "aws_apprunner_auto_scaling_configuration_version",
                          {"auto_scaling_configuration_name": "ha", **scaling}, {"arn": True},
                          {k: {"constant_value": v} for k, v in scaling.items()}))
    r = report(_write(tmp_path, _plan(resources)), prices)
    assert (("aws_apprunner_service.game", "app-runner-min-one") in spofs(r)) is spof
    assert r["unknowns"] == []
    assert r["verdict"]["kind"] == ("not distributed" if spof else "distributed")
