"""The linters the render matrix relies on really reject bad files (so a pass means something)."""

from __future__ import annotations

import jsonschema
import linters
import pytest
import yaml
from plumbum import ProcessExecutionError


def test_hadolint_rejects_a_bad_dockerfile(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python\nRUN pip install mcp\n")
    with pytest.raises(ProcessExecutionError, match="DL3006|DL3042"):
        linters.hadolint(tmp_path / "Dockerfile")


def test_shellcheck_rejects_a_bad_script(tmp_path):
    (tmp_path / "s.sh").write_text("#!/bin/sh\nrm -rf $1/*\n")
    with pytest.raises(ProcessExecutionError, match="SC2086"):
        linters.shellcheck(tmp_path / "s.sh")


def test_ruff_rejects_bad_python(tmp_path):
    (tmp_path / "a.py").write_text("import os\n")
    with pytest.raises(ProcessExecutionError, match="F401"):
        linters.ruff(tmp_path)


def test_compose_schema_rejects_a_bad_compose_file(tmp_path):
    (tmp_path / "c.yaml").write_text("services:\n  a:\n    image: x\n    restart: sometimes\n    portz: []\n")
    with pytest.raises(jsonschema.ValidationError):
        linters.compose_schema(tmp_path / "c.yaml")


@pytest.mark.parametrize("reader", [linters.compose_schema, linters.load_yaml, linters.kubernetes])
def test_a_key_given_twice_is_refused(tmp_path, reader):
    """PyYAML's own loader keeps the last of two equal keys: an answer could switch a setting off
    that way (MCP_AUTH twice), and neither compose nor a reader of the file would see it."""
    (tmp_path / "c.yaml").write_text(
        "services:\n  a:\n    image: x\n    environment:\n      MCP_AUTH: tokens\n      MCP_AUTH: none\n"
    )
    with pytest.raises(yaml.constructor.ConstructorError, match="'MCP_AUTH' is given twice"):
        reader(tmp_path / "c.yaml")


def test_a_passed_check_is_remembered_by_content_and_a_failure_never(tmp_path):
    (tmp_path / "s.sh").write_text("#!/bin/sh\nrm -rf $1/*\n")
    for _ in range(2):  # refused again: a failure is not remembered
        with pytest.raises(ProcessExecutionError, match="SC2086"):
            linters.shellcheck(tmp_path / "s.sh")
    (tmp_path / "s.sh").write_text(f'#!/bin/sh\n# {tmp_path}\nrm -rf "${{1:?}}"/*\n')
    linters.shellcheck(tmp_path / "s.sh")
    (tmp_path / "s.sh").write_text(f"#!/bin/sh\n# {tmp_path}\nrm -rf $1/*\n")  # another content: checked anew
    with pytest.raises(ProcessExecutionError, match="SC2086"):
        linters.shellcheck(tmp_path / "s.sh")


def test_nginx_rejects_a_bad_server_block(tmp_path):
    (tmp_path / "bad.conf").write_text("server { listen 8443 ssl; proxy_buffering maybe; }\n")
    with pytest.raises(ProcessExecutionError, match="proxy_buffering"):
        linters.nginx_test(tmp_path / "bad.conf", tmp_path / "nginx")


@pytest.mark.parametrize(
    ("manifest", "refusal"),
    [
        # A misspelt field: strict validation refuses what `kubectl apply` would silently drop.
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}], selectr: {}}\n", "selectr"),
        # A value of the wrong type.
        (
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: a}\nspec: {maxUnavailable: [1]}\n",
            "maxUnavailable",
        ),
        # An API version the supported releases no longer serve.
        ("apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: a}\nspec: {}\n", "SchemaNotFound"),
    ],
)
def test_kubernetes_validate_rejects_bad_manifests(tmp_path, manifest, refusal):
    import kubernetes_validate

    (tmp_path / "m.yaml").write_text(manifest)
    with pytest.raises((kubernetes_validate.ValidationError, kubernetes_validate.utils.SchemaNotFoundError)) as error:
        linters.kubernetes(tmp_path / "m.yaml")
    assert refusal in f"{type(error.value).__name__} {error.value}"


def test_checkov_refuses_a_deployment_without_probes_security_context_or_resources(tmp_path):
    (tmp_path / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  selector: {matchLabels: {a: b}}\n"
        "  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: s, image: 'x:1'}]\n"
    )
    failed = {line.split()[0] for line in linters.checkov_kubernetes(tmp_path)}
    # Probes, resources, root and privilege escalation, a writable root filesystem, the API token.
    expected = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_11", "CKV_K8S_13", "CKV_K8S_23", "CKV_K8S_20", "CKV_K8S_22"}
    assert expected | {"CKV_K8S_38"} <= failed


# A workflow with the mistakes the two linters exist for: a pull request title run as shell code,
# an action by a tag anyone can move, a checkout that leaves its token on disk, no permissions block.
BAD_WORKFLOW = """\
on: pull_request_target
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def test_actionlint_finds_an_untrusted_input_in_a_script(tmp_path):
    (tmp_path / "bad.yml").write_text(BAD_WORKFLOW)
    findings = linters.actionlint(tmp_path / "bad.yml")
    assert any("github.event.pull_request.title" in line and "untrusted" in line for line in findings), findings


def test_zizmor_finds_injection_unpinned_actions_and_persisted_credentials(tmp_path):
    (tmp_path / "bad.yml").write_text(BAD_WORKFLOW)
    findings = linters.zizmor(tmp_path / "bad.yml")
    for audit in ("template-injection", "unpinned-uses", "artipacked", "excessive-permissions", "dangerous-triggers"):
        assert audit in findings, findings
