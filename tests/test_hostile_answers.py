"""Every answer is either refused, naming its question, or renders files that stay valid and mean it.

Two properties, over generated answers (tests/hostile.py):
- hostile answers (valid ones broken every way they break): the questionnaire's checks, exactly
  as Copier runs them (type, choices, validator, all answers together), refuse them with a
  message naming the question; or, where one gets through, it is a printable line with no
  leading dash and no Jinja in it.
- unusual valid answers (the validators' grammar at its edges): rendered by Copier, every
  rendered file passes its linter (hadolint, shellcheck, the Compose schema, ruff, JSON,
  `nginx -t`) and says what the answer said.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
from pathlib import Path

import hostile
import linters
import pytest
import yaml
from conftest import render_new_project
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from questionnaire import QUESTIONS, VALID, problems

from extensions.answers import unprintable

REPO_ROOT = Path(__file__).resolve().parent.parent

TEXT = [q for q, v in VALID.items() if isinstance(v, str)]
LISTS = [q for q, v in VALID.items() if isinstance(v, list)]
NUMBERS = [q for q, v in VALID.items() if isinstance(v, int) and not isinstance(v, bool)]
# The numbers that are not ports: the range each takes.
RANGES = {"replicas": (1, 100), "calls_per_second": (0, 10000)}
# Answers DEPLOYMENT.md and build-publish.sh put unquoted into shell commands: shell-safe as they are.
SHELL_WORDS = {"ssl_certificate", "ssl_certificate_key", "image", "public_host", "platform"}
EXAMPLES = 1000  # hostile answers per question: checks only, about a millisecond each


def test_the_valid_answers_are_valid():
    assert set(VALID) == {q for q in QUESTIONS if not q.startswith("_")}
    assert problems(VALID) == []


def check_refused_or_safe(question: str, value) -> None:
    found = problems({**VALID, question: value})
    if found:
        assert any(re.search(rf"\b{question}\b", message) for message in found), (value, found)
        return
    # Accepted: it must be harmless text wherever a file puts it. A list question's text is YAML to Copier.
    if question in LISTS and isinstance(value, str):
        value = yaml.safe_load(value)
    items = value if isinstance(value, list) else [value]
    for item in items:
        text = str(item)
        assert not unprintable(text), (question, value)
        assert not text.startswith("-"), (question, value)
        assert "{{" not in text and "{%" not in text and "{#" not in text, (question, value)
        if question in SHELL_WORDS:
            assert shlex.quote(text) == text, (question, value)


@pytest.mark.parametrize("question", TEXT)
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_hostile_text_answer_is_refused_or_harmless(question, data):
    check_refused_or_safe(question, data.draw(hostile.hostile(VALID[question])))


@pytest.mark.parametrize("question", LISTS)
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_hostile_list_answer_is_refused_or_harmless(question, data):
    check_refused_or_safe(question, data.draw(hostile.hostile_list(VALID[question])))


@pytest.mark.parametrize("question", NUMBERS)
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_a_hostile_port_is_refused_or_a_port(question, data):
    # As Copier gets it from --data or a prompt: text.
    value = data.draw(hostile.hostile(str(VALID[question])))
    if not problems({**VALID, question: value}):
        # As Copier reads it: int(), which takes " 443", "4_43" and "٤٤٣".
        lowest, highest = RANGES.get(question, (1, 65535))
        assert lowest <= int(value) <= highest


@pytest.mark.parametrize(("one", "other"), [("port", "https_port"), ("port", "http_port"), ("https_port", "http_port")])
@given(port=st.integers(1, 65535))
@settings(max_examples=50, deadline=None)
def test_answers_that_fight_are_refused_naming_both(one, other, port):
    found = problems({**VALID, one: port, other: port})
    assert any(other in message and one in message.replace(other, "") for message in found), found


# --- unusual valid answers, rendered -------------------------------------------------------------

RENDERS = 15  # per question: a render and every linter take a few seconds


@pytest.fixture(scope="module")
def server_paths(tmp_path_factory, nginx_assets):
    """Put the certificate, key and tokens file where an answer says, so `nginx -t` reads them."""
    root = tmp_path_factory.mktemp("server-paths")

    def place(tail: str, source: str) -> str:
        path = Path(tempfile.mkdtemp(dir=root)) / tail
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nginx_assets[source], path)
        return str(path)

    return place


# Answers VALID gives that its own other answers do not ask (auth tokens, compose, requirements.txt): a
# render leaves them out.
# (VALID lists the registry's github login, where the domain's key is not asked.)
NOT_ASKED = ("oauth_issuer", "oauth_resource", "oauth_scopes", "replicas", "lock_policy", "mcp_registry_key")


def rendered(template_copy, nginx_assets, tmp_path, **changed) -> tuple[Path, dict]:
    answers = {**VALID, **nginx_assets, "private_deps": False, **changed}
    answers.pop("private_deps_host") if not answers["private_deps"] else None
    for name in NOT_ASKED:
        answers.pop(name)
    project, _ = render_new_project(template_copy, Path(tempfile.mkdtemp(dir=tmp_path)) / "project", **answers)
    linters.hadolint(project / answers["dockerfile"])
    linters.shellcheck(project / "build-publish.sh")
    linters.compose_schema(project / "docker-compose.yaml")
    linters.ruff(project)
    for client_file in (project / "clients").iterdir():
        linters.parse_client(client_file)
    if answers["github_workflow"]:
        linters.workflow_schema(project / ".github/workflows/mcp-image.yml")
    conf = next((project / "nginx").glob("*.conf"))
    assert "test is successful" in linters.nginx_test(conf, tmp_path / f"nginx-{project.name}")
    return project, answers


def compose_service(project: Path) -> dict:
    return next(iter(linters.load_yaml(project / "docker-compose.yaml")["services"].values()))


def client_urls(project: Path) -> set[str]:
    urls = set()
    for client_file in (project / "clients").iterdir():
        text = client_file.read_text()
        urls |= set(re.findall(r'"(https://[^"]+)"', text))
    return urls


SLOW = settings(
    max_examples=RENDERS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SLOW
@given(image=hostile.IMAGES)
# Names YAML would read as a number, a boolean or null, were they not quoted.
@example(image="ghcr.io/acme/null").via("a YAML null")
@example(image="ghcr.io/acme/yes").via("a YAML 1.1 boolean")
@example(image="ghcr.io/acme/1e3").via("a YAML float")
@example(image="ghcr.io/acme/0x10").via("a YAML hex integer")
def test_an_unusual_image_renders_valid_files_that_name_it(template_copy, nginx_assets, tmp_path, image):
    assume(not problems({**VALID, "image": image}))  # e.g. over 255 characters: refused, as shown above
    project, _ = rendered(template_copy, nginx_assets, tmp_path, image=image, url_prefix="mcp")
    compose = linters.load_yaml(project / "docker-compose.yaml")
    assert list(compose["services"]) == [image.rsplit("/", 1)[-1]]
    assert compose_service(project)["image"] == f"{image}:latest"
    assert compose_service(project)["container_name"] == image.rsplit("/", 1)[-1]
    assert f'IMAGE="{image}"' in (project / "build-publish.sh").read_text()
    workflow = linters.load_workflow(project / ".github/workflows/mcp-image.yml")
    assert workflow["jobs"]["publish"]["name"] == f"Publish {image}"


@SLOW
@given(host=hostile.HOSTS, prefix=hostile.PREFIXES)
def test_an_unusual_host_and_prefix_render_valid_files_that_use_them(
    template_copy, nginx_assets, tmp_path, host, prefix
):
    assume(not problems({**VALID, "public_host": host, "url_prefix": prefix}))
    project, _ = rendered(template_copy, nginx_assets, tmp_path, public_host=host, url_prefix=prefix)
    clean = prefix.strip("/")
    assert client_urls(project) and all(url.startswith(f"https://{host}/{clean}/") for url in client_urls(project))
    conf = next((project / "nginx").glob("*.conf")).read_text()
    assert f"server_name {host};" in conf and f"location /{clean}/ {{" in conf


@SLOW
@given(names=st.lists(hostile.ENV_NAMES, min_size=1, max_size=4, unique_by=str.upper), defaults=st.data())
def test_unusual_environment_variables_render_valid_files_that_pass_them(
    template_copy, nginx_assets, tmp_path, names, defaults
):  # noqa: E501
    env_vars = [name + ("=" + defaults.draw(hostile.ENV_DEFAULTS) if i % 2 else "") for i, name in enumerate(names)]
    assume(not problems({**VALID, "env_vars": env_vars}))  # a name the template sets itself, or one twice
    project, _ = rendered(template_copy, nginx_assets, tmp_path, env_vars=env_vars)
    environment = compose_service(project)["environment"]
    example = (project / "example.env").read_text().splitlines()
    for item in env_vars:
        name, _, default = item.partition("=")
        assert name in environment
        assert any(line == f"{name}={default}" for line in example), (item, example)


@SLOW
@given(certificate=hostile.SERVER_PATH_TAILS, key=hostile.SERVER_PATH_TAILS)
def test_unusual_server_paths_render_an_nginx_config_that_reads_them(
    template_copy, nginx_assets, server_paths, tmp_path, certificate, key
):
    paths = {
        "ssl_certificate": server_paths(certificate, "ssl_certificate"),
        "ssl_certificate_key": server_paths(key, "ssl_certificate_key"),
    }
    assume(not problems({**VALID, **paths}))
    project, _ = rendered(template_copy, nginx_assets, tmp_path, **paths)
    conf = next((project / "nginx").glob("*.conf")).read_text()
    for question in ("ssl_certificate", "ssl_certificate_key"):
        assert f"{question} {paths[question]};" in conf
