"""What a host runs, by the bootstrap's role and the environment (``--plan``: the bootstrap
decides and prints it, then stops before any step): an app host runs the server and the job
worker beside it where the stage has no worker tier; a worker tier's host only the worker."""

from __future__ import annotations

import subprocess

import pytest

from host.bundle import BOOTSTRAP_SCRIPT

QUEUE = "GAME_JOB_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/000000000000/q\n"
EC2 = ["--mode", "ec2", "--region", "us-east-1", "--stage", "s", "--log-group", "g"]


def _bootstrap(tmp_path, env: str, *args: str) -> subprocess.CompletedProcess:
    env_file = tmp_path / "game.env"
    env_file.write_text("GAME_ENV=production\n" + env)
    return subprocess.run(["bash", str(BOOTSTRAP_SCRIPT), "--bundle", "x", "--wheels", "y", "--env-file", str(env_file),
                           *args], capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize(
    ("env", "args", "runs"),
    [
        (QUEUE, ["--role", "serve"], "server worker"),  # starter, small: the worker beside the server
        ("", ["--role", "serve"], "server"),  # no queue, no worker
        (QUEUE, ["--role", "serve", "--without-worker"], "server"),  # scale-out's app hosts: they only send
        (QUEUE, ["--role", "worker", "--drain-hook", "worker-drains"], "worker drain:worker-drains"),  # its worker hosts
        (QUEUE, ["--role", "migrate"], "migrate"),
        (QUEUE, ["--role", "all"], "migrate server worker"),
    ],
)
def test_each_role_runs_what_its_host_is_for(tmp_path, env, args, runs):
    r = _bootstrap(tmp_path, env, *EC2, *args, "--plan")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == runs


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ("", [*EC2, "--role", "worker"], "--role worker needs GAME_JOB_QUEUE_URL in the environment file"),
        (QUEUE, [*EC2, "--role", "worker", "--without-worker"], "--without-worker is for --role serve or all"),
        (QUEUE, ["--mode", "local", "--role", "worker", "--drain-hook", "h"], "--drain-hook is for --role worker in --mode ec2"),
        (QUEUE, [*EC2, "--role", "serve", "--drain-hook", "h"], "--drain-hook is for --role worker in --mode ec2"),
    ],
)
def test_a_role_that_cannot_work_is_refused_before_anything_runs(tmp_path, env, args, message):
    r = _bootstrap(tmp_path, env, *args)
    assert r.returncode == 2
    assert message in r.stderr
