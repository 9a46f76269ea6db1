"""Synth benchmark (not a test): wall time of synthesizing every stage next to an
empty CDK app's synth, measured in the same run, as a ratio.

Each measurement is a fresh Python process (as `cdk synth` runs the app), with the
same context the CLI passes (cdk.json + CLI defaults), into a throw-away folder.
Usage: python bench/synth_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tooling.assembly import NODE_BIN, cdk_json_context  # noqa: E402

EMPTY_APP = "import aws_cdk as cdk; cdk.App().synth()"


def _time(command: list[str], context: dict) -> float:
    with tempfile.TemporaryDirectory() as outdir:
        env = {
            **os.environ,
            "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}",
            "CDK_OUTDIR": outdir,
            "CDK_CONTEXT_JSON": json.dumps(context),
        }
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    context = cdk_json_context()
    empty, full = [], []
    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        empty.append(_time([sys.executable, "-c", EMPTY_APP], context))
        full.append(_time([sys.executable, "app.py"], context))
    e, f = statistics.median(empty), statistics.median(full)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"runs: {args.runs} each, interleaved; median wall time")
    print(f"empty CDK app synth:      {e:6.2f} s   (all: {', '.join(f'{x:.2f}' for x in empty)})")
    print(f"all stages synth (app.py): {f:6.2f} s   (all: {', '.join(f'{x:.2f}' for x in full)})")
    print(f"ratio all stages / empty: {f / e:6.2f}x")


if __name__ == "__main__":
    main()
