"""Make the end-to-end tests' machine-wide parts ready ahead of them, while the fast tests run.

The Debian packages they install, the Docker engine, the stand-in base image, the Swarm stack's
nginx image and the authorization server's npm packages: on a fresh machine minutes of downloads
and unpacking, mostly waiting on the network, which the CPU-bound fast tests leave room for.
`nox` starts this in the background at the start of its `tests` session when `e2e` is to run after
it. Each part is made under the same file lock the e2e fixtures take (tests/e2e/cache.py), so they
wait for a part in the making rather than make it twice, and find the finished ones ready; a part
that fails here is made (and reported) by the fixture that needs it.

usage: python -m e2e.prepare      (from tests/, as root)
"""

from __future__ import annotations

import sys
import time
import traceback

from .authorization_server import install as install_authorization_server
from .base_image import ensure_base_image
from .debian import ensure_packages
from .docker_engine import DOCKER_PACKAGES, ensure_docker_engine
from .nginx_image import ensure_nginx_image

# The Debian packages the e2e modules ask for (each asks again, and finds them installed). Node.js
# and npm are not among them: the authorization server's step installs them only where no `node`
# is (a Node.js from elsewhere conflicts with Debian's npm).
PACKAGES = (*DOCKER_PACKAGES, "debootstrap", "nginx", "sudo", "openssl", "docker-registry")


def main() -> int:
    failed = 0
    steps = (
        ("Debian packages", lambda: ensure_packages(*PACKAGES)),
        ("the authorization server's npm packages", install_authorization_server),
        ("the Docker engine, the stand-in base image and the nginx image", prepare_images),
    )
    for name, step in steps:
        started = time.monotonic()
        try:
            step()
            print(f"prepare: {name} ready in {time.monotonic() - started:.0f} s", flush=True)
        except Exception:  # the fixture that needs it makes it again, and reports the failure
            failed += 1
            print(f"prepare: {name} failed:\n{traceback.format_exc()}", flush=True)
    return 1 if failed else 0


def prepare_images() -> None:
    engine = ensure_docker_engine()
    ensure_base_image(engine)
    ensure_nginx_image(engine)


if __name__ == "__main__":
    sys.exit(main())
