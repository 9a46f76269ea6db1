"""The hosts' dependencies: a hash-locked lock file and a wheelhouse per platform."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from host.wheelhouse import LOCK, ROOT, WheelhouseError, check, locked_packages, wheelhouse_key, wheelhouse_zip


def test_the_lock_pins_every_direct_requirement_at_its_version():
    locked = locked_packages()
    for line in (ROOT / "game_service" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert locked.get(canonicalize_name(requirement.name)) == spec.version, (
            f"{requirement.name}: requirements.txt says {spec.version}, the lock {locked.get(requirement.name)}; run `make lock`"
        )
    assert "greenlet" in locked, "async SQLAlchemy needs greenlet on the hosts (the asyncio extra)"


def test_every_locked_package_carries_hashes():
    blocks = re.split(r"\n(?=[a-z0-9])", LOCK.read_text())
    pins = [b for b in blocks if "==" in b.split("\n")[0]]
    assert len(pins) == len(locked_packages()) > 30
    for block in pins:
        assert "--hash=sha256:" in block, block.split("\n")[0]


def test_a_wheel_for_another_platform_or_a_missing_package_is_a_clear_error(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("psycopg-binary==3.3.9 \\\n    --hash=sha256:00\nsix==1.17.0 \\\n    --hash=sha256:11\n")
    x86 = "psycopg_binary-3.3.9-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    with pytest.raises(WheelhouseError, match=r"psycopg_binary-3\.3\.9-.*x86_64\.whl does not install on CPython 3\.11 aarch64"):
        check([x86, "six-1.17.0-py2.py3-none-any.whl"], "aarch64", lock)
    with pytest.raises(WheelhouseError, match=r"no wheel of six==1\.17\.0 for CPython 3\.11 on aarch64"):
        check(["psycopg_binary-3.3.9-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"], "aarch64", lock)
    check(["psycopg_binary-3.3.9-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
           "six-1.17.0-py2.py3-none-any.whl"], "aarch64", lock)


@pytest.mark.parametrize("platform", ["aarch64", "x86_64"])
def test_the_built_wheelhouse_installs_every_locked_package_on_its_platform(platform):
    with zipfile.ZipFile(wheelhouse_zip(platform)) as archive:
        names = archive.namelist()
    check(names, platform)
    assert len(names) == len(locked_packages())


def test_the_wheelhouse_asset_is_keyed_by_the_lock_not_fingerprinted(assembly_dir):
    """Synth does not hash 40 MB of wheels: the asset's hash is the lock's key, so an
    unchanged lock is an unchanged asset (no upload, no instance replacement)."""
    manifests = list(assembly_dir.glob("assembly-*/*App*.assets.json"))
    assert manifests
    for manifest in manifests:
        files = json.loads(manifest.read_text())["files"]
        # CDK stores a custom asset hash hashed once more
        expected = hashlib.sha256(wheelhouse_key("aarch64").encode()).hexdigest()
        assert expected in files, "the wheelhouse asset's hash comes from the lock's key"
