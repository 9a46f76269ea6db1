"""The host bootstrap, run for real on this machine (``--mode local``).

It runs what the synthesized user data ships: the bootstrap script asset and the service
bundle asset named in the starter stage's user data, out of the cloud assembly. The one
stand-in is the wheelhouse's platform: the instances get the arm64 wheelhouse, this machine
installs the x86_64 one built from the same lock file (host/wheelhouse.py checks both).

Each run happens in a network namespace of its own with only loopback up, so the install
provably needs no package index and no internet. PostgreSQL is the machine's real server,
reached through its Unix socket (namespaces do not isolate the file system).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest

from host.wheelhouse import build as build_wheelhouse

pytestmark = pytest.mark.slow(seconds=85)  # the whole file, idle 2-core machine

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SOCKET_DIR = os.environ.get("TEST_PG_SOCKET_DIR", "/var/run/postgresql")
ADMIN_PORT = urlparse(ADMIN_URL).port or 5432


def _user_data(templates: dict) -> str:
    (instance,) = [r for lid, r in templates["starter"]["app"]["Resources"].items()
                   if r["Type"] == "AWS::EC2::Instance" and lid.startswith("Tier")]
    return json.dumps(instance["Properties"]["UserData"])


@pytest.fixture(scope="module")
def shipped(assembly_dir: Path, templates: dict) -> dict[str, Path]:
    """The bootstrap script and service bundle exactly as the starter instance gets them."""
    user_data = _user_data(templates)
    bundle = re.search(r"--bundle s3://[^/]+/([0-9a-f]{64})\.zip", user_data)
    script = re.search(r"s3://[^/]+/([0-9a-f]{64})\.sh /opt/game/bootstrap\.sh", user_data)
    assert bundle and script, "the user data fetches the bootstrap script and names the bundle"
    return {
        "script": assembly_dir / f"asset.{script.group(1)}.sh",
        "bundle": assembly_dir / f"asset.{bundle.group(1)}",
        "wheels": build_wheelhouse("x86_64"),
    }


@pytest.fixture()
def database():
    name = f"gs_host_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _in_own_network(script: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run a bash script in a new network namespace with only loopback."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.fail("needs `unshare -n` (root, util-linux) to prove the host installs without a network")
    return subprocess.run(
        ["unshare", "-n", "bash", "-c", "ip link set lo up && " + script],
        capture_output=True, text=True, timeout=timeout,
    )


def _env_file(tmp_path: Path, database: str, port: int, **extra: str) -> Path:
    values = {
        "GAME_ENV": "production",
        "GAME_SESSION_SECRET": "session-secret-of-a-test-host",
        # '&' on purpose: values are read literally, as systemd's EnvironmentFile does
        "GAME_DATABASE_URL": f"postgresql://postgres@/{database}?host={SOCKET_DIR}&port={ADMIN_PORT}",
        "GAME_BIND": "127.0.0.1",
        "GAME_PORT": str(port),
        "GAME_WORKERS": "2",
        "GAME_MEDIA_DIR": str(tmp_path / "media"),
        **extra,
    }
    path = tmp_path / "game.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _bootstrap(shipped, tmp_path: Path, env_file: Path, *, ready_timeout: int = 60, role: str = "all") -> str:
    return (
        f"PYTHON={sys.executable} READY_TIMEOUT={ready_timeout} bash {shipped['script']} --mode local --role {role} "
        f"--bundle {shipped['bundle']} --wheels {shipped['wheels']} --env-file {env_file} --prefix {tmp_path / 'host'}"
    )


def _stop(tmp_path: Path) -> None:
    for name in ("service.pid", "worker.pid"):
        pid_file = tmp_path / "host" / name
        if pid_file.exists():
            subprocess.run(["pkill", "-TERM", "-s", pid_file.read_text().strip()], check=False)


# Inside the host's network namespace: an SQS queue (moto's server, on the namespace's own
# loopback) before the boot; after it, a job for the host's worker, awaited in the database.
_QUEUE_PORT = 18901
_AWS = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{_QUEUE_PORT}", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
_JOBS = """
import json, sys, time
import boto3, psycopg
sqs = boto3.client("sqs", region_name="us-east-1")
if sys.argv[1] == "queue":
    for _ in range(100):
        try:
            print(sqs.create_queue(QueueName="jobs")["QueueUrl"]); break
        except Exception:
            time.sleep(0.1)
    sys.exit(0)
with psycopg.connect(sys.argv[2], autocommit=True) as db:
    player = db.execute("SELECT id FROM players LIMIT 1").fetchone()[0]
    job = db.execute("INSERT INTO jobs (kind, player_id, subject) VALUES ('avatar', %s, 'incoming/0/not-theirs.png') "
                     "RETURNING id", (player,)).fetchone()[0]
    sqs.send_message(QueueUrl=sys.argv[1], MessageBody=json.dumps({"job": job}))
    for _ in range(300):  # until the worker has finished it (running is on the way, not an end)
        state, reason = db.execute("SELECT state, reason FROM jobs WHERE id = %s", (job,)).fetchone()
        if state not in ("queued", "running"):
            break
        time.sleep(0.1)
    print(f"job {job}: {state}: {reason}")
"""


def test_host_boots_from_the_shipped_assets_without_a_network_and_serves_the_game(shipped, tmp_path, database):
    """...and runs the job worker beside the server, on the queue its environment names."""
    jobs = tmp_path / "jobs.py"
    jobs.write_text(_JOBS)
    queue_url = f"http://127.0.0.1:{_QUEUE_PORT}/123456789012/jobs"
    env_file = _env_file(tmp_path, database, 18801, GAME_JOB_QUEUE_URL=queue_url, **_AWS)
    aws_env = " ".join(f"{k}={v}" for k, v in _AWS.items())
    queue = (f"{{ {Path(sys.executable).parent / 'moto_server'} -H 127.0.0.1 -p {_QUEUE_PORT} </dev/null >/dev/null 2>&1 & }} "
             f"&& {aws_env} {sys.executable} {jobs} queue >/dev/null && ")
    work = (f" && echo && {aws_env} {sys.executable} {jobs} {queue_url} "
            f"'postgresql://postgres@/{database}?host={SOCKET_DIR}&port={ADMIN_PORT}'")
    play = (
        "token=$(curl -fsS -X POST http://127.0.0.1:18801/api/auth/guest -H 'content-type: application/json' "
        "-d '{\"name\":\"Host\"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])') && "
        "curl -fsS -X POST http://127.0.0.1:18801/api/actions -H \"authorization: Bearer $token\" "
        "-H 'content-type: application/json' -d '{}'"
    )
    try:
        result = _in_own_network(f"{queue}{_bootstrap(shipped, tmp_path, env_file)} && {play}{work}")
    finally:
        _stop(tmp_path)
        subprocess.run(["pkill", "-f", f"moto_server -H 127.0.0.1 -p {_QUEUE_PORT}"], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "job worker started" in out
    assert re.search(r"job \d+: refused: That upload is not yours\.$", out.strip()), out[-1000:]
    out = out.strip().rsplit("\n", 1)[0]  # the game's answer is the line before the job's
    assert "service installed from the wheelhouse (no package index)" in out
    assert "database migrated" in out and "deep readiness (database, storage) ok" in out
    ready = re.search(r"READY in ([0-9.]+) s", out)
    assert ready, out
    print(f"host ready in {ready.group(1)} s")  # the boot time, shown with -s
    print("\n".join(l for l in out.splitlines() if l.startswith("bootstrap [")))
    assert '"coins"' in out.splitlines()[-1], "a game action answered after the boot"
    # the bundle carries what the service runs, not the web page or docs
    assert not (tmp_path / "host" / "app" / "game_service" / "static").exists()
    assert (tmp_path / "host" / "app" / "game_service" / "requirements.lock").exists()
    with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{database}") as conn:
        assert conn.execute("SELECT count(*) FROM players").fetchone()[0] == 1


def test_a_release_migrates_once_then_its_hosts_serve_without_migrating(shipped, tmp_path, database):
    """As in AWS: the migrate role migrates and ends (no service); a host (the serve role)
    never migrates: with the migration's record gone, a host that migrated would run every
    migration again on existing tables and fail; it serves instead, and leaves no record."""
    env_file = _env_file(tmp_path, database, 18803)
    migrate = _in_own_network(_bootstrap(shipped, tmp_path, env_file, role="migrate"))
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert "database migrated" in migrate.stdout and re.search(r"MIGRATED in [0-9.]+ s", migrate.stdout)
    assert not (tmp_path / "host" / "service.pid").exists(), "the migrate role starts no service"
    with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{database}") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
        conn.execute("DROP TABLE alembic_version")  # a host must not redo it: it would fail if it tried
    try:
        serve = _in_own_network(_bootstrap(shipped, tmp_path, env_file, role="serve"))
    finally:
        _stop(tmp_path)
    assert serve.returncode == 0, serve.stdout + serve.stderr
    assert "database migrated" not in serve.stdout and "READY in" in serve.stdout
    with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{database}") as conn:
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,), "the host migrated"


def test_host_is_not_ready_while_its_storage_is_unreachable(shipped, tmp_path, database):
    # S3 cannot be reached from the namespace: liveness passes, deep readiness must not,
    # so the host must not report success (on EC2: no CloudFormation signal).
    env_file = _env_file(
        tmp_path, database, 18802, GAME_MEDIA_BUCKET="game-media-unreachable", AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL="http://127.0.0.1:9",
    )
    try:
        result = _in_own_network(_bootstrap(shipped, tmp_path, env_file, ready_timeout=8))
    finally:
        _stop(tmp_path)
    assert result.returncode != 0
    assert "liveness ok" in result.stdout
    assert "FAILED: deep readiness (database, storage) did not pass within 8 s" in result.stderr
    assert "storage" in result.stderr and "READY" not in result.stdout


_ROOT = Path(__file__).resolve().parents[2]
_SHELL_SCRIPTS = sorted(
    str(p.relative_to(_ROOT)) for p in [*_ROOT.glob("host/*.sh"), *_ROOT.glob("scripts/*.sh"), _ROOT / ".ci" / "run",
                                       _ROOT / "scripts" / "jsii-node"]
)


@pytest.mark.parametrize("script", _SHELL_SCRIPTS)
def test_shell_scripts_pass_shellcheck(script):
    """Every finding, notes included (e.g. `a && b || c` is not if-then-else)."""
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is a system package of this repo (scripts/system-packages.txt)"
    result = subprocess.run([shellcheck, str(_ROOT / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def _logrotate_config(log: Path) -> str:
    """The logrotate configuration the bootstrap writes on EC2, for ``log``."""
    text = (_ROOT / "host" / "bootstrap.sh").read_text()
    body = text.split("cat > /etc/logrotate.d/game <<EOF\n", 1)[1].split("\nEOF\n", 1)[0]
    return body.replace("$SERVICE_LOG", str(log))


def test_the_service_log_rotates_by_size_not_by_day(tmp_path):
    """Run the real logrotate with the bootstrap's configuration, as the host's 10-minute timer
    does: a log over 100 MB is rotated at once (compressed), a small one is left alone."""
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    assert Path(logrotate).exists(), "logrotate is a system package of this repo (scripts/system-packages.txt)"
    log = tmp_path / "service.log"
    config = tmp_path / "game.conf"
    config.write_text(_logrotate_config(log))
    state = tmp_path / "state"

    def rotate() -> None:
        subprocess.run([logrotate, "-s", str(state), str(config)], check=True, capture_output=True, timeout=120)

    log.write_bytes(b'{"path": "/api/me", "status": 200}\n' * 100)
    rotate()
    assert log.stat().st_size > 0 and not list(tmp_path.glob("service.log.*"))
    with log.open("ab") as out:  # over the limit (sparse: quick to write and to compress)
        out.truncate(101 * 1024 * 1024)
    rotate()
    assert log.stat().st_size == 0  # copytruncate: the service keeps writing to the same file
    assert [p.name for p in tmp_path.glob("service.log.*")] == ["service.log.1.gz"]


def test_the_hosts_agent_publishes_what_the_disk_alarms_watch():
    from patterns.game_service_host import DISK_USED_METRIC, HOST_NAMESPACE

    text = (_ROOT / "host" / "bootstrap.sh").read_text()
    assert f'"namespace": "{HOST_NAMESPACE}"' in text
    assert '"disk": {"measurement": ["used_percent"], "resources": ["/"]}' in text  # the agent names it disk_used_percent
    assert DISK_USED_METRIC == "disk_used_percent"
    assert '"aggregation_dimensions": [["AutoScalingGroupName"], ["InstanceId"]]' in text
    assert "local units=(game-logrotate.timer)" in text  # every host rotates its log
    assert "units+=(game.service game-readiness.timer)" in text  # a server reports its readiness
    assert 'systemctl enable --now "${units[@]}"' in text
