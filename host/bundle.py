"""The service bundle: ``game_service/`` minus what the service does not run. The web page
is published to the static bucket by its own deployment, docs stay in the repo, caches and
local state never leave the machine; so a CSS change or a README edit does not replace
hosts. The CDK asset (patterns/game_service_host.py) and the local topology's zip use the
same list."""

from __future__ import annotations

import fnmatch
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE_DIR = ROOT / "game_service"
BOOTSTRAP_SCRIPT = ROOT / "host" / "bootstrap.sh"
# glob patterns, matched against every part of a path below game_service/ (as CDK's asset
# `exclude` does)
BUNDLE_EXCLUDES = [
    "static", "*.md", "__pycache__", "*.pyc", "var", ".pytest_cache", "*.egg-info", "*.db", "*.sqlite", "*.sqlite3",
]


def bundle_files() -> list[Path]:
    """The files of the bundle, sorted, relative to ``game_service/``."""
    return [
        path.relative_to(SERVICE_DIR)
        for path in sorted(SERVICE_DIR.rglob("*"))
        if path.is_file()
        and not any(fnmatch.fnmatch(part, pattern) for part in path.relative_to(SERVICE_DIR).parts
                    for pattern in BUNDLE_EXCLUDES)
    ]


def write_zip(target: Path) -> Path:
    """The bundle as a zip at ``target`` (what a local host fetches)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in bundle_files():
            archive.write(SERVICE_DIR / relative, str(relative))
    return target
