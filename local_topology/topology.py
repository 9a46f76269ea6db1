"""Start, inspect and stop the local topology (see the package docstring): the order the
parts come up in and go down in, and what each is told about the others.

A stage gives the shape (``stage_shape``): as many hosts as its Auto Scaling group starts
with (``min_instances``), spread round-robin over its availability zones as the group
spreads them. Here an AZ is a label of each host (the hosts share one bridge): losing an AZ
is losing every host it holds at once. Jobs go through the job queue (moto's SQS) as in AWS:
a stage with a worker tier (scale-out) gets its worker hosts (``worker_min_instances``,
round-robin over the AZs too), booted by the same bootstrap in its worker role; on the other
stages the worker runs beside the server on each app host.

Everything lives under the state folder; ``state.json`` there records what runs (ports,
process ids, the network), so ``down`` and ``status`` work from a new process and ``down``
also cleans up after an ``up`` that failed half way. Each ``up`` starts from an empty state
folder: moto keeps its objects in memory, so the database would otherwise name avatars
that no longer exist.

The parts: ``namespaces`` (the hosts' network), ``postgres``, ``emulator`` (moto),
``artifacts`` (bundle, wheelhouse), ``hosts`` (environment files, the bootstrap; app and
worker hosts),
``haproxy`` (the load balancer), ``frontdoor`` (nginx).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from game_service.contract import APP_DB_USER, LIVENESS_PATH
from game_service.contract import PORT as HOST_PORT  # every host listens on the app port, each on its own address
from local_topology import artifacts, emulator, frontdoor, haproxy, namespaces
from local_topology import hosts as app_hosts
from local_topology.hosts import host_name, worker_name
from local_topology.postgres import SUPERUSER, PgCluster
from local_topology.processes import TopologyError, alive, free_port, port_is_free, stop_pid, wait_http
from stacks.config import STAGES

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STATE = REPO / "var" / "local"
MARKER = ".local-topology"
DB_NAME = "game"
DEFAULT_STAGE = "scale-out"  # without a stage: its three hosts over its three AZs
MAX_HOSTS = 200


def stage_shape(stage: str | None = None, hosts: int | None = None) -> dict[int, str]:
    """Host -> AZ, as a stage's Auto Scaling group starts them: ``min_instances`` hosts
    (``hosts`` overrides the count) round-robin over its ``availability_zones`` (host1 in
    the first, host2 in the second, ...)."""
    name = DEFAULT_STAGE if stage is None else stage
    if name not in STAGES:
        raise TopologyError(f"unknown stage {name!r}; allowed: {', '.join(STAGES)}")
    cfg = STAGES[name]
    count = cfg.min_instances if hosts is None else hosts
    if not 1 <= count <= MAX_HOSTS:
        raise TopologyError(f"--hosts must be between 1 and {MAX_HOSTS}, got {count}")
    zones = cfg.availability_zones
    return {i: zones[(i - 1) % len(zones)] for i in range(1, count + 1)}


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
        """The app hosts (behind the load balancer)."""
        return list(self.state.get("hosts", []))

    @property
    def workers(self) -> list[int]:
        """The worker tier's hosts (numbered after the app hosts; none on a stage without a tier)."""
        return list(self.state.get("workers", []))

    def name(self, i: int) -> str:
        return worker_name(self.workers.index(i) + 1) if i in self.workers else host_name(i)

    @property
    def stage(self) -> str | None:
        return self.state.get("stage")

    def host_az(self, i: int) -> str:
        return self.state["zones"][str(i)]

    @property
    def zones(self) -> list[str]:
        """The AZs the hosts are in, in the stage's order."""
        return list(dict.fromkeys(self.state.get("zones", {}).values()))

    def hosts_in_az(self, az: str) -> list[int]:
        return [i for i in self.hosts if self.host_az(i) == az]

    def host_dir(self, i: int) -> Path:
        return self.state_dir / "hosts" / str(i)

    def host_address(self, i: int) -> str:
        if self.netns:
            return f"{namespaces.host_address(self.state['slot'], i)}:{HOST_PORT}"
        return f"127.0.0.1:{self.state['ports']['hosts'][str(i)]}"

    @property
    def gateway(self) -> str:
        """Where hosts reach PostgreSQL and moto: the bridge's address, or loopback."""
        return namespaces.gateway(self.state["slot"]) if self.netns else "127.0.0.1"

    @property
    def subnet(self) -> str:
        return namespaces.subnet(self.state["slot"])

    def host_ns(self, i: int) -> str:
        return namespaces.host_ns(self.state["slot"], i)

    @property
    def haproxy_socket(self) -> str:
        return str(self.state_dir / "haproxy.sock")

    @property
    def moto_url(self) -> str:
        return f"http://{self.gateway}:{self.state['ports']['moto']}"

    # ------------------------------------------------------------------ up
    def up(self, hosts: int | None = None, *, stage: str | None = None, workers: int | None = None,
           front_port: int = 8080, use_netns: bool = True, extra_env: dict[str, str] | None = None) -> str:
        """Bring up ``stage``'s shape (default scale-out: 3 hosts over 3 AZs, and its worker
        tier's 2 hosts); ``hosts`` overrides its app host count, ``workers`` its worker host
        count (the AZs stay the stage's, round-robin)."""
        shape = stage_shape(stage, hosts)
        stage = stage or DEFAULT_STAGE
        cfg = STAGES[stage]
        count = (f"its min_instances; max_instances {cfg.max_instances}" if hosts is None else
                 f"--hosts; its min_instances {cfg.min_instances}, max_instances {cfg.max_instances}")
        hosts = len(shape)
        if not cfg.has_worker_tier and workers is not None:
            raise TopologyError(f"--workers is for a stage with a worker tier; {stage}'s job worker runs beside "
                                "the server on each app host")
        worker_count = (cfg.worker_min_instances if workers is None else workers) if cfg.has_worker_tier else 0
        if cfg.has_worker_tier and not 1 <= worker_count <= MAX_HOSTS:
            raise TopologyError(f"--workers must be between 1 and {MAX_HOSTS}, got {worker_count}")
        if hosts + worker_count > MAX_HOSTS:  # one subnet holds them all
            raise TopologyError(f"--hosts and --workers together must be at most {MAX_HOSTS}, got "
                                f"{hosts} + {worker_count}")
        zones = cfg.availability_zones
        worker_shape = {hosts + j: zones[(j - 1) % len(zones)] for j in range(1, worker_count + 1)}
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
        self.state = {"stage": stage, "zones": {str(i): az for i, az in {**shape, **worker_shape}.items()},
                      "hosts": [], "workers": [], "pids": {}, "ports": {"front": front_port, "hosts": {}},
                      "extra_env": extra_env or {}}
        self._save()
        self.say(f"stage {stage}: {hosts} host{'s' * (hosts > 1)} ({count}), round-robin over its AZs: "
                 + ", ".join(f"{host_name(i)} {az}" for i, az in shape.items()))
        if worker_shape:
            why = "its worker_min_instances" if workers is None else "--workers"
            self.say(f"worker tier: {worker_count} host{'s' * (worker_count > 1)} ({why}; max "
                     f"{cfg.worker_max_instances}), the job worker alone: "
                     + ", ".join(f"{worker_name(i - hosts)} {az}" for i, az in worker_shape.items()))
        try:
            why_not = namespaces.available() if use_netns else "turned off (--no-netns)"
            self.state["network"] = "netns" if why_not is None else "ports"
            self._save()
            if why_not is None:
                self._network_up(hosts + worker_count)
            else:
                self.say(f"network namespaces unavailable ({why_not}): hosts run as processes on separate ports of 127.0.0.1")
            self._postgres_up()
            self._moto_up()
            built = self._artifacts()
            self.state["hosts"] = list(range(1, hosts + 1))
            self.state["workers"] = list(worker_shape)
            for i in self.hosts + self.workers:
                if not self.netns:
                    self.state["ports"]["hosts"][str(i)] = free_port()
            self._save()
            self.migrate(built)
            self.boot_hosts(self.hosts + self.workers, built)
            self._haproxy_up()
            self._front_door_up()
        except BaseException:
            self.say("start failed; stopping what was started")
            self.down(quiet=True)
            raise
        self.say(f"ready: {self.url}")
        return self.url

    def _network_up(self, hosts: int) -> None:
        slot, bridge = namespaces.add_bridge()
        self.state.update(slot=slot, bridge=bridge)
        self._save()
        namespaces.bridge_up(slot, bridge)
        for i in range(1, hosts + 1):
            ns = self.host_ns(i)
            namespaces.add_namespace(ns)
            self.state.setdefault("namespaces", []).append(ns)
            self._save()
            namespaces.plug(slot, bridge, i)
        addresses = f"host {self.subnet}.11" if hosts == 1 else f"hosts {self.subnet}.11-{10 + hosts}"
        self.say(f"network: bridge {bridge} {self.gateway}/24; {addresses}, "
                 "each in a network namespace with a veth pair (no route beyond the subnet)")

    # PostgreSQL -------------------------------------------------------------
    def _postgres_up(self) -> None:
        root = self.state_dir / "pg"
        app_password = secrets.token_urlsafe(18)
        cluster = PgCluster.create(
            root, superuser_password=secrets.token_urlsafe(18), auth="scram-sha-256", auth_local="trust",
            # the hosts connect over the bridge, with TLS
            hba_lines=[f"hostssl all all {self.subnet}.0/24 scram-sha-256"] if self.netns else None,
            listen=("127.0.0.1", self.gateway) if self.netns else ("127.0.0.1",),
            ssl=True, ssl_subject=self.gateway, ssl_days=30, max_connections=200, shared_buffers="64MB", durable=True,
            start=False)
        self.state["ports"]["pg"] = cluster.port
        self.state["pg"] = {"data": str(cluster.data), "socket_dir": str(cluster.root), "bin": str(cluster.bin),
                            "password": cluster.password, "app_password": app_password}
        self._save()
        cluster.start()
        self.psql(f"CREATE DATABASE {DB_NAME}")
        # the app's own role; the migration step (``migrate``) grants it the tables
        self.psql(f"CREATE ROLE {APP_DB_USER} LOGIN PASSWORD '{app_password}'")
        self.say(f"postgresql: {self.gateway}:{cluster.port}, TLS, initdb'd in {root} (database {DB_NAME})")

    @property
    def pg(self) -> PgCluster:
        """The topology's PostgreSQL cluster (from the state file)."""
        pg = self.state["pg"]
        return PgCluster(pg["socket_dir"], self.state["ports"]["pg"], pg["password"], pg["bin"])

    def pg_start(self) -> None:
        self.pg.start()

    def pg_stop(self, mode: str = "fast") -> None:
        self.pg.stop(mode)

    def psql(self, sql: str, db: str = "postgres") -> str:
        return self.pg.psql(sql, db)

    def admin_dsn(self, db: str = DB_NAME) -> str:
        """A libpq connection string for checks behind the API (the local socket, as postgres)."""
        return self.pg.socket_dsn(db)

    # moto ------------------------------------------------------------------------
    def _moto_up(self) -> None:
        port = free_port()
        self.state["ports"]["moto"] = port
        self.state["pids"]["moto"] = emulator.start(self.gateway, port, self.state_dir / "moto.log")
        self._save()
        emulator.wait(self.moto_url)
        emulator.seed_buckets(self.moto_url, front=f"http://127.0.0.1:{self.state['ports']['front']}")
        pg = self.state["pg"]
        emulator.seed_secrets(
            self.moto_url,
            database={"engine": "postgres", "host": self.gateway, "port": self.state["ports"]["pg"], "dbname": DB_NAME},
            master=(SUPERUSER, pg["password"]), app=(APP_DB_USER, pg["app_password"]))
        self.state["job_queue_url"] = emulator.seed_queue(self.moto_url)
        self._save()
        self.say(f"s3 + secrets manager + sqs (moto): {self.moto_url}; buckets {emulator.MEDIA_BUCKET}, "
                 f"{emulator.STATIC_BUCKET} (the web page); secrets {emulator.SECRET_DB_MASTER}, "
                 f"{emulator.SECRET_DB_APP}, {emulator.SECRET_APP}; job queue {emulator.JOB_QUEUE} "
                 f"(dead letters: {emulator.JOB_DEAD_LETTER_QUEUE})")

    def aws(self, service: str):
        return emulator.client(self.moto_url, service)

    # hosts -------------------------------------------------------------------------
    def _artifacts(self) -> dict[str, Path]:
        """The service bundle (zip, as the CDK asset leaves things out) and the wheelhouse."""
        built = artifacts.build(self.state_dir / "artifacts")
        self.state["artifacts"] = {k: str(v) for k, v in built.items()}
        self._save()
        return built

    def _env_file(self, i: int, *, migrate: bool = False) -> Path:
        """Host ``i``'s environment file; with ``migrate``, the migration step's (the only one
        that names the master secret, as in AWS)."""
        values = app_hosts.environment(
            public_url=self.url.rstrip("/"), moto_url=self.moto_url,
            trusted_proxies=f"{self.subnet}.1/32" if self.netns else "127.0.0.1/32",
            bind="0.0.0.0" if self.netns else "127.0.0.1",
            port=HOST_PORT if self.netns else self.state["ports"]["hosts"][str(i)],
            job_queue_url=self.state["job_queue_url"], migrate=migrate, extra=self.state.get("extra_env", {}))
        return app_hosts.write_env_file(self.host_dir(i) / ("migrate.env" if migrate else "game.env"), values)

    def _built(self, built: dict | None) -> dict[str, Path]:
        return built or {k: Path(v) for k, v in self.state["artifacts"].items()}

    def migrate(self, artifacts: dict | None = None) -> None:
        """The release's migration, once, before any host boots: the bootstrap in its migrate
        role, from the first host's network (in AWS: an instance of its own)."""
        first = 1
        args = app_hosts.bootstrap_args("migrate", self._built(artifacts), self._env_file(first, migrate=True),
                                    self.state_dir / "migration", self.host_ns(first) if self.netns else None)
        seconds = app_hosts.migrate(args, self.state_dir / "migration.log")
        self.say(f"migration: done in {seconds:.1f} s (the master secret read there only)")

    def boot_hosts(self, hosts: list[int], artifacts: dict | None = None) -> dict[int, float]:
        """Run the bootstrap of each host (in parallel): an app host serves the migrated
        database (its job worker beside it, unless the stage has a worker tier), a worker
        host runs the job worker; return each one's "READY in N s"."""
        built = self._built(artifacts)
        tier = bool(self.workers)
        runs = {i: (app_hosts.bootstrap_args("worker" if i in self.workers else "serve", built, self._env_file(i),
                                             self.host_dir(i) / "host", self.host_ns(i) if self.netns else None,
                                             without_worker=tier and i not in self.workers),
                    self.host_dir(i) / "bootstrap.log")
                for i in hosts}
        return app_hosts.boot(runs, lambda i, seconds: self.say(
            f"{self.name(i)} ({self.host_address(i)}, {self.host_az(i)}): bootstrap READY in {seconds:.1f} s"))

    def host_pid(self, i: int) -> int | None:
        """An app host's server."""
        return app_hosts.service_pid(self.host_dir(i) / "host")

    def worker_pid(self, i: int) -> int | None:
        """The job worker of a host (a worker host's, or the one beside an app host's server)."""
        return app_hosts.worker_pid(self.host_dir(i) / "host")

    def kill_hosts(self, hosts: Iterable[int], sig: int = signal.SIGKILL, wait: float = 35) -> None:
        """Signal what the hosts run, all at once: each one's server (a process group: the
        server and its workers) and its job worker."""
        app_hosts.kill([pid for i in hosts for pid in (self.host_pid(i), self.worker_pid(i))], sig, wait)

    def kill_host(self, i: int, sig: int = signal.SIGKILL, wait: float = 35) -> None:
        self.kill_hosts([i], sig, wait)

    def stop_host(self, i: int) -> None:
        """A graceful stop (SIGTERM: the server finishes what is in flight)."""
        self.kill_host(i, signal.SIGTERM)

    # load balancer, front door ---------------------------------------------------------
    def _haproxy_up(self) -> None:
        port = free_port()
        self.state["pids"]["haproxy"] = haproxy.start(
            self.state_dir / "haproxy.cfg", listen=f"127.0.0.1:{port}",
            servers={host_name(i): self.host_address(i) for i in self.hosts},
            socket_path=self.haproxy_socket, pid_file=str(self.state_dir / "haproxy.pid"))
        self.state["ports"]["lb"] = port
        self._save()
        self.wait_lb(lambda s: all(x.status == "UP" for x in s), "every host UP", 30)
        per_az = ", ".join(f"{az}: {len(self.hosts_in_az(az))}" for az in self.zones)
        self.say(f"load balancer (haproxy): 127.0.0.1:{port}, {len(self.hosts)} UP ({per_az}); checks {LIVENESS_PATH} "
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
        self.state["pids"]["nginx"] = frontdoor.start(
            self.state_dir / "nginx", listen=f"127.0.0.1:{port}",
            origins=frontdoor.Origins(s3=f"{self.gateway}:{self.state['ports']['moto']}",
                                      static_bucket=emulator.STATIC_BUCKET, media_bucket=emulator.MEDIA_BUCKET,
                                      load_balancer=f"127.0.0.1:{self.state['ports']['lb']}"))
        self._save()
        wait_http(self.url + LIVENESS_PATH.lstrip("/"), "front door", 15)
        routes = ", ".join(f"{p} -> {k}" for p, k in frontdoor.ROUTES.items())
        self.say(f"front door (nginx): 127.0.0.1:{port}; like the distribution: / and the page -> static bucket, {routes}")

    # ------------------------------------------------------------------ status
    def status(self) -> list[str]:
        if not self.running:
            return [f"not running (no {self.state_file})"]
        lines = [f"stage {self.stage}  front door {self.url}  load balancer {self.lb_url}  "
                 f"network: {self.state.get('network')}"]
        try:
            servers = {s.name: s for s in self.lb_servers()}
        except OSError as exc:
            return lines + [f"load balancer not answering on {self.haproxy_socket}: {exc}"]
        lines.append(f"{'host':8} {'az':12} {'address':20} {'load balancer':14} {'last check':24} {'now':>5} "
                     f"{'total':>7}  process")
        for i in self.hosts:
            s = servers.get(host_name(i))
            pid = self.host_pid(i)
            proc = f"pid {pid}" if alive(pid) else "not running"
            if s is None:
                lines.append(f"{host_name(i):8} {self.host_az(i):12} {self.host_address(i):20} {'(absent)':14}")
                continue
            lines.append(f"{s.name:8} {self.host_az(i):12} {self.host_address(i):20} {s.status:14} {s.check:24} "
                         f"{s.sessions_now:>5} {s.sessions_total:>7}  {proc}")
        for i in self.workers:
            pid = self.worker_pid(i)
            proc = f"job worker pid {pid}" if alive(pid) else "job worker not running"
            lines.append(f"{self.name(i):8} {self.host_az(i):12} {self.host_address(i):20} {'(no traffic)':14} "
                         f"{'':24} {'':>5} {'':>7}  {proc}")
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
            stop_pid(pids.get(name), signal.SIGTERM, 10)
        self.kill_hosts(self.hosts + self.workers, signal.SIGTERM, wait=25)
        stop_pid(pids.get("moto"), signal.SIGTERM, 10, group=True)
        if self.state.get("pg") and self.pg.running:
            try:
                self.pg_stop("fast")
            except TopologyError:
                self.pg_stop("immediate")
        for ns in self.state.get("namespaces", []):
            namespaces.remove_namespace(ns)
        if self.state.get("bridge"):
            namespaces.remove_bridge(self.state["bridge"])
        self.state_file.unlink(missing_ok=True)
        self.state = {}
        if not quiet:
            self.say("stopped: front door, load balancer, hosts, moto, postgresql; namespaces and bridge removed")
