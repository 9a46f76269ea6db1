"""What happens when it fails: RTO and RPO per disruption, from the templates' facts and the
documented assumptions, and the recovery policy's gate in the diff."""

import json
import textwrap
from pathlib import Path

import pytest

import topology_report
from topology_report.cli import main
from topology_report.resilience import ASSUMPTIONS, parse_policy

from .conftest import FIXTURES, NETWORK_YAML, SNAPSHOTS


def app_tier(interval=15, threshold=3, min_size=2, retention=7, multi_az="true", update=""):
    hc = "" if interval is None else (f"HealthCheckIntervalSeconds: {interval}, "
                                      f"UnhealthyThresholdCount: {threshold}, ")
    return f"""
Lt:
  Type: AWS::EC2::LaunchTemplate
  Properties: {{LaunchTemplateData: {{InstanceType: t4g.small, ImageId: ami-1}}}}
Alb:
  Type: AWS::ElasticLoadBalancingV2::LoadBalancer
  Properties: {{Subnets: [!Ref PubA, !Ref PubB]}}
Tg:
  Type: AWS::ElasticLoadBalancingV2::TargetGroup
  Properties: {{{hc}Port: 80, Protocol: HTTP, VpcId: !Ref Vpc}}
Group:
  Type: AWS::AutoScaling::AutoScalingGroup{update}
  Properties:
    MinSize: '{min_size}'
    MaxSize: '6'
    HealthCheckType: ELB
    DefaultInstanceWarmup: 120
    HealthCheckGracePeriod: 300
    VPCZoneIdentifier: [!Ref PrivA, !Ref PrivB]
    TargetGroupARNs: [!Ref Tg]
    LaunchTemplate: {{LaunchTemplateId: !Ref Lt, Version: !GetAtt Lt.LatestVersionNumber}}
Db:
  Type: AWS::RDS::DBInstance
  Properties: {{Engine: postgres, DBInstanceClass: db.t4g.micro, MultiAZ: {multi_az},
               BackupRetentionPeriod: {retention}, AllocatedStorage: '20'}}
"""


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows(path, capsys, *extra):
    code, out, _ = run(capsys, str(path), "--json", *extra)
    assert code == 0
    (stage,) = json.loads(out)
    return {r["disruption"]: r for r in stage["recovery"]["disruptions"]}, stage["recovery"]


def test_our_stages_when_it_fails(capsys):
    code, out, _ = run(capsys, str(SNAPSHOTS), "--json")
    assert code == 0
    rec = {s["stage"]: {r["disruption"]: r for r in s["recovery"]["disruptions"]}
           for s in json.loads(out)}
    # starter's lone instance cannot leave a lost AZ; the distributed stages fail over
    assert rec["starter"]["az"]["rto"]["unbounded"] and \
        "TierInstance" in rec["starter"]["az"]["rto_from"]
    for stage in ("small", "scale-out"):
        az, db = rec[stage]["az"], rec[stage]["db"]
        assert az["rto"]["high_s"] is not None and az["rto"]["high_s"] <= 120
        assert az["rpo"]["high_s"] == 0 and db["rpo"]["high_s"] == 0
        assert rec[stage]["instance"]["rto"]["high_s"] < rec["starter"]["instance"]["rto"]["low_s"]
    # starter's Single-AZ database: a point-in-time restore, some minutes of writes lost
    assert rec["starter"]["db"]["rpo"]["high_s"] > 0
    assert "point-in-time restore" in rec["starter"]["db"]["why"]
    # no stage has anything in another region
    assert all(r["region"]["rto"]["unbounded"] and r["region"]["rpo"]["unbounded"]
               for r in rec.values())


def test_every_assumption_used_is_printed_with_its_source(template, capsys):
    path = template(app_tier(interval=None, multi_az="false"))
    code, out, _ = run(capsys, str(path))
    assert code == 0
    text = out.split("When it fails", 1)[1].split("Scale headroom", 1)[0]
    for key in ("lb-health-check-defaults", "rds-restore", "rds-log-upload"):
        assert f"[{key}; source: {ASSUMPTIONS[key]['source']}]" in text
    assert "RTO" in text and "RPO" in text


def test_the_templates_health_checks_set_the_instance_loss_time(template, capsys):
    fast, _ = rows(template(app_tier(interval=10, threshold=2), name="a.yaml"), capsys)
    slow, _ = rows(template(app_tier(interval=30, threshold=5), name="b.yaml"), capsys)
    assert fast["instance"]["rto"]["high_s"] == 20
    assert slow["instance"]["rto"]["high_s"] == 150
    assert "5 failed checks 30 s apart" in slow["instance"]["why"]
    # a group of one waits for its replacement: detection plus the group's own warmup..grace
    lone, _ = rows(template(app_tier(interval=10, threshold=2, min_size=1), name="c.yaml"),
                   capsys)
    assert (lone["instance"]["rto"]["low_s"], lone["instance"]["rto"]["high_s"]) == \
        (20 + 120, 20 + 300)


def test_backups_off_lose_everything_and_an_unknown_stays_unknown(template, capsys):
    off, _ = rows(template(app_tier(multi_az="false", retention=0), name="a.yaml"), capsys)
    assert off["db"]["rpo"]["unbounded"] and "BackupRetentionPeriod 0" in off["db"]["rpo"]["text"]
    text = ("Parameters:\n  Ha: {Type: String}\n" + NETWORK_YAML
            + textwrap.indent(app_tier(multi_az="!Ref Ha"), "  "))
    unknown, _ = rows(template(text, standalone=True, name="b.yaml"), capsys)
    assert unknown["db"]["rto"]["unknown"] and "Ha" in unknown["db"]["rto"]["unknown"]


def test_a_change_that_breaks_the_recovery_policy_fails_the_diff(template, capsys):
    before = template(app_tier(interval=15, threshold=3), name="before.yaml")
    after = template(app_tier(interval=60, threshold=5), name="after.yaml")
    code, out, _ = run(capsys, "diff", str(before), str(after), "--policy", "rto.instance=1m")
    assert code == 1
    assert "one instance lost: RTO 5 min BREAKS the limit 60 s (rto.instance)" in out
    assert "one instance lost: RTO (est.): 45 s -> 5 min" in out
    # the same templates within the limit, and a limit already broken before the change
    assert run(capsys, "diff", str(before), str(after), "--policy", "rto.instance=6m")[0] == 0
    assert run(capsys, "diff", str(after), str(after), "--policy", "rto.instance=1m")[0] == 0


def test_the_policy_file_and_the_report_show_the_check(template, capsys, tmp_path):
    policy = tmp_path / "policy.txt"
    policy.write_text("# ours\nrto.az=5m, rpo.az=0\nrpo.db = 0  # synchronous standby\n")
    assert parse_policy([], [str(policy)]) == {"rto.az": 300, "rpo.az": 0, "rpo.db": 0}
    path = template(app_tier(multi_az="false"))
    _, rec = rows(path, capsys, "--policy-file", str(policy))
    status = {c["key"]: c["status"] for c in rec["policy"]}
    assert status == {"rto.az": "breaks", "rpo.az": "breaks", "rpo.db": "breaks"}
    code, out, _ = run(capsys, str(SNAPSHOTS), "--stage", "small", "--policy-file", str(policy))
    assert "the database's primary lost: RPO 0 within the limit 0 (rpo.db)" in out


@pytest.mark.parametrize("argv", [
    ["--policy", "rto.az=5x"], ["--policy", "rto.moon=5m"], ["--policy", "rto.az"],
    ["--policy-file", "/nonexistent/policy"]])
def test_a_bad_policy_is_one_line_and_exit_2(argv, capsys):
    code, out, err = run(capsys, str(SNAPSHOTS / "small"), *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "policy" in err


def test_what_the_templates_cannot_settle_is_unknown_and_one_az_things_wait_for_it(capsys):
    rules = FIXTURES / "rules"
    lone, _ = rows(rules / "lone-instance.fires.yaml", capsys)
    assert lone["instance"]["rto"]["unknown"] and \
        "simplified automatic recovery" in lone["instance"]["rto"]["unknown"]
    assert lone["az"]["rto"]["unbounded"]
    pair, _ = rows(rules / "lone-instance.clean.yaml", capsys)
    assert pair["az"]["rto"]["high_s"] == 60 and pair["instance"]["rto"]["high_s"] == 60
    nlb, _ = rows(rules / "lb-one-az.fires.yaml", capsys)
    assert nlb["az"]["rto"]["unbounded"] and nlb["az"]["rto_from"] == "Nlb"
    one, _ = rows(rules / "db-cluster-one-instance.fires.yaml", capsys)
    two, _ = rows(rules / "db-cluster-one-instance.clean.yaml", capsys)
    assert two["az"]["rto"]["high_s"] < one["az"]["rto"]["high_s"]
    assert one["db"]["rpo"]["high_s"] == 0  # the cluster's storage survives its instance
    assert not rows(rules / "nat-instance.clean.yaml", capsys)[0]["db"]["applies"]


def test_our_distributed_stages_meet_the_projects_recovery_policy(capsys):
    policy = str(Path(topology_report.__file__).with_name("recovery-policy.txt"))
    code, out, _ = run(capsys, str(SNAPSHOTS), "--json", "--policy-file", policy)
    assert code == 0
    status = {s["stage"]: {c["key"]: c["status"] for c in s["recovery"]["policy"]}
              for s in json.loads(out)}
    assert set(status["small"].values()) == set(status["scale-out"].values()) == {"ok"}
    assert status["starter"]["rto.az"] == "breaks" and status["starter"]["rpo.db"] == "breaks"


def test_a_bad_release_is_rolled_back_by_the_groups_update_policy(template, capsys):
    def release(update, name):
        return rows(template(app_tier(min_size=4, update=update), name=name), capsys)[0]["release"]

    none = release("", "none.yaml")
    one = release("\n  UpdatePolicy: {AutoScalingRollingUpdate: {MaxBatchSize: 1}}", "one.yaml")
    two = release("\n  UpdatePolicy: {AutoScalingRollingUpdate: {MaxBatchSize: 2}}", "two.yaml")
    assert none["rto"]["unbounded"] and "no update policy" in none["rto"]["text"]
    assert "4 round(s)" in one["why"] and "2 round(s)" in two["why"]
    assert two["rto"]["high_s"] < one["rto"]["high_s"]
    assert one["rpo"]["unknown"]  # what a bad release wrote is not in the templates
