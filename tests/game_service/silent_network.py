"""A host that vanishes without a word, on this machine: its packets dropped by the kernel.

A stopped or restarted PostgreSQL says goodbye (its backends send FATAL and close their
sockets), and a stopped process (SIGSTOP) still has a kernel that acknowledges every packet.
A real failover does neither: the old primary's address goes silent, and a client learns of
it only from its own TCP timeouts. Only the kernel can play that, so this drops packets with
nftables (Debian's ``nftables``; root):

* ``silence_port(port)``: every packet to and from the port is dropped (connects hang too,
  as while a failover moves the endpoint's DNS name);
* ``keep_silent(port)``: from then on only the connections open now stay silent, one rule
  per connection (their client ports, read with ``ss``); new connections reach whatever
  listens on the port: the new primary, at the same address.

Rules live in a table of their own on the output hook (loopback packets pass it in both
directions), deleted by ``close``. Traffic of other ports is untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess

TABLE = "game_silent_network"


def unavailable_reason() -> str | None:
    """Why these tests cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "dropping packets in the kernel needs root"
    if shutil.which("nft") is None or shutil.which("ss") is None:
        return "nft (Debian package nftables) and ss (iproute2) are needed: make setup-system"
    r = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"nftables does not work here: {r.stderr.strip()}"
    return None


def _nft(*commands: str) -> None:
    script = "\n".join(commands) + "\n"
    r = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"nft failed: {r.stderr.strip()}\n{script}")


class SilentNetwork:
    def __init__(self) -> None:
        _nft(f"add table inet {TABLE}",
             f"add chain inet {TABLE} output {{ type filter hook output priority 0; policy accept; }}",
             f"flush chain inet {TABLE} output")

    def silence_port(self, port: int) -> None:
        _nft(f"add rule inet {TABLE} output tcp dport {port} drop",
             f"add rule inet {TABLE} output tcp sport {port} drop")

    def open_connections(self, port: int) -> list[int]:
        """Client ports of the established TCP connections to ``port`` on this machine."""
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                             capture_output=True, text=True, check=True).stdout
        return sorted({int(line.split()[-2].rsplit(":", 1)[1]) for line in out.splitlines() if line.strip()})

    def keep_silent(self, port: int) -> list[int]:
        """Only the connections open now stay silent; returns their client ports."""
        clients = self.open_connections(port)
        commands = [f"flush chain inet {TABLE} output"]
        if clients:
            ports = ", ".join(map(str, clients))
            commands += [f"add rule inet {TABLE} output tcp dport {port} tcp sport {{ {ports} }} drop",
                         f"add rule inet {TABLE} output tcp sport {port} tcp dport {{ {ports} }} drop"]
        _nft(*commands)
        return clients

    def close(self) -> None:
        _nft(f"delete table inet {TABLE}")
