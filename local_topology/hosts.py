"""The hosts: each one's environment file (what the app stack's user data writes on EC2,
pointed at the local stand-ins) and ``host/bootstrap.sh`` in local mode, which installs the
bundle from the wheelhouse and starts the service (in the host's network namespace when there
is one): an app host serves (and runs the job worker beside the server, unless the stage has a
worker tier), a worker host runs only the job worker; the release's migration is the
bootstrap in its migrate role."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from game_service.contract import APP_DB_USER, JOB_MAX_RECEIVES, JOB_VISIBILITY_SECONDS, Env
from host.bundle import BOOTSTRAP_SCRIPT
from local_topology.emulator import MEDIA_BUCKET, REGION, SECRET_APP, SECRET_DB_APP, SECRET_DB_MASTER
from local_topology.frontdoor import VIEWER_ADDRESS_HEADER
from local_topology.processes import TopologyError, alive, wait_gone

# the scale-out stage's per-host settings (stacks/config.py: workers_per_instance, db_pool_size)
HOST_WORKERS = 2
HOST_DB_POOL = 10


def host_name(i: int) -> str:
    return f"host{i}"


def worker_name(j: int) -> str:
    """The ``j``-th host of the worker tier (from 1)."""
    return f"worker{j}"


def environment(*, public_url: str, moto_url: str, trusted_proxies: str, bind: str, port: int, job_queue_url: str,
                migrate: bool = False, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A host's environment; with ``migrate``, the migration step's (the only one that names
    the master secret, as in AWS)."""
    return {
        Env.ENV: "production",
        "GAME_DB_SECRET_ID": SECRET_DB_APP,
        **({Env.DB_ADMIN_SECRET_ID: SECRET_DB_MASTER} if migrate else {}),
        Env.DB_USER: APP_DB_USER,
        Env.APP_SECRET_ID: SECRET_APP,
        Env.MEDIA_BUCKET: MEDIA_BUCKET,
        Env.PUBLIC_BASE_URL: public_url,
        "GAME_SERVE_STATIC": "false",  # the front door serves the page from the static bucket
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # the viewer address header is believed only from the load balancer's side of the network
        Env.TRUSTED_PROXIES: trusted_proxies,
        "GAME_CLIENT_ADDRESS_HEADER": VIEWER_ADDRESS_HEADER,
        Env.BIND: bind,
        Env.PORT: str(port),
        Env.WORKERS: str(HOST_WORKERS),
        Env.DB_POOL_SIZE: str(HOST_DB_POOL),
        Env.JOB_QUEUE_URL: job_queue_url,
        Env.JOB_VISIBILITY_SECONDS: str(JOB_VISIBILITY_SECONDS),
        Env.JOB_MAX_RECEIVES: str(JOB_MAX_RECEIVES),
        **(extra or {}),
    }


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return path


def bootstrap_args(role: str, artifacts: dict[str, Path], env_file: Path, prefix: Path,
                   netns: str | None, *, without_worker: bool = False) -> list[str]:
    """The bootstrap's command line in local mode (``role``: migrate, serve or worker;
    ``without_worker``: a server whose stage has a worker tier)."""
    args = ["bash", str(BOOTSTRAP_SCRIPT), "--mode", "local", "--role", role, "--bundle", str(artifacts["bundle"]),
            "--wheels", str(artifacts["wheels"]), "--env-file", str(env_file), "--prefix", str(prefix)]
    if role == "serve":
        args += ["--ready-timeout", "60"]
    if without_worker:
        args += ["--without-worker"]
    if netns:
        args += ["--netns", netns]
    return args


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else ""


def migrate(args: list[str], log_path: Path) -> float:
    """Run the bootstrap in its migrate role; the seconds it says the migration took."""
    with open(log_path, "w") as log:
        rc = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHON": sys.executable},
                            timeout=600).returncode
    text = log_path.read_text()
    match = re.search(r"MIGRATED in ([0-9.]+) s", text)
    if rc != 0 or not match:
        raise TopologyError(f"migration: bootstrap exit {rc}: {_last_line(text)} (log {log_path})")
    return float(match.group(1))


def boot(runs: dict[int, tuple[list[str], Path]], on_ready: Callable[[int, float], None]) -> dict[int, float]:
    """Run each host's bootstrap (``runs``: host -> command line, log path) in parallel;
    each one's "READY in N s" (``on_ready`` hears each as it comes)."""
    procs = {}
    for i, (args, log_path) in runs.items():
        log = open(log_path, "w")
        procs[i] = (subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHON": sys.executable}), log)
    ready: dict[int, float] = {}
    failed = []
    for i, (proc, log) in procs.items():
        rc = proc.wait(timeout=300)
        log.close()
        log_path = runs[i][1]
        text = log_path.read_text()
        match = re.search(r"READY in ([0-9.]+) s", text)
        if rc != 0 or not match:
            failed.append(f"host {i}: bootstrap exit {rc}: {_last_line(text)} (log {log_path})")
            continue
        ready[i] = float(match.group(1))
        on_ready(i, ready[i])
    if failed:
        raise TopologyError("; ".join(failed))
    return ready


def service_pid(prefix: Path) -> int | None:
    """The pid of the server a bootstrap started under ``prefix``."""
    pid_file = prefix / "service.pid"
    return int(pid_file.read_text()) if pid_file.exists() else None


def worker_pid(prefix: Path) -> int | None:
    """The pid of the job worker a bootstrap started under ``prefix`` (a process group of its own)."""
    pid_file = prefix / "worker.pid"
    return int(pid_file.read_text()) if pid_file.exists() else None


def kill(pids: Iterable[int | None], sig: int = signal.SIGKILL, wait: float = 35) -> None:
    """Signal services of hosts (each a process group: a server and its workers, or a job
    worker) all at once, then wait for them together: one that outlives a gentler signal by
    ``wait`` s is killed. (A job worker stopped mid long-poll finishes the poll first, up to
    its wait: stopped one after another, a topology's hosts would take that long each.)"""
    signalled = []
    for pid in pids:
        if pid and alive(pid):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                continue
            signalled.append(pid)
    deadline = time.monotonic() + wait
    for pid in signalled:
        if not wait_gone(pid, max(0.0, deadline - time.monotonic())) and sig != signal.SIGKILL:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            wait_gone(pid, 5)
