"""The Node that synthesizes the app (node_runtime.py, scripts/jsii-node): any supported
release, with or without node_modules/, one clear line otherwise; jsii's Node with
single-threaded garbage collection unless the user chose a Node for jsii."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import node_runtime
from checks.assembly import cdk_json_context

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def _fake_node(folder: Path, version: str) -> Path:
    """A `node` on PATH that only knows its version."""
    folder.mkdir(parents=True, exist_ok=True)
    node = folder / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(node.stat().st_mode | stat.S_IXUSR)
    return folder


def _checkout_without_node_modules(tmp_path: Path) -> Path:
    """The repository without node_modules/ (the hosts' wheelhouse built: synth ships it)."""
    copy = tmp_path / "checkout"
    ignore = shutil.ignore_patterns(".git", ".venv", "node_modules", "cdk.out*", "build", "__pycache__", ".pytest_cache")
    shutil.copytree(ROOT, copy, ignore=ignore, symlinks=True)
    (copy / "build").mkdir()
    for wheelhouse in (ROOT / "build").glob("wheelhouse-*"):
        shutil.copy2(wheelhouse, copy / "build" / wheelhouse.name)
    return copy


def _synth_starter(cwd: Path, path: str, outdir: Path, **extra: str) -> subprocess.CompletedProcess:
    """`python3 app.py` as the CDK CLI (or an IDE) runs it: the starter stage, on PATH ``path``."""
    env = {k: v for k, v in os.environ.items() if k not in ("JSII_NODE", "CDK_CONTEXT_JSON", "CDK_OUTDIR")}
    env.update(PATH=f"{Path(sys.executable).parent}:{path}", CDK_OUTDIR=str(outdir),
               CDK_CONTEXT_JSON=json.dumps({**cdk_json_context(), "stage": "starter"}), **extra)
    return subprocess.run([sys.executable, "app.py"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("version", ["v18.20.4", "v25.0.0", "v21.7.3"])
def test_synth_with_an_unsupported_node_stops_with_one_line_that_says_what_to_install(tmp_path, version):
    checkout = _checkout_without_node_modules(tmp_path)
    fake = _fake_node(tmp_path / "bin", version)
    result = _synth_starter(checkout, f"{fake}:{SYSTEM_PATH}", tmp_path / "cdk.out")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: synth needs Node.js 20, 22 or 24 (the releases jsii supports); {fake}/node is {version[1:]}. "
        "package.json pins Node 22 (`make setup` installs it into node_modules/), or put a supported Node first on PATH"
    ]


def test_synth_with_no_node_at_all_says_so(tmp_path):
    checkout = _checkout_without_node_modules(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = _synth_starter(checkout, str(empty), tmp_path / "cdk.out")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: synth runs the CDK on Node.js, and there is no node on PATH; "
        "package.json pins Node 22 (`make setup` installs it into node_modules/)"
    )


def test_a_node_the_user_chose_for_jsii_is_checked_too(tmp_path, monkeypatch):
    fake = _fake_node(tmp_path / "bin", "v16.20.2")
    monkeypatch.setenv("JSII_NODE", str(fake / "node"))
    with pytest.raises(node_runtime.UnsupportedNode, match=r"Node\.js 20, 22 or 24 .* is 16\.20\.2"):
        node_runtime.use_supported_node()


def test_a_node_that_cannot_say_its_version_is_named_with_what_went_wrong(tmp_path):
    broken = tmp_path / "bin" / "node"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\necho 'node: error while loading shared libraries' >&2\nexit 127\n")
    broken.chmod(0o755)
    with pytest.raises(node_runtime.UnsupportedNode) as failed:
        node_runtime.node_version(str(broken))
    assert str(failed.value).startswith(f"synth runs the CDK on Node.js, and `{broken} --version` failed (")
    assert str(failed.value).endswith("; package.json pins Node 22 (`make setup` installs it into node_modules/)")
    odd = _fake_node(tmp_path / "odd", "not-a-version")
    with pytest.raises(node_runtime.UnsupportedNode, match=r"printed 'not-a-version', not a Node\.js version"):
        node_runtime.node_version(str(odd / "node"))


def test_the_pinned_node_goes_first_on_path_once(monkeypatch):
    monkeypatch.delenv("JSII_NODE", raising=False)
    monkeypatch.setenv("PATH", SYSTEM_PATH)
    node_runtime.use_supported_node()
    node_runtime.use_supported_node()
    assert os.environ["PATH"] == f"{node_runtime.NODE_BIN}:{SYSTEM_PATH}"
    assert os.environ["JSII_NODE"] == str(ROOT / "scripts" / "jsii-node")


def _node_of_major(major: int) -> str | None:
    """A real Node binary of that release on this machine: the system's, or the pinned one."""
    for candidate in (shutil.which("node", path=SYSTEM_PATH), str(ROOT / "node_modules" / ".bin" / "node")):
        if candidate and Path(candidate).exists() and node_runtime.node_version(candidate)[0] == major:
            return str(Path(candidate).resolve())
    return None


@pytest.mark.slow
@pytest.mark.parametrize("major", [20, 22])
def test_a_fresh_checkout_synthesizes_with_node_first_on_path_and_no_node_modules(tmp_path, major):
    """What a new user meets with a global `cdk` or `python3 app.py` from an IDE before `make
    setup`: jsii runs on the Node first on PATH, and synth works on every supported one."""
    node = _node_of_major(major)
    if node is None:
        pytest.skip(f"no Node {major} on this machine (system Node, node_modules/.bin/node)")
    checkout = _checkout_without_node_modules(tmp_path)
    # only that Node: a folder with nothing but a link to it, then the system's tools
    only = tmp_path / f"node{major}"
    only.mkdir()
    (only / "node").symlink_to(node)
    result = _synth_starter(checkout, f"{only}:{SYSTEM_PATH}", tmp_path / "cdk.out")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    templates = sorted(p.name for p in (tmp_path / "cdk.out" / "assembly-starter").glob("*.template.json"))
    assert len(templates) == 6, templates


# imports app.py (which picks jsii's Node) and reports the command lines of the Node
# processes under this one: jsii's launcher and the kernel it starts
_PROBE = """
import json, os, pathlib, subprocess, sys
sys.path.insert(0, os.getcwd())
import app  # noqa: F401
def tree(pid):
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [k for c in kids for k in (c, *tree(c))]
cmds = [pathlib.Path(f"/proc/{p}/cmdline").read_bytes().split(b"\\0") for p in tree(os.getpid())]
print(json.dumps([[a.decode() for a in c if a] for c in cmds]))
"""


def _node_command_lines(env: dict) -> list[list[str]]:
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return [c for c in json.loads(out.stdout.splitlines()[-1]) if any("node" in Path(a).name for a in c[:1])]


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads command lines from /proc")
def test_the_apps_jsii_node_is_the_pinned_one_collecting_garbage_on_one_thread_unless_the_user_chose_a_node():
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    nodes = _node_command_lines(env)
    kernel = [c for c in nodes if any(a.endswith("program.js") for a in c)]
    assert kernel and all("--single-threaded-gc" in c for c in kernel), nodes
    assert any(Path(c[0]).resolve() == (ROOT / "node_modules/.bin/node").resolve() for c in kernel), nodes

    nodes = _node_command_lines({**env, "JSII_NODE": "node"})
    assert nodes and not any("--single-threaded-gc" in c for c in nodes), nodes
