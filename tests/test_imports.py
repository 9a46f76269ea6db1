"""The house rules of imports: no cycle, nothing imports upward, the game service stands alone.

Read statically from the source (every import, also the ones inside functions, so a lazy
import that closes a cycle counts). The layers, top to bottom; a package may import its own
modules and any package of a lower layer, never one of its own layer or above:

    tests, bench                the checks of everything
    checks, local_topology      review and CI tools; a stage's shape on one machine
    app, topology_report        the CDK entry point; the report (reads templates only)
    stacks, node_runtime        one stack per concern; the Node that runs the CDK
    patterns                    reusable L3 constructs
    host                        what a host runs: bootstrap, bundle, wheelhouse
    game_service                the game: outside tests and benchmarks only its contract is imported
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    {"tests", "bench"},
    {"checks", "local_topology"},
    {"app", "topology_report"},
    {"stacks", "node_runtime"},
    {"patterns"},
    {"host"},
    {"game_service"},
]
LAYER = {name: depth for depth, names in enumerate(LAYERS) for name in names}
CONTRACT = "game_service.contract"


def _modules() -> dict[str, Path]:
    found = {}
    for top in LAYER:
        paths = [ROOT / f"{top}.py"] if (ROOT / f"{top}.py").is_file() else sorted((ROOT / top).rglob("*.py"))
        for path in paths:
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports (the longest known prefix of each import)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            wanted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            wanted = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in wanted:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
    return targets


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(GRAPH[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_the_rules_see_the_whole_project():
    assert {"app", "node_runtime", "stacks.app_stack", "game_service.main", "checks.assembly", "host.bundle"} <= set(GRAPH)
    assert "stacks.config" in GRAPH["app"] and "checks.assembly" not in GRAPH["app"]


def test_no_module_takes_part_in_an_import_cycle():
    assert _cycles() == []


def test_nothing_imports_upward_or_sideways():
    wrong = defaultdict(list)
    for module, targets in GRAPH.items():
        mine = module.split(".")[0]
        for target in targets:
            theirs = target.split(".")[0]
            if theirs != mine and LAYER[theirs] <= LAYER[mine]:
                wrong[module].append(target)
    assert dict(wrong) == {}


def test_outside_its_tests_and_benchmarks_the_game_service_is_known_by_its_contract_only():
    wrong = {
        module: sorted(t for t in targets if t.startswith("game_service") and t != CONTRACT)
        for module, targets in GRAPH.items()
        if module.split(".")[0] not in ("game_service", "tests", "bench")
    }
    assert {m: t for m, t in wrong.items() if t} == {}


def test_the_game_service_imports_no_cdk():
    cdk = defaultdict(list)
    for name, path in MODULES.items():
        if name.startswith("game_service"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    cdk[name] += [n for n in names if n.split(".")[0] in ("aws_cdk", "constructs", "cdk_nag", "jsii")]
    assert {m: n for m, n in cdk.items() if n} == {}
