"""Stateful resources keep their logical IDs: a change would make CloudFormation
replace them (a new, empty database; new credentials; a new bucket, the old one
orphaned). If this test fails, the change is a data migration, not a refactor."""

from __future__ import annotations

import pytest

PINNED = {
    "data": {
        "GameDatabase": "AWS::RDS::DBInstance",
        "GameDatabaseSecret": "AWS::SecretsManager::Secret",
        "GameAppSecret": "AWS::SecretsManager::Secret",
    },
    "storage": {
        "MediaBucket": "AWS::S3::Bucket",
        "StaticBucket": "AWS::S3::Bucket",
        "LogsBucket": "AWS::S3::Bucket",
    },
}


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
@pytest.mark.parametrize("stack", sorted(PINNED))
def test_stateful_logical_ids_are_pinned(templates, stage, stack):
    resources = templates[stage][stack]["Resources"]
    for logical_id, type_ in PINNED[stack].items():
        assert logical_id in resources, f"{stage}-{stack}: {logical_id} ({type_}) vanished or was renamed"
        assert resources[logical_id]["Type"] == type_


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_stateful_stacks_hold_nothing_unpinned_of_a_stateful_kind(templates, stage):
    stateful_types = {"AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"}
    for stack in PINNED:
        found = {lid for lid, r in templates[stage][stack]["Resources"].items() if r["Type"] in stateful_types}
        assert found == set(PINNED[stack]), "pin every new stateful resource here, with a fixed logical ID"


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_stateful_resources_outlive_their_stack(templates, stage):
    data = templates[stage]["data"]["Resources"]
    assert data["GameDatabase"]["DeletionPolicy"] == "Snapshot"
    assert data["GameAppSecret"]["DeletionPolicy"] == "Retain"
    for bucket in PINNED["storage"]:
        assert templates[stage]["storage"]["Resources"][bucket]["DeletionPolicy"] == "Retain"
