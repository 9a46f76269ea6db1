"""`make local STAGE=small` and `make local-down` for real: a topology of its own (the small
stage's shape: two hosts, one in each of its AZs) comes up,
a player plays one round through the front door (the avatar a job that a host's job worker
does, through the queue), and down leaves no process, namespace, link or mount behind. Also:
the command line's progress lines and status table; scale-out's worker tier, hosts booted by
the same bootstrap in its worker role; and the fallback to ports where no namespace can be made."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from local_topology.processes import free_port
from local_topology.topology import REPO, Topology
from tests.local_topology.conftest import guest, leftovers, picture_png

pytestmark = pytest.mark.slow(seconds=100)  # the whole file, idle 2-core machine


def cli(state, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_topology", "--state", str(state), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def play_one_round(url: str) -> dict:
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "<title>" in page.text  # the page, from the static bucket
    assert httpx.get(url + "app.js", timeout=10).text.startswith("// Coin Quest")
    head = httpx.head(url, timeout=10)  # CloudFront answers HEAD on a bucket behaviour too
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/html"), head
    pid, auth = guest(url, "Local")
    with httpx.Client(base_url=url, headers=auth, timeout=15) as c:
        r = c.post("api/actions", headers={"Idempotency-Key": "one-action"})
        assert r.status_code == 200, r.text
        avatar, form = upload_avatar(c, url)
        assert httpx.get(url + avatar.lstrip("/"), timeout=10).content[8:12] == b"WEBP", "redrawn by the job"
        # an upload's own key is no route to the media bucket: /incoming/... is the default
        # behaviour's (static bucket), as on the CDN
        assert httpx.get(url + form["key"], timeout=10).status_code == 404
        # bucket routes are read-only, like the distribution's S3 behaviours
        assert httpx.put(url + avatar.lstrip("/"), content=b"x", timeout=10).status_code == 403
        return {"player": pid, "coins": c.get("api/me").json()["coins"]}


def upload_avatar(c: httpx.Client, url: str) -> tuple[str, dict]:
    """An avatar as the page makes one: presigned POST straight to the bucket, then a job on
    the queue that a job worker does (read until it is done); the avatar's URL, the form."""
    form = c.post("api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    up = httpx.post(form["url"], data=form["fields"], files={"file": ("a.png", picture_png(), "image/png")}, timeout=15)
    assert up.status_code in (200, 204), up.text
    r = c.post("api/me/avatar", json={"key": form["key"]})
    assert r.status_code == 202, r.text
    job, deadline = r.json(), time.monotonic() + 60
    while job["state"] == "processing" and time.monotonic() < deadline:
        time.sleep(0.5)
        job = c.get(job["href"]).json()
    assert job["state"] == "done", job
    assert job["avatar_url"].startswith("/media/avatars/") and c.get("api/me").json()["avatar_url"] == job["avatar_url"]
    return job["avatar_url"], form


def test_up_play_status_down_leaves_nothing(state_dir):
    state = state_dir
    port = free_port()
    up = cli(state, "up", "--stage", "small", "--port", str(port))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        lines = up.stdout.splitlines()
        # one line per component while starting, then the URL
        expected = ["stage small: 2 hosts (its min_instances; max_instances 4), round-robin over its AZs: "
                    "host1 us-east-1a, host2 us-east-1b",
                    "network: " if os.geteuid() == 0 else "network namespaces unavailable", "postgresql: ",
                    "s3 + secrets manager + sqs (moto): ", "host1 ", "host2 ",
                    "load balancer (haproxy): ", "front door (nginx): ", f"ready: http://127.0.0.1:{port}/"]
        assert [any(line.startswith("local: " + e) for line in lines) for e in expected] == [True] * len(expected), lines
        assert lines[-1] == f"local: ready: http://127.0.0.1:{port}/"
        ready = dict(re.findall(r"(host\d) \(\S+, (us-east-1\w)\): bootstrap READY in [0-9.]+ s", up.stdout))
        assert ready == {"host1": "us-east-1a", "host2": "us-east-1b"}, up.stdout
        ready = [float(x) for x in re.findall(r"bootstrap READY in ([0-9.]+) s", up.stdout)]
        assert ", 2 UP (us-east-1a: 1, us-east-1b: 1); " in up.stdout, up.stdout
        print(f"hosts ready in {ready} s (booted together)")

        topo = Topology(state)
        assert (topo.stage, topo.zones) == ("small", ["us-east-1a", "us-east-1b"])
        assert [topo.hosts_in_az(az) for az in topo.zones] == [[1], [2]]
        if os.geteuid() == 0:
            assert topo.netns
            # each host is its own machine on the network: its own namespace and address
            for i in (1, 2):
                addr = subprocess.run(["ip", "-n", topo.host_ns(i), "-4", "-o", "addr", "show", "eth0"],
                                      capture_output=True, text=True).stdout
                assert f"{topo.subnet}.{10 + i}/24" in addr
        played = play_one_round(topo.url)
        assert played["coins"] == 55  # 50 to start, +5 for the action
        with psycopg.connect(topo.admin_dsn()) as conn:
            assert conn.execute("SELECT count(*) FROM ledger WHERE player_id = %s", (played["player"],)).fetchone()[0] == 2

        status = cli(state, "status", timeout=30)
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith("stage small "), status.stdout
        rows = [line.split() for line in status.stdout.splitlines() if line.startswith("host")][1:]
        assert [(r[0], r[1], r[3]) for r in rows] == [("host1", "us-east-1a", "UP"), ("host2", "us-east-1b", "UP")], \
            status.stdout
        again = cli(state, "up", "--hosts", "1")  # one topology per state folder
        assert again.returncode == 1 and "already runs" in again.stderr, again.stderr
    finally:
        slot = Topology(state).state.get("slot")
        down = cli(state, "down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert leftovers(state, slot) == []
    assert "not running" in cli(state, "status").stdout
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


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
    assert not (tmp_path / "s").exists()


def test_a_folder_that_is_not_a_topologys_is_never_emptied(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    r = cli(tmp_path, "up", "--hosts", "1")
    assert r.returncode == 1
    assert r.stderr.strip() == f"local: {tmp_path} is not empty and holds no local topology: pick another --state"
    assert (tmp_path / "notes.txt").read_text() == "mine"
