"""Capacity a template changes over time: scheduled actions that set the group's size."""

import json

from topology_report.cli import main

from .conftest import analysis_of, spof_ids


def group(min_size=2, max_size=5, schedules=(), policy=False):
    text = """
Lt: {Type: AWS::EC2::LaunchTemplate, Properties: {LaunchTemplateData: {InstanceType: t4g.small, ImageId: ami-1}}}
Group:
  Type: AWS::AutoScaling::AutoScalingGroup
  Properties:
""" + f"""    MinSize: '{min_size}'
    MaxSize: '{max_size}'
    VPCZoneIdentifier: [!Ref PrivA, !Ref PrivB]
    LaunchTemplate: {{LaunchTemplateId: !Ref Lt, Version: !GetAtt Lt.LatestVersionNumber}}
"""
    for i, (when, mn, mx) in enumerate(schedules):
        text += (f"Sched{i}: {{Type: AWS::AutoScaling::ScheduledAction, Properties: "
                 f"{{AutoScalingGroupName: !Ref Group, Recurrence: '{when}', MinSize: {mn}, "
                 f"MaxSize: {mx}}}}}\n")
    if policy:
        text += ("Step: {Type: AWS::AutoScaling::ScalingPolicy, Properties: {AutoScalingGroupName: "
                 "!Ref Group, PolicyType: StepScaling, AdjustmentType: ChangeInCapacity, "
                 "StepAdjustments: [{MetricIntervalLowerBound: 0, ScalingAdjustment: 1}]}}\n")
    return text


def test_a_group_that_is_one_instance_at_night_is_a_lone_instance_at_night(template):
    a = analysis_of(template(group(schedules=[("0 7 * * *", 2, 5), ("0 22 * * *", 1, 1)],
                                   policy=True)))
    (spof,) = [s for s in a.open_spofs if s.rule == "asg-min-one"]
    assert "Sched1" in spof.reason and "0 22 * * *" in spof.reason and "1" in spof.reason
    line = " ".join(a.tiers["compute"].lines)
    assert "Sched1" in line and "its scaling policies cannot act" in line
    same_all_day = analysis_of(template(group(schedules=[("0 7 * * *", 2, 5)], policy=True),
                                        name="day.yaml"))
    assert spof_ids(same_all_day) == set()


def test_a_schedule_that_raises_the_max_lets_a_fixed_group_scale(template):
    fixed = analysis_of(template(group(min_size=2, max_size=2, policy=True), name="a.yaml"))
    assert "cannot scale (max = min)" in " ".join(fixed.tiers["compute"].lines)
    assert not fixed.app_units[0].scales
    by_day = analysis_of(template(group(min_size=2, max_size=2, policy=True,
                                        schedules=[("0 7 * * *", 2, 6)]), name="b.yaml"))
    assert by_day.app_units[0].scales


def test_the_night_floor_sets_the_instance_loss_estimate(template, capsys):
    path = template(group(schedules=[("0 22 * * *", 1, 1)]))
    assert main([str(path), "--json"]) == 0
    (stage,) = json.loads(capsys.readouterr().out)
    row = next(r for r in stage["recovery"]["disruptions"] if r["disruption"] == "instance")
    assert "Sched0" in row["why"] and "the only instance" in row["why"]


def ecs_service(min_capacity=2, schedules=()):
    actions = "".join(
        f"\n        - {{ScheduledActionName: s{i}, Schedule: '{when}', "
        f"ScalableTargetAction: {{MinCapacity: {mn}, MaxCapacity: {mx}}}}}"
        for i, (when, mn, mx) in enumerate(schedules))
    return f"""
Cluster: {{Type: AWS::ECS::Cluster}}
Task: {{Type: AWS::ECS::TaskDefinition, Properties: {{RequiresCompatibilities: [FARGATE], NetworkMode: awsvpc, Cpu: '256', Memory: '512', ContainerDefinitions: [{{Name: app, Image: app}}]}}}}
Service:
  Type: AWS::ECS::Service
  Properties:
    Cluster: !Ref Cluster
    LaunchType: FARGATE
    DesiredCount: 2
    TaskDefinition: !Ref Task
    NetworkConfiguration: {{AwsvpcConfiguration: {{Subnets: [!Ref PrivA, !Ref PrivB]}}}}
Target:
  Type: AWS::ApplicationAutoScaling::ScalableTarget
  Properties:
    MinCapacity: {min_capacity}
    MaxCapacity: 4
    ResourceId: !Join ['/', [service, !Ref Cluster, !GetAtt Service.Name]]
    ScalableDimension: ecs:service:DesiredCount
    ServiceNamespace: ecs{(chr(10) + '    ScheduledActions:' + actions) if schedules else ''}
"""


def test_an_ecs_service_scheduled_down_to_one_task_is_a_single_point_of_failure_then(
        template, capsys):
    path = template(ecs_service(schedules=[("cron(0 22 * * ? *)", 1, 1)]))
    (spof,) = [s for s in analysis_of(path).open_spofs if s.rule == "ecs-desired-one"]
    assert "s0" in spof.reason and "1 task" in spof.reason
    assert spof_ids(analysis_of(template(ecs_service(), name="all-day.yaml"))) == set()
    assert main([str(path), "--json"]) == 0
    (stage,) = json.loads(capsys.readouterr().out)
    row = next(r for r in stage["recovery"]["disruptions"] if r["disruption"] == "instance")
    assert "s0" in row["why"] and "the only task" in row["why"]
