"""The shape `make local STAGE=...` brings up, told without booting it: a stage's hosts (its
``min_instances``, or ``HOSTS=``) and the AZ of each, round-robin over the stage's AZs as its
Auto Scaling group spreads them. A stage that does not exist is one line naming those that do."""

from __future__ import annotations

import subprocess
import sys

from local_topology.topology import REPO, stage_shape
from stacks.config import STAGES


def test_each_stage_brings_up_its_min_instances_round_robin_over_its_azs():
    assert stage_shape("starter") == {1: "us-east-1a"}
    assert stage_shape("small") == {1: "us-east-1a", 2: "us-east-1b"}
    assert stage_shape("scale-out") == {1: "us-east-1a", 2: "us-east-1b", 3: "us-east-1c"}
    for name, cfg in STAGES.items():  # a stage added later too
        shape = stage_shape(name)
        assert list(shape) == list(range(1, cfg.min_instances + 1)), name
        assert set(shape.values()) == set(cfg.availability_zones[: cfg.min_instances]), name


def test_without_a_stage_it_is_the_scale_out_stage_three_hosts_over_three_azs():
    assert stage_shape() == {1: "us-east-1a", 2: "us-east-1b", 3: "us-east-1c"}


def test_hosts_sets_the_count_and_the_azs_stay_the_stages_in_turn():
    assert stage_shape("small", 3) == {1: "us-east-1a", 2: "us-east-1b", 3: "us-east-1a"}
    assert stage_shape("small", 4) == {1: "us-east-1a", 2: "us-east-1b", 3: "us-east-1a", 4: "us-east-1b"}
    assert stage_shape("scale-out", 4) == {1: "us-east-1a", 2: "us-east-1b", 3: "us-east-1c", 4: "us-east-1a"}
    assert stage_shape("starter", 2) == {1: "us-east-1a", 2: "us-east-1b"}
    assert stage_shape(None, 1) == {1: "us-east-1a"}


def test_an_unknown_stage_is_one_line_naming_the_allowed_ones(tmp_path):
    r = subprocess.run([sys.executable, "-m", "local_topology", "--state", str(tmp_path / "s"), "up", "--stage", "big"],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 1
    assert r.stderr == "local: unknown stage 'big'; allowed: starter, small, scale-out\n"
    assert r.stdout == ""
    assert not (tmp_path / "s").exists()
