"""A database or cache run on EC2 (its security group opens a database port to another part
of the app tier) is a data tier, not an app host."""

import json

from topology_report.cli import main

from .conftest import FIXTURES

FIRES = FIXTURES / "rules" / "self-run-data-single.fires.yaml"


def _report(path, capsys, *args) -> dict:
    assert main([str(path), "--json", *args]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    return r


def test_a_database_server_is_not_counted_as_an_app_host(capsys):
    r = _report(FIRES, capsys)
    assert [(s["logical_id"], s["rule"], s["tier"]) for s in r["single_points_of_failure"]] == [
        ("Db", "self-run-data-single", "data")]
    compute = " ".join(r["tiers"]["compute"]["summary"])
    assert "Db" not in compute and "App" in compute
    assert "runs PostgreSQL itself" in " ".join(r["tiers"]["data"]["summary"])
    # still priced as a host
    assert any(x["item"].startswith("EC2") and "Db" in x["item"] for x in r["cost"]["lines"])


def test_a_group_of_two_database_servers_is_unknown_not_replicated(tmp_path, capsys):
    text = FIRES.read_text().replace("""  Db:
    Type: AWS::EC2::Instance
    Properties: {InstanceType: t4g.medium, ImageId: ami-12345678, SubnetId: !Ref SubnetA, SecurityGroupIds: [!Ref DbSg]}""", """  DbLt:
    Type: AWS::EC2::LaunchTemplate
    Properties: {LaunchTemplateData: {InstanceType: t4g.medium, ImageId: ami-12345678, SecurityGroupIds: [!Ref DbSg]}}
  Db:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: 2
      MaxSize: 2
      VPCZoneIdentifier: [!Ref SubnetA, !Ref SubnetB]
      LaunchTemplate: {LaunchTemplateId: !Ref DbLt, Version: !GetAtt DbLt.LatestVersionNumber}""")
    path = tmp_path / "group.yaml"
    path.write_text(text)
    r = _report(path, capsys)
    assert r["single_points_of_failure"] == []
    (u,) = r["unknowns"]
    assert u["logical_id"] == "Db" and "whether they replicate" in u["reason"]
    assert r["verdict"]["kind"] == "unknown"


def test_nat_instances_in_a_group_of_one_are_egress_not_the_app(capsys):
    """widdix's NAT instance: a 1-1 Auto Scaling group whose user data turns the
    source/destination check off and makes the instance the private route table's target."""
    from .real_corpus_figures import TEMPLATES
    r = _report(TEMPLATES / "widdix-vpc-nat-instance.yaml", capsys)
    assert [(s["logical_id"], s["rule"]) for s in r["single_points_of_failure"]] == [
        ("NATAutoScalingGroup", "nat-instance")]
    assert r["verdict"]["kind"] == "no app tier"
    assert "runs NAT instances" in " ".join(r["tiers"]["network egress"]["summary"])
