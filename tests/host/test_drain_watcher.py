"""The drain watcher of a worker tier's host (``game-drain``, written by ``host/bootstrap.sh``
on EC2): when the Auto Scaling group terminates the host (scale-in, a rollout), the instance
metadata says so; the watcher stops the job worker (systemd sends it SIGTERM: it finishes its
job or releases the message, tests/game_service/test_jobs.py) and only then completes the
group's drain hook, so the host goes with no job in hand.

The script runs for real, rendered from the bootstrap, against a local stand-in of the
instance metadata service (IMDSv2: a token first, then every read with it). ``systemctl`` and
``aws`` are stand-ins that record their calls: there is no systemd here, and moto, which
emulates Auto Scaling elsewhere, has no CompleteLifecycleAction.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from patterns.worker_tier import DRAIN_HOOK_NAME

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = "i-0123456789abcdef0"
GROUP = "scale-out-app-WorkersGroup-1A2B3C"


class FakeImds:
    """IMDSv2 as EC2 answers it: PUT a token, then GET metadata with it (without: 401)."""

    def __init__(self):
        self.state = "InService"
        self.reads: list[tuple[str, bool]] = []
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_PUT(self):
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._send(200, "token-1")
                self._send(400, "")

            def do_GET(self):
                with_token = self.headers.get("X-aws-ec2-metadata-token") == "token-1"
                imds.reads.append((self.path, with_token))
                if not with_token:
                    return self._send(401, "")
                values = {"/latest/meta-data/autoscaling/target-lifecycle-state": imds.state,
                          "/latest/meta-data/instance-id": INSTANCE}
                self._send(200, values[self.path]) if self.path in values else self._send(404, "")

            def _send(self, code: int, text: str):
                raw = text.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _render(tmp_path: Path) -> Path:
    """The watcher as the bootstrap writes it for a host in us-east-1 with the stage's drain hook."""
    script = tmp_path / "game-drain"
    render = (f'eval "$(sed -n "/^drain_script() {{/,/^}}/p" {ROOT / "host" / "bootstrap.sh"})"; '
              f"REGION=us-east-1 DRAIN_HOOK={DRAIN_HOOK_NAME} drain_script")
    script.write_text(subprocess.run(["bash", "-c", render], capture_output=True, text=True, check=True).stdout)
    script.chmod(0o755)
    return script


def _recorder(bin_dir: Path, name: str, calls: Path, answer: str = "") -> None:
    (bin_dir / name).write_text(f'#!/bin/bash\necho "{name} $*" >> {calls}\n' + (f'echo "{answer}"\n' if answer else ""))
    (bin_dir / name).chmod(0o755)


@pytest.fixture
def imds():
    fake = FakeImds()
    yield fake
    fake.server.shutdown()


def test_the_worker_is_stopped_before_the_drain_hook_is_completed(tmp_path, imds):
    script = _render(tmp_path)
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is a system package of this repo (scripts/system-packages.txt)"
    lint = subprocess.run([shellcheck, "-s", "bash", str(script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    _recorder(bin_dir, "systemctl", calls)
    _recorder(bin_dir, "aws", calls, answer=GROUP)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
           "DRAIN_POLL_SECONDS": "0.2"}
    watcher = subprocess.Popen([str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.5)
        # in service: it only watches
        assert watcher.poll() is None and not calls.exists()
        polls = [path for path, _ in imds.reads]
        assert polls.count("/latest/meta-data/autoscaling/target-lifecycle-state") >= 3
        imds.state = "Terminated"  # the group is terminating this host
        out, _ = watcher.communicate(timeout=15)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, out
    assert "stopping the job worker" in out
    assert calls.read_text().splitlines() == [
        "systemctl stop game-worker.service",
        f"aws autoscaling describe-auto-scaling-instances --region us-east-1 --instance-ids {INSTANCE} "
        "--query AutoScalingInstances[0].AutoScalingGroupName --output text",
        f"aws autoscaling complete-lifecycle-action --region us-east-1 --auto-scaling-group-name {GROUP} "
        f"--lifecycle-hook-name {DRAIN_HOOK_NAME} --instance-id {INSTANCE} --lifecycle-action-result CONTINUE",
    ]
    assert all(with_token for _, with_token in imds.reads), "IMDSv2 only: every read carries a token"
