"""Start, inspect and stop the local topology (see the package docstring).

Everything lives under the state folder; ``state.json`` there records what runs (ports,
process ids, the network), so ``down`` and ``status`` work from a new process and ``down``
also cleans up after an ``up`` that failed half way. Each ``up`` starts from an empty state
folder: moto keeps its objects in memory, so the database would otherwise name avatars
that no longer exist.
"""

from __future__ import annotations

import fnmatch
import json
import mimetypes
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from local_topology import frontdoor, haproxy

REPO = Path(__file__).resolve().parent.parent
BOOTSTRAP = REPO / "host" / "bootstrap.sh"
SERVICE_DIR = REPO / "game_service"
STATIC_DIR = SERVICE_DIR / "static"
DEFAULT_STATE = REPO / "var" / "local"
# what the service bundle leaves out: the same list as the CDK asset (patterns/game_service_host.py;
# a test keeps them equal)
BUNDLE_EXCLUDES = [
    "static", "*.md", "__pycache__", "*.pyc", "var", ".pytest_cache", "*.egg-info", "*.db", "*.sqlite", "*.sqlite3",
]

# Topologies side by side (another state folder) each take a free slot k: bridge lt-br<k>,
# subnet 10.77.<k>.0/24 (gateway .1, host i at .10+i), namespaces lt<k>-host<i>.
SLOTS = 64
MARKER = ".local-topology"
HOST_PORT = 8000  # every host listens on the app port of the stage, each on its own address
REGION = "us-east-1"
MEDIA_BUCKET = "local-media"
STATIC_BUCKET = "local-static"
DB_NAME = "game"
APP_DB_USER = "game_app"
SECRET_DB_MASTER = "local/db-master"
SECRET_DB_APP = "local/db-app"
SECRET_APP = "local/app"
# the scale-out stage's per-host settings (stacks/config.py: workers_per_instance, db_pool_size)
HOST_WORKERS = 2
HOST_DB_POOL = 10


class TopologyError(RuntimeError):
    """Something the user must fix or know; the message says what."""


def host_name(i: int) -> str:
    return f"host{i}"


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def port_is_free(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def _run(args: list, *, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise TopologyError(f"{' '.join(map(str, args[:3]))} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-500:]}")
    return r


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def netns_available() -> str | None:
    """None when network namespaces, veths and a bridge can be made here, else why not."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"lt-probe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return (r.stderr.strip() or "ip netns add failed") + (" (needs root)" if os.geteuid() else "")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Topology:
    def __init__(self, state_dir: Path | str = DEFAULT_STATE, say: Callable[[str], None] | None = None):
        self.state_dir = Path(state_dir).resolve()
        self.state_file = self.state_dir / "state.json"
        self.say = say or (lambda line: print(f"local: {line}", flush=True))
        self.state: dict = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    # ------------------------------------------------------------------ state
    def _save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.chmod(0o600)
        os.replace(tmp, self.state_file)

    @property
    def running(self) -> bool:
        return bool(self.state)

    @property
    def netns(self) -> bool:
        return self.state.get("network") == "netns"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.state['ports']['front']}/"

    @property
    def lb_url(self) -> str:
        return f"http://127.0.0.1:{self.state['ports']['lb']}"

    @property
    def hosts(self) -> list[int]:
        return list(self.state.get("hosts", []))

    def host_dir(self, i: int) -> Path:
        return self.state_dir / "hosts" / str(i)

    def host_address(self, i: int) -> str:
        if self.netns:
            return f"{self.subnet}.{10 + i}:{HOST_PORT}"
        return f"127.0.0.1:{self.state['ports']['hosts'][str(i)]}"

    @property
    def gateway(self) -> str:
        """Where hosts reach PostgreSQL and moto: the bridge's address, or loopback."""
        return f"{self.subnet}.1" if self.netns else "127.0.0.1"

    @property
    def subnet(self) -> str:
        return f"10.77.{self.state['slot']}"

    def host_ns(self, i: int) -> str:
        return f"lt{self.state['slot']}-host{i}"

    @property
    def haproxy_socket(self) -> str:
        return str(self.state_dir / "haproxy.sock")

    @property
    def moto_url(self) -> str:
        return f"http://{self.gateway}:{self.state['ports']['moto']}"

    # ------------------------------------------------------------------ up
    def up(self, hosts: int = 3, *, front_port: int = 8080, use_netns: bool = True,
           extra_env: dict[str, str] | None = None) -> str:
        if hosts < 1 or hosts > 200:
            raise TopologyError(f"--hosts must be between 1 and 200, got {hosts}")
        if self.running:
            raise TopologyError(f"a local topology already runs from {self.state_dir} (make local-down first)")
        if not port_is_free("127.0.0.1", front_port):
            raise TopologyError(f"port {front_port} is in use: pick another front door port (--port)")
        for tool in ("haproxy", "nginx", "unzip", "curl"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                raise TopologyError(f"{tool} is not installed (scripts/system-packages.txt; make setup installs it)")
        marker = self.state_dir / MARKER
        if self.state_dir.exists() and any(self.state_dir.iterdir()) and not marker.exists():
            raise TopologyError(f"{self.state_dir} is not empty and holds no local topology: pick another --state")
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.state_dir.mkdir(parents=True)
        marker.write_text("a local topology's state folder; `up` empties it\n")
        if os.geteuid() == 0 and subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(self.state_dir)]).returncode:
            shutil.rmtree(self.state_dir)
            raise TopologyError(f"the postgres user cannot reach {self.state_dir}: pick a state folder (--state) "
                                "whose parents every user may enter")
        self.state = {"hosts": [], "pids": {}, "ports": {"front": front_port, "hosts": {}}, "extra_env": extra_env or {}}
        self._save()
        try:
            why_not = netns_available() if use_netns else "turned off (--no-netns)"
            self.state["network"] = "netns" if why_not is None else "ports"
            self._save()
            if why_not is None:
                self._network_up(hosts)
            else:
                self.say(f"network namespaces unavailable ({why_not}): hosts run as processes on separate ports of 127.0.0.1")
            self._postgres_up()
            self._moto_up()
            artifacts = self._artifacts()
            self.state["hosts"] = list(range(1, hosts + 1))
            for i in self.state["hosts"]:
                if not self.netns:
                    self.state["ports"]["hosts"][str(i)] = free_port()
            self._save()
            self.migrate(artifacts)
            self.boot_hosts(self.state["hosts"], artifacts)
            self._haproxy_up()
            self._front_door_up()
        except BaseException:
            self.say("start failed; stopping what was started")
            self.down(quiet=True)
            raise
        self.say(f"ready: {self.url}")
        return self.url

    def _network_up(self, hosts: int) -> None:
        for slot in range(SLOTS):  # the first free slot; `ip link add` fails on a taken one
            bridge = f"lt-br{slot}"
            if subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], capture_output=True).returncode == 0:
                break
        else:
            raise TopologyError(f"no free bridge lt-br0..lt-br{SLOTS - 1}: stop other local topologies")
        self.state.update(slot=slot, bridge=bridge)
        self._save()
        _run(["ip", "addr", "add", f"{self.gateway}/24", "dev", bridge])
        _run(["ip", "link", "set", bridge, "up"])
        for i in range(1, hosts + 1):
            self._host_network_up(i)
        addresses = f"host {self.subnet}.11" if hosts == 1 else f"hosts {self.subnet}.11-{10 + hosts}"
        self.say(f"network: bridge {bridge} {self.gateway}/24; {addresses}, "
                 "each in a network namespace with a veth pair (no route beyond the subnet)")

    def _host_network_up(self, i: int) -> None:
        ns, veth = self.host_ns(i), f"lt{self.state['slot']}-veth{i}"
        _run(["ip", "netns", "add", ns])
        self.state.setdefault("namespaces", []).append(ns)
        self._save()
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        _run(["ip", "link", "set", veth, "master", self.state["bridge"]])
        _run(["ip", "link", "set", veth, "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{self.subnet}.{10 + i}/24", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])

    # PostgreSQL -------------------------------------------------------------
    def _pg(self, args: list, timeout: float = 60) -> subprocess.CompletedProcess:
        runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return _run([*runas, *args], timeout=timeout)

    @staticmethod
    def _pg_bin() -> Path:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if os.environ.get("PG_BIN"):
            return Path(os.environ["PG_BIN"])
        if not found:
            raise TopologyError("PostgreSQL server binaries not found: install postgresql-15 (scripts/system-packages.txt)")
        return found[-1].parent

    def _postgres_up(self) -> None:
        root = self.state_dir / "pg"
        root.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        data = root / "data"
        password = secrets.token_urlsafe(18)
        app_password = secrets.token_urlsafe(18)
        pwfile = root / "pw"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        pg_bin = self._pg_bin()
        self._pg([pg_bin / "initdb", "-D", data, "-U", "postgres", "--auth-host=scram-sha-256", "--auth-local=trust",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"], timeout=120)
        pwfile.unlink()
        port = free_port()
        listen = "127.0.0.1" + (f",{self.gateway}" if self.netns else "")
        with open(data / "pg_hba.conf", "a") as f:
            if self.netns:
                f.write(f"hostssl all all {self.subnet}.0/24 scram-sha-256\n")
        with open(data / "postgresql.conf", "a") as f:
            f.write(f"\nport = {port}\nlisten_addresses = '{listen}'\nunix_socket_directories = '{root}'\n"
                    "max_connections = 200\nshared_buffers = 64MB\n"
                    "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        self._pg(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", f"/CN={self.gateway}",
                  "-keyout", data / "server.key", "-out", data / "server.crt"])
        (data / "server.key").chmod(0o600)
        self.state["ports"]["pg"] = port
        self.state["pg"] = {"data": str(data), "socket_dir": str(root), "bin": str(pg_bin),
                            "password": password, "app_password": app_password}
        self._save()
        self.pg_start()
        self.psql(f"CREATE DATABASE {DB_NAME}")
        # the app's own role; the migration step (``migrate``) grants it the tables
        self.psql(f"CREATE ROLE {APP_DB_USER} LOGIN PASSWORD '{app_password}'")
        self.say(f"postgresql: {self.gateway}:{port}, TLS, initdb'd in {root} (database {DB_NAME})")

    def pg_start(self) -> None:
        pg = self.state["pg"]
        self._pg([Path(pg["bin"]) / "pg_ctl", "-D", pg["data"], "-l", Path(pg["socket_dir"]) / "server.log",
                  "-w", "-t", "60", "start"], timeout=90)

    def pg_stop(self, mode: str = "fast") -> None:
        pg = self.state["pg"]
        self._pg([Path(pg["bin"]) / "pg_ctl", "-D", pg["data"], "-m", mode, "-w", "-t", "60", "stop"], timeout=90)

    def psql(self, sql: str, db: str = "postgres") -> str:
        pg = self.state["pg"]
        return self._pg([Path(pg["bin"]) / "psql", "-h", pg["socket_dir"], "-p", self.state["ports"]["pg"], "-U",
                         "postgres", "-d", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]).stdout

    def admin_dsn(self, db: str = DB_NAME) -> str:
        """A libpq connection string for checks behind the API (the local socket, as postgres)."""
        return f"host={self.state['pg']['socket_dir']} port={self.state['ports']['pg']} user=postgres dbname={db}"

    # moto ------------------------------------------------------------------------
    def _moto_up(self) -> None:
        port = free_port()
        log = open(self.state_dir / "moto.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", self.gateway, "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.state["ports"]["moto"] = port
        self.state["pids"]["moto"] = proc.pid
        self._save()
        self._wait_http(self.moto_url + "/moto-api/", "moto", 30)
        s3, sm = self.aws("s3"), self.aws("secretsmanager")
        for bucket in (MEDIA_BUCKET, STATIC_BUCKET):
            s3.create_bucket(Bucket=bucket)
        # The buckets let the front door read what CloudFront's origin access control reads:
        # the whole static bucket, only media/ of the media bucket (uploads under incoming/ stay private).
        for bucket, prefix in ((STATIC_BUCKET, ""), (MEDIA_BUCKET, "media/")):
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Sid": "FrontDoorRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"}]}))
        # browsers post uploads straight to the bucket (presigned POST), as in the storage stack
        front = f"http://127.0.0.1:{self.state['ports']['front']}"
        s3.put_bucket_cors(Bucket=MEDIA_BUCKET, CORSConfiguration={"CORSRules": [{
            "AllowedMethods": ["POST"], "AllowedOrigins": [front], "AllowedHeaders": ["*"], "MaxAgeSeconds": 3000}]})
        for path in sorted(STATIC_DIR.rglob("*")):
            if path.is_file():
                ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                s3.put_object(Bucket=STATIC_BUCKET, Key=str(path.relative_to(STATIC_DIR)), Body=path.read_bytes(),
                              ContentType=ctype)
        pg, port_pg = self.state["pg"], self.state["ports"]["pg"]
        rds_shape = {"engine": "postgres", "host": self.gateway, "port": port_pg, "dbname": DB_NAME}
        sm.create_secret(Name=SECRET_DB_MASTER, SecretString=json.dumps(
            {"username": "postgres", "password": pg["password"], **rds_shape}))
        sm.create_secret(Name=SECRET_DB_APP, SecretString=json.dumps(
            {"username": APP_DB_USER, "password": pg["app_password"], **rds_shape}))
        sm.create_secret(Name=SECRET_APP, SecretString=json.dumps({"session_secret": secrets.token_urlsafe(32)}))
        self.say(f"s3 + secrets manager (moto): {self.moto_url}; buckets {MEDIA_BUCKET}, {STATIC_BUCKET} "
                 f"(the web page); secrets {SECRET_DB_MASTER}, {SECRET_DB_APP}, {SECRET_APP}")

    def aws(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.moto_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    # hosts -------------------------------------------------------------------------
    def _artifacts(self) -> dict[str, Path]:
        """The service bundle (zip, as the CDK asset leaves things out) and the wheelhouse."""
        from host.wheelhouse import WheelhouseError, ready

        bundle = self.state_dir / "artifacts" / "service-bundle.zip"
        bundle.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(SERVICE_DIR.rglob("*")):
                rel = path.relative_to(SERVICE_DIR)
                if path.is_file() and not any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in BUNDLE_EXCLUDES):
                    z.write(path, str(rel))
        try:
            wheels = ready(platform.machine())
        except WheelhouseError as exc:
            raise TopologyError(str(exc)) from None
        self.state["artifacts"] = {"bundle": str(bundle), "wheels": str(wheels)}
        self._save()
        return {"bundle": bundle, "wheels": wheels}

    def _env_file(self, i: int, *, migrate: bool = False) -> Path:
        """Host ``i``'s environment file; with ``migrate``, the migration step's (the only one
        that names the master secret, as in AWS)."""
        port = HOST_PORT if self.netns else self.state["ports"]["hosts"][str(i)]
        values = {
            "GAME_ENV": "production",
            "GAME_DB_SECRET_ID": SECRET_DB_APP,
            **({"GAME_DB_ADMIN_SECRET_ID": SECRET_DB_MASTER} if migrate else {}),
            "GAME_DB_USER": APP_DB_USER,
            "GAME_APP_SECRET_ID": SECRET_APP,
            "GAME_MEDIA_BUCKET": MEDIA_BUCKET,
            "GAME_PUBLIC_BASE_URL": self.url.rstrip("/"),
            "GAME_SERVE_STATIC": "false",  # the front door serves the page from the static bucket
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            # the viewer address header is believed only from the load balancer's side of the network
            "GAME_TRUSTED_PROXIES": f"{self.subnet}.1/32" if self.netns else "127.0.0.1/32",
            "GAME_CLIENT_ADDRESS_HEADER": frontdoor.VIEWER_ADDRESS_HEADER,
            "GAME_BIND": "0.0.0.0" if self.netns else "127.0.0.1",
            "GAME_PORT": str(port),
            "GAME_WORKERS": str(HOST_WORKERS),
            "GAME_DB_POOL_SIZE": str(HOST_DB_POOL),
            **self.state.get("extra_env", {}),
        }
        path = self.host_dir(i) / ("migrate.env" if migrate else "game.env")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
        return path

    def migrate(self, artifacts: dict | None = None) -> None:
        """The release's migration, once, before any host boots: the bootstrap in its migrate
        role, from the first host's network (in AWS: an instance of its own)."""
        artifacts = artifacts or {k: Path(v) for k, v in self.state["artifacts"].items()}
        first = 1
        args = ["bash", str(BOOTSTRAP), "--mode", "local", "--role", "migrate", "--bundle", str(artifacts["bundle"]),
                "--wheels", str(artifacts["wheels"]), "--env-file", str(self._env_file(first, migrate=True)),
                "--prefix", str(self.state_dir / "migration")]
        if self.netns:
            args += ["--netns", self.host_ns(first)]
        log_path = self.state_dir / "migration.log"
        with open(log_path, "w") as log:
            rc = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHON": sys.executable},
                                timeout=600).returncode
        text = log_path.read_text()
        match = re.search(r"MIGRATED in ([0-9.]+) s", text)
        if rc != 0 or not match:
            raise TopologyError(f"migration: bootstrap exit {rc}: "
                                f"{text.strip().splitlines()[-1] if text.strip() else ''} (log {log_path})")
        self.say(f"migration: done in {float(match.group(1)):.1f} s (the master secret read there only)")

    def boot_hosts(self, hosts: list[int], artifacts: dict | None = None) -> dict[int, float]:
        """Run the bootstrap of each host (in parallel), which serves the migrated database;
        return each one's "READY in N s"."""
        artifacts = artifacts or {k: Path(v) for k, v in self.state["artifacts"].items()}
        procs = {}
        for i in hosts:
            env_file = self._env_file(i)
            args = ["bash", str(BOOTSTRAP), "--mode", "local", "--role", "serve", "--bundle", str(artifacts["bundle"]),
                    "--wheels", str(artifacts["wheels"]), "--env-file", str(env_file),
                    "--prefix", str(self.host_dir(i) / "host"), "--ready-timeout", "60"]
            if self.netns:
                args += ["--netns", self.host_ns(i)]
            log = open(self.host_dir(i) / "bootstrap.log", "w")
            procs[i] = (subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHON": sys.executable}), log)
        ready: dict[int, float] = {}
        failed = []
        for i, (proc, log) in procs.items():
            rc = proc.wait(timeout=300)
            log.close()
            text = (self.host_dir(i) / "bootstrap.log").read_text()
            match = re.search(r"READY in ([0-9.]+) s", text)
            if rc != 0 or not match:
                failed.append(f"host {i}: bootstrap exit {rc}: {text.strip().splitlines()[-1] if text.strip() else ''} "
                              f"(log {self.host_dir(i) / 'bootstrap.log'})")
                continue
            ready[i] = float(match.group(1))
            self.say(f"{host_name(i)} ({self.host_address(i)}): bootstrap READY in {ready[i]:.1f} s")
        if failed:
            raise TopologyError("; ".join(failed))
        return ready

    def host_pid(self, i: int) -> int | None:
        pid_file = self.host_dir(i) / "host" / "service.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None

    def kill_host(self, i: int, sig: int = signal.SIGKILL, wait: float = 35) -> None:
        """Signal the host's service (its process group: the server and its workers)."""
        pid = self.host_pid(i)
        if pid and _alive(pid):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            if not _wait_gone(pid, wait) and sig != signal.SIGKILL:
                os.killpg(pid, signal.SIGKILL)
                _wait_gone(pid, 5)

    def stop_host(self, i: int) -> None:
        """A graceful stop (SIGTERM: the server finishes what is in flight)."""
        self.kill_host(i, signal.SIGTERM)

    # load balancer, front door ---------------------------------------------------------
    def _haproxy_up(self) -> None:
        port = free_port()
        cfg = self.state_dir / "haproxy.cfg"
        cfg.write_text(haproxy.config(
            listen=f"127.0.0.1:{port}", servers={host_name(i): self.host_address(i) for i in self.hosts},
            socket_path=self.haproxy_socket, pid_file=str(self.state_dir / "haproxy.pid")))
        _run(["haproxy", "-c", "-q", "-f", cfg])
        _run(["haproxy", "-D", "-f", cfg])
        self.state["ports"]["lb"] = port
        self.state["pids"]["haproxy"] = int((self.state_dir / "haproxy.pid").read_text().split()[0])
        self._save()
        self.wait_lb(lambda s: all(x.status == "UP" for x in s), "every host UP", 30)
        self.say(f"load balancer (haproxy): 127.0.0.1:{port}, {len(self.hosts)} UP; checks {haproxy.LIVENESS_PATH} "
                 f"every {haproxy.CHECK_INTERVAL_S:g} s, out after {haproxy.FALL} failures")

    def lb_servers(self) -> list[haproxy.ServerState]:
        return haproxy.servers(self.haproxy_socket)

    def lb_set(self, i: int, state: str) -> None:
        haproxy.set_state(self.haproxy_socket, host_name(i), state)

    def wait_lb(self, pred: Callable[[list[haproxy.ServerState]], bool], what: str, seconds: float) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            if pred(self.lb_servers()):
                return time.monotonic() - t0
            time.sleep(0.05)
        raise TopologyError(f"load balancer: not {what} within {seconds:g} s: {self.lb_servers()}")

    def _front_door_up(self) -> None:
        port = self.state["ports"]["front"]
        ngx = self.state_dir / "nginx"
        ngx.mkdir()
        conf = ngx / "nginx.conf"
        conf.write_text(frontdoor.nginx_config(
            listen=f"127.0.0.1:{port}", state_dir=str(ngx), user="www-data" if os.geteuid() == 0 else None,
            origins=frontdoor.Origins(s3=f"{self.gateway}:{self.state['ports']['moto']}", static_bucket=STATIC_BUCKET,
                                      media_bucket=MEDIA_BUCKET, load_balancer=f"127.0.0.1:{self.state['ports']['lb']}")))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        _run([nginx, "-t", "-q", "-c", conf, "-p", ngx, "-e", ngx / "error.log"])
        _run([nginx, "-c", conf, "-p", ngx, "-e", ngx / "error.log"])
        self.state["pids"]["nginx"] = int((ngx / "nginx.pid").read_text())
        self._save()
        self._wait_http(self.url + "api/health/live", "front door", 15)
        routes = ", ".join(f"{p} -> {k}" for p, k in frontdoor.ROUTES.items())
        self.say(f"front door (nginx): 127.0.0.1:{port}; like the distribution: / and the page -> static bucket, {routes}")

    @staticmethod
    def _wait_http(url: str, what: str, seconds: float) -> None:
        import httpx

        deadline = time.monotonic() + seconds
        last = ""
        while time.monotonic() < deadline:
            try:
                r = httpx.get(url, timeout=2)
                if r.status_code < 500:
                    return
                last = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise TopologyError(f"{what} did not answer {url} within {seconds:g} s ({last})")

    # ------------------------------------------------------------------ status
    def status(self) -> list[str]:
        if not self.running:
            return [f"not running (no {self.state_file})"]
        lines = [f"front door {self.url}  load balancer {self.lb_url}  network: {self.state.get('network')}"]
        try:
            servers = {s.name: s for s in self.lb_servers()}
        except OSError as exc:
            return lines + [f"load balancer not answering on {self.haproxy_socket}: {exc}"]
        lines.append(f"{'host':8} {'address':20} {'load balancer':14} {'last check':24} {'now':>5} {'total':>7}  process")
        for i in self.hosts:
            s = servers.get(host_name(i))
            pid = self.host_pid(i)
            proc = f"pid {pid}" if _alive(pid) else "not running"
            if s is None:
                lines.append(f"{host_name(i):8} {self.host_address(i):20} {'(absent)':14}")
                continue
            lines.append(f"{s.name:8} {self.host_address(i):20} {s.status:14} {s.check:24} {s.sessions_now:>5} "
                         f"{s.sessions_total:>7}  {proc}")
        return lines

    # ------------------------------------------------------------------ down
    def down(self, quiet: bool = False) -> None:
        """Stop everything: processes (gracefully, then killed), namespaces, veths, the bridge."""
        if not self.running:
            if not quiet:
                self.say(f"nothing runs from {self.state_dir}")
            return
        pids = self.state.get("pids", {})
        for name in ("nginx", "haproxy"):
            self._stop_pid(pids.get(name), signal.SIGTERM, 10)
        for i in self.hosts:
            self.kill_host(i, signal.SIGTERM, wait=25)
        self._stop_pid(pids.get("moto"), signal.SIGTERM, 10, group=True)
        if self.state.get("pg") and (Path(self.state["pg"]["data"]) / "postmaster.pid").exists():
            try:
                self.pg_stop("fast")
            except TopologyError:
                self.pg_stop("immediate")
        for ns in self.state.get("namespaces", []):
            r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in map(int, r.stdout.split()):  # anything still living in the host's network
                self._stop_pid(pid, signal.SIGKILL, 5)
            # the host side of the veth pair first: deleting it takes the pair at once, while a
            # deleted namespace's devices go away asynchronously
            subprocess.run(["ip", "link", "del", ns.replace("-host", "-veth")], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if self.state.get("bridge"):
            subprocess.run(["ip", "link", "del", self.state["bridge"]], capture_output=True)
        self.state_file.unlink(missing_ok=True)
        self.state = {}
        if not quiet:
            self.say("stopped: front door, load balancer, hosts, moto, postgresql; namespaces and bridge removed")

    @staticmethod
    def _stop_pid(pid: int | None, sig: int, wait: float, group: bool = False) -> None:
        if not _alive(pid):
            return
        try:
            os.killpg(pid, sig) if group else os.kill(pid, sig)
        except ProcessLookupError:
            return
        if not _wait_gone(pid, wait):
            try:
                os.killpg(pid, signal.SIGKILL) if group else os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait_gone(pid, 5)
