"""The load balancer: HAProxy's config for the hosts, and its admin socket.

Active health checks on the liveness path (the ALB's target group checks the same path);
every ``CHECK_INTERVAL_S`` a host is asked, ``FALL`` failures take it out, ``RISE`` passes
bring it back. Between checks, a connection a host refuses (or that times out) on live
traffic takes it out at once.

A request whose connection to a host fails, or that gets no answer at all (the host died
with it in flight), is retried on another host, but only when a retry cannot apply twice:
GET/HEAD, or a write carrying an ``Idempotency-Key`` (the service answers a repeated key
with the first result). Other writes are retried only when the connection failed before
the request was sent. A request gets two retries per host: a dead host can cost one on a
connection it held open and one refused, which takes it out; so when several hosts die
together (an AZ), a request reaches a live one whichever died. A host taken out keeps the requests it holds (they
finish, time out or are retried elsewhere): cutting them would cut their retries too.

An ALB does not retry; see the README. ``start`` runs HAProxy with the config.
"""

from __future__ import annotations

import csv
import io
import socket
from dataclasses import dataclass
from pathlib import Path

from game_service.contract import LIVENESS_PATH  # the ALB's health check path too
from local_topology.frontdoor import API_READ_TIMEOUT_S
from local_topology.processes import run

BACKEND = "hosts"
SERVED_BY = "X-Served-By"
CHECK_INTERVAL_S = 1.0
FAST_INTERVAL_S = 0.5  # between checks once one failed
FALL = 2
RISE = 2


def config(*, listen: str, servers: dict[str, str], socket_path: str, pid_file: str) -> str:
    lines = [
        "global",
        f"  stats socket {socket_path} mode 600 level admin",
        f"  pidfile {pid_file}",
        "  maxconn 4096",
        "defaults",
        "  mode http",
        "  timeout connect 2s",
        "  timeout client 60s",
        f"  timeout server {API_READ_TIMEOUT_S}s",  # the distribution's origin read timeout
        "  timeout queue 10s",
        "  timeout http-keep-alive 5s",
        f"  retries {2 * len(servers)}",
        "  option redispatch 1",
        "  retry-on conn-failure empty-response",
        "frontend api",
        f"  bind {listen}",
        f"  default_backend {BACKEND}",
        f"backend {BACKEND}",
        "  balance roundrobin",
        f"  option httpchk GET {LIVENESS_PATH}",
        "  http-check expect status 200",
        "  http-request disable-l7-retry if !METH_GET !METH_HEAD !{ req.hdr(idempotency-key) -m found }",
        # which host answered: for people (and tests) watching requests spread (an ALB does not say)
        f"  http-response set-header {SERVED_BY} %[srv_name]",
        f"  default-server inter {int(CHECK_INTERVAL_S * 1000)}ms fastinter {int(FAST_INTERVAL_S * 1000)}ms "
        f"fall {FALL} rise {RISE} observe layer4 error-limit 1 on-error mark-down",
    ]
    lines += [f"  server {name} {address} check" for name, address in servers.items()]
    return "\n".join(lines) + "\n"


def start(cfg: Path, *, listen: str, servers: dict[str, str], socket_path: str, pid_file: str) -> int:
    """HAProxy (checked, then daemonized) with this config written at ``cfg``; its pid."""
    cfg.write_text(config(listen=listen, servers=servers, socket_path=socket_path, pid_file=pid_file))
    run(["haproxy", "-c", "-q", "-f", cfg])
    run(["haproxy", "-D", "-f", cfg])
    return int(Path(pid_file).read_text().split()[0])


@dataclass(frozen=True)
class ServerState:
    name: str
    address: str
    status: str  # UP, DOWN, DRAIN, MAINT, "UP 1/2" (rising), ...
    check: str  # last check's status and duration, e.g. "L7OK/200 in 2 ms"
    sessions_now: int
    sessions_total: int


def command(socket_path: str, cmd: str, timeout: float = 5) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(socket_path)
        s.sendall(cmd.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def servers(socket_path: str) -> list[ServerState]:
    """Each host as the load balancer sees it (``show stat``)."""
    text = command(socket_path, "show stat").lstrip("# ")
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        if row["pxname"] != BACKEND or row["svname"] in ("BACKEND", "FRONTEND"):
            continue
        check = row.get("check_status", "")
        if row.get("check_code"):
            check += f"/{row['check_code']}"
        if row.get("check_duration"):
            check += f" in {row['check_duration']} ms"
        out.append(ServerState(row["svname"], row.get("addr", ""), row["status"], check,
                               int(row["scur"] or 0), int(row["stot"] or 0)))
    return out


def set_state(socket_path: str, server: str, state: str) -> None:
    """``ready``, ``drain`` (no new requests) or ``maint`` (out, checks stopped)."""
    answer = command(socket_path, f"set server {BACKEND}/{server} state {state}").strip()
    if answer:
        raise RuntimeError(f"haproxy: set server {server} state {state}: {answer}")
