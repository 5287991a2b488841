"""Copy into an existing repository, and update, without losing anything of the user's.

- ``FirstCopy`` (a context hook) remembers which files were in the destination before Copier
  wrote anything, and whether this is the template's first copy there (no answers file of
  ours yet). copier.yml then skips every file that already exists, and its message lists them.
  The answers file records them as ``user_files``, which copier.yml excludes from every later
  render: no copy, recopy or update writes them. A second copy without ``--overwrite`` is
  refused before anything is written (Copier would stop at the first changed file, part-way).
- ``LifecycleFilters``: ``answers_file_check`` stops ``copier update`` before it changes
  anything when the answers file was edited into answers this template refuses;
  ``update_report`` says after an update what changed and what the user has to do about it.

The rules are plain functions below the Jinja glue, so the tests call them directly.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from copier.errors import UserMessageError
from copier_template_extensions import ContextHook
from jinja2 import pass_context, pass_environment
from jinja2.ext import Extension

from .detect import detect
from .tree import NEXT_STEPS, rendered_kinds

CONFLICT_MARKERS = (b"<<<<<<< before updating", b">>>>>>> after updating")


# --- which files a copy writes, and which of them were there before ------------------------


def renderer(environment, context: dict[str, Any]):
    return lambda text: environment.from_string(text).render(context)


def rendered_paths(environment, context: dict[str, Any]) -> list[str]:
    """The files a copy with these answers writes (the answers file aside)."""
    return sorted(rendered_kinds(renderer(environment, context)))


def user_files_problem(value: Any) -> str:
    """'' when the answers file's user_files is a list of relative file paths, else what is wrong."""
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        return f"user_files: {value!r} is not a list of file paths"
    for path in value:
        # Each becomes an `_exclude` pattern: no wildcards, negation or comments, nothing outside.
        if path.startswith(("/", "!", "#")) or ".." in PurePosixPath(path).parts or re.search(r"[*?\[\]\\\s]", path):
            return f"user_files: {path!r} is not a plain path inside the project"
    return ""


def second_copy_problem(context: dict[str, Any], *, asked: bool) -> str:
    """'' unless this is a copy (or recopy) over a project of ours that would go wrong.

    - Without --overwrite and without a terminal, Copier cannot ask about the first file that
      differs and stops there, part-way. (With a terminal it asks, file by file.)
    - With --defaults but without `-a ANSWERS_FILE`, Copier reads its default answers file, not
      ours, so the answers silently come from the defaults: refused where one differs from a
      recorded answer that --data does not change. That shows once Copier has asked (``asked``).
    """
    conf = context["_copier_conf"]
    answers_file = str(conf["answers_file"])
    path = Path(str(conf["dst_path"])) / answers_file
    if not answers_file or not path.is_file() or conf["pretend"]:
        return ""
    if not conf["overwrite"] and not sys.stdin.isatty():
        problem = "stop at the first file that differs, part-way (there is no terminal to ask on)"
    elif asked and conf["defaults"]:
        given = dict(conf["data"] or {})
        now = context.get("_copier_answers") or {}  # the answers to be recorded: none hidden by `when`
        changed = [
            f"{name} ({value!r} -> {now[name]!r})"
            for name, value in load_recorded_answers(path).items()
            if not name.startswith("_") and name in now and name not in given and now[name] != value
        ]
        if not changed:
            return ""
        problem = "not use the recorded answers (without -a, Copier reads another file): " + ", ".join(changed)
    else:
        return ""
    return (
        f"This project already has the template's files ({answers_file}); a second copy would {problem}."
        " Nothing was written.\n"
        "  To take a newer release or change answers, keeping your edits:\n"
        f"    copier update --trust -a {answers_file}\n"
        "  To write the template's files again from those answers, replacing your edits of them:\n"
        f"    copier recopy --trust --overwrite -a {answers_file}\n"
        f"Files you had before the first copy (user_files in {answers_file}) are never written."
    )


@pass_context
def second_copy_check(context, conf: Any) -> str:
    """For `_message_before_copy`: "" when this copy can go ahead, else stop with a message."""
    if problem := second_copy_problem(dict(context), asked=False):
        raise UserMessageError(problem)
    return ""


# Names another answer could give the template's Dockerfile: a user's file there is recorded too.
USERS_DOCKERFILES = ("Dockerfile",)


class FirstCopy(ContextHook):
    """Adds ``first_copy`` and ``kept_files`` to the context (see the module's docstring)."""

    def __init__(self, environment):
        super().__init__(environment)
        # One environment per Copier worker, i.e. per copy into one destination, so this
        # state describes the destination as it was before that worker wrote anything.
        self._first_copy: bool | None = None
        self._kept: list[str] | None = None
        self._user_files: list[str] = []
        self._recorded_user_files: Any = None  # read from our answers file once, after a first copy
        self._second_copy_checked = False
        self._looking = False
        self._destination: Path | None = None

    def hook(self, context: dict[str, Any]) -> None:
        conf = context["_copier_conf"]
        if self._destination is None:
            self._destination = Path(str(conf["dst_path"])).absolute()
        destination = self._destination
        if self._first_copy is None:
            answers_file = str(conf["answers_file"])
            if not answers_file:
                # Copier is rendering the answers file's own name (it blanks it to avoid recursion).
                return
            self._first_copy = not (destination / answers_file).exists()
        if (
            self._first_copy
            and self._kept is None
            and not self._looking
            and str(context.get("_copier_phase")) == "render"
        ):
            # The first render of the render phase comes before Copier writes any file.
            self._looking = True
            try:
                self._kept = [p for p in rendered_paths(self.environment, context) if (destination / p).exists()]
                # A Dockerfile of the user's is theirs too, even while ours is named Dockerfile.mcp.
                theirs = [p for p in USERS_DOCKERFILES if (destination / p).is_file() and p not in self._kept]
                self._user_files = sorted(self._kept + theirs)
            except (KeyError, TypeError):
                pass  # still asking
            finally:
                self._looking = False
        if context.get("_copier_operation") == "copy" and not self._first_copy and not self._second_copy_checked:
            # Copier names the operation while it renders `_exclude`, before the first file. (Also
            # checked before the questions, by _message_before_copy, unless --quiet skips that.)
            self._second_copy_checked = True
            if problem := second_copy_problem(context, asked=True):
                raise UserMessageError(problem)
        context["first_copy"] = self._first_copy
        # Files of the user's: the first copy's own finding; after it, what the answers file recorded.
        if "user_files" in context:  # Copier passes the recorded ones on to each render of an update
            recorded = context["user_files"]
        elif self._first_copy:
            recorded = self._user_files
        elif self._recorded_user_files is not None:
            recorded = self._recorded_user_files
        elif answers_file := str(conf["answers_file"]):  # blank while Copier renders that very name
            # The answers file Copier read may be another one (no -a): ours says. (Read once: Copier
            # works out the answers file's path anew on each lookup, for every file it renders.)
            self._recorded_user_files = load_recorded_answers(destination / answers_file).get("user_files", [])
            recorded = self._recorded_user_files
        else:
            recorded = []
        if problem := user_files_problem(recorded):
            # Never guess which files are the user's. Where the answers file holds it, the whole check
            # says so (with --quiet Copier skips it in _message_before_update), else this one line.
            answers_file_check(self.environment, conf)
            raise UserMessageError(f"{problem}; fix it in {conf['answers_file']}. Nothing was changed.")
        context["kept_files"] = recorded
        # The first copy's own finding, for its message (a preview is passed the recorded list).
        context["found_files"] = self._kept or []  # only a first copy looks
        # Anchored at the project's root, as `_exclude` patterns.
        context["kept_patterns"] = ["/" + path for path in recorded]


# --- a hand-edited answers file -----------------------------------------------------------


# What YAML (and so Copier) reads as a boolean.
YAML_TRUE = {"true", "yes", "on", "y", "1"}
YAML_FALSE = {"false", "no", "off", "n", "0"}


def cast_answer(kind: str, value: Any) -> Any:
    """An answer as Copier casts it for a question of this type; ValueError when it cannot be one."""
    if value is None and kind not in ("yaml", "json"):
        raise ValueError  # only yaml takes null
    if kind == "int":
        return int(value)
    if kind == "str":
        return str(value)  # a str question takes str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word not in YAML_TRUE | YAML_FALSE:
            raise ValueError  # Copier would take any other word for true
        return word in YAML_TRUE
    if kind == "yaml" and isinstance(value, str):
        return yaml.safe_load(value)
    return value


def answer_problems(
    questions: dict[str, Any], recorded: dict[str, Any], render_validator, parsed: dict[str, Any] | None = None
) -> list[str]:
    """What is wrong with recorded answers, question by question, as the questionnaire judges them.

    questions: copier.yml's questions; recorded: the answers file's content;
    render_validator(expression, answers): the validator's message for these answers;
    parsed: filled with the answers as cast, when given.
    """
    problems = []
    parsed = {} if parsed is None else parsed
    for name, value in recorded.items():
        question = questions.get(name)
        if name.startswith("_") or not isinstance(question, dict):
            continue  # Copier's own keys, or a question an older release had
        kind = question.get("type", "str")
        try:
            value = cast_answer(kind, value)
        except (TypeError, ValueError, yaml.YAMLError):
            expected = {"int": "a whole number", "bool": "true or false"}.get(kind, f"a {kind}")
            problems.append(f"{name}: {value!r} is not {expected}")
            continue
        choices = question.get("choices")
        if choices:
            allowed = list(choices.values()) if isinstance(choices, dict) else list(choices)
            if value not in allowed:
                problems.append(f"{name}: {value!r} is not one of {', '.join(map(str, allowed))}")
                continue
        parsed[name] = value
    for name, value in parsed.items():
        validator = questions[name].get("validator")
        if validator and (message := render_validator(validator, {**parsed, name: value}).strip()):
            problems.append(message if message.startswith(f"{name}:") else f"{name}: {message}")
    return problems


def inapplicable_answers(
    questions: dict[str, Any], given: dict[str, Any], known: dict[str, Any], render_when
) -> list[str]:
    """The given answers to questions that these answers do not ask (their `when:` is false).

    Copier would keep such an answer and the files would half-use it (an nginx answer on
    Kubernetes, say); it is refused instead, naming what decides. known: the other answers (the
    recorded ones on an update); a question's default stands in for an answer nobody gave, where
    the default is a plain value. render_when(expression, values) renders a `when:` expression.
    """
    values = dict(known)
    for name, question in questions.items():
        if isinstance(question, dict) and name not in values and "default" in question:
            default = question["default"]
            if not (isinstance(default, str) and "{{" in default):
                values[name] = default
    values |= given
    problems = []
    for name in given:
        question = questions.get(name)
        when = question.get("when") if isinstance(question, dict) else None
        if not isinstance(when, str):
            continue
        named = [other for other in questions if other != name and re.search(rf"\b{other}\b", when)]
        if any(other not in values for other in named):
            continue  # it depends on an answer not known yet
        if render_when(when, values).strip() in ("False", "false", ""):
            said = ", ".join(f"{other}={values[other]}" for other in named)
            problems.append(f"{name}: does not apply with {said}, where it is not asked; leave it out")
    return problems


def load_recorded_answers(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise UserMessageError(f"{path.name} is not valid YAML ({error}); nothing was changed.") from error
    if not isinstance(data, dict):
        raise UserMessageError(f"{path.name} does not hold answers (a YAML mapping); nothing was changed.")
    return data


# --- answers given on the command line ---------------------------------------------------------


def load_questionnaire(template: Path) -> dict[str, Any]:
    """The template's copier.yml, with libyaml's parser where PyYAML has it (its wheels do): read on
    every copy and update, and Python's own parser takes a tenth of a second over it."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((template / "copier.yml").read_text(encoding="utf-8"), Loader=loader)


class GivenAnswers(ContextHook):
    """Checks the --data answers' types and choices before Copier parses them.

    Copier itself answers a `--data sdk=unknown` or `--data port=abc` with a traceback; this says
    which answer is wrong and what is expected, before anything is asked or written. (The
    validators' own messages Copier shows well already; they run later, as for typed answers.)
    """

    def __init__(self, environment):
        super().__init__(environment)
        self._checked = False

    def hook(self, context: dict[str, Any]) -> None:
        if self._checked:
            return
        self._checked = True
        conf = context["_copier_conf"]
        given = dict(conf["data"] or {})
        if not given:
            return
        questions = load_questionnaire(Path(str(conf["src_path"])))
        parsed: dict[str, Any] = {}
        problems = answer_problems(questions, given, lambda expression, values: "", parsed)
        if not problems:
            recorded_file = Path(str(conf["dst_path"])) / str(conf["answers_file"] or "")
            known = load_recorded_answers(recorded_file) if recorded_file.is_file() else {}
            known = {key: value for key, value in known.items() if not key.startswith("_")}

            def render_when(expression: str, values: dict[str, Any]) -> str:
                return self.environment.from_string(expression).render(values)

            problems = inapplicable_answers(questions, parsed, known, render_when)
        if problems:
            raise UserMessageError(
                "These --data answers cannot be used, so nothing was done:\n  " + "\n  ".join(problems)
            )


# --- after an update ----------------------------------------------------------------------


def _git(destination: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(destination), *args], check=True, capture_output=True, text=True).stdout


def changed_files(destination: Path) -> list[str]:
    """The files that differ from the last commit (an update starts from a clean tree)."""
    tracked = _git(destination, "diff", "HEAD", "--name-only", "--relative", "-z")
    untracked = _git(destination, "ls-files", "--others", "--exclude-standard", "-z")
    return sorted({path for path in (tracked + untracked).split("\0") if path})


def conflicted_files(destination: Path, paths: list[str]) -> list[str]:
    found = []
    for path in paths:
        try:
            lines = (destination / path).read_bytes().splitlines()
        except (FileNotFoundError, IsADirectoryError):
            continue
        if any(line.rstrip() in CONFLICT_MARKERS for line in lines):
            found.append(path)
    return found


def update_report(destination: Path, answers_file: str, kinds: dict[str, str]) -> str:
    """What `copier update` changed, the conflicts to resolve and what to do next.

    kinds: the rendered files and the kind of change each is (tree.rendered_kinds).
    """
    changed = [p for p in changed_files(destination) if p != answers_file]
    if not changed:
        return "Nothing else changed: the deployment files were already up to date."
    lines = ["Changed (review with `git diff`): " + ", ".join(changed)]
    if conflicts := conflicted_files(destination, changed):
        lines.append(
            "CONFLICTS: you and the template changed the same lines in "
            + ", ".join(conflicts)
            + ". Both versions are in the file between '<<<<<<< before updating' and"
            " '>>>>>>> after updating'; keep what you need and delete the markers before committing."
        )
    for kind, step in NEXT_STEPS.items():
        if files := [p for p in changed if kinds.get(p) == kind]:
            lines.append(step.format(files=", ".join(files)))
    return "\n".join(lines)


# --- Jinja glue -----------------------------------------------------------------------------


@pass_environment
def answers_file_check(environment, conf: Any) -> str:
    """For `_message_before_update`: "" when the answers file is valid, else stop with a message."""
    path = Path(str(conf["dst_path"])) / str(conf["answers_file"])
    if not path.is_file():
        return ""  # Copier says itself that it cannot update without one
    recorded = load_recorded_answers(path)
    questions = load_questionnaire(Path(str(conf["src_path"])))

    # What the project holds, as the questions' own checks see it (an update: not a first copy).
    found = detect(Path(str(conf["dst_path"])), first_copy=False)
    detected = {**vars(found), "summary": found.summary()}

    def render_validator(expression: str, values: dict[str, Any]) -> str:
        return environment.from_string(expression).render(**values, detected=detected)

    # Checked even when --data gives a new value: Copier first renders the recorded answers
    # with the project's old template version, and fails there on a broken one.
    problems = answer_problems(questions, recorded, render_validator)
    if "user_files" in recorded and (problem := user_files_problem(recorded["user_files"])):
        problems.append(problem)
    if problems:
        raise UserMessageError(
            f"{path.name} holds answers this template refuses, so nothing was changed:\n  "
            + "\n  ".join(problems)
            + f"\nFix them in {path.name} (`git log -p {path.name}` shows the earlier ones), commit,"
            " and run the update again."
        )
    # The new answers given with --data, checked now: later would be after the migration has
    # rewritten the answers file, and a refusal would then leave the tree changed.
    given = dict(conf["data"] or {})
    if str(given.get("dockerfile")) in (recorded.get("user_files") or []):
        raise UserMessageError(
            f"dockerfile: {given['dockerfile']} is a file of yours (user_files in {path.name}), which the template"
            " never writes, so its Dockerfile would not be there; choose another name, e.g. Dockerfile.mcp."
            " Nothing was changed."
        )
    if given and (problems := answer_problems(questions, {**recorded, **given}, render_validator)):
        raise UserMessageError(
            "These answers are refused, so nothing was changed:\n  "
            + "\n  ".join(problems)
            + "\nRun it again with other values."
        )
    return ""


@pass_context
def update_report_filter(context, conf: Any) -> str:
    kinds = rendered_kinds(renderer(context.environment, dict(context)))
    return update_report(Path(str(conf["dst_path"])), PurePosixPath(str(conf["answers_file"])).as_posix(), kinds)


class LifecycleFilters(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["answers_file_check"] = answers_file_check
        environment.filters["update_report"] = update_report_filter
        environment.filters["second_copy_check"] = second_copy_check
