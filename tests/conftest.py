"""Shared fixtures for the fast tests (no Docker engine needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import copier
import jinja2
import pytest
import trustme
from e2e.docker_engine import LOG_FILE as DOCKERD_LOG
from fixture_repos import prepare_new_project

REPO_ROOT = Path(__file__).resolve().parent.parent


def _compile_once(compile_template):
    """Jinja's compile, remembered: Copier makes a new environment for every project it renders and
    compiles each template, path and question anew (about half of a render's time). The same source,
    name and environment settings compile to the same code, so the suite compiles each once. What is
    rendered is unchanged: templates still run, per project, with its answers. (The file name is left
    out of the key: Copier clones the template to a new folder each time; only a traceback's path could
    name another clone's file.)"""
    compiled: dict = {}

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        if not isinstance(source, str):
            return compile_template(self, source, name, filename, raw, defer_init)
        settings = (
            self.block_start_string,
            self.variable_start_string,
            self.comment_start_string,
            self.line_statement_prefix,
            self.line_comment_prefix,
            self.trim_blocks,
            self.lstrip_blocks,
            self.newline_sequence,
            self.keep_trailing_newline,
            self.optimized,
            repr(self.autoescape),
            tuple(sorted(self.extensions)),
        )
        key = (source, name, raw, defer_init, settings)
        if key not in compiled:
            compiled[key] = compile_template(self, source, name, filename, raw, defer_init)
        return compiled[key]

    return compile


jinja2.Environment.compile = _compile_once(jinja2.Environment.compile)


def render(copie, **answers) -> Path:
    """Render the template with these answers (defaults for the rest); fail with Copier's error."""
    result = copie.copy(extra_answers=answers)
    assert result.exit_code == 0, f"render failed: {result.exception!r}"
    return result.project_dir


def render_error(copie, **answers) -> str:
    """Render answers that must be refused; return Copier's message."""
    result = copie.copy(extra_answers=answers)
    assert result.exit_code != 0, f"answers {answers} were accepted"
    return str(result.exception)


@pytest.fixture(scope="session")
def template_copy(tmp_path_factory) -> Path:
    """This checkout's template (copier.yml, extensions/, template/) as a plain folder: Copier renders
    from it in place, instead of cloning this git repository for every project."""
    folder = tmp_path_factory.mktemp("template") / "mcp-docker-template"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "copier.yml", folder)
    for name in ("extensions", "template"):
        shutil.copytree(REPO_ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def render_new_project(template: Path, folder: Path, **answers) -> tuple[Path, list[str]]:
    """A new project as its user makes it (the dependency files and paths its answers name, see
    fixture_repos.prepare_new_project), then `copier copy --data ...` of the template into it:
    (the project, the files made before the copy)."""
    made = prepare_new_project(folder, answers)
    copier.run_copy(str(template), str(folder), data=answers, defaults=True, unsafe=True, quiet=True)
    return folder, made


@pytest.fixture(scope="session")
def nginx_assets(tmp_path_factory) -> dict[str, str]:
    """Answers pointing nginx at test certificates that exist, so `nginx -t` can read them."""
    folder = tmp_path_factory.mktemp("nginx-assets")
    ca = trustme.CA()
    cert = ca.issue_cert("mcp.example.com", "localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(folder / "privkey.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "fullchain.pem"))
    return {
        "ssl_certificate": str(folder / "fullchain.pem"),
        "ssl_certificate_key": str(folder / "privkey.pem"),
    }


def pytest_configure(config):
    config.stash[_DOCKERD_LOG_START] = DOCKERD_LOG.stat().st_size if DOCKERD_LOG.exists() else 0


def pytest_terminal_summary(terminalreporter, config):
    """What the e2e suite's dockerd printed when it stopped during this run (a panic) or was started
    again: without it a CI log shows only "Cannot connect to the Docker daemon" in every later test.
    Here, in the first conftest, so that pytest-xdist's controller prints it."""
    if not DOCKERD_LOG.exists() or DOCKERD_LOG.stat().st_size <= config.stash[_DOCKERD_LOG_START]:
        return
    with open(DOCKERD_LOG, "rb") as log:
        log.seek(config.stash[_DOCKERD_LOG_START])
        lines = log.read().decode(errors="replace").splitlines()
    # A start after other lines of this run is a restart (the first start of the engine is not news).
    stops = [
        i
        for i, line in enumerate(lines)
        if line.startswith(("panic:", "fatal error:")) or (line.startswith("==== dockerd start") and any(lines[:i]))
    ]
    if stops:
        terminalreporter.section("the Docker engine stopped or restarted during this run")
        for i in stops:  # a start with the last lines before it; a panic with its first frames
            shown = lines[max(0, i - 3) : i + 1] if lines[i].startswith("====") else lines[i : i + 15]
            terminalreporter.write_line("\n".join(shown))


_DOCKERD_LOG_START = pytest.StashKey[int]()
