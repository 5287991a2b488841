"""build-publish.sh's refusals, which come before any build: what a user or CI passes it wrongly is
named, and nothing is built or written. (Builds and pushes: tests/e2e/test_build_publish.py and
tests/e2e/test_github_workflow.py.)"""

from __future__ import annotations

import os
import subprocess

import pytest
from answer_sets import REPO_ROOT
from conftest import render
from pytest_copie.plugin import Copie


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("publish"), config_file=None)
    return render(copie, use_nginx=False, platform="linux/amd64,linux/arm64")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["1.2.3", "1.2.4"], "two versions given: '1.2.3' and '1.2.4'"),
        ([""], "'' is not a version to publish (usage:"),
        (["local"], "'local' is not a version to publish"),
        (["--local", "1.2"], "--local publishes nothing, so it takes no version ('1.2')"),
        (["--nocache"], "unknown argument '--nocache' (usage:"),
        (["1.2.3;id"], "version '1.2.3;id' is not an image tag: expected e.g. 7 or 1.4.0"),
        (["-1"], "unknown argument '-1'"),
        ([".1"], "version '.1' is not an image tag"),
        (["v" * 129], "is longer than an image tag may be (128)"),
        # Several platforms need a buildx builder of its own (none here; CI's workflow sets one up).
        (["1.2.3"], "PLATFORM=linux/amd64,linux/arm64 is several platforms: that needs a docker buildx builder"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_built(project, arguments, message):
    done = subprocess.run(
        ["sh", str(project / "build-publish.sh"), *arguments],
        # Nothing from this machine's environment (PLATFORM, GITHUB_*, a Docker engine's address).
        env={"PATH": os.environ["PATH"], "HOME": str(project)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert not (project / "VERSION").exists()


def test_a_provenance_mode_other_than_min_or_max_is_refused(project):
    """min by default: a max provenance attestation publishes every build argument with the image."""
    done = subprocess.run(
        ["sh", str(project / "build-publish.sh")],
        env={"PATH": os.environ["PATH"], "HOME": str(project), "PROVENANCE": "full"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "PROVENANCE=full: expected min (the default) or max" in done.stderr
