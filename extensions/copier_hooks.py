"""Jinja glue: exposes the template's plain-Python rules (this folder) to copier.yml and the templates.

- ``AnswerFilters``: the validators and naming helpers as named filters.
- ``RepositoryDefaults``: what the destination's code says (generation, server, dependency
  file, ...), as ``detected``, for the questionnaire's defaults.
- ``DeploymentContext``: the values derived from the answers (service name, public URL, ...),
  added to every template's context, so no file repeats a derivation.
- ``FirstCopy`` and ``LifecycleFilters`` (extensions/lifecycle.py): copying into an existing
  repository and updating without losing anything of the user's.

copier-template-extensions loads this file by its path. The modules beside it are loaded here
as one package under a name of this folder's own: during `copier update` two versions of the
template render in one process, and each must use its own rules.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path


def _rules_package() -> str:
    folder = Path(__file__).resolve().parent
    name = "mcp_docker_template_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    if name not in sys.modules:
        spec = ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        sys.modules[name] = importlib.util.module_from_spec(spec)
    return name


def _rules(module: str):
    return importlib.import_module(f"{_rules_package()}.{module}")


AnswerFilters = _rules("jinja_glue").AnswerFilters
RepositoryDefaults = _rules("jinja_glue").RepositoryDefaults
DeploymentContext = _rules("jinja_glue").DeploymentContext
FirstCopy = _rules("lifecycle").FirstCopy
LifecycleFilters = _rules("lifecycle").LifecycleFilters
GivenAnswers = _rules("lifecycle").GivenAnswers
