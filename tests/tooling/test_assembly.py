"""How app.py starts Node for jsii (tooling/assembly.py, tooling/jsii-node): the pinned Node
with single-threaded garbage collection and a compile cache that holds across runs
(tooling/jsii-compile-cache.js; docs/decisions.md, "Synth speed"), unless the user chose a
Node for jsii themselves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# imports app.py (which starts jsii's Node) and reports the command lines of the Node
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
def test_the_apps_jsii_node_collects_garbage_on_one_thread_unless_the_user_chose_a_node():
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    nodes = _node_command_lines(env)
    kernel = [c for c in nodes if any(a.endswith("program.js") for a in c)]
    assert kernel and all("--single-threaded-gc" in c for c in kernel), nodes
    assert any(Path(c[0]).resolve() == (ROOT / "node_modules/.bin/node").resolve() for c in kernel), nodes

    nodes = _node_command_lines({**env, "JSII_NODE": "node"})
    assert nodes and not any("--single-threaded-gc" in c for c in nodes), nodes


_LOAD_CDK = "import sys, os; sys.path.insert(0, os.getcwd()); import app"  # starts jsii, loads aws-cdk-lib
_CACHED = re.compile(r"cache for (\S+) was (accepted|rejected)")


def _compile_cache_lines(env: dict) -> list[tuple[str, str]]:
    out = subprocess.run([sys.executable, "-c", _LOAD_CDK], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return _CACHED.findall(out.stderr)


@pytest.mark.skipif(os.name != "posix", reason="tooling/jsii-node is a POSIX shell script")
def test_the_apps_jsii_node_compiles_aws_cdk_lib_from_a_cache_that_a_second_run_reads(tmp_path: Path):
    cache = tmp_path / "compile-cache"
    env = {k: v for k, v in os.environ.items() if k not in ("JSII_NODE", "JSII_RUNTIME", "NODE_DISABLE_COMPILE_CACHE")}
    env.update(NODE_COMPILE_CACHE=str(cache), NODE_DEBUG_NATIVE="COMPILE_CACHE")

    first = _compile_cache_lines(env)
    assert not [name for name, verdict in first if verdict == "accepted"], first[:5]
    entries = sorted(p.name for p in cache.glob("v*/*"))

    second = _compile_cache_lines(env)
    cdk = [name for name, verdict in second if "/node_modules/aws-cdk-lib/" in name]
    assert len(cdk) > 50, second[:5]  # jsii's temporary directory changed; the names did not
    assert all(verdict == "accepted" for name, verdict in second if name in cdk), second
    # the names are real paths to the package's files, kept under the cache directory
    assert all(name.startswith(f"{cache}/packages/") and Path(name).is_file() for name in cdk), cdk[:5]
    # and nothing is cached under a name that changes every run: the cache does not grow
    assert sorted(p.name for p in cache.glob("v*/*")) == entries


def test_cdk_still_folds_its_own_frames_in_the_assemblys_stack_traces(assembly_dir: Path):
    # CDK names a frame's library by the first node_modules/<name> in its path: modules
    # compiled under another name would put every aws-cdk-lib frame, with its path, in here
    metadata = "".join(p.read_text() for p in assembly_dir.glob("assembly-*/*.metadata.json"))
    assert "...aws-cdk-lib" in metadata
    assert "package-cache" not in metadata and "node_modules/.cache" not in metadata


def test_jsiis_runtime_is_written_once_to_a_folder_that_stays_or_left_to_jsii(tmp_path: Path, monkeypatch):
    from tooling import assembly

    monkeypatch.setattr(assembly, "JSII_RUNTIMES", tmp_path / "jsii-runtime")
    launcher = assembly._jsii_runtime()
    assert launcher.is_file() and (launcher.parent.parent / "lib" / "program.js").is_file()
    assert assembly._jsii_runtime() == launcher
    assert [p.name for p in (tmp_path / "jsii-runtime").iterdir()] == [launcher.parent.parent.name]  # no staging left

    monkeypatch.setattr(assembly, "JSII_RUNTIMES", Path("/proc/no-such-folder/jsii-runtime"))  # cannot be made
    assert assembly._jsii_runtime() is None
