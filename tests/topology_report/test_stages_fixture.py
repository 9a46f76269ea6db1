"""The report on a hand-written cloud assembly shaped like ours: a starter stage and a
scale-out stage, four stacks each, joined by cross-stack exports."""

import json

import pytest

from topology_report.capacity import Params
from topology_report.cli import main
from topology_report.cost import load_prices
from topology_report.loader import load

from .conftest import ASSEMBLY, report_of, spof_ids


@pytest.fixture(scope="module")
def reports(prices):
    return {s.name: report_of(s, prices) for s in load(str(ASSEMBLY))}


def test_the_assembly_manifest_gives_both_stages_with_all_their_stacks(reports):
    assert set(reports) == {"starter", "scale-out"}
    assert reports["starter"]["stacks"] == [
        "starter-Network", "starter-Data", "starter-App", "starter-Edge"]


def test_starter_names_exactly_its_by_design_single_points_of_failure(reports):
    r = reports["starter"]
    assert spof_ids(r) == {("AppInstance", "lone-instance"), ("Database", "db-single-az"),
                           ("NatInstance", "nat-instance")}
    assert r["verdict"]["kind"] == "functionally decomposed"
    assert r["verdict"]["headline"].startswith(
        "FUNCTIONALLY DECOMPOSED (delegation), NOT DISTRIBUTED")
    lacks = " ".join(r["verdict"]["lacks"])
    assert "Multi-AZ" in lacks and "load balancer" in lacks and "Auto Scaling group" in lacks


def test_starter_tiers_follow_cross_stack_references(reports):
    tiers = reports["starter"]["tiers"]
    # The VPC origin's ARN is built from another stack's export of the instance.
    assert "VPC origin -> AppInstance" in tiers["edge"]["summary"][0]
    assert "auto-recovery alarm AppRecoveryAlarm" in tiers["compute"]["summary"][0]
    assert tiers["load balancing"]["summary"] == ["none: no load balancer in these templates"]
    assert "2 AZs" in tiers["data"]["summary"][0]  # subnet group from imported subnets


def test_scale_out_is_distributed_without_single_points_of_failure(reports):
    r = reports["scale-out"]
    assert r["single_points_of_failure"] == []
    assert r["verdict"]["kind"] == "distributed"
    compute = r["tiers"]["compute"]["summary"][0]
    assert "min 2 / desired - / max 6" in compute and "3 AZs" in compute
    assert "target tracking ASGAverageCPUUtilization at 50" in compute
    assert "3 subnets in 3 AZs" in r["tiers"]["load balancing"]["summary"][0]
    assert "VPC origin -> Alb" in r["tiers"]["edge"]["summary"][0]


def test_connection_budget_uses_metadata_and_the_rds_default_formula(reports):
    c = reports["scale-out"]["capacity"]
    # 6 instances x 2 workers x (5 + 5); db.t4g.medium: 4 GiB / 9531392 = 450.
    assert c["peak_connections"] == 120
    assert c["database"]["max_connections"] == 450
    assert c["budget_ok"] is True
    assert c["binding"] == "app fleet at its max size"


def test_a_bigger_fleet_exceeds_the_budget_and_the_connections_bind_first(prices):
    (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
    r = report_of(stage, prices, Params(db_pool_size=20, db_max_overflow=20))
    c = r["capacity"]
    # Metadata wins over command-line defaults: still 20 per instance.
    assert c["peak_connections"] == 120
    asg = stage.stacks[2].template["Resources"]["LaunchTemplate"]
    asg["Metadata"]["GameService"]["DbPoolSizePerWorker"] = 40
    c = report_of(stage, prices)["capacity"]
    assert c["peak_connections"] == 6 * 2 * 45
    assert c["budget_ok"] is False
    assert c["binding"] == "DB connections"


def test_growth_names_what_10x_and_100x_would_need(reports):
    growth = {g["factor"]: g for g in reports["scale-out"]["capacity"]["growth"]}
    assert growth[10]["instances"] == 60
    needs10 = " ".join(growth[10]["needs"])
    assert "raise the Auto Scaling group's max from 6 to 60" in needs10
    assert "RDS Proxy" in needs10
    needs100 = " ".join(growth[100]["needs"])
    assert "partitioning" in needs100 and "RDS Proxy" in needs100
    starter = {g["factor"]: g for g in reports["starter"]["capacity"]["growth"]}
    assert "an Auto Scaling group of up to 10 instances behind a load balancer" in \
        starter[10]["needs"][0]


def test_cost_side_by_side_prices_multi_az_twice_and_prints_its_date(reports, prices):
    starter, scale = reports["starter"]["cost"], reports["scale-out"]["cost"]
    db = {x["item"]: x for x in scale["lines"]}["RDS Database (db.t4g.medium, Multi-AZ)"]
    assert db["monthly"] == round(2 * 0.065 * 730, 2)
    assert starter["total"] < scale["total"] < scale["total_at_max"]
    assert starter["as_of"] == prices["as_of"]


def test_text_report_prints_verdicts_spofs_and_the_side_by_side_table(capsys):
    assert main([str(ASSEMBLY)]) == 0
    out = capsys.readouterr().out
    assert "Verdict: FUNCTIONALLY DECOMPOSED (delegation), NOT DISTRIBUTED" in out
    assert "Verdict: DISTRIBUTED" in out
    assert "- [data] Database (starter-Data): a single-AZ database" in out
    assert ("| single points of failure | lone instance `AppInstance`, single-AZ DB `Database`, "
            "NAT instance `NatInstance` | none |") in out
    assert f"prices as of {load_prices()['as_of']}" in out


def test_json_report_and_stage_selection(capsys):
    assert main(["report", str(ASSEMBLY), "--json", "--stage", "scale-out"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    assert r["stage"] == "scale-out"
    assert r["verdict"]["kind"] == "distributed"
    assert r["capacity"]["database"]["max_connections"] == 450


def test_a_bastion_is_priced_but_neither_a_single_point_of_failure_nor_app_capacity(prices):
    (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
    stage.stacks[0].template["Resources"]["Bastion"] = {
        "Type": "AWS::EC2::Instance",
        "Metadata": {"TopologyReport": {"AcceptedSinglePointOfFailure": "admin access only"}},
        "Properties": {"InstanceType": "t4g.nano", "SubnetId": {"Ref": "PublicSubnet1"}}}
    r = report_of(stage, prices)
    # It serves no traffic (no load balancer or origin targets it): not an app-tier SPOF.
    assert r["single_points_of_failure"] == []
    assert r["verdict"]["kind"] == "distributed"
    assert r["capacity"]["peak_connections"] == 120
    assert "EC2 Bastion (t4g.nano)" in [x["item"] for x in r["cost"]["lines"]]


def test_summary_for_a_readme_in_the_order_asked(capsys):
    assert main([str(ASSEMBLY), "--stage", "starter", "--stage", "scale-out", "--summary"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("**starter**: FUNCTIONALLY DECOMPOSED (delegation), NOT DISTRIBUTED")
    assert "- single point of failure, data: `Database` (starter-Data): a single-AZ database" \
        in out
    assert "**scale-out**: DISTRIBUTED" in out and "- no single point of failure" in out
    assert "| | starter | scale-out |" in out
    assert out.index("### Stage `starter`\n\n```mermaid") < out.index("### Stage `scale-out`")


@pytest.mark.parametrize("max_connections,expected_max,budget_ok", [
    ("100", 100, False),  # 120 connections at max size do not fit in 97 usable
    ("{DBInstanceClassMemory/12582880}", 341, True),  # 4 GiB / 12582880
    ("LEAST({DBInstanceClassMemory/9531392},130)", 130, True),
])
def test_max_connections_from_the_parameter_group(prices, max_connections, expected_max,
                                                  budget_ok):
    (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
    params = stage.stacks[1].template["Resources"]["DbParams"]["Properties"]["Parameters"]
    params["max_connections"] = max_connections
    c = report_of(stage, prices)["capacity"]
    assert c["database"]["max_connections"] == expected_max
    assert c["budget_ok"] is budget_ok
    assert (c["binding"] == "DB connections") is (not budget_ok)


def test_rds_proxy_pools_the_connections(prices):
    (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
    resources = stage.stacks[1].template["Resources"]
    resources["DbParams"]["Properties"]["Parameters"]["max_connections"] = "50"
    assert report_of(stage, prices)["capacity"]["budget_ok"] is False
    resources["Proxy"] = {"Type": "AWS::RDS::DBProxy", "Properties": {"EngineFamily": "POSTGRESQL"}}
    r = report_of(stage, prices)
    assert r["capacity"]["budget_ok"] is True
    assert "DB connections" not in [lim["name"] for lim in r["capacity"]["limits"]]
    assert any("RDS Proxy" in line for line in r["tiers"]["data"]["summary"])


def test_a_max_connections_below_the_reserved_ones_says_no_instance_fits(prices, capsys):
    (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
    params = stage.stacks[1].template["Resources"]["DbParams"]["Properties"]["Parameters"]
    params["max_connections"] = "2"
    c = report_of(stage, prices)["capacity"]
    assert c["database"]["usable_connections"] == 0
    assert c["instances_the_budget_allows"] == 0
    assert c["budget_ok"] is False
    assert any("leaves no connection for the app" in x for x in c["assumptions"])
    assert all(g["instances"] >= 0 for g in c["growth"])


def test_the_hosts_access_lines_are_priced_with_their_sample_rate_and_traffic(prices):
    """CloudWatch Logs ingestion of the game service's access lines: the app's requests (the
    price table's assumption, printed as requests/s) times the share its hosts keep
    (GameService metadata; without it, the service's default: every line), times a line's size."""
    usage = prices["usage"]
    every_line = usage["app_requests_month"] * usage["access_line_bytes"] / 1e9 * prices["cloudwatch_logs_ingest_gb"]["usd"]

    def priced(rate: float | None) -> dict:
        (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
        for stack in stage.stacks:
            for res in stack.template["Resources"].values():
                if "GameService" in res.get("Metadata", {}) and rate is not None:
                    res["Metadata"]["GameService"]["AccessLogSampleRate"] = rate
        return {x["item"]: x for x in report_of(stage, prices)["cost"]["lines"]}["CloudWatch Logs: the hosts' access lines"]

    assert priced(None)["monthly"] == round(every_line, 2) and "/s) x 1 kept" in priced(None)["basis"]
    sampled = priced(0.1)
    assert abs(sampled["monthly"] - every_line * 0.1) < 0.006 and "x 0.1 kept" in sampled["basis"]  # to the cent


def test_an_instance_that_terminates_itself_is_a_one_shot_job_not_a_month_of_ec2(prices):
    """A deploy step on an instance of its own (our stages' database migration) runs minutes
    per release and terminates itself: not an app host, not a month of EC2."""
    (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
    before = report_of(stage, prices)["cost"]["total"]
    stage.stacks[0].template["Resources"]["Migration"] = {
        "Type": "AWS::EC2::Instance",
        "Metadata": {"TopologyReport": {"AcceptedSinglePointOfFailure": "a one-shot deploy step"}},
        "Properties": {"InstanceType": "t4g.micro", "InstanceInitiatedShutdownBehavior": "terminate",
                       "SubnetId": {"Ref": "PublicSubnet1"}}}
    r = report_of(stage, prices)
    assert r["cost"]["total"] == before
    assert any("Migration: an instance that terminates itself" in note for note in r["cost"]["not_priced"])
    assert r["verdict"]["kind"] == "distributed" and r["single_points_of_failure"] == []


def test_connections_a_worker_holds_beside_its_pool_count_when_the_metadata_says_so(prices):
    """DbListenersPerWorker (our service: its live-updates listener) adds to every worker's
    pool; a template that does not say has none, and the assumption names them."""
    (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
    asg = stage.stacks[2].template["Resources"]["LaunchTemplate"]
    asg["Metadata"]["GameService"]["DbListenersPerWorker"] = 1
    c = report_of(stage, prices)["capacity"]
    assert c["peak_connections"] == 6 * 2 * (5 + 5 + 1)
    assert any("+ listener 1) = 22 DB connections per instance" in a for a in c["assumptions"]), c["assumptions"]
