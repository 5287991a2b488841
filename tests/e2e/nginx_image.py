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
import shutil
import time

from plumbum import local

from .base_image import KEYRING, _umount_below, apt_mirror
from .cache import CACHE_DIR, file_lock
from .debian import ensure_packages
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


def _build_rootfs_tar(tar_path) -> None:
    ensure_packages("debootstrap")
    root = DIR / "rootfs.tmp"
    if root.exists():
        _umount_below(root)
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    args = ["--variant=minbase", "--include=nginx"]
    if KEYRING.exists():
        args.append(f"--keyring={KEYRING}")
    started = time.monotonic()
    rc, out, err = local["debootstrap"].run(
        [*args, SUITE, str(root), apt_mirror(), DEBOOTSTRAP_SCRIPT], retcode=None, timeout=1500
    )
    _umount_below(root)
    if rc != 0:
        raise RuntimeError(f"debootstrap of nginx failed (rc={rc}):\n{out[-2000:]}\n{err[-2000:]}")
    timings["debootstrap"] = time.monotonic() - started
    (root / "etc/nginx/sites-enabled/default").unlink(missing_ok=True)
    for log, stream in (("access.log", "/dev/stdout"), ("error.log", "/dev/stderr")):
        path = root / "var/log/nginx" / log
        path.unlink(missing_ok=True)
        path.symlink_to(stream)
    for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (root / folder).glob("*"):
            if path.is_file():
                path.unlink()
    tmp_tar = tar_path.with_suffix(".tmp")
    local["tar"].run(["--numeric-owner", "-C", str(root), "-cf", str(tmp_tar), "."], timeout=600)
    tmp_tar.rename(tar_path)
    shutil.rmtree(root)


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
                _build_rootfs_tar(tar_path)
            changes = ["--change", 'CMD ["nginx", "-g", "daemon off;"]', "--change", f"LABEL {RECIPE_LABEL}={recipe}"]
            engine.docker.run(["import", *changes, str(tar_path), NGINX_IMAGE], timeout=900)
    return NGINX_IMAGE
