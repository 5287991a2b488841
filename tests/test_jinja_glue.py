"""The context hooks derive what the files need once per render, and never hand one set of answers
the names derived from another."""

from __future__ import annotations

import jinja2
import pytest
import yaml
from conftest import render_new_project

from extensions.deployment import ANSWERS_FILE, image_basename
from extensions.jinja_glue import AnswersRead, DeploymentContext


@pytest.fixture(scope="module")
def recorded(template_copy, tmp_path_factory) -> dict:
    """The answers a default copy records."""
    project, _ = render_new_project(template_copy, tmp_path_factory.mktemp("glue") / "project")
    return yaml.safe_load((project / ANSWERS_FILE).read_text())


def render_context(answers: dict) -> dict:
    return {**answers, "_copier_conf": {}, "_copier_phase": "render"}


def test_names_are_derived_again_when_an_answer_they_read_changes(recorded):
    hook = DeploymentContext(jinja2.Environment())
    first, renamed, again = (
        render_context(recorded),
        render_context({**recorded, "image": "ghcr.io/acme/another-server"}),
        render_context(recorded),
    )
    for context in (first, renamed, again):
        hook.hook(context)
    named = image_basename(recorded["image"])
    assert (first["service_name"], renamed["service_name"], again["service_name"]) == (named, "another-server", named)
    assert renamed["deployment"] is not first["deployment"]


def test_the_same_answers_reuse_the_derivation(recorded):
    hook = DeploymentContext(jinja2.Environment())
    first, second = render_context(recorded), render_context({**recorded, "_folder_name": "elsewhere"})
    hook.hook(first)
    hook.hook(second)
    assert second["deployment"] is first["deployment"] and second["service_name"] == image_basename(recorded["image"])


def test_answers_read_remembers_what_was_read_and_what_was_missing():
    answers = AnswersRead({"image": "ghcr.io/acme/weather-mcp", "port": 8000, "unread": 1})
    assert answers["image"] == "ghcr.io/acme/weather-mcp"
    assert answers.get("replicas", 1) == 1 and "orchestrator" not in answers
    assert answers.same_in({"image": "ghcr.io/acme/weather-mcp", "port": 9000, "unread": 2})
    assert not answers.same_in({"image": "ghcr.io/acme/other"})
    assert not answers.same_in({"image": "ghcr.io/acme/weather-mcp", "replicas": 2})
    assert not answers.same_in({"image": "ghcr.io/acme/weather-mcp", "orchestrator": "swarm"})
    with pytest.raises(TypeError):
        list(answers)
