"""The report on our own stages, from the committed snapshots tests/snapshots/<stage>/
(one template per stack: network, data, storage, app, observability).

The starter stage must report exactly its by-design single points of failure (the lone app
instance, the single-AZ database, the NAT instance); the small and scale-out stages none that
is not explicitly accepted, small at the price of a small game.
"""

from collections import Counter

import pytest

from topology_report.cli import main
from topology_report.loader import load

from .conftest import SNAPSHOTS, report_of


def _stage(name):
    folder = SNAPSHOTS / name
    assert any(folder.glob("*.template.json")), \
        f"tests/snapshots/{name}/ holds no templates (make snapshots records them)"
    (stage,) = load(str(folder))
    assert len(stage.stacks) >= 5, [s.name for s in stage.stacks]
    return stage


@pytest.fixture(scope="module")
def starter(prices):
    return report_of(_stage("starter"), prices)


@pytest.fixture(scope="module")
def scale_out(prices):
    return report_of(_stage("scale-out"), prices)


@pytest.fixture(scope="module")
def small(prices):
    return report_of(_stage("small"), prices)


def _types(report):
    stage = report["_analysis"].model
    out = Counter()
    for s in report["single_points_of_failure"]:
        if s["accepted"]:
            continue
        res = next(r for r in stage.resources if r.logical_id == s["logical_id"]
                   and r.stack.name == s["stack"])
        out[(s["rule"], res.type)] += 1
    return out


def test_starter_reports_exactly_its_by_design_single_points_of_failure(starter):
    assert _types(starter) == Counter({
        ("lone-instance", "AWS::EC2::Instance"): 1,
        ("db-single-az", "AWS::RDS::DBInstance"): 1,
        ("nat-instance", "AWS::EC2::Instance"): 1,
    })
    assert starter["verdict"]["kind"] == "functionally decomposed"


def test_starter_is_reached_through_a_vpc_origin_without_a_load_balancer(starter):
    assert not starter["tiers"]["load balancing"]["present"]
    assert any("VPC origin -> " in line for line in starter["tiers"]["edge"]["summary"])
    compute = starter["tiers"]["compute"]["components"]
    assert [c["auto_recovery"] for c in compute if c["type"] == "ec2-instance" and c["serves_traffic"]] == [True]


@pytest.mark.parametrize("stage", ["starter", "small", "scale_out"])
def test_the_release_migration_is_a_one_shot_job_not_a_server(stage, request):
    report = request.getfixturevalue(stage)
    (migration,) = [c for c in report["tiers"]["compute"]["components"] if c.get("one_shot")]
    assert migration["logical_id"].startswith("MigrationInstance") and not migration["serves_traffic"]
    assert any("a one-shot job" in line and migration["logical_id"] in line
               for line in report["tiers"]["compute"]["summary"]), report["tiers"]["compute"]["summary"]


def test_scale_out_has_no_unaccepted_single_point_of_failure(scale_out):
    open_spofs = [s for s in scale_out["single_points_of_failure"] if not s["accepted"]]
    assert open_spofs == []
    assert scale_out["verdict"]["kind"] == "distributed"
    assert all(s["accepted"] for s in scale_out["single_points_of_failure"])


def test_scale_out_spans_its_azs_and_stays_within_its_connection_budget(scale_out):
    groups = [c for c in scale_out["tiers"]["compute"]["components"]
              if c["type"] == "auto-scaling-group"]
    # the app tier and the job worker tier (both carry GameService metadata: the worker's
    # counts one job worker, no requests)
    (workers,) = [c for c in groups if c["logical_id"].startswith("WorkersGroup")]
    (asg,) = [c for c in groups if c is not workers]
    assert asg["game_service"]["WorkersPerInstance"] == 2 and workers["game_service"] == {
        "WorkersPerInstance": 1, "DbPoolSizePerWorker": 2, "DbMaxOverflowPerWorker": 0}
    assert asg["min"] >= 2 and len(asg["azs"]) >= 2 and asg["scaling"]
    assert workers["logical_id"].startswith("WorkersGroup")
    assert workers["min"] >= 2 and len(workers["azs"]) >= 2 and workers["scaling"], \
        "the worker tier must be replicated across AZs and scale on its queue too"
    (db,) = [c for c in scale_out["tiers"]["data"]["components"] if c["type"] == "db-instance"]
    assert db["multi_az"] is True
    assert scale_out["capacity"]["budget_ok"] is True
    assert scale_out["capacity"]["worker_connections"] == 6 * 2  # its 6 hosts at max, a pool of 2 each


def test_snapshots_diff_against_themselves_cleanly(capsys):
    _stage("scale-out")
    assert main(["diff", str(SNAPSHOTS), str(SNAPSHOTS)]) == 0
    assert "Result: ok" in capsys.readouterr().out


def test_fresh_synth_against_the_snapshots_passes_the_diff_gate(assembly_dir, capsys):
    """What CI gates on: the report's diff of the committed snapshots against a fresh
    synth of the app, with scale-out rules for the scale-out stage."""
    assert main(["diff", str(SNAPSHOTS), str(assembly_dir)]) == 0
    out = capsys.readouterr().out
    assert "scale-out" in out and "starter" in out


SMALL_BUDGET = 120  # dollars a month: the cheapest honest distributed system must stay under it


def test_small_is_distributed_without_an_open_single_point_of_failure_within_its_budget(small):
    assert small["verdict"]["kind"] == "distributed"
    assert [s for s in small["single_points_of_failure"] if not s["accepted"]] == []
    (asg,) = [c for c in small["tiers"]["compute"]["components"] if c["type"] == "auto-scaling-group"]
    assert asg["min"] >= 2 and len(asg["azs"]) >= 2 and asg["scaling"]
    (db,) = [c for c in small["tiers"]["data"]["components"] if c["type"] == "db-instance"]
    assert db["multi_az"] is True
    assert small["capacity"]["budget_ok"] is True
    assert small["cost"]["total"] <= SMALL_BUDGET, small["cost"]["lines"]
    items = " ".join(line["item"] for line in small["cost"]["lines"])
    assert "NAT" not in items, "no NAT gateway or NAT instance on the bill"


def test_the_starter_bill_has_no_dashboard_and_a_micro_instance(starter, small, scale_out):
    """What a small game does not need is off the starter's bill; what keeps players' data
    safe (the KMS key, the secrets) stays. It is the cheapest stage, and the cliff to a
    distributed one is the small stage's, not scale-out's."""
    items = [line["item"] for line in starter["cost"]["lines"]]
    assert not [i for i in items if "dashboard" in i]
    assert any("(t4g.micro)" in i for i in items if i.startswith("EC2 "))
    assert any("KMS key" in i for i in items) and any("Secrets Manager" in i for i in items)
    assert starter["cost"]["total"] < small["cost"]["total"] < scale_out["cost"]["total"]


def test_small_hosts_egress_through_the_internet_gateway_with_no_nat_device(small):
    """The report says how the hosts reach the internet: each through its own address, in the
    public subnets of both AZs; no NAT device, so nothing shared to fail."""
    egress = small["tiers"]["network egress"]
    (direct,) = [c for c in egress["components"] if c["type"] == "direct-egress"]
    (asg,) = [c for c in small["tiers"]["compute"]["components"] if c["type"] == "auto-scaling-group"]
    assert direct["logical_id"] == asg["logical_id"] and direct["azs"] == asg["azs"] and len(direct["azs"]) == 2
    assert (direct["hosts_min"], direct["hosts_max"]) == (asg["min"], asg["max"])
    assert not [c for c in egress["components"] if c["type"].startswith("nat")]
    assert not [s for s in small["single_points_of_failure"] if s["tier"] == "network egress"]
