"""A real, private image registry (Debian ``docker-registry``, distribution 2.8) on loopback.

Lets e2e tests push images the way a release workflow would and check what landed via the
registry API (``GET /v2/<repo>/tags/list``). Plain HTTP on 127.0.0.1: Docker treats
127.0.0.0/8 (so ``localhost:PORT`` too) as an insecure registry by default, so no TLS or daemon
configuration is needed to push.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .debian import ensure_packages
from .ports import LOOPBACK, free_port

REGISTRY_BIN = "/usr/bin/docker-registry"


class RegistryError(RuntimeError):
    """The registry failed to start or answered unexpectedly."""


class Registry:
    """One registry process with its own config, storage dir and log under ``workdir``."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.storage = self.workdir / "storage"
        self.config_path = self.workdir / "config.yml"
        self.log_path = self.workdir / "registry.log"
        self._proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """``localhost:PORT``: the image-name prefix to push to (``{address}/repo:tag``)."""
        return f"localhost:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def write_config(self) -> None:
        config = {  # JSON is valid YAML
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"{LOOPBACK}:{self.port}", "secret": secrets.token_hex(16)},
        }
        self.config_path.write_text(json.dumps(config, indent=2))

    def start(self, timeout: float = 30.0) -> Registry:
        ensure_packages("docker-registry")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(exist_ok=True)
        self.write_config()
        log = open(self.log_path, "ab")
        self._proc = subprocess.Popen(
            [REGISTRY_BIN, "serve", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RegistryError(f"registry did not come up on {self.url}:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _get_json(self, path: str):
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as r:
            return json.load(r)

    def tags(self, repo: str) -> list[str]:
        """Tags of ``repo`` (``[]`` if the repo doesn't exist), via GET /v2/<repo>/tags/list."""
        try:
            data = self._get_json(f"/v2/{repo}/tags/list")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return []
            raise
        return sorted(data.get("tags") or [])

    def digest(self, repo: str, tag: str) -> str:
        """The manifest digest ``repo:tag`` points at (HEAD /v2/<repo>/manifests/<tag>)."""
        accept = ", ".join(
            (
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
        )
        request = urllib.request.Request(
            f"{self.url}/v2/{repo}/manifests/{tag}", method="HEAD", headers={"Accept": accept}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.headers["Docker-Content-Digest"]

    def catalog(self) -> list[str]:
        """All repositories in the registry (GET /v2/_catalog)."""
        return sorted(self._get_json("/v2/_catalog").get("repositories") or [])

    def __enter__(self) -> Registry:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
