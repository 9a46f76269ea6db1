"""Divided work: compute that consumes an SQS queue (its role may receive from it, or an
event source mapping feeds it). The same machines that serve and work a queue divide the work
by process; a separate group that serves no requests is a worker tier, divided from the app
tier by the queue, and a lone worker when it is not replicated.

The starter and small stages run the worker on the app hosts; the scale-out stage has a worker
group of its own (patterns/worker_tier.py), read from its snapshot and, where a test needs
another shape, from a copy of it edited for that test alone."""

import json
import shutil

import pytest

from game_service.contract import JOB_WORKER_DB_CONNECTIONS
from topology_report.cli import main
from topology_report.diagram import stage_diagram
from topology_report.loader import load

from .conftest import FIXTURES, SNAPSHOTS, analysis_of, report_of, spof_ids

RULES = FIXTURES / "rules"


def _queue_lines(analysis):
    return [line for q in analysis.divided for line in q["lines"]]


@pytest.mark.parametrize("stage", ["starter", "small"])
def test_our_stages_work_the_queue_on_the_app_hosts_divided_by_process(stage):
    (loaded,) = load(str(SNAPSHOTS / stage))
    a = analysis_of(SNAPSHOTS / stage)
    (queue,) = a.divided
    assert queue["queue"] == "JobQueue" and queue["dead_letter_queue"] == "JobDeadLetterQueue"
    (consumer,) = queue["consumers"]
    assert consumer["shape"] == "same machines"
    assert consumer["logical_id"].startswith("TierInstance" if stage == "starter" else "TierGroup")
    assert "the work is divided by process, not by machine" in queue["lines"][0]
    assert not a.findings and not [s for s in a.spofs if s.rule == "worker-lone"]
    note = "also works queue JobQueue (by process)"
    assert note in stage_diagram(loaded)


# The scale-out stage's worker tier (patterns/worker_tier.py), as its snapshot names it
APP_GROUP, WORKER_GROUP, WORKER_ROLE = (
    "TierGroupASGECBBDB2B", "WorkersGroupASG4E50A46C", "WorkerRole8DD27D41")
WORKER_LAUNCH_TEMPLATE = "WorkersLaunchTemplate69D9C8E6"
APP_ROLE_POLICY, WORKER_ROLE_POLICY = (
    "InstanceRoleDefaultPolicy1531605C", "WorkerRoleDefaultPolicy1750E153")


def _scale_out_edited(tmp_path, edit, name="scale-out"):
    """A copy of the scale-out snapshot whose app template ``edit`` changes in place."""
    folder = tmp_path / name
    shutil.copytree(SNAPSHOTS / "scale-out", folder)
    path = folder / "scale-out-app.template.json"
    t = json.loads(path.read_text())
    edit(t["Resources"])
    path.write_text(json.dumps(t))
    return folder


def _lone_worker(resources):
    resources[WORKER_GROUP]["Properties"]["MinSize"] = "1"


def _sqs_statement(resources, policy):
    statements = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
    (sqs,) = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
    return sqs


def _worked_on_the_app_hosts(resources):
    """As before the worker tier: the app hosts' role receives, the workers' does not."""
    app = _sqs_statement(resources, APP_ROLE_POLICY)
    worker = _sqs_statement(resources, WORKER_ROLE_POLICY)
    app["Action"] = sorted(set(app["Action"]) | set(worker["Action"]))
    worker["Action"] = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]


def test_the_scale_out_worker_group_is_a_worker_tier_divided_from_the_app_tier():
    a = analysis_of(SNAPSHOTS / "scale-out")
    (queue,) = a.divided
    assert queue["queue"] == "JobQueue" and queue["dead_letter_queue"] == "JobDeadLetterQueue"
    assert [s["logical_id"] for s in queue["senders"]] == [APP_GROUP]
    (worker,) = queue["consumers"]
    assert (worker["logical_id"], worker["shape"], worker["replicated"]) == (
        WORKER_GROUP, "worker tier", True)
    assert queue["lines"][0] == (
        f"queue JobQueue (scale-out-storage) divides {APP_GROUP} (scale-out-app) "
        f"(sends; replicated (min 3 over 3 AZs)) from the worker tier {WORKER_GROUP} "
        f"(scale-out-app) (its role {WORKER_ROLE} may receive from it; serves no requests; "
        "replicated (min 2 over 3 AZs))")
    assert "the work is divided by process" not in queue["lines"][0]
    assert not a.findings and not [s for s in a.spofs if s.rule == "worker-lone"]
    assert not a.open_spofs and a.verdict["kind"] == "distributed"
    (stage,) = load(str(SNAPSHOTS / "scale-out"))
    diagram = stage_diagram(stage)
    assert f"asg_{APP_GROUP} -->|jobs| m_JobQueue" in diagram
    assert f"m_JobQueue -->|worked by| asg_{WORKER_GROUP}" in diagram
    assert f"lb_TierLoadBalancer525B1924 --> asg_{WORKER_GROUP}" not in diagram
    assert "by process" not in diagram


def test_a_worker_group_of_one_is_a_lone_worker_not_a_lone_instance(tmp_path, prices):
    (stage,) = load(str(_scale_out_edited(tmp_path, _lone_worker)))
    r = report_of(stage, prices)
    assert spof_ids(r) == {(WORKER_GROUP, "worker-lone")}
    (spof,) = r["single_points_of_failure"]
    assert spof["reason"].startswith(f"a lone worker: {WORKER_GROUP} (scale-out-app) works the "
                                     "queue JobQueue (scale-out-storage) and is not replicated: "
                                     "the Auto Scaling group's minimum is 1")
    assert r["divided_work"]["queues"][0]["consumers"][0]["replication"] == \
        "not replicated (min 1 over 3 AZs)"
    assert r["verdict"]["kind"] == "partly distributed"
    # its recovery is the group's, as for the compute rule it renames
    assert "no recovery figures" not in json.dumps(r["recovery"])


def test_the_text_names_the_division_and_the_findings_with_their_fix(capsys):
    assert main([str(RULES / "queue-no-dlq.fires.yaml")]) == 0
    out = capsys.readouterr().out
    assert ("Divided work (queues)\n  queue Jobs feeds the worker tier Fn (event source mapping "
            "Feed; replicated (Lambda runs in every AZ)); no other compute "
            "of these templates may send to it (an AWS service or another stack does)") in out
    assert "findings (not single points of failure): 1" in out
    assert "has no dead-letter queue (no RedrivePolicy)" in out and "(queue-no-dlq)" in out
    assert "Single points of failure: 0" in out


def test_visibility_below_the_function_timeout_says_lambda_refuses_the_mapping(template):
    path = template("""\
        Jobs: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 20, RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 3}}}
        Dead: {Type: AWS::SQS::Queue}
        Role: {Type: AWS::IAM::Role, Properties: {AssumeRolePolicyDocument: {}}}
        Fn: {Type: AWS::Lambda::Function, Properties: {Role: !GetAtt Role.Arn, Timeout: 60, Runtime: python3.12, Handler: i.h, Code: {ZipFile: x}}}
        Feed: {Type: AWS::Lambda::EventSourceMapping, Properties: {EventSourceArn: !GetAtt Jobs.Arn, FunctionName: !Ref Fn}}
        """)
    (f,) = analysis_of(path).findings
    assert (f.rule, f.logical_id) == ("queue-visibility-short", "Jobs")
    assert "(20 s) is shorter than the timeout of its consumer Fn (60 s): Lambda refuses" in f.reason


def test_an_ecs_service_with_no_load_balancer_whose_task_role_consumes_is_a_worker_tier(template):
    path = template("""\
        Jobs: {Type: AWS::SQS::Queue}
        TaskRole:
          Type: AWS::IAM::Role
          Properties: {AssumeRolePolicyDocument: {}}
        Works:
          Type: AWS::IAM::ManagedPolicy
          Properties:
            Roles: [!Ref TaskRole]
            PolicyDocument: {Statement: [{Effect: Allow, Action: "sqs:*", Resource: !GetAtt Jobs.Arn}]}
        Task: {Type: AWS::ECS::TaskDefinition, Properties: {TaskRoleArn: !GetAtt TaskRole.Arn, ContainerDefinitions: []}}
        Cluster: {Type: AWS::ECS::Cluster}
        Service:
          Type: AWS::ECS::Service
          Properties:
            Cluster: !Ref Cluster
            TaskDefinition: !Ref Task
            LaunchType: FARGATE
            DesiredCount: 1
            NetworkConfiguration: {AwsvpcConfiguration: {Subnets: [!Ref PrivA, !Ref PrivB]}}
        """)
    a = analysis_of(path)
    assert [(c["logical_id"], c["shape"]) for c in a.divided[0]["consumers"]] == [
        ("Service", "worker tier")]
    assert ("Service", "worker-lone") in spof_ids(a)
    assert ("Service", "ecs-desired-one") not in spof_ids(a)
    assert [f.rule for f in a.findings] == ["queue-no-dlq"]


def test_a_role_that_may_receive_from_every_queue_names_no_queue(template):
    path = template("""\
        Jobs: {Type: AWS::SQS::Queue}
        Role:
          Type: AWS::IAM::Role
          Properties:
            AssumeRolePolicyDocument: {}
            Policies: [{PolicyName: all, PolicyDocument: {Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}}]
        Profile: {Type: AWS::IAM::InstanceProfile, Properties: {Roles: [!Ref Role]}}
        Host: {Type: AWS::EC2::Instance, Properties: {SubnetId: !Ref PrivA, IamInstanceProfile: !Ref Profile, InstanceType: t4g.micro}}
        """)
    a = analysis_of(path)
    assert not a.divided and ("Host", "lone-instance") in spof_ids(a)


def test_a_stage_with_no_consumed_queue_reports_no_divided_work(capsys):
    assert main([str(RULES / "asg-min-one.fires.yaml"), "--json"]) == 0
    assert "divided_work" not in json.loads(capsys.readouterr().out)[0]
    assert main([str(RULES / "asg-min-one.fires.yaml")]) == 0
    assert "Divided work" not in capsys.readouterr().out


def test_a_sam_function_with_an_sqs_event_is_a_worker_tier(template):
    path = template("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Jobs: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 120}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: i.h
              InlineCode: x
              Timeout: 30
              Events: {Work: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn}}}
        """, standalone=True)
    a = analysis_of(path)
    (consumer,) = a.divided[0]["consumers"]
    assert (consumer["logical_id"], consumer["how"], consumer["shape"]) == (
        "Fn", "its SQS event Work", "worker tier")
    assert sorted(f.rule for f in a.findings) == ["queue-no-dlq", "queue-visibility-short"]


def test_a_worker_tier_holds_db_connections_but_serves_no_requests_and_recovers_by_its_queue(
        tmp_path, prices):
    # the worker launch template's GameService metadata (one job worker and its pool): its
    # connections count in the budget, and without it they would not
    def without_game_service(resources):
        resources[WORKER_LAUNCH_TEMPLATE]["Metadata"].pop("GameService")

    (plain,) = load(str(SNAPSHOTS / "scale-out"))
    (bare,) = load(str(_scale_out_edited(tmp_path, without_game_service)))
    r = report_of(plain, prices)
    before, after = report_of(bare, prices)["capacity"], r["capacity"]
    assert "worker_connections" not in before
    assert after["max_players"] == before["max_players"]  # the app tier's 12 hosts, as before
    worker = next(u for u in after["units"] if u["logical_id"] == WORKER_GROUP)
    assert worker["worker"] and worker["max"] == 6
    assert worker["connections_per_instance"] == JOB_WORKER_DB_CONNECTIONS
    assert after["worker_connections"] == 6 * JOB_WORKER_DB_CONNECTIONS
    assert after["peak_connections"] == before["peak_connections"] + after["worker_connections"]
    (growth,) = [g for g in after["growth"] if g["factor"] == 10]
    assert growth["connections"] == [g for g in before["growth"] if g["factor"] == 10][0][
        "connections"] + after["worker_connections"]
    # its hosts write no access lines: the bill is the same with or without its metadata
    assert r["cost"]["total"] == report_of(bare, prices)["cost"]["total"]
    # a lost worker: the others keep receiving; its jobs come back after the visibility timeout
    (lost,) = [row for row in report_of(plain, prices)["recovery"]["disruptions"]
               if row["disruption"] == "instance"]
    (item,) = [i for i in lost["items"] if i["component"].startswith(WORKER_GROUP)]
    assert item["rto"]["text"] == "up to 2 min" and "a worker tier: the other workers keep " \
        "receiving from JobQueue; the jobs the lost ones held are received again after the " \
        "visibility timeout (up to 2 min)" in item["why"]


def test_a_terraform_plans_lambda_fed_by_a_queue_is_a_worker_tier(tmp_path, prices):
    from .test_terraform import _plan, _write, report

    def ref(*addresses):
        return {"references": [x for a in addresses for x in (a + ".arn", a)]}

    plan = _plan([
        ("aws_sqs_queue.dead", "aws_sqs_queue", {}, {"arn": True}, {}),
        ("aws_sqs_queue.jobs", "aws_sqs_queue", {"visibility_timeout_seconds": 120},
         {"arn": True, "redrive_policy": True}, {"redrive_policy": ref("aws_sqs_queue.dead")}),
        ("aws_lambda_function.work", "aws_lambda_function",
         {"function_name": "work", "timeout": 60}, {"arn": True}, {}),
        ("aws_lambda_event_source_mapping.feed", "aws_lambda_event_source_mapping", {},
         {"event_source_arn": True, "function_name": True},
         {"event_source_arn": ref("aws_sqs_queue.jobs"),
          "function_name": ref("aws_lambda_function.work")}),
    ])
    r = report(_write(tmp_path, plan), prices)
    (queue,) = r["divided_work"]["queues"]
    assert (queue["queue"], queue["dead_letter_queue"]) == ("aws_sqs_queue.jobs",
                                                            "aws_sqs_queue.dead")
    assert [(c["logical_id"], c["shape"]) for c in queue["consumers"]] == [
        ("aws_lambda_function.work", "worker tier")]
    assert [f["rule"] for f in r["divided_work"]["findings"]] == ["queue-visibility-short"]


def test_a_terraform_states_redrive_policy_names_its_dead_letter_queue_by_arn(tmp_path, prices):
    from .test_terraform import _plan, _write, report

    arn = "arn:aws:sqs:us-east-1:123456789012:"
    plan = _plan([
        ("aws_sqs_queue.dead", "aws_sqs_queue", {"arn": arn + "dead"}, {}, {}),
        ("aws_sqs_queue.jobs", "aws_sqs_queue", {"arn": arn + "jobs", "redrive_policy": json.dumps(
            {"deadLetterTargetArn": arn + "dead", "maxReceiveCount": 4})}, {}, {}),
        ("aws_lambda_function.work", "aws_lambda_function", {"function_name": "work"}, {}, {}),
        ("aws_lambda_event_source_mapping.feed", "aws_lambda_event_source_mapping",
         {"event_source_arn": arn + "jobs", "function_name": "work"}, {}, {}),
    ])
    (queue,) = report(_write(tmp_path, plan), prices)["divided_work"]["queues"]
    assert queue["lines"][-1] == ("dead-letter queue aws_sqs_queue.dead after 4 receives; "
                                  "visibility timeout 30 s")


def test_the_diff_says_the_queue_moved_to_a_worker_tier_and_fails_a_lone_worker(
        tmp_path, capsys):
    before = _scale_out_edited(tmp_path / "before", _worked_on_the_app_hosts)
    assert main(["diff", str(before), str(SNAPSHOTS / "scale-out")]) == 0
    out = capsys.readouterr().out
    assert (f"queue JobQueue worked by: {APP_GROUP} (same machines) -> {WORKER_GROUP} "
            "(worker tier)") in out
    assert "NEW single point of failure" not in out
    after = _scale_out_edited(tmp_path / "after", _lone_worker)
    assert main(["diff", str(SNAPSHOTS / "scale-out"), str(after)]) == 1
    out = capsys.readouterr().out
    assert f"NEW single point of failure: {WORKER_GROUP} (scale-out-app): a lone worker" in out
