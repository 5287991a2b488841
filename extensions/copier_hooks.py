"""Jinja glue: exposes extensions/answers.py to copier.yml and the templates.

- ``AnswerFilters``: the validators and naming helpers as named filters.
- ``DeploymentContext``: adds the derived values (service name, public URL, ...) to every
  template's context, so no file repeats a derivation.
"""

from __future__ import annotations

from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook
from jinja2.ext import Extension


def _load_answers_module():
    # Loaded from this template's own folder every time (never from sys.modules): during
    # `copier update` two versions of the template render in one process.
    spec = spec_from_file_location("mcp_docker_template_answers", Path(__file__).with_name("answers.py"))
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


answers = _load_answers_module()


class AnswerFilters(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        for name in (
            "entry_point_error",
            "server_object_error",
            "extra_paths_error",
            "env_vars_error",
            "image_error",
            "hostname_error",
            "url_prefix_error",
            "port_error",
            "server_path_error",
            "platform_error",
            "image_basename",
            "default_image_name",
        ):
            environment.filters[name] = getattr(answers, name)


class DeploymentContext(ContextHook):
    def hook(self, context: dict[str, Any]) -> None:
        try:
            derived = answers.derive(context)
        except KeyError:
            # Copier is still asking: a question the derivation needs has no answer yet.
            return
        context.update(derived)
