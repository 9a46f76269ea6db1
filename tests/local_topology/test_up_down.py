"""`make local` beyond the small stage that test_chaos.py brings up, plays and takes down
through the command line: scale-out's worker tier, hosts booted by the same bootstrap in its
worker role, and the fallback to ports where no namespace can be made; bad input to `up`."""

from __future__ import annotations

import re

import httpx
import pytest

from local_topology.processes import free_port
from local_topology.topology import Topology
from tests.local_topology.conftest import cli, guest, leftovers, upload_avatar

pytestmark = pytest.mark.slow(seconds=45)  # the whole file, idle 2-core machine


def test_scale_out_s_worker_hosts_do_the_jobs_and_without_namespaces_hosts_run_on_ports(state_dir, monkeypatch):
    """scale-out's shape with one app host and one worker host (`make local HOSTS=1 WORKERS=1`),
    as processes on ports: the app host serves without a job worker (the stage has a worker
    tier), the worker host runs the job worker alone (the bootstrap's worker role), and it is
    the one that makes the avatar."""
    state = state_dir
    lines: list[str] = []
    topo = Topology(state, say=lines.append)
    # the bootstrap calls a worker host booted once its worker has run this long (15 s on
    # EC2, where a worker that fails at start has exited by then): this one is known good
    monkeypatch.setenv("WORKER_SETTLE", "5")
    try:
        url = topo.up(1, workers=1, front_port=free_port(), use_netns=False)
        assert any(line.startswith("network namespaces unavailable (turned off (--no-netns)): hosts run as processes")
                   for line in lines), lines
        assert "worker tier: 1 host (--workers; max 6), the job worker alone: worker1 us-east-1a" in lines, lines
        assert any(re.match(r"worker1 \(\S+, us-east-1a\): bootstrap READY in [0-9.]+ s", line) for line in lines), lines
        assert topo.host_address(1).startswith("127.0.0.1:") and (topo.hosts, topo.workers) == ([1], [2])
        assert topo.worker_pid(1) is None, "no job worker beside the server: the stage has a worker tier"
        bootstrap = (topo.host_dir(2) / "bootstrap.log").read_text()
        assert "role worker" in bootstrap and "job worker running" in bootstrap, bootstrap
        pid, auth = guest(url)
        with httpx.Client(base_url=url, headers=auth, timeout=15) as c:
            assert c.post("api/actions", headers={"Idempotency-Key": "k"}).status_code == 200
            upload_avatar(c, url)
        assert '"job finished"' in (topo.host_dir(2) / "host" / "log" / "service.log").read_text()
        status = "\n".join(topo.status())
        assert re.search(r"^worker1 +us-east-1a .*job worker pid \d+$", status, re.M), status
    finally:
        topo.down(quiet=True)
    assert leftovers(state, None) == []


def test_workers_are_for_a_stage_with_a_worker_tier(tmp_path):
    r = cli(tmp_path / "s", "up", "--stage", "small", "--workers", "2")
    assert r.returncode == 1 and r.stderr.strip() == (
        "local: --workers is for a stage with a worker tier; small's job worker runs beside the server on each app host")
    r = cli(tmp_path / "s", "up", "--workers", "0")
    assert r.returncode == 1 and r.stderr.strip() == "local: --workers must be between 1 and 200, got 0"
    r = cli(tmp_path / "s", "up", "--hosts", "150", "--workers", "60")
    assert r.returncode == 1 and r.stderr.strip() == "local: --hosts and --workers together must be at most 200, got 150 + 60"
    assert not (tmp_path / "s").exists()


def test_bad_input_is_one_line(tmp_path):
    r = cli(tmp_path / "s", "up", "--hosts", "0")
    assert r.returncode == 1 and r.stderr.strip() == "local: --hosts must be between 1 and 200, got 0"
    # the hosts' AWS and database settings are the topology's: --env is for the game's own
    r = cli(tmp_path / "s", "up", "--env", "AWS_ENDPOINT_URL=http://elsewhere")
    assert r.returncode == 1 and r.stderr.strip() == (
        "local: --env takes GAME_NAME=VALUE, a setting of the game service, got 'AWS_ENDPOINT_URL=http://elsewhere'")
    assert not (tmp_path / "s").exists()


def test_a_folder_that_is_not_a_topologys_is_never_emptied(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    r = cli(tmp_path, "up", "--hosts", "1")
    assert r.returncode == 1
    assert r.stderr.strip() == f"local: {tmp_path} is not empty and holds no local topology: pick another --state"
    assert (tmp_path / "notes.txt").read_text() == "mine"
