"""build-publish.sh, as rendered, against a real local registry."""

from __future__ import annotations

import uuid

import pytest
from fixture_repos import ANSWERS, apply_template, checkout_fixture
from plumbum import local

from .ports import free_port


@pytest.fixture
def publish(tmp_path, docker_engine, base_image, registry, docker_cleanup):
    """A fixture repository with the template applied, publishing to the local registry."""

    def make(registry_address: str = registry.address):
        repository = f"e2e/publish-{uuid.uuid4().hex[:8]}"
        repo = checkout_fixture("fastmcp_repo", tmp_path / repository.replace("/", "-"))
        apply_template(repo, **ANSWERS["fastmcp_repo"], image=f"{registry_address}/{repository}", use_nginx=False)
        for tag in ("latest", *map(str, range(1, 4))):
            docker_cleanup.image(f"{registry_address}/{repository}:{tag}")
        return repo, repository

    return make


def run_script(engine, repo, cwd=None, *args):
    """./build-publish.sh with this machine's Docker engine, from `cwd` (default: the project)."""
    script = local[str(repo / "build-publish.sh")].with_env(**engine.env())
    with local.cwd(cwd or repo):
        return script.run(list(args), retcode=None, timeout=600)


def version(repo):
    path = repo / "VERSION"
    return path.read_text().strip() if path.exists() else None


def test_publishes_1_then_2_from_any_folder(publish, docker_engine, registry, tmp_path):
    repo, repository = publish()
    rc, out, err = run_script(docker_engine, repo)
    assert rc == 0, out + err
    assert registry.tags(repository) == ["1", "latest"]
    assert version(repo) == "1"
    assert "Published" in out

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rc, out, err = run_script(docker_engine, repo, elsewhere)
    assert rc == 0, out + err
    assert registry.tags(repository) == ["1", "2", "latest"]
    assert version(repo) == "2" and not (elsewhere / "VERSION").exists()
    # :latest is the image just pushed as :2.
    digests = {
        tag: docker_engine.docker("inspect", "--format", "{{.Id}}", f"{registry.address}/{repository}:{tag}").strip()
        for tag in ("2", "latest")
    }
    assert digests["2"] == digests["latest"]


def test_non_numeric_version_pushes_nothing(publish, docker_engine, registry):
    repo, repository = publish()
    (repo / "VERSION").write_text("1.0-beta\n")
    rc, out, err = run_script(docker_engine, repo)
    assert rc != 0
    assert "VERSION contains '1.0-beta', expected a whole number" in err
    assert registry.tags(repository) == []
    assert version(repo) == "1.0-beta"


def test_failed_build_leaves_version_unchanged(publish, docker_engine, registry):
    repo, repository = publish()
    (repo / "VERSION").write_text("4\n")
    with (repo / "requirements.txt").open("a") as requirements:
        requirements.write("no-such-package-for-mcp-e2e==0.0.0\n")
    rc, out, err = run_script(docker_engine, repo)
    assert rc != 0
    assert "ERROR: docker build failed" in err
    assert version(repo) == "4"
    assert registry.tags(repository) == []


def test_unreachable_registry_leaves_version_unchanged(publish, docker_engine):
    repo, _ = publish(registry_address=f"localhost:{free_port()}")  # nothing listens there
    rc, out, err = run_script(docker_engine, repo)
    assert rc != 0
    assert "ERROR: push of" in err
    assert version(repo) is None


def test_unknown_argument_is_refused(publish, docker_engine, registry):
    repo, repository = publish()
    rc, out, err = run_script(docker_engine, repo, None, "--nocache")
    assert rc != 0 and "unknown argument '--nocache'" in err
    assert registry.tags(repository) == []
