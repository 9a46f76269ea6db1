"""Bounded mutation testing of the game service's rules and repository (not part of `make test`).

Uses mutmut's (pinned in requirements-dev.txt) mutation engine, one mutant at a time, in a
scratch copy of the tracked files (the work tree is never touched), where the chosen tests
must first pass unmutated (else every mutant would look killed): for each mutant of the chosen
files (optionally only inside the named functions), run the chosen tests with ``-x``; a
failing run kills the mutant, a passing one lets it survive. The run is bounded by a wall
clock budget and an optional sample size (a seeded shuffle spreads the sample over the
files); the report says how many mutants were tried, and prints every survivor as
``file:line  original  ->  mutated``.

  .venv/bin/python -m checks.mutation --budget 1800 --jobs 2 \\
      game_service/rules.py game_service/repository/writes.py game_service/repository/economy.py \\
      game_service/repository/social.py:_claim,_claim_statement,claim_gift

Env TEST_DATABASE_URL as for the tests (PostgreSQL must run).
"""

from __future__ import annotations

import argparse
import ast
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mutmut import ALL, Context, list_mutations, mutate

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TESTS = [
    "tests/game_service/test_rules.py",
    "tests/game_service/test_writes.py",
    "tests/game_service/test_game_api.py",
    "tests/game_service/test_social.py",
    "tests/game_service/test_sqlite_local.py",
]


def function_lines(source: str, names: set[str]) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def mutants_of(spec: str, root: Path) -> list[tuple[str, object]]:
    path, _, funcs = spec.partition(":")
    source = (root / path).read_text()
    found = list_mutations(Context(source=source, filename=path))
    if funcs:
        keep = function_lines(source, set(funcs.split(",")))
        found = [m for m in found if m.line_number + 1 in keep]
    return [(path, m) for m in found]


def run_one(workdir: Path, path: str, mid, tests: list[str], timeout: int) -> tuple[str, str]:
    target = workdir / path
    original = target.read_text()
    mutated, n = mutate(Context(source=original, filename=path, mutation_id=mid))
    if n == 0:
        return "skipped", ""
    target.write_text(mutated)
    try:
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests],
            cwd=workdir, capture_output=True, timeout=timeout,
        )
        verdict = "survived" if r.returncode == 0 else "killed"
    except subprocess.TimeoutExpired:
        verdict = "timeout"
    finally:
        target.write_text(original)
    new_line = mutated.splitlines()[mid.line_number] if mid.line_number < len(mutated.splitlines()) else ""
    return verdict, f"{path}:{mid.line_number + 1}  {mid.line.strip()}  ->  {new_line.strip()}"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="path[:function,function] relative to the repository")
    ap.add_argument("--tests", nargs="*", default=DEFAULT_TESTS)
    ap.add_argument("--budget", type=int, default=1800, help="wall-clock seconds (default 1800)")
    ap.add_argument("--sample", type=int, default=0, help="try at most this many mutants (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=300, help="seconds per mutant run")
    ap.add_argument("--root", default=str(REPO), help="the tree to mutate (default: this repository)")
    args = ap.parse_args(argv)

    root = Path(args.root).resolve()
    todo = [m for spec in args.files for m in mutants_of(spec, root)]
    total = len(todo)
    random.Random(args.seed).shuffle(todo)
    if args.sample:
        todo = todo[: args.sample]
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
    files = [f for f in tracked.stdout.split("\0") if f and (root / f).is_file()]
    workdirs = []
    for i in range(args.jobs):  # a scratch copy of every tracked file: the tests import what they import
        w = Path(tempfile.mkdtemp(prefix=f"mutation-{i}-"))
        for name in files:
            (w / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, w / name)
        for setup in ("node_modules", "build"):  # what `make setup` installed: the pinned Node, the wheelhouses
            if (root / setup).is_dir():
                (w / setup).symlink_to(root / setup)
        workdirs.append(w)
    tests = [t for t in args.tests if (root / t).exists()]
    print(f"mutation: {total} mutants in {', '.join(args.files)}; trying {len(todo)} (seed {args.seed}) "
          f"within {args.budget} s, {args.jobs} job(s); tests: {' '.join(tests)}", flush=True)

    # the tests must pass on the unmutated copy, or every mutant would look killed
    baseline = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                               *tests], cwd=workdirs[0], capture_output=True, text=True, timeout=args.timeout)
    if baseline.returncode != 0:
        print(f"mutation: the tests fail without any mutant:\n{baseline.stdout[-3000:]}{baseline.stderr[-2000:]}",
              file=sys.stderr)
        for w in workdirs:
            shutil.rmtree(w, ignore_errors=True)
        return 1

    deadline = time.monotonic() + args.budget
    results: list[tuple[str, str]] = []
    queue = list(todo)

    def worker(w: Path) -> None:
        while queue and time.monotonic() < deadline:
            path, mid = queue.pop(0)
            verdict, where = run_one(w, path, mid, tests, args.timeout)
            results.append((verdict, where))
            if verdict == "survived":
                print(f"  survived  {where}", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(worker, workdirs))
    for w in workdirs:
        shutil.rmtree(w, ignore_errors=True)

    counts = {v: sum(1 for r, _ in results if r == v) for v in ("killed", "timeout", "survived", "skipped")}
    tried = counts["killed"] + counts["timeout"] + counts["survived"]
    score = (counts["killed"] + counts["timeout"]) / tried if tried else 0.0
    print(f"mutation: tried {tried} of {total} mutants: {counts['killed']} killed, {counts['timeout']} timed out, "
          f"{counts['survived']} survived; score {score:.0%}; {len(queue)} left untried (budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
