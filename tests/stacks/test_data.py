"""Data: PostgreSQL pinned, isolated, SSL-only, encrypted, backed up; scale-out production-grade."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Capture, Match

from stacks.config import STAGES
from tests.stacks.helpers import only, props, resources


def _db(templates, stage):
    return only(templates[stage]["data"], "AWS::RDS::DBInstance")


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_postgres_pinned_minor_version_without_auto_upgrade(template, stage):
    version = Capture()
    template(stage, "data").has_resource_properties(
        "AWS::RDS::DBInstance",
        {"Engine": "postgres", "EngineVersion": version, "AutoMinorVersionUpgrade": False},
    )
    assert version.as_string() == STAGES[stage].postgres_version and version.as_string().count(".") == 1


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_stage_shape_of_the_database(template, stage):
    config = STAGES[stage]
    template(stage, "data").has_resource(
        "AWS::RDS::DBInstance",
        {
            "Properties": Match.object_like(
                {
                    "DBInstanceClass": f"db.{config.db_instance_class}",
                    "MultiAZ": config.db_multi_az,
                    "DeletionProtection": config.db_deletion_protection,
                    "StorageType": "gp3",
                    "AllocatedStorage": str(config.db_allocated_storage_gib),
                    "MaxAllocatedStorage": config.db_max_allocated_storage_gib,
                    "CopyTagsToSnapshot": True,
                }
            ),
            "DeletionPolicy": "Snapshot",
        },
    )


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_encrypted_private_backed_up_and_logging(templates, stage):
    db = _db(templates, stage)
    assert db["StorageEncrypted"] is True
    assert db["PubliclyAccessible"] is False
    assert db["BackupRetentionPeriod"] == STAGES[stage].db_backup_retention_days
    assert sorted(db["EnableCloudwatchLogsExports"]) == ["postgresql", "upgrade"]
    groups = props(templates[stage]["data"], "AWS::Logs::LogGroup")
    assert {g["LogGroupName"] for g in groups if g["LogGroupName"].startswith("/aws/rds/")} == {
        f"/aws/rds/instance/{stage}-game/postgresql", f"/aws/rds/instance/{stage}-game/upgrade"
    }
    assert all(g["RetentionInDays"] == STAGES[stage].log_retention_days for g in groups)


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_ssl_forced_by_parameter_group(templates, stage):
    params = only(templates[stage]["data"], "AWS::RDS::DBParameterGroup")
    assert params["Parameters"]["rds.force_ssl"] == "1"
    assert params["Family"] == f"postgres{STAGES[stage].postgres_version.split('.')[0]}"


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_in_isolated_subnets(templates, stage):
    subnet_group = only(templates[stage]["data"], "AWS::RDS::DBSubnetGroup")
    refs = str(subnet_group["SubnetIds"])
    assert refs.count("dataSubnet") == len(STAGES[stage].availability_zones)
    assert "appSubnet" not in refs and "publicSubnet" not in refs


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_reachable_only_from_the_app_tier(templates, stage):
    data = templates[stage]["data"]
    (db_sg_id,) = [lid for lid in resources(data, "AWS::EC2::SecurityGroup") if lid.startswith("DatabaseSecurityGroup")]
    inline = resources(data, "AWS::EC2::SecurityGroup")[db_sg_id]["Properties"]
    assert not inline.get("SecurityGroupIngress")
    rules = [p for p in props(data, "AWS::EC2::SecurityGroupIngress") if p["GroupId"] == {"Fn::GetAtt": [db_sg_id, "GroupId"]}]
    assert rules, "the database must accept the app tier"
    for rule in rules:
        assert "SourceSecurityGroupId" in rule and "CidrIp" not in rule
        assert rule["FromPort"] == rule["ToPort"]
    sources = [str(r["SourceSecurityGroupId"]) for r in rules]
    assert any("AppSecurityGroup" in s for s in sources)
    # Besides the app tier, only the rotation function and the job workers (scale-out) may connect.
    assert all("AppSecurityGroup" in s or "Rotation" in s or "WorkerSecurityGroup" in s for s in sources)
    assert any("WorkerSecurityGroup" in s for s in sources) == STAGES[stage].has_worker_tier


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_credentials_generated_into_secrets_manager(templates, stage):
    data = templates[stage]["data"]
    secrets = props(data, "AWS::SecretsManager::Secret")
    db_secret = [s for s in secrets if '"username":"game"' in s["GenerateSecretString"].get("SecretStringTemplate", "")]
    assert len(db_secret) == 1 and db_secret[0]["GenerateSecretString"]["GenerateStringKey"] == "password"
    app_secret = [s for s in secrets if s["GenerateSecretString"].get("GenerateStringKey") == "session_secret"]
    assert len(app_secret) == 1
    assert "MasterUserPassword" in _db(templates, stage) and "resolve:secretsmanager" in str(_db(templates, stage))


def test_scale_out_is_production_grade(templates):
    data = templates["scale-out"]["data"]
    (db_resource,) = resources(data, "AWS::RDS::DBInstance").values()
    db = db_resource["Properties"]
    assert db["MultiAZ"] is True
    assert db["DeletionProtection"] is True
    assert db["EnablePerformanceInsights"] is True
    assert db_resource["DeletionPolicy"] == "Snapshot" and db_resource["UpdateReplacePolicy"] == "Snapshot"
    (rotation,) = props(data, "AWS::SecretsManager::RotationSchedule")
    assert rotation["RotationRules"]["ScheduleExpression"] == "rate(30 days)"


def test_starter_is_cheap_single_az_and_still_snapshots_on_delete(templates):
    (db_resource,) = resources(templates["starter"]["data"], "AWS::RDS::DBInstance").values()
    assert db_resource["Properties"]["MultiAZ"] is False
    assert db_resource["Properties"]["DBInstanceClass"] == "db.t4g.micro"
    assert db_resource["DeletionPolicy"] == "Snapshot"
    assert props(templates["starter"]["data"], "AWS::SecretsManager::RotationSchedule") == []


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_outputs_name_the_secrets(templates, stage):
    outputs = templates[stage]["data"]["Outputs"]
    assert {"DatabaseSecretName", "AppSecretName"} <= set(outputs)


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_a_stuck_client_cannot_hold_locks_for_ever(template, stage):
    """Server-side bounds for every session (the migration step sets its own, longer ones:
    tests/game_service/test_migrate_command.py)."""
    template(stage, "data").has_resource_properties("AWS::RDS::DBParameterGroup", {"Parameters": Match.object_like({
        "statement_timeout": "30000", "idle_in_transaction_session_timeout": "60000"})})


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_backups_and_maintenance_at_the_players_quietest_hours(template, stage):
    config = STAGES[stage]
    template(stage, "data").has_resource_properties("AWS::RDS::DBInstance", {
        "PreferredBackupWindow": config.db_backup_window, "PreferredMaintenanceWindow": config.db_maintenance_window})
    assert config.db_backup_window == "08:00-09:00" and config.db_maintenance_window == "tue:09:30-tue:10:30"


def test_small_has_a_standby_in_another_zone_on_the_smallest_class(templates):
    """Redundant at the lowest price: db.t4g.micro, Multi-AZ (a standby RDS fails over to),
    backed up for a week, protected from deletion, encrypted, in the isolated subnets."""
    (db,) = props(templates["small"]["data"], "AWS::RDS::DBInstance")
    assert db["MultiAZ"] is True and db["DBInstanceClass"] == "db.t4g.micro"
    assert db["BackupRetentionPeriod"] == 7 and db["DeletionProtection"] is True and db["StorageEncrypted"] is True
