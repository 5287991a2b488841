"""Run a rendered project's mcp_serve.py on this machine, as the container would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from e2e.ports import free_port


class ServedUrl(str):
    """The served base URL, with the server's process (to signal it)."""

    process: subprocess.Popen


@contextmanager
def serving(project: Path, python: Path | str = sys.executable, **env: str):
    """Start `python mcp_serve.py` in the project; yield its base URL once /healthz answers.

    Without a credential check unless env sets MCP_AUTH, as DEPLOYMENT.md's "Develop locally" runs it;
    one worker process unless env sets MCP_SERVE_WORKERS (tests/test_workers.py runs several, the
    end-to-end deployments the default, one per CPU).
    """
    port = int(env.get("MCP_SERVE_PORT") or free_port())
    environment = {
        **os.environ,
        "MCP_AUTH": "none",
        "MCP_SERVE_HOST": "127.0.0.1",
        "MCP_SERVE_PORT": str(port),
        "MCP_SERVE_WORKERS": "1",
        **env,
    }
    log = project / "serve.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [str(python), "mcp_serve.py"],
            cwd=project,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mcp_serve.py exited {process.returncode}:\n{log.read_text()}")
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mcp_serve.py did not answer:\n{log.read_text()}") from None
                time.sleep(0.1)
        served = ServedUrl(base)
        served.process = process
        yield served
    finally:
        process.terminate()
        process.wait(timeout=10)


def children(pid: int) -> list[int]:
    """The processes whose parent is pid, such as mcp_serve.py's workers (from /proc: no procps needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def documented_commands(project: Path) -> str:
    """The sh block of DEPLOYMENT.md's "Clients and tokens" section."""
    section = (project / "DEPLOYMENT.md").read_text().split("## Clients and tokens", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def add_client(project: Path, name: str) -> str:
    """Run DEPLOYMENT.md's commands as printed, for a client of this name; return the token it printed."""
    commands = documented_commands(project).replace("claude-code", name)
    done = subprocess.run(["sh", "-eu"], input=commands, cwd=project, capture_output=True, text=True, check=True)
    token = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", token), done.stdout
    return token
