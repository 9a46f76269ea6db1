"""The Node.js that runs the CDK app's jsii runtime: a supported release, checked up front.

aws-cdk-lib is JavaScript; from Python it runs in a Node process that jsii starts at the
first ``import aws_cdk``. ``app.py`` calls :func:`use_supported_node` before that import:

* ``node_modules/.bin`` first on PATH when it exists (``make setup`` installs the Node that
  ``package.json`` pins there), so the app runs on the pinned Node whoever starts it (the
  CLI through ``npx cdk``, ``python3 app.py`` from an IDE, a global ``cdk``); without it, the
  first ``node`` on PATH, as jsii itself would pick;
* that Node's version checked against :data:`SUPPORTED_MAJORS`: outside it, or no Node at
  all, synth stops with one line that says what to install, instead of a traceback from
  jsii's handshake;
* ``JSII_NODE`` (jsii's documented setting for the Node it starts) set to
  ``scripts/jsii-node``, unless the user set it: the same Node with single-threaded garbage
  collection (docs/decisions.md, "Synth speed").

Only documented interfaces: environment variables that jsii and Node read, and
``node --version``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent
NODE_BIN = ROOT / "node_modules" / ".bin"
JSII_NODE = ROOT / "scripts" / "jsii-node"

# jsii's own list of Node releases it supports (jsii 1.142: 20 until its end of life on
# 2026-04-30, with a warning after it; 22 and 24). Odd releases are ones jsii calls untested.
SUPPORTED_MAJORS = (20, 22, 24)
PINNED = "package.json pins Node 22 (`make setup` installs it into node_modules/)"


class UnsupportedNode(RuntimeError):
    """No Node.js, or one jsii does not support: the message says what to install."""


def node_version(node: str) -> tuple[int, ...]:
    """``node``'s version as numbers, e.g. (22, 23, 3)."""
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise UnsupportedNode(f"synth runs the CDK on Node.js, and `{node} --version` failed ({error}); {PINNED}") from None
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\S*", out.strip())
    if match is None:
        raise UnsupportedNode(f"`{node} --version` printed {out.strip()!r}, not a Node.js version; {PINNED}")
    return tuple(int(part) for part in match.groups())


def check_supported(version: tuple[int, ...], node: str) -> None:
    if version[0] not in SUPPORTED_MAJORS:
        supported = ", ".join(str(major) for major in SUPPORTED_MAJORS[:-1]) + f" or {SUPPORTED_MAJORS[-1]}"
        found = ".".join(str(part) for part in version)
        raise UnsupportedNode(
            f"synth needs Node.js {supported} (the releases jsii supports); {node} is {found}. {PINNED}, "
            "or put a supported Node first on PATH"
        )


def use_supported_node() -> str:
    """Pick and check the Node for jsii (see the module's docstring); return its path.
    Call it before the first ``import aws_cdk``: jsii reads the environment when it starts."""
    if NODE_BIN.is_dir() and str(NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    chosen = os.environ.get("JSII_NODE")
    node = shutil.which(chosen) if chosen else shutil.which("node")
    if node is None:
        raise UnsupportedNode(
            f"synth runs the CDK on Node.js, and there is no {chosen or 'node'} on PATH; {PINNED}"
        )
    if chosen:  # the user's choice of Node: checked, not replaced
        check_supported(node_version(node), chosen)
        return node
    check_supported(node_version(node), node)
    if os.name == "posix":
        os.environ["JSII_NODE"] = str(JSII_NODE)
    return node
