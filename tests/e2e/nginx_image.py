"""A local stand-in for the ``nginx:1.30`` image a Swarm stack runs, because no registry can be pulled from.

TEST-ONLY. The rendered docker-stack.yaml keeps ``image: nginx:1.30`` for users; the tests import
a Debian root filesystem holding nginx 1.30 under exactly that name, so the stack runs unmodified
(Swarm uses the local image when the registry cannot be reached). Debian forky carries nginx
1.30 (trixie has 1.26), the release line of the official image.

It mimics the official image where the stack depends on it: ``/etc/nginx/conf.d/*.conf`` is
included in the http context (the stack mounts its configuration as conf.d/default.conf), there
is no other server (Debian's sites-enabled/default is removed), logs go to the container's
stdout and stderr, and nginx runs in the foreground as the image's command.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .base_image import apt_mirror, debootstrap_tar
from .cache import CACHE_DIR, file_lock
from .docker_engine import DockerEngine

NGINX_IMAGE = "nginx:1.30"  # as docker-stack.yaml names it
SUITE = "forky"
RECIPE_LABEL = "org.mcp-template-test.nginx-recipe"
DIR = CACHE_DIR / "nginx-image"
# forky is newer than this machine's debootstrap: its script is unstable's, as for any testing suite.
DEBOOTSTRAP_SCRIPT = "/usr/share/debootstrap/scripts/sid"

timings: dict[str, float] = {}


def recipe_hash() -> str:
    return hashlib.sha256(f"{SUITE}\0{apt_mirror()}\0nginx\0v1".encode()).hexdigest()[:16]


def _customize_rootfs(root: Path) -> None:
    (root / "etc/nginx/sites-enabled/default").unlink(missing_ok=True)
    for log, stream in (("access.log", "/dev/stdout"), ("error.log", "/dev/stderr")):
        path = root / "var/log/nginx" / log
        path.unlink(missing_ok=True)
        path.symlink_to(stream)


def ensure_nginx_image(engine: DockerEngine) -> str:
    """Make sure ``nginx:1.30`` exists in the engine (built once per machine); return its name."""
    recipe = recipe_hash()
    with file_lock("nginx-image"):
        _, label, _ = engine.docker.run(
            ["image", "inspect", "--format", f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', NGINX_IMAGE],
            retcode=None,
        )
        if label.strip() != recipe:
            DIR.mkdir(parents=True, exist_ok=True)
            tar_path = DIR / f"rootfs-{SUITE}-{recipe}.tar"
            if not tar_path.exists():
                for old in DIR.glob("rootfs-*.tar"):
                    old.unlink()
                seconds = debootstrap_tar(tar_path, SUITE, ("nginx",), _customize_rootfs, DEBOOTSTRAP_SCRIPT)
                timings["debootstrap"] = seconds
            changes = ["--change", 'CMD ["nginx", "-g", "daemon off;"]', "--change", f"LABEL {RECIPE_LABEL}={recipe}"]
            engine.docker.run(["import", *changes, str(tar_path), NGINX_IMAGE], timeout=900)
    return NGINX_IMAGE
