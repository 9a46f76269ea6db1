"""What a local host installs, as an EC2 host does: the service bundle (``host/bundle.py``:
the files the CDK asset holds) as a zip, and the wheelhouse built from the service's lock."""

from __future__ import annotations

import platform
from pathlib import Path

from host.bundle import write_zip
from local_topology.processes import TopologyError


def build(folder: Path) -> dict[str, Path]:
    """The bundle written under ``folder``, the wheelhouse of this machine's platform:
    ``{"bundle": zip, "wheels": wheelhouse}``."""
    from host.wheelhouse import WheelhouseError, ready

    bundle = write_zip(folder / "service-bundle.zip")
    try:
        wheels = ready(platform.machine())
    except WheelhouseError as exc:
        raise TopologyError(str(exc)) from None
    return {"bundle": bundle, "wheels": wheels}
