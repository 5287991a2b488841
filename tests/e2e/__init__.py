"""End-to-end test infrastructure: real dockerd, registry, nginx, TLS certs for rendered deployments."""

import os

from plumbum import local

# The system tools the setup runs live in sbin (debootstrap and the chroot it calls, dockerd and
# the iptables it calls), which a PATH like Debian's for a non-root user or PATH=/usr/bin:/bin
# lacks: added, so every process started from here finds them.
_path = os.environ.get("PATH", "").split(os.pathsep)
os.environ["PATH"] = os.pathsep.join(
    [*_path, *(sbin for sbin in ("/usr/local/sbin", "/usr/sbin", "/sbin") if sbin not in _path)]
)
local.env["PATH"] = os.environ["PATH"]  # plumbum copied the environment when it was imported
