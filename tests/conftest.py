"""Shared fixtures. Synthesizing is slow (aws-cdk-lib loads through jsii), so the
cloud assembly of every stage is synthesized once per test session, lazily: test
folders that never ask for it (the game service's) never pay for it.

PostgreSQL: the service tests use the server at ``TEST_DATABASE_URL`` (default
127.0.0.1:5432, trust auth, database ``test``). When none answers there, the session starts
a throwaway cluster of its own (Debian's ``postgresql`` binaries, a free port, trust auth,
a ``test`` database), points ``TEST_DATABASE_URL`` and ``TEST_PG_SOCKET_DIR`` at it, says so
in one line, and deletes it at the end."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from checks.assembly import cdk_json_context, stage_templates, synth
from node_runtime import use_supported_node

# before any test module imports aws_cdk: jsii starts Node once per session, on the Node
# app.py would pick
use_supported_node()

DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
_throwaway_pg = None


def _postgres_answers(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.OperationalError:
        return False


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts its workers: they inherit the address
def pytest_sessionstart(session: pytest.Session) -> None:
    """No PostgreSQL at the configured address: start a throwaway cluster for this session
    (before collection, so modules that read ``TEST_DATABASE_URL`` at import see it)."""
    global _throwaway_pg
    config = session.config
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    if _postgres_answers(url):
        return
    from local_topology.postgres import PgCluster

    _throwaway_pg = PgCluster.create(auth="trust", max_connections=200)
    with _throwaway_pg.admin() as conn:
        conn.execute("CREATE DATABASE test")
    os.environ["TEST_DATABASE_URL"] = _throwaway_pg.url("test", password="")
    os.environ["TEST_PG_SOCKET_DIR"] = str(_throwaway_pg.root)
    config.get_terminal_writer().line(
        f"tests: no PostgreSQL answers at {url}; started a throwaway cluster at "
        f"127.0.0.1:{_throwaway_pg.port} in {_throwaway_pg.root} for this session (deleted at the end)"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    if _throwaway_pg is not None:
        _throwaway_pg.close()


# How long a file marked slow takes when it gives no figure (``pytest.mark.slow(seconds=N)``).
SLOW_FILE_SECONDS = 10


def _file_seconds(item: pytest.Item) -> float:
    mark = item.get_closest_marker("slow")
    return 0 if mark is None else mark.kwargs.get("seconds", SLOW_FILE_SECONDS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first (each file's tests keep their order): scripts/test.sh hands out
    whole files to its workers in this order, so the file that takes three minutes starts at
    the beginning instead of last, when the others have nothing left to run."""
    seconds: dict[str, float] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        path = item.nodeid.split("::", 1)[0]
        seconds[path] = max(seconds.get(path, 0), _file_seconds(item))
        first.setdefault(path, index)
    items.sort(key=lambda item: (-seconds[p := item.nodeid.split("::", 1)[0]], first[p]))


STACKS = ("foundation", "network", "data", "storage", "app", "observability")
STAGES = ("starter", "small", "scale-out")


def _load(outdir: Path) -> dict[str, dict[str, dict]]:
    loaded: dict[str, dict[str, dict]] = {}
    for stage, stacks in stage_templates(outdir).items():
        loaded[stage] = {name.removeprefix(f"{stage}-"): json.loads(path.read_text()) for name, path in stacks.items()}
    return loaded


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly of every stage on embedded defaults (no account, no network),
    synthesized once per test run: the first pytest-xdist worker to ask synthesizes it into
    the run's shared temporary folder while holding a lock, the others wait and read it (the
    pattern pytest-xdist documents for a session fixture that must run once). Tests only
    read it."""
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder: every worker's basetemp is in it
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        shared = tmp_path_factory.getbasetemp()
    outdir = shared / "synth" / "cdk.out"
    outdir.parent.mkdir(exist_ok=True)
    with open(shared / "synth.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (outdir / "manifest.json").is_file():
            synth(outdir)
    return outdir


@pytest.fixture(scope="session")
def templates(assembly_dir: Path) -> dict[str, dict[str, dict]]:
    """{stage: {"network"|"data"|"storage"|"app"|"observability": template}}."""
    return _load(assembly_dir)


@pytest.fixture(scope="session")
def synth_config(tmp_path_factory: pytest.TempPathFactory):
    """Synthesize one custom StageConfig (a variant of a shipped stage) and load it."""

    def _synth(base: str, **changes) -> dict[str, dict]:
        from app import build_app
        from stacks.config import STAGES as CONFIGS

        outdir = tmp_path_factory.mktemp("variant") / "cdk.out"
        app = build_app(cdk_json_context(), str(outdir), configs=[replace(CONFIGS[base], **changes)], checks=False)
        app.synth()  # templates only: no validation or cdk-nag (the shipped stages have them)
        return _load(outdir)[base]

    return _synth


@pytest.fixture(scope="session")
def template(templates):
    """template(stage, stack) -> aws_cdk.assertions.Template of a synthesized stack."""
    from aws_cdk.assertions import Template

    cache: dict[tuple[str, str], Template] = {}

    def _get(stage: str, stack: str) -> Template:
        if (stage, stack) not in cache:
            cache[(stage, stack)] = Template.from_json(templates[stage][stack])
        return cache[(stage, stack)]

    return _get
