"""A local stand-in for ``python:3.13-slim``, because no image registry can be pulled from here.

TEST-ONLY. The rendered Dockerfiles keep ``ARG PYTHON_IMAGE=python:3.13-slim`` / ``FROM
${PYTHON_IMAGE}`` for users; tests pass ``--build-arg PYTHON_IMAGE=<STANDIN_TAG>``, and the
stand-in is also tagged ``python:3.13-slim`` locally so an unmodified ``docker build`` works.
Its Python is Debian trixie's 3.13, the version of python:3.13-slim (bookworm's 3.11 would hide
servers that need 3.12 or newer); the layout mimics the official image where
cheap (``python``/``pip`` links in /usr/bin and /usr/local/bin, ``LANG=C.UTF-8``, ``CMD python3``).

How it is made: ``debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,
ca-certificates,passwd,git trixie`` from the machine's own apt mirror (read from
/etc/apt/sources.list{,.d/*}; nothing else is reachable), ``EXTERNALLY-MANAGED`` removed, then
``docker import``. The rootfs tarball is cached under ``CACHE_DIR`` and the image stays in the
long-lived engine, so this runs once per machine (a recipe hash label triggers a rebuild when the
recipe or the host's pip/CA setup changes).

How ``pip install`` inside ``docker build`` reaches PyPI: this machine has no proxy variables;
HTTPS to the index goes through a transparent TLS-intercepting proxy whose CA is only in the
host's bundle. So the host's /etc/ssl/certs/ca-certificates.crt is copied into the rootfs, the
CAs it has beyond Debian's stock ones are also put in /usr/local/share/ca-certificates (so an
``update-ca-certificates`` during a build keeps them), and an /etc/pip.conf is written from the
host's effective pip settings (config files + ``PIP_*`` env): ``cert`` pointing at the bundle,
timeouts, and any http(s) index URLs. Host-local sources (``find-links=/opt/wheels``,
``extra-index-url=file:///opt/pypi/simple``) are dropped: those paths don't exist in a build.
``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE`` are set as image ENV, as on the host, so
uv/httpx/requests in a build trust the proxy too. If the host ever uses proxy variables
(HTTP_PROXY, ...), ``proxy_build_args()`` forwards them as Docker's predefined proxy build args
(not persisted in image history).

Network: builds on the default bridge network reach the index (dockerd gets NAT via iptables and
an ``--mtu`` matching the host), so ``--network host`` is NOT needed here; ``build_network()``
probes the bridge once per process and returns ``"host"`` only if the bridge cannot reach it.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from plumbum import local

from .cache import CACHE_DIR, file_lock
from .debian import ensure_packages
from .docker_engine import DockerEngine

STANDIN_TAG = "mcp-template-test/python:3.13-slim-standin"
UPSTREAM_TAG = "python:3.13-slim"  # also tagged locally, so unmodified Dockerfiles build
SUITE = "trixie"
INCLUDE = ("python3", "python3-pip", "python3-venv", "ca-certificates", "passwd", "git")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RECIPE_LABEL = "org.mcp-template-test.standin-recipe"
BASE_DIR = CACHE_DIR / "base-image"
PROBE_URL = "https://pypi.org/simple/six/"

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "FTP_PROXY", "ALL_PROXY")
# pip settings worth carrying into a build; env var name -> pip.conf key
_PIP_ENV_KEYS = {
    "PIP_INDEX_URL": "index-url",
    "PIP_EXTRA_INDEX_URL": "extra-index-url",
    "PIP_TRUSTED_HOST": "trusted-host",
    "PIP_CERT": "cert",
    "PIP_DEFAULT_TIMEOUT": "default-timeout",
    "PIP_TIMEOUT": "timeout",
    "PIP_RETRIES": "retries",
    "PIP_PROXY": "proxy",
    "PIP_DISABLE_PIP_VERSION_CHECK": "disable-pip-version-check",
    "PIP_FIND_LINKS": "find-links",
}
_URL_KEYS = {"index-url", "extra-index-url", "find-links"}
_CERT_ENV_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")  # uv, httpx, requests; pip uses pip.conf

timings: dict[str, float] = {}  # seconds of the last debootstrap/import/probe in this process


class BaseImageError(RuntimeError):
    """The stand-in base image could not be built."""


# ---------------------------------------------------------------- host configuration
def apt_mirror() -> str:
    """The Debian archive this machine's apt uses (one-line or deb822 format); trixie is read from it
    even where the machine itself runs bookworm."""
    files = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in (".list", ".sources"))
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
                uris = fields.get("uris", "").split()
                if "deb" in fields.get("types", "").split() and uris and uris[0].rstrip("/").endswith("/debian"):
                    if fields.get("enabled", "yes").lower() != "no":
                        return fields["uris"].split()[0].rstrip("/")
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(parts) >= 3 and parts[0] == "deb" and parts[1].rstrip("/").endswith("/debian"):
                    return parts[1].rstrip("/")
    return DEFAULT_MIRROR


def _pip_config_files() -> list[Path]:
    home = Path(os.environ.get("HOME", "/root"))
    xdg = os.environ.get("XDG_CONFIG_HOME", str(home / ".config"))
    files = [Path("/etc/xdg/pip/pip.conf"), Path("/etc/pip.conf"), home / ".pip/pip.conf", Path(xdg) / "pip/pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    return files


def host_pip_settings() -> dict[str, str]:
    """The host's effective pip [global]/[install] settings: config files, then PIP_* env wins."""
    settings: dict[str, str] = {}
    for f in _pip_config_files():
        if not f.is_file():
            continue
        cp = configparser.ConfigParser()
        try:
            cp.read(f)
        except configparser.Error:
            continue
        for section in ("global", "install"):
            if cp.has_section(section):
                for k, v in cp.items(section):
                    settings[k] = v.strip()
    for env, key in _PIP_ENV_KEYS.items():
        if os.environ.get(env):
            settings[key] = os.environ[env]
    return settings


def image_pip_conf(settings: dict[str, str] | None = None) -> str:
    """The /etc/pip.conf for the image: network-reachable parts of the host's pip settings."""
    settings = host_pip_settings() if settings is None else settings
    out: dict[str, str] = {}
    for key in _PIP_ENV_KEYS.values():
        if key not in settings:
            continue
        value = settings[key]
        if key in _URL_KEYS:
            kept = [u for u in value.split() if u.startswith(("http://", "https://"))]
            if not kept:
                continue  # host-local mirrors (file://, /opt/...) don't exist inside a build
            value = " ".join(kept)
        if key == "cert":
            value = str(HOST_CA_BUNDLE)  # the host bundle (plus pip's cert) is copied there
        out[key] = value
    out.setdefault("cert", str(HOST_CA_BUNDLE))
    lines = ["# test-only stand-in: mirrors the host's pip settings (tests/e2e/base_image.py)", "[global]"]
    lines += [f"{k} = {v}" for k, v in sorted(out.items())]
    return "\n".join(lines) + "\n"


def proxy_build_args() -> list[str]:
    """``--build-arg`` flags forwarding the host's proxy variables (empty on this machine)."""
    args: list[str] = []
    for name in PROXY_VARS:
        for variant in (name, name.lower()):
            if os.environ.get(variant):
                args += ["--build-arg", f"{variant}={os.environ[variant]}"]
    return args


def _host_ca_pem() -> bytes:
    data = HOST_CA_BUNDLE.read_bytes()
    pip_cert = host_pip_settings().get("cert")
    if pip_cert and Path(pip_cert).is_file() and Path(pip_cert).resolve() != HOST_CA_BUNDLE.resolve():
        data += b"\n" + Path(pip_cert).read_bytes()
    return data


def _image_env() -> dict[str, str]:
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
    }
    for name in _CERT_ENV_VARS:
        if os.environ.get(name):
            env[name] = str(HOST_CA_BUNDLE)
    return env


def recipe_hash() -> str:
    """Hash of everything that shapes the image, so a changed recipe or host setup rebuilds it."""
    h = hashlib.sha256()
    for part in (
        SUITE,
        apt_mirror(),
        ",".join(INCLUDE),
        image_pip_conf(),
        json.dumps(_image_env(), sort_keys=True),
        "v1",
    ):
        h.update(part.encode() + b"\0")
    h.update(hashlib.sha256(_host_ca_pem()).digest())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- building
def _pem_blocks(data: bytes) -> list[bytes]:
    return re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.S)


def _umount_below(root: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for m in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
        subprocess.run(["umount", "-l", m], check=False)


def _customize_rootfs(root: Path) -> None:
    for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    links = {
        root / "usr/bin/python": "python3",
        root / "usr/bin/pip": "pip3",
        **{
            root / "usr/local/bin" / n: f"/usr/bin/{t}"
            for n, t in (("python", "python3"), ("python3", "python3"), ("pip", "pip3"), ("pip3", "pip3"))
        },
    }
    for link, target in links.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target)
    # CAs: the host's bundle verbatim, plus its extra CAs as local certs that survive
    # update-ca-certificates inside a build.
    host_pem = _host_ca_pem()
    bundle = root / "etc/ssl/certs/ca-certificates.crt"
    stock = set(_pem_blocks(bundle.read_bytes())) if bundle.exists() else set()
    extra = [b for b in dict.fromkeys(_pem_blocks(host_pem)) if b not in stock]
    local_dir = root / "usr/local/share/ca-certificates"
    local_dir.mkdir(parents=True, exist_ok=True)
    for i, block in enumerate(extra):
        (local_dir / f"host-extra-{i}.crt").write_bytes(block + b"\n")
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(host_pem)
    (root / "etc/pip.conf").write_text(image_pip_conf())
    (root / "etc/hostname").write_text("localhost\n")


def debootstrap_tar(
    tar_path: Path, suite: str, include: tuple[str, ...], customize, script: str | None = None
) -> float:
    """A minbase Debian root of `suite` with `include`, from this machine's mirror, changed by
    customize(root), written as a tarball to tar_path; the seconds debootstrap took.

    script: debootstrap's script for a suite newer than this machine's debootstrap knows."""
    ensure_packages("debootstrap")
    root = tar_path.parent / "rootfs.tmp"
    if root.exists():
        _umount_below(root)
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    mirror = apt_mirror()
    t0 = time.monotonic()
    args = ["--variant=minbase", f"--include={','.join(include)}"]
    if KEYRING.exists():
        args.append(f"--keyring={KEYRING}")
    rc, out, err = local["debootstrap"].run(
        [*args, suite, str(root), mirror, *([script] if script else [])], retcode=None, timeout=1500
    )
    _umount_below(root)
    if rc != 0:
        log = root / "debootstrap/debootstrap.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise BaseImageError(f"debootstrap from {mirror} failed (rc={rc}):\n{out[-2000:]}\n{err[-2000:]}\n{tail}")
    seconds = time.monotonic() - t0
    customize(root)
    for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):  # slim-image hygiene
        for path in (root / folder).glob("*"):
            if path.is_file():
                path.unlink()
    tmp_tar = tar_path.with_suffix(".tmp")
    local["tar"].run(["--numeric-owner", "-C", str(root), "-cf", str(tmp_tar), "."], timeout=600)
    tmp_tar.rename(tar_path)
    shutil.rmtree(root)
    return seconds


def _import(engine: DockerEngine, tar_path: Path, recipe: str) -> None:
    changes: list[str] = []
    for k, v in _image_env().items():
        changes += ["--change", f"ENV {k}={v}"]
    changes += ["--change", f"LABEL {RECIPE_LABEL}={recipe}", "--change", 'CMD ["python3"]']
    t0 = time.monotonic()
    engine.docker.run(["import", *changes, str(tar_path), STANDIN_TAG], timeout=900)
    timings["import"] = time.monotonic() - t0


def _image_recipe(engine: DockerEngine, ref: str) -> str | None:
    rc, out, _ = engine.docker.run(
        ["image", "inspect", "--format", f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', ref], retcode=None
    )
    return out.strip() if rc == 0 else None


def ensure_base_image(engine: DockerEngine) -> str:
    """Make sure ``STANDIN_TAG`` (and the local ``python:3.13-slim`` alias) exist; return the tag.

    Reuses the image when its recipe label matches; otherwise debootstraps (or reuses the cached
    rootfs tarball) and imports. Takes an inter-process lock so parallel sessions build once.
    """
    recipe = recipe_hash()
    with file_lock("base-image"):
        if _image_recipe(engine, STANDIN_TAG) != recipe:
            BASE_DIR.mkdir(parents=True, exist_ok=True)
            tar_path = BASE_DIR / f"rootfs-{SUITE}-{recipe}.tar"
            if not tar_path.exists():
                for old in BASE_DIR.glob("rootfs-*.tar"):
                    old.unlink()  # an outdated recipe's rootfs
                timings["debootstrap"] = debootstrap_tar(tar_path, SUITE, INCLUDE, _customize_rootfs)
            _import(engine, tar_path, recipe)
        if _image_recipe(engine, UPSTREAM_TAG) != recipe:
            engine.docker.run(["tag", STANDIN_TAG, UPSTREAM_TAG])
    return STANDIN_TAG


_network_choice: dict[str, str | None] = {}


def build_network(engine: DockerEngine, image: str = STANDIN_TAG) -> str | None:
    """``None`` if the default bridge reaches the package index from a container, else ``"host"``.

    Probed once per process with the image's own Python and CA bundle; raises if neither works.
    """
    key = engine.docker_host
    if key in _network_choice:
        return _network_choice[key]
    probe = f"import urllib.request as u; u.urlopen({PROBE_URL!r}, timeout=30).read(1)"
    t0 = time.monotonic()
    for network in (None, "host"):
        net = ["--network", network] if network else []
        rc, _, err = engine.docker.run(
            ["run", "--rm", *net, *_proxy_env_flags(), image, "python3", "-c", probe], retcode=None, timeout=120
        )
        if rc == 0:
            timings["network_probe"] = time.monotonic() - t0
            _network_choice[key] = network
            return network
    raise BaseImageError(f"no docker network reaches {PROBE_URL} from {image}:\n{err[-2000:]}")


def network_flags(engine: DockerEngine) -> list[str]:
    """``["--network", "host"]`` when builds need it, else ``[]`` (see ``build_network``)."""
    network = build_network(engine)
    return ["--network", network] if network else []


def _proxy_env_flags() -> list[str]:
    flags: list[str] = []
    for name in PROXY_VARS:
        for variant in (name, name.lower()):
            if os.environ.get(variant):
                flags += ["-e", f"{variant}={os.environ[variant]}"]
    return flags


def base_trusting(engine: DockerEngine, base_image: str, ca_bundle: Path, context: Path) -> str:
    """The stand-in base, trusting a test CA (as a real base trusts a real server's CA); its tag."""
    (context / "ca.pem").write_bytes(ca_bundle.read_bytes())
    (context / "Dockerfile").write_text(
        f"FROM {base_image}\nCOPY ca.pem /tmp/ca.pem\n"
        "RUN cat /tmp/ca.pem >> /etc/ssl/certs/ca-certificates.crt && rm /tmp/ca.pem\n"
    )
    tag = f"e2e/base-with-test-ca:{uuid.uuid4().hex[:6]}"
    engine.docker("build", "--tag", tag, str(context))
    return tag
