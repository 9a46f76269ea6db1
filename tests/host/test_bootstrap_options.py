"""The bootstrap's ``--netns`` (the local topology runs each host in a network namespace of
its own): refused on EC2, and a namespace that does not exist is named before anything runs."""

from __future__ import annotations

import subprocess

from host.bundle import BOOTSTRAP_SCRIPT


def test_the_bootstrap_refuses_a_namespace_on_ec2(tmp_path):
    env = tmp_path / "game.env"
    env.write_text("GAME_ENV=production\n")
    r = subprocess.run(["bash", str(BOOTSTRAP_SCRIPT), "--mode", "ec2", "--bundle", "x", "--wheels", "y",
                        "--env-file", str(env), "--region", "us-east-1", "--stage", "s", "--log-group", "g",
                        "--netns", "lt-host1"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == "bootstrap: --netns is for --mode local (an EC2 host has its own network)"


def test_the_bootstrap_names_a_missing_namespace(tmp_path):
    env = tmp_path / "game.env"
    env.write_text("GAME_ENV=production\n")
    r = subprocess.run(["bash", str(BOOTSTRAP_SCRIPT), "--mode", "local", "--bundle", "x", "--wheels", "y",
                        "--env-file", str(env), "--prefix", str(tmp_path / "h"), "--netns", "lt-no-such-ns"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "FAILED: network namespace lt-no-such-ns does not exist" in r.stderr
