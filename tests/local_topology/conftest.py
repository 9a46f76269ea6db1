"""Fixtures of the local topology tests: the real thing (network namespaces as root, HAProxy,
nginx, an initdb'd PostgreSQL, moto's server standing in for S3 and Secrets Manager, hosts
booted by host/bootstrap.sh from the wheelhouse)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from local_topology.processes import free_port
from local_topology.topology import REPO, Topology

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def picture_png(side: int = 64) -> bytes:
    """A picture the avatar job takes (at least 16 pixels a side): a PNG of ``side`` x ``side``."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (side, side), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


# load tests measure the platform, not the game's pacing rules
LOAD_ENV = {"GAME_RATE_LIMIT_WRITES": "1000000", "GAME_ENERGY_CAP": "1000000",
            "GAME_SIGNUP_LIMIT_PER_ADDRESS": "1000000"}


def processes_mentioning(path: Path) -> list[str]:
    """Processes whose command line or working directory is under ``path``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(path) in cmd or cwd.startswith(str(path)):
            found.append(f"{proc.name}: {cmd[:200]}")
    return found


def leftovers(state_dir: Path, slot: int | None) -> list[str]:
    """Every process, namespace, link and mount of a topology (network slot ``slot``) still there."""
    out = processes_mentioning(state_dir)
    if slot is not None:
        netns = Path("/run/netns")
        out += [f"namespace {p.name}" for p in netns.glob(f"lt{slot}-*")] if netns.exists() else []
        out += [f"link {p.name}" for p in Path("/sys/class/net").glob(f"lt{slot}-*")]
        out += [f"link {p.name}" for p in Path("/sys/class/net").glob(f"lt-br{slot}")]
    out += [f"mount {line}" for line in Path("/proc/mounts").read_text().splitlines()
            if (slot is not None and f"/run/netns/lt{slot}-" in line) or str(state_dir) in line]
    return out


def guest(url: str, name: str | None = None) -> tuple[int, dict]:
    r = httpx.post(url + "api/auth/guest", json={"name": name} if name else None,
                   headers={"Idempotency-Key": os.urandom(8).hex()}, timeout=15)
    assert r.status_code == 201, r.text
    return r.json()["player"]["id"], {"Authorization": f"Bearer {r.json()['token']}"}


def state_folder() -> Path:
    """A state folder PostgreSQL's and nginx's users can reach (pytest's tmp_path is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="lt-test-"))
    root.chmod(0o755)
    return root / "state"


@pytest.fixture
def state_dir():
    state = state_folder()
    yield state
    shutil.rmtree(state.parent, ignore_errors=True)


def cli(state: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m local_topology --state STATE ARGS``, as `make local` / `local-down` / `local-status` run it."""
    return subprocess.run([sys.executable, "-m", "local_topology", "--state", str(state), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


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


# The job workers' long poll of an empty queue, shortened for the chaos tests' topology: a
# worker stopped mid-poll ends the poll first, so a host's graceful stop (each host of the
# rolling replacement, the teardown) takes up to this long (10 s by default). What the tests
# watch does not depend on the poll's length.
CHAOS_JOB_WAIT_SECONDS = 2

# The chaos tests' shape: the small stage's group scaled out to three hosts, round-robin over
# its two AZs: us-east-1a holds host1 and host3, us-east-1b host2, so an AZ lost is two hosts
# of three at once, not one.
CHAOS_STAGE, CHAOS_HOSTS = "small", 3


@dataclass
class Local:
    """A topology `make local` brought up: its command's output, its front door's port."""

    topology: Topology
    up: subprocess.CompletedProcess
    port: int


@pytest.fixture(scope="package")
def local():
    """`make local STAGE=small HOSTS=3 ARGS="--env ..."` (the load tests' game rules, the
    short long poll), through the command line as a user runs it; at the end `make
    local-down`'s command, which must leave no process, namespace, link or mount behind. One
    topology for every test of the one file that uses it (test_chaos.py): a second file could
    run on the other test worker and boot a second one."""
    state, port = state_folder(), free_port()
    settings = {**LOAD_ENV, "GAME_JOB_WAIT_SECONDS": str(CHAOS_JOB_WAIT_SECONDS)}
    load_rules = [arg for name, value in settings.items() for arg in ("--env", f"{name}={value}")]
    try:
        up = cli(state, "up", "--stage", CHAOS_STAGE, "--hosts", str(CHAOS_HOSTS), "--port", str(port), *load_rules)
        assert up.returncode == 0, up.stdout + up.stderr
        yield Local(Topology(state), up, port)
    finally:
        slot = Topology(state).state.get("slot")
        down = cli(state, "down", timeout=120)
        left = leftovers(state, slot)
        status = cli(state, "status")
        shutil.rmtree(state.parent, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert left == []
    assert "not running" in status.stdout, status.stdout
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)


@pytest.fixture(scope="package")
def topology(local):
    return local.topology


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), driven by Playwright: players' pages through the front door."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/system-packages.txt)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
