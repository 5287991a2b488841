"""A private git host for the tests: a bare repository served by real nginx over HTTPS, token required.

Git's "dumb" HTTP protocol needs only static files (after `git update-server-info`), so nginx alone
serves it; `auth_basic` makes the token (as the password) mandatory, as GitHub or GitLab would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fixture_repos import git

from .certs import TlsCerts
from .nginx import Nginx
from .ports import free_port

PACKAGE_FILES = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "private-helpers"\nversion = "0.1.0"\n'
    ),
    "private_helpers/__init__.py": 'GREETING = "hello from a private repository"\n',
}


@dataclass
class GitServer:
    nginx: Nginx
    port: int
    token: str

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    def requirement(self) -> str:
        return f"private-helpers @ git+https://{self.host}/acme/private-helpers.git"


def start_git_server(workdir: Path, tls: TlsCerts, token: str) -> GitServer:
    source = workdir / "src"
    for name, text in PACKAGE_FILES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    git(source.parent, "init", "-q", "-b", "main", str(source))
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "private package")
    bare = workdir / "www/acme/private-helpers.git"
    git(workdir, "clone", "-q", "--bare", str(source), str(bare))
    git(bare, "update-server-info")

    users = workdir / "users"
    users.write_text(f"x-access-token:{{PLAIN}}{token}\n")
    port = free_port()
    conf = workdir / "git-server.conf"
    conf.write_text(
        f"""server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {tls.cert_chain};
    ssl_certificate_key {tls.private_key};
    root {workdir / "www"};
    auth_basic "private git";
    auth_basic_user_file {users};
}}
"""
    )
    nginx = Nginx(workdir / "nginx", conf)
    nginx.start(wait_ports=(port,))
    return GitServer(nginx, port, token)
