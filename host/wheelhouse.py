"""The service's wheelhouse: every wheel of ``game_service/requirements.lock`` for a host
platform, so hosts install the service with ``pip install --no-index --require-hashes``
and never need PyPI at boot (first deploy, self-healing, scale-out).

``python -m host.wheelhouse [--platform aarch64] [--platform x86_64]`` (``make wheelhouse``;
``scripts/setup.sh`` runs it) downloads with pip (the only step that uses the package
registry), checks that every locked package has exactly one wheel that CPython 3.11 on that
platform can install, and writes ``build/wheelhouse-<platform>.zip`` reproducibly (sorted
entries, fixed times). ``aarch64`` is the instances' platform (Amazon Linux 2023 on Graviton,
glibc 2.34); ``x86_64`` serves tests and local hosts on this kind of machine.

Synth never fingerprints the wheels: the asset hash is ``wheelhouse_key()``, derived from
the lock file and the platform tags, so an unchanged lock is an unchanged asset.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "game_service" / "requirements.lock"
BUILD = ROOT / "build"
PYTHON_VERSION = (3, 11)
# glibc of the host OS: Amazon Linux 2023 has 2.34; manylinux tags up to it install there.
PLATFORMS: dict[str, list[str]] = {
    arch: [f"manylinux_2_{minor}_{arch}" for minor in (34, 28, 17)] + [f"manylinux2014_{arch}"]
    for arch in ("aarch64", "x86_64")
}
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


class WheelhouseError(RuntimeError):
    """The wheelhouse is missing, stale or incomplete; the message says what to do."""


def locked_packages(lock: Path = LOCK) -> dict[str, str]:
    """{canonical name: version} of every pin in the lock file."""
    return {canonicalize_name(name): version for name, version in _PIN.findall(lock.read_text())}


def supported_tags(platform: str) -> set[Tag]:
    platforms = PLATFORMS[platform]
    return set(cpython_tags(PYTHON_VERSION, platforms=platforms)) | set(
        compatible_tags(PYTHON_VERSION, interpreter="cp311", platforms=platforms)
    )


def wheelhouse_key(platform: str, lock: Path = LOCK) -> str:
    """The wheelhouse's identity: the lock's content and the target platform's tags."""
    digest = hashlib.sha256()
    digest.update(lock.read_bytes())
    digest.update(" ".join([platform, *PLATFORMS[platform]]).encode())
    return digest.hexdigest()


def wheelhouse_zip(platform: str) -> Path:
    return BUILD / f"wheelhouse-{platform}.zip"


def _stamp(platform: str) -> Path:
    return BUILD / f"wheelhouse-{platform}.key"


def check(wheels: list[str], platform: str, lock: Path = LOCK) -> None:
    """Every locked package has one wheel, of its locked version, installable on ``platform``."""
    tags = supported_tags(platform)
    found: dict[str, str] = {}
    for filename in wheels:
        name, version, _build, wheel_tags = parse_wheel_filename(filename)
        if not wheel_tags & tags:
            raise WheelhouseError(f"wheelhouse ({platform}): {filename} does not install on CPython 3.11 {platform}")
        found[str(name)] = str(version)
    for name, version in locked_packages(lock).items():
        if name not in found:
            raise WheelhouseError(
                f"wheelhouse ({platform}): no wheel of {name}=={version} for CPython 3.11 on {platform}; "
                "pick a version that publishes one, then `make lock`"
            )
        if found[name] != version:
            raise WheelhouseError(f"wheelhouse ({platform}): {name} is {found[name]}, the lock says {version}")


def _download(platform: str, dest: Path, lock: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes", "--only-binary=:all:",
        "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--abi", "abi3", "--abi", "none",
        *[arg for tag in PLATFORMS[platform] for arg in ("--platform", tag)], "--platform", "any",
        "-r", str(lock), "-d", str(dest),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        missing = re.search(r"No matching distribution found for (\S+)", result.stderr)
        if missing:
            raise WheelhouseError(
                f"wheelhouse ({platform}): PyPI has no wheel of {missing.group(1)} for CPython 3.11 on {platform}; "
                "pick a version that publishes one, then `make lock`"
            )
        lines = [line for line in result.stderr.splitlines() if line.strip() and "is ignored" not in line]
        raise WheelhouseError(f"wheelhouse ({platform}): pip download failed: {' '.join(lines[-3:])}")


def _write_zip(source: Path, target: Path) -> None:
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(source.iterdir()):
            info = zipfile.ZipInfo(path.name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    partial.replace(target)


def build(platform: str, lock: Path = LOCK) -> Path:
    """Build (or keep, when the lock is unchanged) ``build/wheelhouse-<platform>.zip``."""
    target, stamp, key = wheelhouse_zip(platform), _stamp(platform), wheelhouse_key(platform, lock)
    if target.exists() and stamp.exists() and stamp.read_text().strip() == key:
        return target
    BUILD.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        _download(platform, Path(tmp), lock)
        check(sorted(p.name for p in Path(tmp).glob("*.whl")), platform, lock)
        _write_zip(Path(tmp), target)
    stamp.write_text(key + "\n")
    return target


def ready(platform: str) -> Path:
    """The wheelhouse zip for synth, or a clear error when it is missing or stale."""
    target, stamp = wheelhouse_zip(platform), _stamp(platform)
    if not target.exists() or not stamp.exists():
        raise WheelhouseError(
            f"{target.relative_to(ROOT)} is missing: run `make wheelhouse` (scripts/setup.sh builds it)"
        )
    if stamp.read_text().strip() != wheelhouse_key(platform):
        raise WheelhouseError(
            f"{target.relative_to(ROOT)} is older than game_service/requirements.lock: run `make wheelhouse`"
        )
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS))
    args = parser.parse_args(argv)
    for platform in args.platform or ["aarch64"]:
        try:
            path = build(platform)
        except WheelhouseError as error:
            print(error, file=sys.stderr)
            return 1
        with zipfile.ZipFile(path) as archive:
            count = len(archive.namelist())
        print(f"wheelhouse: {path.relative_to(ROOT)} ({count} wheels, {path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
