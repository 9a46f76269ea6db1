#!/usr/bin/env python3
"""Scale curve of the local topology (a script that prints figures; not a test).

It starts the local topology with 3 hosts (``local_topology``: network namespaces, the
bootstrap, HAProxy, PostgreSQL, moto, the nginx front door) under a temporary state folder,
signs in BENCH_PLAYERS guests, then drives the front door with wrk (Debian package ``wrk``)
for BENCH_DURATION seconds per point, the game's request mix (a third ``GET /api/me``, two
thirds ``POST /api/actions`` with an Idempotency-Key), with 1, 2 and 3 hosts in service (the
others put in maintenance in HAProxy), in the same run. Before them, the reference: the same
load straight at one host's gunicorn, no front door and no load balancer in between.

Per point it prints requests/s, p50/p99 latency, errors (non-2xx answers and socket errors)
and the CPU each component used, in % of one core (from /proc: a host is its server and
workers, PostgreSQL every backend of the cluster, wrk the load generator), the requests per
CPU-second of the hosts and the database's CPU milliseconds per request (figures that hold on a
busy machine, where wall-clock throughput does not), what that makes per scale-out host
(c7g.large: 2 vCPUs of its own) and for a 2-vCPU database, then the load
average, and checks that every wallet equals its ledger. Last, one host is booted again alone:
its READY time and the CPU seconds the boot took. Exit code 0 when no request failed
and every wallet equals its ledger.

Env: BENCH_DURATION (s per point, default 10), BENCH_CONNECTIONS (default 32), BENCH_PLAYERS
(default 200), BENCH_STATE (state folder, default a temporary one).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from local_topology.hosts import host_name  # noqa: E402
from local_topology.processes import free_port  # noqa: E402
from local_topology.topology import Topology  # noqa: E402

DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PLAYERS = int(os.environ.get("BENCH_PLAYERS", "200"))
HOSTS = 3
CLK = os.sysconf("SC_CLK_TCK")

LUA = r"""
tokens = {TOKENS}
local n = #tokens
local i = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  i = i + 1
  local h = {["Authorization"] = "Bearer " .. tokens[(i % n) + 1]}
  if i % 3 == 0 then
    return wrk.format("GET", "/api/me", h)
  end
  h["Idempotency-Key"] = string.format("%08x%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), i)
  h["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/actions", h, "{}")
end
"""


def proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, process group, CPU ticks)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]))
    return out


def components(topo: Topology) -> dict[str, set[int]]:
    """Which processes make up each component right now."""
    table = proc_table()

    def tree(root: int | None) -> set[int]:
        found = {root} if root in table else set()
        grew = True
        while grew:
            more = {p for p, (pp, _, _) in table.items() if pp in found} - found
            grew = bool(more)
            found |= more
        return found

    def group(pgid: int | None) -> set[int]:
        return {p for p, (_, g, _) in table.items() if g == pgid} if pgid else set()

    postmaster = int((Path(topo.state["pg"]["data"]) / "postmaster.pid").read_text().split()[0])
    comps = {host_name(i): group(topo.host_pid(i)) for i in topo.hosts}
    comps.update({
        "postgresql": tree(postmaster),
        "haproxy": tree(topo.state["pids"]["haproxy"]),
        "nginx": tree(topo.state["pids"]["nginx"]),
        "moto": group(topo.state["pids"]["moto"]),
    })
    return comps


def cpu_ticks(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def run_wrk(url: str, script: Path, topo: Topology) -> dict:
    comps = components(topo)
    before = {name: cpu_ticks(pids) for name, pids in comps.items()}
    children = os.times()
    t0 = time.monotonic()
    proc = subprocess.Popen(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--timeout", "20s", "--latency", "-s", str(script), url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=DURATION + 60)
    wall = time.monotonic() - t0
    after = {name: cpu_ticks(pids) for name, pids in comps.items()}
    children_after = os.times()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    lat = {p: to_ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m)\b", out, re.M)}
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = sum(map(int, m.groups())) if (m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)) else 0
    cpu = {name: 100 * (after[name] - before[name]) / CLK / wall for name in comps}
    cpu["wrk"] = 100 * (children_after.children_user + children_after.children_system
                        - children.children_user - children.children_system) / wall
    detail = "; ".join(line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "errors": non2xx + sock, "cpu": cpu,
            "detail": detail}


def main() -> int:
    if shutil.which("wrk") is None:
        print("scale bench: wrk is not installed (scripts/system-packages.txt)", file=sys.stderr)
        return 2
    root = None
    if os.environ.get("BENCH_STATE"):
        state = Path(os.environ["BENCH_STATE"])
    else:
        root = Path(tempfile.mkdtemp(prefix="lt-bench-"))
        root.chmod(0o755)
        state = root / "state"
    topo = Topology(state)
    print(f"machine: {os.cpu_count()} CPUs, {platform_line()}")
    try:
        topo.up(HOSTS, front_port=free_port(),
                extra_env={"GAME_RATE_LIMIT_WRITES": "100000000", "GAME_ENERGY_CAP": "100000000",
                           "GAME_SIGNUP_LIMIT_PER_ADDRESS": "100000000"})
        tokens = []
        with httpx.Client(base_url=topo.url, timeout=30) as c:
            for _ in range(PLAYERS):
                r = c.post("api/auth/guest")
                r.raise_for_status()
                tokens.append(r.json()["token"])
        script = state / "mix.lua"
        script.write_text(LUA.replace("{TOKENS}", "{" + ",".join(f'"{t}"' for t in tokens) + "}"))

        rows = []
        for n in (0, 1, 2, 3):  # 0: the reference, straight at host1
            for i in topo.hosts:
                topo.lb_set(i, "ready" if (n == 0 or i <= n) else "maint")
            topo.wait_lb(lambda s, n=n: sum(x.status == "UP" for x in s) == (HOSTS if n == 0 else n), "settled", 30)
            url = f"http://{topo.host_address(1)}" if n == 0 else topo.url.rstrip("/")
            # a short warm-up, then the measured run
            subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", "-d2s", "--timeout", "20s", "-s", str(script), url], capture_output=True)
            result = run_wrk(url, script, topo)
            rows.append(("host1 direct (reference)" if n == 0 else f"{n} host{'s' if n > 1 else ''} via front door", n, result))
        print_table(rows)
        # the boot of one host alone (the others serve): wall time, and the CPU it took (the
        # bootstrap's own processes, then the server and workers it started), which is what
        # bounds it on a quiet machine
        topo.stop_host(HOSTS)
        children = os.times()
        boot = topo.boot_hosts([HOSTS])[HOSTS]
        after = os.times()
        cpu = (after.children_user + after.children_system - children.children_user - children.children_system
               + cpu_ticks(components(topo)[host_name(HOSTS)]) / CLK)
        print(f"boot of one host alone (the bootstrap, wheelhouse on this disk): READY in {boot:.1f} s, "
              f"{cpu:.1f} CPU s; load average {open('/proc/loadavg').read().split()[:3]}")
        print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
        consistent = check_wallets(topo)
        failed = sum(r["errors"] for _, _, r in rows)
        print(f"errors: {failed}; every wallet equals its ledger: {consistent}")
        return 0 if failed == 0 and consistent else 1
    finally:
        topo.down(quiet=True)
        if root:
            shutil.rmtree(root, ignore_errors=True)


def platform_line() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return f"{model}; load average before: {open('/proc/loadavg').read().split()[:3]}"


def print_table(rows) -> None:
    names = [k for k in rows[-1][2]["cpu"]]
    head = (f"{'point':26} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'req/host-CPU-s':>14} "
            f"{'DB CPU ms/req':>13}  CPU % of one core: " + " ".join(f"{n:>10}" for n in names))
    print(head)
    per_host_cpu = []
    db_ms = []
    for label, n, r in rows:
        hosts_cpu = sum(v for k, v in r["cpu"].items() if k.startswith("host")) / 100
        efficiency = r["rps"] / hosts_cpu if hosts_cpu else 0
        db = 10 * r["cpu"]["postgresql"] / r["rps"] if r["rps"] else 0
        if n:
            per_host_cpu.append(efficiency)
            db_ms.append(db)
        print(f"{label:26} {r['rps']:6.0f} {r['p50']:7.1f} {r['p99']:7.1f} {r['errors']:6d} {efficiency:14.0f} "
              f"{db:13.2f}  {'':19}" + " ".join(f"{r['cpu'].get(n, 0):10.0f}" for n in names))
    for label, _, r in rows:
        if r["errors"]:
            print(f"{label}: {r['detail']}")
    # A scale-out host (c7g.large) has 2 vCPUs of its own and the database is another machine:
    # where the host's CPU binds, it serves about (requests per host CPU-second) x 2.
    eff, db = statistics.median(per_host_cpu), statistics.median(db_ms)
    print(f"per scale-out host (2 vCPU, its CPU binding): ~{2 * eff:.0f} req/s of this mix "
          f"(median {eff:.0f} requests per host CPU-second through the front door); the database spends "
          f"{db:.2f} CPU ms per request: ~{2000 / db:.0f} req/s on 2 vCPUs")


def check_wallets(topo: Topology) -> bool:
    with psycopg.connect(topo.admin_dsn()) as conn:
        bad = conn.execute(
            "SELECT count(*) FROM players p WHERE coins <> (SELECT COALESCE(SUM(delta), 0) FROM ledger WHERE player_id = p.id)"
        ).fetchone()[0]
    return bad == 0


if __name__ == "__main__":
    sys.exit(main())
