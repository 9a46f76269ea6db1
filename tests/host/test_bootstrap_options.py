"""The bootstrap's refusals that need no database: ``--netns`` (the local topology runs each
host in a network namespace of its own) refused on EC2, a namespace that does not exist named
before anything runs, and a wheelhouse without its pip wheel."""

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


def test_a_wheelhouse_without_pip_fails_the_boot_and_says_why(tmp_path):
    """The host's venv is made without pip and pip runs from the wheelhouse's own wheel."""
    env = tmp_path / "game.env"
    env.write_text("GAME_ENV=production\n")
    bundle, wheels = tmp_path / "bundle", tmp_path / "wheels"
    (bundle / "game_service").mkdir(parents=True)
    wheels.mkdir()
    (wheels / "fastapi-0.165.0-py3-none-any.whl").write_bytes(b"")
    r = subprocess.run(["bash", str(BOOTSTRAP_SCRIPT), "--mode", "local", "--bundle", str(bundle), "--wheels",
                        str(wheels), "--env-file", str(env), "--prefix", str(tmp_path / "h")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED: the wheelhouse must hold exactly one pip wheel (found 0)" in r.stderr, r.stderr
    assert not (tmp_path / "h" / "venv").exists()
