"""Install Debian packages the e2e tests need, from the machine's own apt mirror.

The e2e tests use real components (dockerd, docker-registry, nginx, debootstrap) and must
bring them onto a fresh CI machine themselves, so they install what is missing. This only
works as root on Debian; anywhere else we fail with a message saying so instead of a
confusing apt error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from pathlib import Path

from plumbum import local

from .cache import file_lock

_lock = threading.Lock()
_apt_updated = False
_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


class DebianPackagesError(RuntimeError):
    """The required Debian packages cannot be installed on this machine."""


def _require_root_debian() -> None:
    if not Path("/etc/debian_version").exists() or shutil.which("apt-get") is None:
        raise DebianPackagesError("e2e tests install Debian packages with apt-get; this is not a Debian machine")
    if os.geteuid() != 0:
        raise DebianPackagesError("e2e tests must run as root to install Debian packages")


def is_installed(name: str) -> bool:
    """True when dpkg reports the package as fully installed."""
    dpkg_query = local["dpkg-query"]
    rc, out, _ = dpkg_query.run(["-W", "-f=${db:Status-Status}", name], retcode=None)
    return rc == 0 and out.strip() == "installed"


def missing_packages(*names: str) -> list[str]:
    """The subset of ``names`` not installed yet."""
    return [n for n in names if not is_installed(n)]


def apt_update() -> None:
    """Run ``apt-get update`` once per process (package lists are needed before install)."""
    global _apt_updated
    with _lock:
        if _apt_updated:
            return
        _require_root_debian()
        local["apt-get"]["-q", "-o", "DPkg::Lock::Timeout=300", "update"].run(timeout=600)
        _apt_updated = True


@contextlib.contextmanager
def _services_not_started():
    """Keep maintainer scripts from starting system services (nginx on :80, a system dockerd).

    The tests start their own private instances; Debian's ``policy-rc.d`` convention (exit 101)
    tells invoke-rc.d not to start anything. An existing policy file is left untouched.
    """
    if _POLICY_RC_D.exists():
        yield
        return
    _POLICY_RC_D.write_text("#!/bin/sh\n# temporary, written by tests/e2e/debian.py\nexit 101\n")
    _POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        _POLICY_RC_D.unlink(missing_ok=True)


def ensure_packages(*names: str) -> None:
    """Install the Debian packages among ``names`` that are missing (no-op when all present)."""
    if not missing_packages(*names):
        return
    # One installer at a time: the xdist workers ask for the same packages at once on a fresh
    # machine, and the one that waited finds them installed.
    with file_lock("debian-packages"):
        _install_missing(names)


def _install_missing(names: tuple[str, ...]) -> None:
    missing = missing_packages(*names)
    if not missing:
        return
    _require_root_debian()
    apt_update()
    apt_get = local["apt-get"].with_env(DEBIAN_FRONTEND="noninteractive")
    with _services_not_started():
        rc, out, err = apt_get.run(
            ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends", *missing],
            retcode=None,
            timeout=1200,
        )
    if rc != 0:
        raise DebianPackagesError(
            f"apt-get install {' '.join(missing)} failed (rc={rc}):\n{out[-3000:]}\n{err[-3000:]}"
        )
    still = missing_packages(*missing)
    if still:
        raise DebianPackagesError(f"packages still missing after apt-get install: {still}")
