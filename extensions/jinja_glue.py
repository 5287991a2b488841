"""The rules of answers.py, deployment.py and detect.py as Jinja filters and context for Copier."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook
from jinja2.ext import Extension

from . import answers, dockerignore
from .deployment import Deployment, NotApplicable, front_asks, image_basename
from .detect import detect
from .python_source import import_block

# The line length the rendered Python is formatted for (tests/linters.py checks it with ruff).
RUFF_LINE_LENGTH = 120

VALIDATORS = (
    "server_error",
    "source_paths_error",
    "system_packages_error",
    "python_version_error",
    "dockerfile_error",
    "dependencies_error",
    "sdk_transport_error",
    "env_vars_error",
    "image_error",
    "hostname_error",
    "url_prefix_error",
    "port_error",
    "server_path_error",
    "platform_error",
    "ports_error",
    "https_url_error",
    "oauth_scopes_error",
    "replicas_error",
    "calls_per_second_error",
    "mcp_registry_error",
    "mcp_registry_name_error",
    "mcp_registry_description_error",
    "mcp_registry_key_error",
)
HELPERS = (
    "default_image_name",
    "default_server",
    "new_server_file",
    "default_source_paths",
    "version_tuple",
    "endpoint_of",
    "default_registry_name",
)


def python_import_block(lines: list[str], *more: str) -> str:
    return import_block([*lines, *more])


def python_constant(value: Any, name: str) -> str:
    """`NAME = value` as ruff formats it: parenthesized on a line of its own when that makes it fit."""
    literal = json.dumps(value)
    line = f"{name} = {literal}"
    if len(line) <= RUFF_LINE_LENGTH or len(literal) + 4 > RUFF_LINE_LENGTH:
        return line
    return f"{name} = (\n    {literal}\n)"


def python_tuple(items: list[str]) -> str:
    """A Python tuple literal of strings, as ruff formats it."""
    inner = ", ".join(f'"{item}"' for item in items)
    return f"({inner},)" if len(items) == 1 else f"({inner})"


# Words YAML 1.1 reads as a boolean or null, not as text (PyYAML, and the tools built on it, still do).
YAML_11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def yaml_key(name: str) -> str:
    """An environment variable's name as a YAML key: quoted where a YAML 1.1 reader would take
    it for a boolean or null (a variable named ON), else as it is."""
    return json.dumps(name) if name.lower() in YAML_11_WORDS else name


class AnswerFilters(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        for name in VALIDATORS + HELPERS:
            environment.filters[name] = getattr(answers, name)
        environment.filters["python_import_block"] = python_import_block
        environment.filters["python_tuple"] = python_tuple
        environment.filters["python_constant"] = python_constant
        environment.filters["yaml_key"] = yaml_key
        environment.filters["front_asks"] = front_asks
        environment.filters["image_basename"] = image_basename
        environment.globals["dockerignore_sections"] = dockerignore.SECTIONS


def copier_operation() -> str:
    """ "copy" or "update": what Copier is doing. Copier shows it to templates (`_copier_operation`)
    only in tasks and exclusions, so it is read where Copier keeps it ("" if that ever moves)."""
    try:
        from copier._main import _operation
    except ImportError:  # pragma: no cover - another Copier
        return ""
    return str(_operation.get(""))


class RepositoryDefaults(ContextHook):
    """Adds ``detected``: what the destination's code says, for the questionnaire's defaults."""

    def __init__(self, environment):
        super().__init__(environment)
        self._detected: dict[str, Any] | None = None

    def hook(self, context: dict[str, Any]) -> None:
        if self._detected is None:
            # Read only until found: Copier works out the answers file's path anew on each lookup,
            # and this hook runs for every file and name it renders.
            conf = context["_copier_conf"]
            answers_file = str(conf["answers_file"])
            if not answers_file:  # blank while Copier renders that very name: no telling
                return
            destination = Path(str(conf["dst_path"])).absolute()
            first_copy = copier_operation() != "update" and not (destination / answers_file).exists()
            found = detect(destination, first_copy=first_copy)
            self._detected = {**vars(found), "summary": found.summary()}
        if copier_operation() == "update":
            # Copier's update renders both releases into folders of its own, not the project: the
            # answers were checked against the project before it began (lifecycle.answers_file_check).
            context["detected"] = {
                **self._detected,
                "root": "",
                "found_server": True,
                "existing_project": True,
                "new_project": False,
            }
        else:
            context["detected"] = self._detected


class DeploymentContext(ContextHook):
    """Adds what deployment.py derives from the answers, once the questionnaire is answered.

    While Copier asks (and before, for its first message) the answers are not all there: the
    question defaults and validators need none of this. Once they are, an error in the
    derivation stops the render.
    """

    def __init__(self, environment):
        super().__init__(environment)
        # The last derivation, with the answers it read: Copier renders every file and name with
        # the same answers, and deriving anew each time took a sixth of a render.
        self._derived: tuple[AnswersRead, dict[str, Any]] | None = None

    def hook(self, context: dict[str, Any]) -> None:
        if str(context.get("_copier_phase")) == "prompt":
            return
        if self._derived is not None and self._derived[0].same_in(context):
            context.update(self._derived[1])
            return
        answers = AnswersRead(context)
        try:
            names = Deployment(answers).context()
        except NotApplicable:
            return  # not answered yet: the message before the copy, an old release's answers
        self._derived = (answers, names)
        context.update(names)


class AnswersRead(Mapping[str, Any]):
    """The answers, remembering each one read (or found missing): a derivation from them holds for
    any answers that have the same values there. A read through the derived ``deployment`` later on
    is remembered too."""

    _MISSING = object()

    def __init__(self, answers: Mapping[str, Any]):
        self._answers = answers
        self._read: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        value = self._answers.get(name, self._MISSING)
        self._read.setdefault(name, value)
        if value is self._MISSING:
            raise KeyError(name)
        return value

    def __iter__(self):
        raise TypeError("a derivation reads answers by name")  # what it read could not be told

    def __len__(self) -> int:
        return len(self._answers)

    def same_in(self, answers: Mapping[str, Any]) -> bool:
        return all(answers.get(name, self._MISSING) == value for name, value in self._read.items())
