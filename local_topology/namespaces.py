"""The hosts' network: a bridge with an address of its own (the gateway, where hosts reach
PostgreSQL and moto) and, per host, a network namespace plugged into it by a veth pair
(``eth0`` inside), with no route beyond the subnet.

Topologies side by side (another state folder) each take a free slot k: bridge lt-br<k>,
subnet 10.77.<k>.0/24 (gateway .1, host i at .10+i), namespaces lt<k>-host<i>.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

from local_topology.processes import TopologyError, run, stop_pid

SLOTS = 64


def available() -> str | None:
    """None when network namespaces, veths and a bridge can be made here, else why not."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"lt-probe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return (r.stderr.strip() or "ip netns add failed") + (" (needs root)" if os.geteuid() else "")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def subnet(slot: int) -> str:
    """The first three octets of slot ``slot``'s subnet."""
    return f"10.77.{slot}"


def gateway(slot: int) -> str:
    return f"{subnet(slot)}.1"


def host_address(slot: int, i: int) -> str:
    return f"{subnet(slot)}.{10 + i}"


def host_ns(slot: int, i: int) -> str:
    return f"lt{slot}-host{i}"


def host_veth(ns: str) -> str:
    """The host side of namespace ``ns``'s veth pair."""
    return ns.replace("-host", "-veth")


def add_bridge() -> tuple[int, str]:
    """The first free slot's bridge, made (``ip link add`` fails on a taken one): (slot, bridge).
    Give it its address with ``bridge_up``."""
    for slot in range(SLOTS):
        bridge = f"lt-br{slot}"
        if subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], capture_output=True).returncode == 0:
            return slot, bridge
    raise TopologyError(f"no free bridge lt-br0..lt-br{SLOTS - 1}: stop other local topologies")


def bridge_up(slot: int, bridge: str) -> None:
    run(["ip", "addr", "add", f"{gateway(slot)}/24", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])


def add_namespace(ns: str) -> None:
    run(["ip", "netns", "add", ns])


def plug(slot: int, bridge: str, i: int) -> None:
    """Host ``i``'s namespace (made by ``add_namespace``) on the bridge, with its address."""
    ns = host_ns(slot, i)
    veth = host_veth(ns)
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
    run(["ip", "link", "set", veth, "master", bridge])
    run(["ip", "link", "set", veth, "up"])
    run(["ip", "-n", ns, "addr", "add", f"{host_address(slot, i)}/24", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])


def remove_namespace(ns: str) -> None:
    """Kill what still lives in the namespace, then delete its veth pair and the namespace."""
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    for pid in map(int, r.stdout.split()):  # anything still living in the host's network
        stop_pid(pid, signal.SIGKILL, 5)
    # the host side of the veth pair first: deleting it takes the pair at once, while a
    # deleted namespace's devices go away asynchronously
    subprocess.run(["ip", "link", "del", host_veth(ns)], capture_output=True)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def remove_bridge(bridge: str) -> None:
    subprocess.run(["ip", "link", "del", bridge], capture_output=True)
