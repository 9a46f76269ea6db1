"""The local hosts get what the EC2 hosts get: the same bootstrap script, a service bundle
that leaves out what the CDK asset leaves out, the wheelhouse built from the same lock."""

from __future__ import annotations

import subprocess

from local_topology import topology
from patterns import game_service_host


def test_the_bundle_leaves_out_what_the_cdk_asset_leaves_out():
    assert topology.BUNDLE_EXCLUDES == game_service_host.BUNDLE_EXCLUDES
    assert topology.BOOTSTRAP == game_service_host.BOOTSTRAP_SCRIPT


def test_the_bootstrap_refuses_a_namespace_on_ec2(tmp_path):
    env = tmp_path / "game.env"
    env.write_text("GAME_ENV=production\n")
    r = subprocess.run(["bash", str(topology.BOOTSTRAP), "--mode", "ec2", "--bundle", "x", "--wheels", "y",
                        "--env-file", str(env), "--region", "us-east-1", "--stage", "s", "--log-group", "g",
                        "--netns", "lt-host1"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == "bootstrap: --netns is for --mode local (an EC2 host has its own network)"


def test_the_bootstrap_names_a_missing_namespace(tmp_path):
    env = tmp_path / "game.env"
    env.write_text("GAME_ENV=production\n")
    r = subprocess.run(["bash", str(topology.BOOTSTRAP), "--mode", "local", "--bundle", "x", "--wheels", "y",
                        "--env-file", str(env), "--prefix", str(tmp_path / "h"), "--netns", "lt-no-such-ns"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "FAILED: network namespace lt-no-such-ns does not exist" in r.stderr
