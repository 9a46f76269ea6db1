"""Processes and ports, as every part of the local topology starts and stops them: a free
port, a command that must succeed, a process that must go, an address that must answer;
and the one error the user sees (``TopologyError``: its message says what to fix)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class TopologyError(RuntimeError):
    """Something the user must fix or know; the message says what."""


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


def run(args: list, *, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise TopologyError(f"{' '.join(map(str, args[:3]))} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-500:]}")
    return r


def alive(pid: int | None) -> bool:
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


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def stop_pid(pid: int | None, sig: int, wait: float, group: bool = False) -> None:
    """Signal a process (or its group), and kill it if it is still there after ``wait`` s."""
    if not alive(pid):
        return
    try:
        os.killpg(pid, sig) if group else os.kill(pid, sig)
    except ProcessLookupError:
        return
    if not wait_gone(pid, wait):
        try:
            os.killpg(pid, signal.SIGKILL) if group else os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_gone(pid, 5)


def wait_http(url: str, what: str, seconds: float) -> None:
    """Until ``url`` answers (anything below 500), or a TopologyError after ``seconds``."""
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
