"""A virtual environment per SDK version, for running rendered projects outside Docker.

Each generation runs with the lowest version it supports and the newest published one, in an
environment of its own (the tests' own environment has the mcp 1.x client). Environments are
made with uv and kept under the e2e cache folder, keyed by what they hold.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from e2e.cache import CACHE_DIR, file_lock

from extensions.generations import GENERATIONS

VENVS = CACHE_DIR / "venvs"
# What the servers in tests/fixtures import besides their SDK.
EXTRAS = ("click==8.5.1", "typer==0.29.2")
# The newest release of each package line when these tests were written; the lowest comes from
# extensions/generations.py. fastmcp is tried on the newest and lowest of each major it supports.
NEWEST = {"mcp1": "mcp==1.30.0", "mcp2": "mcp==2.3.0"}
FASTMCP_VERSIONS = (
    "fastmcp==2.12.0",
    "fastmcp==2.14.7",
    "fastmcp==3.0.0",
    "fastmcp==3.4.11",
    "fastmcp==4.0.0",
    "fastmcp==4.2.3",
)
# The client of the other major: the mcp 2.x SDK's own client, run by tests/mcp2_probe.py.
MCP2_CLIENT = "mcp==2.3.0"


@dataclass(frozen=True)
class SdkVersion:
    sdk: str  # the generation's answer
    requirement: str  # what the environment installs

    @property
    def id(self) -> str:
        return f"{self.sdk}[{self.requirement.split('==')[1]}]"


def sdk_versions() -> list[SdkVersion]:
    """Every generation with its lowest and newest supported version."""
    versions = []
    for answer, generation in GENERATIONS.items():
        if generation.package == "fastmcp":
            versions += [SdkVersion(answer, requirement) for requirement in FASTMCP_VERSIONS]
        else:
            lowest = f"{generation.package}=={generation.lowest}"
            versions += [SdkVersion(answer, lowest), SdkVersion(answer, NEWEST[generation.major])]
    return versions


def environment(*requirements: str) -> Path:
    """The python of a virtual environment holding these requirements (made once, then reused)."""
    key = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:12]
    folder = VENVS / f"{requirements[0].replace('==', '-')}-{key}"
    python = folder / "bin" / "python"
    with file_lock(f"venv-{key}"):
        if not (folder / ".complete").exists():
            uv = [sys.executable, "-m", "uv"]
            subprocess.run([*uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(folder)], check=True)
            subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(python), *requirements], check=True)
            (folder / ".complete").touch()
    return python


def observability_packages() -> Path:
    """The packages the image installs in /opt/observability (metrics and traces), in a folder of
    their own, for MCP_OBSERVABILITY_PACKAGES to point a served project at."""
    from extensions.deployment import OBSERVABILITY_PACKAGES

    key = hashlib.sha256("\n".join([sys.version, *OBSERVABILITY_PACKAGES]).encode()).hexdigest()[:12]
    folder = VENVS / f"observability-{key}"
    with file_lock(f"observability-{key}"):
        if not (folder / ".complete").exists():
            uv = [sys.executable, "-m", "uv"]
            target = ["--target", str(folder), "--python", sys.executable]
            subprocess.run([*uv, "pip", "install", "--quiet", *target, *OBSERVABILITY_PACKAGES], check=True)
            (folder / ".complete").touch()
    return folder


def sdk_python(version: SdkVersion) -> Path:
    return environment(version.requirement, *EXTRAS)


def mcp2_client_python() -> Path:
    return environment(MCP2_CLIENT)
