"""A real Docker engine for the e2e tests, started once per machine and reused across sessions.

Why it looks like this (Debian 12 test machines, see shared notes):

* No engine runs by default. If one is reachable (``$DOCKER_HOST``, or /var/run/docker.sock
  answering) it is used as is. Otherwise Debian's ``docker.io`` (dockerd 20.10) is installed and
  started in the background with its data root under ``CACHE_DIR`` and its socket/pid/exec root
  under ``RUN_DIR``. It is deliberately **left running** when the session ends, and its data root
  is kept, so images (the debootstrapped base image, build cache) survive to the next session on
  this machine. A stale pid file or socket from a killed daemon is cleaned up before starting.
* The ``docker`` first on the default PATH (/usr/local/bin, 28.x) lacks the buildx plugin and
  silently falls back to the legacy builder, which has no ``RUN --mount=type=secret``. Debian's
  /usr/bin/docker (20.10) with ``DOCKER_BUILDKIT=1`` uses the daemon's built-in BuildKit. We do
  not put all of /usr/bin before /usr/local/bin (that would swap other tools too); instead
  ``env()`` prepends a private shim directory whose ``docker-compose`` is a link to Debian's and
  whose ``docker`` runs Debian's /usr/bin/docker, builds under a lock (see DOCKER_SHIM).
* ``docker-compose`` 1.29 (Debian package) runs compose files; with ``COMPOSE_DOCKER_CLI_BUILD=1``
  its builds go through the same BuildKit-capable CLI.
* dockerd gets ``--mtu`` equal to the host's default-route interface MTU when that is below 1500
  (1400 here), so TLS to the package index from bridge-networked builds doesn't stall on PMTU.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from plumbum import local
from plumbum.commands.base import BoundEnvCommand

from .cache import CACHE_DIR, RUN_DIR, file_lock
from .debian import ensure_packages

DOCKER_PACKAGES = ("docker.io", "docker-compose")
DEBIAN_DOCKER = Path("/usr/bin/docker")  # 20.10 client: talks to the daemon's BuildKit
DEBIAN_COMPOSE = Path("/usr/bin/docker-compose")  # compose v1 (1.29)
SYSTEM_SOCKET = Path("/var/run/docker.sock")

DATA_ROOT = CACHE_DIR / "docker"
SOCKET = RUN_DIR / "docker.sock"
PIDFILE = RUN_DIR / "dockerd.pid"
EXEC_ROOT = RUN_DIR / "exec"
CONTAINERD_DIR = EXEC_ROOT / "containerd"
SHIM_BIN = RUN_DIR / "bin"
LOG_FILE = CACHE_DIR / "dockerd.log"

START_TIMEOUT = 90.0
ADDRESS_POOL = "10.213.0.0/16"


class DockerEngineError(RuntimeError):
    """No usable Docker engine could be found or started."""


@dataclass
class DockerEngine:
    """A reachable Docker engine plus the client binaries and env to drive it."""

    docker_host: str  # e.g. unix:///run/mcp-docker-template/docker.sock
    started_here: bool  # True if this process launched dockerd (it stays running anyway)
    docker_path: Path = SHIM_BIN / "docker"  # Debian's client, builds locked (_make_shims)
    compose_path: Path = DEBIAN_COMPOSE
    shim_bin: Path = SHIM_BIN
    log_file: Path | None = None  # dockerd log when we manage the daemon
    start_seconds: float | None = None  # how long dockerd took to answer, if we started it
    _extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def is_the_suites_own(self) -> bool:
        """Whether this is the engine the suite manages (its own socket and data root)."""
        return self.docker_host == f"unix://{SOCKET}"

    def env(self) -> dict[str, str]:
        """Variables to add to a subprocess environment so docker/compose use this engine.

        DOCKER_HOST, DOCKER_BUILDKIT=1, COMPOSE_DOCKER_CLI_BUILD=1, BUILDKIT_PROGRESS=plain and a
        PATH whose first entry holds ``docker`` -> /usr/bin/docker (20.10, BuildKit) and
        ``docker-compose`` -> /usr/bin/docker-compose, ahead of /usr/local/bin/docker (28.x).
        """
        path = os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        return {
            "DOCKER_HOST": self.docker_host,
            "DOCKER_BUILDKIT": "1",
            "COMPOSE_DOCKER_CLI_BUILD": "1",
            "BUILDKIT_PROGRESS": "plain",
            "PATH": f"{self.shim_bin}{os.pathsep}{path}",
            **self._extra_env,
        }

    def full_env(self) -> dict[str, str]:
        """``os.environ`` merged with ``env()``, for ``subprocess.run(env=...)``."""
        return {**os.environ, **self.env()}

    @property
    def docker(self) -> BoundEnvCommand:
        """plumbum command for Debian's docker client, bound to this engine's env."""
        return local[str(self.docker_path)].with_env(**self.env())

    @property
    def compose(self) -> BoundEnvCommand:
        """plumbum command for docker-compose v1, bound to this engine's env."""
        return local[str(self.compose_path)].with_env(**self.env())

    def server_version(self) -> str:
        return self.docker("version", "--format", "{{.Server.Version}}").strip()

    def image_exists(self, ref: str) -> bool:
        rc, _, _ = self.docker.run(["image", "inspect", ref], retcode=None)
        return rc == 0


def _socket_path(docker_host: str) -> Path | None:
    return Path(docker_host[len("unix://") :]) if docker_host.startswith("unix://") else None


def _ping_unix(sock: Path, timeout: float = 3.0) -> bool:
    """GET /_ping over the unix socket: cheap liveness check without spawning a client."""
    if not sock.exists():
        return False

    class _Conn(http.client.HTTPConnection):
        def connect(self):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(str(sock))
            self.sock = s

    conn = _Conn("localhost", timeout=timeout)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def engine_answers(engine: DockerEngine) -> bool:
    """Whether the engine still answers (a ping, no client started)."""
    sock = _socket_path(engine.docker_host)
    return _ping_unix(sock) if sock is not None else _answers(engine.docker_host)


def _answers(docker_host: str) -> bool:
    """True when ``docker version`` (server part) succeeds against ``docker_host``."""
    sock = _socket_path(docker_host)
    if sock is not None and not _ping_unix(sock):
        return False
    rc, _, _ = (
        local[str(DEBIAN_DOCKER)]
        .with_env(DOCKER_HOST=docker_host)
        .run(["version", "--format", "{{.Server.Version}}"], retcode=None, timeout=30)
    )
    return rc == 0


BUILD_LOCK = RUN_DIR / "docker-build.lock"
# Debian's client behind one rule: builds take a lock first, shared by ordinary builds and held alone
# by a --no-cache build. dockerd 20.10's BuildKit panics ("failed to get edge", moby/buildkit#2303)
# when two solves share steps and only one of them bypasses the cache, and the engine then stops for
# every test still to run. Measured with 6 builds at a time of one two-stage Dockerfile: with every
# third --no-cache it panicked in round 12; so locked, 63 rounds in 5 minutes; with no --no-cache at
# all, 496 rounds without a panic (so ordinary builds keep going side by side). Every build the
# suite makes comes through here: its own `docker build`s, docker-compose's (COMPOSE_DOCKER_CLI_BUILD)
# and the rendered build-publish.sh's, by PATH.
DOCKER_SHIM = """#!/bin/sh
if [ "$1" = build ] || { [ "$1" = image ] && [ "$2" = build ]; }; then
    mode=--shared
    for argument in "$@"; do
        [ "$argument" = --no-cache ] && mode=--exclusive
    done
    exec flock "$mode" LOCK DOCKER "$@"
fi
exec DOCKER "$@"
"""


def _make_shims() -> None:
    SHIM_BIN.mkdir(parents=True, exist_ok=True)
    for name, target in (("docker", DEBIAN_DOCKER), ("docker-compose", DEBIAN_COMPOSE)):
        if name == "docker":
            _place(SHIM_BIN / name, DOCKER_SHIM.replace("LOCK", str(BUILD_LOCK)).replace("DOCKER", str(target)))
        else:
            _place(SHIM_BIN / name, target)


def _place(path: Path, content: str | Path) -> None:
    """A script (text) or a link (path) at ``path``, unless it is there already.

    Made aside and renamed into place: the xdist workers make the shims at the same moment on a
    fresh machine, and a rename replaces atomically where unlink-then-write races."""
    if isinstance(content, Path):
        if path.is_symlink() and os.readlink(path) == str(content):
            return
    elif not path.is_symlink() and path.exists() and path.read_text() == content:
        return
    made = path.with_name(f".{path.name}.{os.getpid()}")
    made.unlink(missing_ok=True)
    if isinstance(content, Path):
        made.symlink_to(content)
    else:
        made.write_text(content)
        made.chmod(0o755)
    made.replace(path)


def _pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (PID 1 here does not always reap) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _is_our_dockerd(pid: int) -> bool:
    cmd = _cmdline(pid)
    return bool(cmd) and cmd[0].endswith(b"dockerd") and str(SOCKET).encode() in b" ".join(cmd)


def _read_pid(path: Path = PIDFILE) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _wait_answering(timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ping_unix(SOCKET, timeout=2):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False


def _terminate(pid: int, timeout: float = 20.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.2)
    if _pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _clear_stale_state() -> None:
    """Remove a dead daemon's pid file and socket; stop a live one that no longer answers."""
    pid = _read_pid()
    if pid is not None and _pid_alive(pid) and _is_our_dockerd(pid):
        # Alive: maybe still starting (another session just launched it). Give it time.
        if _wait_answering(START_TIMEOUT):
            return
        _terminate(pid)
    PIDFILE.unlink(missing_ok=True)
    if SOCKET.exists() or SOCKET.is_symlink():
        SOCKET.unlink()
    # dockerd's managed containerd: with dockerd gone, an orphan would be "reused" by the next
    # dockerd even when it no longer answers, and a pid file naming a dead/zombie process makes
    # dockerd wait for a containerd that never comes ("containerd is still running").
    cpid_file = CONTAINERD_DIR / "containerd.pid"
    cpid = _read_pid(cpid_file)
    if cpid is not None and _pid_alive(cpid) and str(EXEC_ROOT).encode() in b" ".join(_cmdline(cpid)):
        _terminate(cpid)
    cpid_file.unlink(missing_ok=True)
    for stale in CONTAINERD_DIR.glob("containerd*.sock*"):
        stale.unlink(missing_ok=True)


def _host_mtu() -> int | None:
    """MTU of the default-route interface, if readable."""
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) > 2 and parts[1] == "00000000":
                return int(Path(f"/sys/class/net/{parts[0]}/mtu").read_text())
    except (OSError, ValueError):
        return None
    return None


def _dockerd_args() -> list[str]:
    args = [
        "--storage-driver=overlay2",
        f"--data-root={DATA_ROOT}",
        f"--host=unix://{SOCKET}",
        f"--pidfile={PIDFILE}",
        f"--exec-root={EXEC_ROOT}",
        # Room for many compose networks at once (the defaults give about 30): every deployment a
        # test session runs has one, and the battery keeps twenty running side by side.
        f"--default-address-pool=base={ADDRESS_POOL},size=24",
    ]
    mtu = _host_mtu()
    if mtu and mtu < 1500:
        args.append(f"--mtu={mtu}")
    return args


def _start_dockerd() -> float:
    """Launch dockerd detached (own session, survives pytest) and wait for it; returns seconds."""
    for d in (DATA_ROOT, RUN_DIR, EXEC_ROOT, LOG_FILE.parent):
        d.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
    }
    t0 = time.monotonic()
    with open(LOG_FILE, "ab") as log:
        log.write(f"\n==== dockerd start {time.ctime()} ====\n".encode())
        log.flush()
        proc = subprocess.Popen(
            ["/usr/sbin/dockerd", *_dockerd_args()],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # outlives a crashed test process; the fixture stops it
            close_fds=True,
        )
    if not _wait_answering(START_TIMEOUT, proc):
        tail = LOG_FILE.read_text(errors="replace")[-4000:]
        if proc.poll() is None:
            _terminate(proc.pid)
        raise DockerEngineError(f"dockerd did not answer on {SOCKET} (rc={proc.poll()}):\n{tail}")
    return time.monotonic() - t0


def ensure_docker_engine() -> DockerEngine:
    """Find or start a Docker engine and return how to reach it (see module docstring)."""
    ensure_packages(*DOCKER_PACKAGES)
    _make_shims()

    ours = f"unix://{SOCKET}"
    external = os.environ.get("DOCKER_HOST")
    if external and external != ours:  # DOCKER_HOST naming our own socket: (re)start it below
        if not _answers(external):
            raise DockerEngineError(f"DOCKER_HOST={external} is set but no engine answers there")
        return DockerEngine(docker_host=external, started_here=False)

    system_host = f"unix://{SYSTEM_SOCKET}"
    if external != ours and SYSTEM_SOCKET.exists() and _answers(system_host):
        return DockerEngine(docker_host=system_host, started_here=False)

    with file_lock("dockerd"):
        if _answers(ours):
            return DockerEngine(docker_host=ours, started_here=False, log_file=LOG_FILE)
        _clear_stale_state()
        if _answers(ours):  # a concurrent start finished while we waited
            return DockerEngine(docker_host=ours, started_here=False, log_file=LOG_FILE)
        seconds = _start_dockerd()
    if not _answers(ours):
        raise DockerEngineError(f"dockerd pings on {SOCKET} but `docker version` fails")
    return DockerEngine(docker_host=ours, started_here=True, log_file=LOG_FILE, start_seconds=seconds)


def stop_managed_dockerd() -> None:
    """Stop the machine-wide dockerd this module manages (the fixture does, when it started it).

    For a manual reset: ``python -c 'from tests.e2e.docker_engine import stop_managed_dockerd as s; s()'``.
    Images in DATA_ROOT are kept. dockerd leaves DATA_ROOT bind-mounted on itself (it makes the
    mount private); ``umount`` it before deleting the cache directory.
    """
    with file_lock("dockerd"):
        pid = _read_pid()
        if pid is not None and _is_our_dockerd(pid):
            _terminate(pid, timeout=60)
        PIDFILE.unlink(missing_ok=True)
        SOCKET.unlink(missing_ok=True)
