"""Where long-lived e2e state lives on this machine, and a lock to share it between processes.

The Docker engine's data root (images, build cache) and the base-image rootfs are kept under
``CACHE_DIR`` on purpose, so a second test session on the same machine reuses them instead of
rebuilding (debootstrap + import take about a minute). Runtime files (sockets, pid files, dockerd's
exec root) go under ``RUN_DIR`` in /run; it is not a tmpfs on these machines, so stale files from a
killed daemon are possible and docker_engine.py cleans them up before starting.
Override with ``MCP_TEMPLATE_E2E_CACHE`` / ``MCP_TEMPLATE_E2E_RUN``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

CACHE_DIR = Path(os.environ.get("MCP_TEMPLATE_E2E_CACHE", "/var/cache/mcp-docker-template"))
RUN_DIR = Path(os.environ.get("MCP_TEMPLATE_E2E_RUN", "/run/mcp-docker-template"))


@contextlib.contextmanager
def file_lock(name: str):
    """Exclusive inter-process lock (flock) so parallel sessions don't start two daemons/builds."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"{name}.lock"
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
