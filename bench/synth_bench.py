"""Synth benchmark (not a test): wall time of synthesizing every stage next to an
empty CDK app's synth, measured in the same run: the time above the empty app per
resource synthesized (target: at most 15 ms per resource through `cdk synth`), and the ratio.

Two measurements, a fresh process per run, interleaved with the empty app so that
machine noise hits both alike:

* `cdk synth`: the pinned CLI, as `make synth` runs it (cdk.json, the CLI's context,
  assets staged into a fresh output folder): what users pay. The empty app goes
  through the same CLI (`--app`), which then ends with "This app contains no stacks".
* the app process alone (`python app.py`, with cdk.json's context and the CLI's
  defaults in CDK_CONTEXT_JSON): the same work without the CLI's start-up on either side.

Besides wall time it prints CPU seconds (user + system of the whole process tree,
Node included), which a busy machine disturbs less.
Usage: python bench/synth_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.assembly import cdk_json_context  # noqa: E402
from node_runtime import NODE_BIN  # noqa: E402

EMPTY_APP = "import aws_cdk as cdk; cdk.App().synth()"
NO_STACKS = "This app contains no stacks"


def _env(**extra: str) -> dict[str, str]:
    """The same environment for both apps: the pinned Node first on PATH, and no JSII_NODE
    (the empty app is a plain CDK app; ours picks scripts/jsii-node itself, in app.py)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), str(NODE_BIN), os.environ["PATH"]])
    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    return {**env, "PATH": path, "CDK_DISABLE_VERSION_CHECK": "1", **extra}


def _cli(outdir: str, *, empty: bool) -> tuple[list[str], dict[str, str]]:
    command = [str(NODE_BIN / "cdk"), "synth", "--quiet", "--no-notices", "--output", outdir]
    if empty:
        command += ["--app", f"{shlex.quote(sys.executable)} -c {shlex.quote(EMPTY_APP)}"]
    return command, _env()


def _process(outdir: str, *, empty: bool) -> tuple[list[str], dict[str, str]]:
    command = [sys.executable, "-c", EMPTY_APP] if empty else [sys.executable, "app.py"]
    return command, _env(CDK_OUTDIR=outdir, CDK_CONTEXT_JSON=json.dumps(cdk_json_context()))


RESOURCES: set[int] = set()  # resources in every stage's templates, per synth of all stages


def _resources(outdir: Path) -> int:
    return sum(len(json.loads(t.read_text()).get("Resources", {})) for t in outdir.glob("assembly-*/*.template.json"))


def _time(how, *, empty: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and everything it waited for)."""
    with tempfile.TemporaryDirectory() as outdir:
        command, env = how(outdir, empty=empty)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if not empty and result.returncode == 0:
            RESOURCES.add(_resources(Path(outdir)))
    if result.returncode != 0 and not (empty and NO_STACKS in result.stdout + result.stderr):
        sys.exit(f"synth_bench: {shlex.join(command)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


def _line(label: str, values: list[tuple[float, float]]) -> tuple[float, float]:
    wall, cpu = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
    runs = ", ".join(f"{w:.2f}" for w, _ in values)
    print(f"  {label:<12} {wall:6.2f} s wall (runs: {runs})   {cpu:6.2f} s CPU")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ways = {"cdk synth (what `make synth` runs)": _cli, "app process alone (python app.py)": _process}
    results: dict[str, dict[str, list[tuple[float, float]]]] = {w: {"empty": [], "all": []} for w in ways}
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        for way, how in ways.items():
            results[way]["empty"].append(_time(how, empty=True))
            results[way]["all"].append(_time(how, empty=False))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"runs: {args.runs} each, interleaved; medians")
    for way, result in results.items():
        print(way)
        empty_wall, empty_cpu = _line("empty app", result["empty"])
        all_wall, all_cpu = _line("all stages", result["all"])
        print(f"  ratio all stages / empty: {all_wall / empty_wall:.2f}x wall, {all_cpu / empty_cpu:.2f}x CPU")
        (resources,) = RESOURCES
        print(f"  above the empty app: {1000 * (all_wall - empty_wall) / resources:.1f} ms per resource wall, "
              f"{1000 * (all_cpu - empty_cpu) / resources:.1f} ms CPU ({resources} resources; target <= 15 ms "
              "wall through `cdk synth`)")


if __name__ == "__main__":
    main()
