"""The template's life in a project: updates between releases that keep the user's edits, re-answered
questions, copying into an existing repository without loss, and the bad situations that must stop
with a clear message and no change.

The releases are real git tags of a copy of this working tree: 0.0.1 is the current template with
real changes undone (older comments, no nginx keepalive, an older uvicorn call, other defaults for
`port` and `platform`), 0.0.2 is the current template. Release tags of this repository itself, once
there are any, are each updated to HEAD as well. The update from the real 0.1.0 release (its answers
migrated to today's) is in test_migration.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import jinja2
import pytest
import yaml
from answer_sets import expected_files, render_context
from copier.errors import UserMessageError
from fixture_repos import apply_template, commit_all, git, prepare_new_project, snapshot
from packaging.version import InvalidVersion, Version

from extensions import answers as answer_rules
from extensions.lifecycle import changed_files, update_report
from extensions.migrate_answers import migrate
from extensions.tree import AFTER_CHANGE, NEXT_STEPS, rendered_kinds, template_files

REPO_ROOT = Path(__file__).resolve().parent.parent
ANSWERS_FILE = ".copier-answers.mcp-docker.yml"
NGINX_TEMPLATE = "template/{% if front.nginx %}nginx{% endif %}/{{ service_name }}.conf.jinja"

# 0.0.1 = the current template with these replacements (current text -> text in 0.0.1).
OLDER_RELEASE = {
    "copier.yml": [
        ("  default: 8000\n", "  default: 8080\n"),  # port
        ("  default: linux/amd64\n", "  default: linux/arm64\n"),  # platform
    ],
    # The Dockerfile's build stage (requirements.txt's part of it).
    "template/_partials/_dockerfile.jinja": [
        (
            "# Requirements before code: editing the server does not re-run pip.\n",
            "# Requirements first, for layer caching.\n",
        )
    ],
    "template/docker-compose.yaml.jinja": [
        (
            "# {{ service_name }}: runs the published image. Values come from .env (copy example.env).\n",
            "# {{ service_name }}: runs the published image.\n",
        )
    ],
    NGINX_TEMPLATE: [("    keepalive 16;\n", "")],
    "template/mcp_serve.py.jinja": [
        (
            '            "timeout_graceful_shutdown": 5,\n',
            "",
        )
    ],
}

# A project on mcp 1.x whose server is server.py's `mcp` (the user's own code replaces the example).
ANSWERS = {"image": "ghcr.io/acme/weather-mcp", "url_prefix": "weather", "sdk": "mcp1-fastmcp", "server": "server:mcp"}
# The same without nginx, which asks for no URL prefix.
DIRECT_ANSWERS = {**{name: value for name, value in ANSWERS.items() if name != "url_prefix"}, "use_nginx": False}
# The same project as 0.1.0's questionnaire asked for it (entry_point and server_object, not server).
ANSWERS_0_1 = {
    "image": "ghcr.io/acme/weather-mcp",
    "url_prefix": "weather",
    "sdk": "mcp1-fastmcp",
    "entry_point": "server.py",
}
NGINX_CONF = "nginx/weather-mcp.conf"

USER_SERVER = (
    "from mcp.server.fastmcp import FastMCP\n\nmcp = FastMCP('weather')\n\n\n"
    "@mcp.tool()\ndef forecast(city: str) -> str:\n    return f'sunny in {city}'\n"
)
USER_REQUIREMENTS = "mcp>=1.23,<2\nhttpx==0.28.1\n"
OTHER_TEMPLATE_ANSWERS = "# another template's answers\n_src_path: gh:someone/python-project\nlicense: MIT\n"


# --- helpers --------------------------------------------------------------------------------


def insert_after(text: str, anchor: str | tuple[str, ...], line: str) -> str:
    """Insert a line after the (single) line starting with anchor, keeping its indentation."""
    lines = text.splitlines(keepends=True)
    index = [i for i, existing in enumerate(lines) if existing.strip().startswith(anchor)]
    assert len(index) == 1, f"{anchor!r} found {len(index)} times"
    indent = lines[index[0]][: len(lines[index[0]]) - len(lines[index[0]].lstrip())]
    lines.insert(index[0] + 1, indent + line + "\n")
    return "".join(lines)


# The user's edits to template-owned files that the template did not touch between the releases.
CLEAN_EDITS = {
    # (MCP_PORT until 0.2.0 named it MCP_SERVE_PORT)
    "docker-compose.yaml": lambda text: insert_after(text, ("MCP_SERVE_PORT:", "MCP_PORT:"), "LOG_LEVEL: debug"),
    NGINX_CONF: lambda text: insert_after(text, "ssl_session_tickets off;", "client_max_body_size 10m;"),
    "Dockerfile": lambda text: text.replace(
        "# Non-root user, by number so Kubernetes' runAsNonRoot",
        "# Non-root user (uid 10001), by number so runAsNonRoot",
    ),
}
USER_MARKS = {
    "docker-compose.yaml": "LOG_LEVEL: debug",
    NGINX_CONF: "client_max_body_size 10m;",
    "Dockerfile": "(uid 10001)",
}
# ... and one on a line the template changed too: this one must end in conflict markers.
USER_DOCKERFILE_COMMENT = "# Our own words: requirements are installed first."


def render(src: Path | str, dst: Path, vcs_ref: str | None, **answers) -> Path:
    return apply_template(dst, src, vcs_ref, **answers)


def committed_project(src: Path | str, dst: Path, vcs_ref: str | None, **answers) -> Path:
    """A project rendered from the template at vcs_ref, in a git repository with everything committed."""
    dst.mkdir(parents=True)
    git(dst, "init", "-q", "-b", "main")
    (dst / ".copier-answers.yml").write_text(OTHER_TEMPLATE_ANSWERS)  # from another Copier template
    render(src, dst, vcs_ref, **answers)
    commit_all(dst, "deployment files from the template")
    return dst


def update(project: Path, **options) -> None:
    copier.run_update(
        str(project), answers_file=ANSWERS_FILE, defaults=True, unsafe=True, overwrite=True, quiet=False, **options
    )


def recorded_answers(project: Path) -> dict:
    return yaml.safe_load((project / ANSWERS_FILE).read_text())


def questions_only(answers: dict) -> dict:
    return {k: v for k, v in answers.items() if not k.startswith("_")}


def files_of(project: Path) -> dict[str, bytes]:
    return {name: data for name, data in snapshot(project).items() if name != ANSWERS_FILE}


def template_owned(project: Path) -> set[str]:
    """The files the template renders for the project's recorded answers (extensions/tree.py)."""
    return expected_files(project) - {ANSWERS_FILE, ".gitignore"}


def deleted_files(project: Path) -> list[str]:
    """The files `git status` shows as deleted (in the index or the working tree)."""
    return [line[3:] for line in git(project, "status", "--porcelain").splitlines() if "D" in line[:2]]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The copier command as a user types it: not a terminal, no colours."""
    result = subprocess.run(
        [sys.executable, "-m", "copier", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    result.stdout, result.stderr = _plain(result.stdout), _plain(result.stderr)
    return result


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def tree_state(project: Path) -> tuple[dict[str, bytes], str, str]:
    """Everything a failed command must leave as it was: the files, the index and HEAD."""
    return snapshot(project), git(project, "status", "--porcelain"), git(project, "rev-parse", "HEAD")


def step_shown(kind: str, files: list[str]) -> str:
    return NEXT_STEPS[kind].format(files=", ".join(files))


def step_prefix(kind: str) -> str:
    """The words a kind's next step starts with, whatever files it names."""
    return NEXT_STEPS[kind].split("{files}")[0]


# --- the releases ---------------------------------------------------------------------------


def copy_working_tree(repo: Path) -> None:
    """This working tree's template (copier.yml, extensions/, template/), committed or not, into repo."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "copier.yml", "extensions", "template"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO_ROOT / name).is_file():  # listed but deleted in the working tree: not part of it
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, repo / name)


@pytest.fixture(scope="session")
def releases(tmp_path_factory) -> Path:
    """A git repository of this working tree's template with two release tags, 0.0.1 and 0.0.2."""
    repo = tmp_path_factory.mktemp("releases") / "mcp-docker-template"
    copy_working_tree(repo)
    current = {name: (repo / name).read_text() for name in OLDER_RELEASE}
    for name, changes in OLDER_RELEASE.items():
        text = current[name]
        for new, old in changes:
            assert text.count(new) == 1, f"the 0.0.1 change to {name} no longer applies: {new!r}"
            text = text.replace(new, old)
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "release 0.0.1")
    git(repo, "tag", "0.0.1")
    for name, text in current.items():
        (repo / name).write_text(text)
    commit_all(repo, "release 0.0.2: nginx keepalive, graceful shutdown, new defaults for port and platform")
    git(repo, "tag", "0.0.2")
    return repo


def release_tags() -> list[str]:
    tags = subprocess.run(["git", "tag"], cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout.split()
    releases = []
    for tag in tags:
        try:
            releases.append((Version(tag), tag))
        except InvalidVersion:
            continue
    return [tag for _, tag in sorted(releases)]


# --- update from an earlier release ---------------------------------------------------------


def test_update_from_an_earlier_release_keeps_every_user_edit(releases, tmp_path, capsys):
    project = committed_project(releases, tmp_path / "project", "0.0.1", **ANSWERS)
    before = recorded_answers(project)
    assert before["port"] == 8080 and before["platform"] == "linux/arm64" and before["_commit"] == "0.0.1"

    for name, edit in CLEAN_EDITS.items():
        (project / name).write_text(edit((project / name).read_text()))
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("# Requirements first, for layer caching.", USER_DOCKERFILE_COMMENT)
    )
    (project / "server.py").write_text(USER_SERVER)
    (project / "requirements.txt").write_text(USER_REQUIREMENTS)
    commit_all(project, "my edits")
    capsys.readouterr()

    update(project)
    shown = capsys.readouterr().err

    # The answers are kept, including those whose default changed in 0.0.2.
    after = recorded_answers(project)
    assert after["_commit"] == "0.0.2"
    assert questions_only(after) == questions_only(before)

    # Every file is 0.0.2's rendering with the same answers, plus the user's edits.
    fresh = render(releases, tmp_path / "fresh", "0.0.2", **questions_only(before))
    expected = files_of(fresh)
    for name, edit in CLEAN_EDITS.items():
        expected[name] = edit(expected[name].decode()).encode()
    expected[".copier-answers.yml"] = OTHER_TEMPLATE_ANSWERS.encode()
    expected["server.py"] = USER_SERVER.encode()
    expected["requirements.txt"] = USER_REQUIREMENTS.encode()
    result = files_of(project)
    conflicted = result.pop("Dockerfile").decode()
    del expected["Dockerfile"]
    assert result == expected

    # The template's fixes arrived: the transport wiring, nginx, the compose comment; port stayed 8080.
    assert '"timeout_graceful_shutdown": 5' in (project / "mcp_serve.py").read_text()
    assert "keepalive 16;" in (project / NGINX_CONF).read_text()
    assert '"127.0.0.1:8080:8080"' in (project / "docker-compose.yaml").read_text()
    assert "linux/arm64" in (project / "build-publish.sh").read_text()

    # The Dockerfile line both changed holds both versions between conflict markers; the rest merged.
    assert re.search(
        r"<<<<<<< before updating\n"
        + re.escape(USER_DOCKERFILE_COMMENT)
        + r"\n=======\n# Requirements before code: editing the server does not re-run pip\.\n>>>>>>> after updating\n",
        conflicted,
    ), conflicted
    assert "# Non-root user (uid 10001), by number so runAsNonRoot" in conflicted
    assert "EXPOSE 8080" in conflicted
    assert git(project, "ls-files", "--unmerged", "--", "Dockerfile"), "git does not show the conflict"

    # What the user is told: the changed files, the conflict, and one next step per kind of change.
    assert "Updating to template version 0.0.2" in shown
    changed = ["Dockerfile", "docker-compose.yaml", "mcp_serve.py", NGINX_CONF]
    assert f"Changed (review with `git diff`): {', '.join(changed)}\n" in shown
    assert "CONFLICTS: you and the template changed the same lines in Dockerfile." in shown
    assert step_shown("image", ["Dockerfile", "mcp_serve.py"]) in shown
    assert step_shown("compose", ["docker-compose.yaml"]) in shown
    assert step_shown("nginx", [NGINX_CONF]) in shown
    for kind in NEXT_STEPS.keys() - {"image", "compose", "nginx"}:
        assert step_prefix(kind) not in shown, f"a next step for {kind} with no {kind} file changed"


def answers_for(src: Path | str, tag: str) -> dict:
    """The answers to make a project with at tag: 0.1.0's questionnaire asked for entry_point, not server."""
    questions = yaml.safe_load(git(Path(src), "show", f"{tag}:copier.yml"))
    return ANSWERS_0_1 if "entry_point" in questions else ANSWERS


def check_update_keeps_the_users_edits(src: Path | str, tag: str, target: str, tmp_path: Path) -> None:
    """A project made at tag and edited by its user, updated to target: the user's answers (carried
    over to today's questions), files and edits are all there, and every other file is target's."""
    project = committed_project(src, tmp_path / "project", tag, **answers_for(src, tag))
    before = recorded_answers(project)
    for name, edit in CLEAN_EDITS.items():
        (project / name).write_text(edit((project / name).read_text()))
    (project / "server.py").write_text(USER_SERVER)
    (project / "requirements.txt").write_text(USER_REQUIREMENTS)
    commit_all(project, "my edits")

    update(project, vcs_ref=target)

    after = recorded_answers(project)
    carried = migrate(questions_only(before))
    assert {name: after.get(name) for name in carried} == carried
    assert (project / "server.py").read_text() == USER_SERVER
    assert (project / "requirements.txt").read_text() == USER_REQUIREMENTS
    fresh = files_of(render(src, tmp_path / "fresh", target, **questions_only(after)))
    # Only what the template rendered at tag and no longer renders may go (an example it dropped).
    rendered_at_tag = files_of(render(src, tmp_path / "old", tag, **answers_for(src, tag)))
    assert set(deleted_files(project)) <= rendered_at_tag.keys() - fresh.keys()
    result = files_of(project)
    assert result.keys() == fresh.keys() | {".copier-answers.yml"}
    owned = template_owned(project)
    for name, data in result.items():
        text = data.decode()
        if name in CLEAN_EDITS and "<<<<<<< before updating" in text:
            assert USER_MARKS[name] in text, f"{name}: the user's edit was lost"
        elif name in CLEAN_EDITS:
            assert text == CLEAN_EDITS[name](fresh[name].decode()), (
                f"{name}: not {target}'s version plus the user's edit"
            )
        elif name in owned:
            assert data == fresh[name], f"{name} is not {target}'s version"


@pytest.mark.parametrize("tag", release_tags() or [pytest.param(None, marks=pytest.mark.skip("no release tags yet"))])
def test_update_from_a_release_tag_of_this_repository(tmp_path, tag):
    """Each release of this repository updates to HEAD keeping the user's edits and answers."""
    check_update_keeps_the_users_edits(REPO_ROOT, tag, "HEAD", tmp_path)


def test_check_update_tells_whether_a_newer_release_exists(releases, tmp_path):
    project = committed_project(releases, tmp_path / "project", "0.0.1", **ANSWERS)

    result = run_cli("check-update", "-a", ANSWERS_FILE, cwd=project)

    assert result.returncode == 0, result.stderr
    assert "New template version available.\nCurrent version is 0.0.1, latest version is 0.0.2." in result.stdout
    assert run_cli("check-update", "-a", ANSWERS_FILE, "--quiet", cwd=project).returncode == 2


def test_update_to_the_same_release_changes_nothing(releases, tmp_path, capsys):
    project = committed_project(releases, tmp_path / "project", "0.0.2", **ANSWERS)
    before = snapshot(project)

    update(project)

    assert snapshot(project) == before
    assert changed_files(project) == []
    shown = capsys.readouterr().err
    assert "Keeping template version 0.0.2" in shown
    assert "Nothing else changed: the deployment files were already up to date." in shown


# --- what the update report asks of the user ------------------------------------------------


def test_every_template_file_has_a_kind_and_every_kind_a_next_step():
    """A file added to template/ without a kind would change unreported; a kind without a step says nothing."""
    files = template_files()
    assert "{{ dockerfile }}.jinja" in files and "mcp_serve.py.jinja" in files
    assert [name for name in files if name not in AFTER_CHANGE] == [], "template files without a kind in AFTER_CHANGE"
    assert [name for name in AFTER_CHANGE if name not in files] == [], "AFTER_CHANGE names files template/ lacks"
    assert sorted(set(AFTER_CHANGE.values()) - NEXT_STEPS.keys()) == [], "kinds without a NEXT_STEPS line"
    assert sorted(NEXT_STEPS.keys() - set(AFTER_CHANGE.values())) == [], "NEXT_STEPS lines no file leads to"
    assert all(step.strip() for step in NEXT_STEPS.values())


def project_kinds(project: Path) -> dict[str, str]:
    """{rendered file: kind} for the project's recorded answers, as the update report computes it."""
    context = render_context(project)
    environment = jinja2.Environment()
    return rendered_kinds(lambda text: environment.from_string(text).render(context))


def test_a_swarm_project_is_told_to_deploy_the_stack_again(tmp_path):
    """Its nginx takes the configuration from deploy-stack.sh, not from /etc/nginx."""
    project = render(REPO_ROOT, tmp_path / "project", "HEAD", orchestrator="swarm", image="ghcr.io/acme/weather-mcp")
    kinds = project_kinds(project)
    swarm_files = ["deploy-stack.sh", "docker-stack.yaml", "nginx/weather-mcp.conf"]
    assert sorted(name for name, kind in kinds.items() if kind == "swarm") == swarm_files
    assert "nginx" not in kinds.values()
    assert step_shown("swarm", swarm_files).endswith("./deploy-stack.sh on a manager.")


def test_update_report_names_the_next_step_of_each_kind_of_change(releases, tmp_path):
    project = committed_project(releases, tmp_path / "project", "0.0.2", **ANSWERS)
    kinds = project_kinds(project)
    assert set(kinds) == template_owned(project)
    # A project with nginx has a file of every kind but the Kubernetes manifests, the Swarm stack and
    # server.json (a registry listing is asked for, never made by default).
    not_here = {"kubernetes", "swarm", "registry"}
    assert set(kinds.values()) == set(NEXT_STEPS) - not_here
    assert update_report(project, ANSWERS_FILE, kinds) == (
        "Nothing else changed: the deployment files were already up to date."
    )

    for kind in set(NEXT_STEPS) - not_here:
        files = sorted(name for name, its_kind in kinds.items() if its_kind == kind)
        for name in files:
            with (project / name).open("a") as changed:
                changed.write("\n")
        report = update_report(project, ANSWERS_FILE, kinds).splitlines()
        git(project, "checkout", "--", *files)

        assert report[0] == f"Changed (review with `git diff`): {', '.join(files)}"
        assert report[1:] == [step_shown(kind, files)], kind


# A change to one template file, as a release 0.0.3 after 0.0.2 makes it: (template file, the line
# after which 0.0.3 adds one, that line, the file it renders to).
NEXT_RELEASE_CHANGES = {
    "image": ("template/{{ dockerfile }}.jinja", "EXPOSE", "# 0.0.3: the port above is the container's.", "Dockerfile"),
    "compose": (
        "template/docker-compose.yaml.jinja",
        "restart: unless-stopped",
        "stop_grace_period: 10s",
        "docker-compose.yaml",
    ),
    "nginx": (NGINX_TEMPLATE, "ssl_session_timeout 1d;", "# 0.0.3: one day of sessions.", NGINX_CONF),
    "clients": (
        "template/clients/claude-code.mcp.json.jinja",
        '"type": {{ client_type | tojson }},',
        '"timeout": 60000,',
        "clients/claude-code.mcp.json",
    ),
}


@pytest.mark.parametrize("kind", NEXT_RELEASE_CHANGES)
def test_update_report_after_a_release_that_changed_one_file(releases, tmp_path, capsys, kind):
    template_file, anchor, line, rendered = NEXT_RELEASE_CHANGES[kind]
    repo = tmp_path / "mcp-docker-template"
    subprocess.run(["git", "clone", "-q", str(releases), str(repo)], check=True)
    (repo / template_file).write_text(insert_after((repo / template_file).read_text(), anchor, line))
    commit_all(repo, f"release 0.0.3: a change to {rendered}")
    git(repo, "tag", "0.0.3")
    project = committed_project(repo, tmp_path / "project", "0.0.2", **ANSWERS)
    capsys.readouterr()

    update(project)

    shown = capsys.readouterr().err
    assert line in (project / rendered).read_text()
    assert changed_files(project) == sorted([rendered, ANSWERS_FILE])
    assert f"Changed (review with `git diff`): {rendered}\n{step_shown(kind, [rendered])}\n" in shown
    for other in NEXT_STEPS.keys() - {kind}:
        assert step_prefix(other) not in shown, f"a next step for {other} after a change to {rendered} only"


# --- re-answering a question ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "vcs_ref"),
    [("sse", "streamable-http", copier.VcsRef.CURRENT), ("streamable-http", "sse", None)],
    ids=["sse-to-streamable-http-current", "streamable-http-to-sse-newest"],
)
def test_reanswering_rewrites_what_depends_on_it_and_nothing_else(releases, tmp_path, capsys, old, new, vcs_ref):
    project = committed_project(releases, tmp_path / "project", "0.0.2", **ANSWERS, transport=old)
    compose = project / "docker-compose.yaml"
    compose.write_text(CLEAN_EDITS["docker-compose.yaml"](compose.read_text()))
    (project / "server.py").write_text(USER_SERVER)
    commit_all(project, "my edits")
    before = recorded_answers(project)
    old_render = files_of(render(releases, tmp_path / "old", "0.0.2", **ANSWERS, transport=old))
    new_render = files_of(render(releases, tmp_path / "new", "0.0.2", **ANSWERS, transport=new))
    user_owned = {"server.py", "requirements.txt"}
    depends = sorted(name for name in new_render.keys() - user_owned if new_render[name] != old_render.get(name))
    assert {"Dockerfile", "docker-compose.yaml", "mcp_serve.py", "clients/claude-code.mcp.json"} <= set(depends)
    # A client file only some transports have (Codex and goose speak no SSE) goes or comes with the answer.
    removed = sorted(old_render.keys() - new_render.keys() - user_owned)
    assert removed == (["clients/codex.config.toml", "clients/goose.config.yaml"] if new == "sse" else [])
    depends = sorted([*depends, *removed])

    update(project, data={"transport": new}, vcs_ref=vcs_ref)

    assert changed_files(project) == sorted([*depends, ANSWERS_FILE])
    # Only streamable-http asks `sessions`: its default is taken, or the answer goes with it.
    expected = {**questions_only(before), "transport": new}
    if new == "streamable-http":
        expected["sessions"] = "stateless"
    else:
        expected.pop("sessions", None)
    assert questions_only(recorded_answers(project)) == expected
    result = files_of(project)
    for name in depends:
        if name in removed:
            assert name not in result, f"{name} is left over from {old}"
            continue
        expected = new_render[name].decode()
        if name == "docker-compose.yaml":
            expected = CLEAN_EDITS[name](expected)
        assert result[name].decode() == expected, f"{name} is not the {new} version"
    assert result["server.py"].decode() == USER_SERVER
    assert f"Changed (review with `git diff`): {', '.join(depends)}" in capsys.readouterr().err


# The user's code and dependency files, in every form the answers can name.
USER_FILES = {
    "server.py": USER_SERVER,
    "requirements.txt": USER_REQUIREMENTS,
    "pyproject.toml": '[project]\nname = "weather"\nversion = "1.0.0"\ndependencies = ["mcp>=1.23,<2"]\n',
    "uv.lock": "version = 1\n# the user's lock\n",
    "poetry.lock": "# the user's lock\n",
    "weather/__init__.py": "",
    "weather/server.py": USER_SERVER,
    "src/app.py": USER_SERVER,
}


@pytest.mark.parametrize(
    "data",
    [
        ["server=weather.server:mcp", "source_paths=[weather]"],
        ["server=src/app.py:mcp", "source_paths=[src/app.py]"],
        ["server=weather", "source_paths=[weather, server.py]"],
        ["sdk=mcp2-mcpserver"],
        ["sdk=mcp1-lowlevel", "server=server:app"],
        ["dependencies=pyproject.toml"],
        ["dependencies=uv.lock"],
        ["dependencies=poetry.lock"],
        ["source_paths=[weather]", "server=weather.server:mcp"],
    ],
    ids=lambda data: "+".join(data),
)
def test_reanswering_the_server_or_its_dependencies_never_touches_the_users_files(releases, tmp_path, data):
    """`copier update --vcs-ref :current: --data server=NEW` (0.1.0 deleted the old entry point on that)."""
    project = committed_project(releases, tmp_path / "project", "0.0.2", **ANSWERS)
    for name, text in USER_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    commit_all(project, "my server and its dependencies")
    before = snapshot(project)
    options = [arg for item in data for arg in ("--data", item)]

    result = run_cli(
        "update", "--trust", "--defaults", "-a", ANSWERS_FILE, "--vcs-ref", ":current:", *options, cwd=project
    )

    assert result.returncode == 0, result.stderr
    after = snapshot(project)
    recorded = recorded_answers(project)
    for item in data:
        name, _, value = item.partition("=")
        assert recorded[name] == yaml.safe_load(value), f"{name} not re-answered"
    for name, text in USER_FILES.items():
        assert after.get(name) == text.encode(), f"{name} was changed or deleted"
    assert deleted_files(project) == []
    owned = template_owned(project)
    assert sorted(set(changed_files(project)) - owned - {ANSWERS_FILE}) == [], "a file the template does not own"
    assert sorted(after.keys() - before.keys() - owned) == [], "a new file besides the template's"
    assert "Changed (review with `git diff`): " in result.stderr


def test_a_new_server_outside_the_source_paths_is_refused_naming_both(releases, tmp_path):
    project = committed_project(releases, tmp_path / "project", "0.0.2", **ANSWERS)
    state = tree_state(project)

    result = run_cli(
        "update", "--trust", "--defaults", "-a", ANSWERS_FILE, "--vcs-ref", ":current:", "--data",
        "server=weather.server:mcp", cwd=project,
    )  # fmt: skip

    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "source_paths: none of them holds the server's code (question server: weather.server:mcp)" in result.stderr
    assert tree_state(project) == state


def test_an_invalid_new_answer_stops_the_update(releases, tmp_path):
    project = committed_project(releases, tmp_path / "project", "0.0.2", **ANSWERS)
    state = tree_state(project)

    with pytest.raises(UserMessageError, match="server: a module named 'mcp' would shadow the 'mcp' module"):
        update(project, data={"server": "mcp:mcp"}, vcs_ref=copier.VcsRef.CURRENT)

    assert tree_state(project) == state


# --- copying into an existing repository ----------------------------------------------------

EXISTING = {
    "Dockerfile": "FROM python:3.12\nCOPY . .\nCMD python server.py\n",
    "docker-compose.yaml": "services:\n  app:\n    build: .\n",
    ".dockerignore": ".git\n",
    "README.md": "# Weather\n",
    ".gitignore": "__pycache__/\n",
    ".copier-answers.yml": OTHER_TEMPLATE_ANSWERS,
    "requirements.txt": "mcp==1.30.0\n",
    "server.py": USER_SERVER,
    "clients/claude-code.mcp.json": '{"mcpServers": {}}\n',
}
# What the template would write there too: the user's Dockerfile and .dockerignore are not among
# them, as the template's Dockerfile is Dockerfile.mcp (with Dockerfile.mcp.dockerignore) then.
KEPT = ["clients/claude-code.mcp.json", "docker-compose.yaml"]
# What the answers file records as theirs: those, and their Dockerfile (the template never writes a
# .dockerignore: its ignore file is named after its Dockerfile).
RECORDED_USER_FILES = sorted([*KEPT, "Dockerfile"])


def existing_repository(path: Path) -> Path:
    path.mkdir()
    for name, text in EXISTING.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "init", "-q", "-b", "main")
    commit_all(path, "the user's server")
    return path


def test_documented_copy_into_an_existing_repository_keeps_every_file(releases, tmp_path):
    project = existing_repository(tmp_path / "project")

    result = run_cli("copy", "--trust", "--defaults", str(releases), ".", cwd=project)

    assert result.returncode == 0, result.stderr
    for name, text in EXISTING.items():
        expected = text + "VERSION\n.env\nmcp-tokens/\n" if name == ".gitignore" else text
        assert (project / name).read_text() == expected, f"{name} was changed"
    # The code was read: the server, its SDK, the Python of the user's Dockerfile, ours beside theirs.
    recorded = recorded_answers(project)
    assert {k: recorded[k] for k in ("sdk", "server", "dependencies", "python_version", "dockerfile")} == {
        "sdk": "mcp1-fastmcp",
        "server": "server:mcp",
        "dependencies": "requirements.txt",
        "python_version": "3.12",
        "dockerfile": "Dockerfile.mcp",
    }
    assert "COPY server.py server.py" in (project / "Dockerfile.mcp").read_text()
    assert (project / "Dockerfile.mcp.dockerignore").is_file()
    # `copier copy SRC .`: the image, and so the nginx file, is named after the folder.
    assert (project / "mcp_serve.py").is_file() and (project / "nginx/project.conf").is_file()
    for name in KEPT:
        assert re.search(rf"^ *skip  {re.escape(name)}$", result.stderr, re.M), f"{name} not shown as skipped"
    assert f"Already there, so left exactly as they were: {', '.join(KEPT)}." in result.stderr
    assert f"The template's versions of {', '.join(KEPT)} were NOT written" in result.stderr
    assert "Created " not in result.stdout + result.stderr, "an example server next to the user's"

    # The command it prints shows the template's versions next to the user's.
    preview_command = re.search(
        r"^ +rm -rf /tmp/mcp-docker-preview && (copier copy .* /tmp/mcp-docker-preview)$", result.stderr, re.M
    ).group(1)
    preview = tmp_path / "preview"
    args = preview_command.split()[1:-1] + [str(preview)]
    assert run_cli(*args, cwd=project).returncode == 0
    assert "# Requirements before code" in (preview / "Dockerfile.mcp").read_text()
    assert (preview / "docker-compose.yaml").read_text().startswith("# project: runs the published image.")


def test_copy_into_an_existing_repository_keeps_files_even_with_overwrite(releases, tmp_path, capsys):
    project = existing_repository(tmp_path / "project")

    copier.run_copy(str(releases), str(project), defaults=True, unsafe=True, overwrite=True, quiet=False)

    for name in EXISTING.keys() - {".gitignore"}:
        assert (project / name).read_text() == EXISTING[name], f"{name} was overwritten"
    assert "Already there, so left exactly as they were" in capsys.readouterr().err


def test_update_delivers_fixes_after_a_copy_into_an_existing_repository(releases, tmp_path, capsys):
    """Files the first copy wrote are updated like any project's; the ones it kept are never written."""
    project = existing_repository(tmp_path / "project")
    render(releases, project, "0.0.1", **ANSWERS)
    kept = recorded_answers(project)["user_files"]
    assert kept == RECORDED_USER_FILES
    commit_all(project, "deployment files")
    capsys.readouterr()

    update(project)

    assert "keepalive 16;" in (project / NGINX_CONF).read_text()
    assert '"timeout_graceful_shutdown": 5' in (project / "mcp_serve.py").read_text()
    ours = recorded_answers(project)["dockerfile"]
    if ours != "Dockerfile":
        assert "# Requirements before code" in (project / ours).read_text()
    unchanged = ["server.py", "requirements.txt", ".copier-answers.yml", "README.md", ".dockerignore"]
    unchanged += ["clients/claude-code.mcp.json", "docker-compose.yaml", "Dockerfile"]
    for name in unchanged:
        assert (project / name).read_text() == EXISTING[name], f"{name} was changed"
    # 0.0.2 changed lines of docker-compose.yaml: the user's own file stayed out of the merge.
    assert deleted_files(project) == []
    assert "CONFLICTS" not in capsys.readouterr().err
    assert recorded_answers(project)["user_files"] == kept


def test_the_first_copy_cannot_give_the_templates_dockerfile_the_name_of_the_users(releases, tmp_path):
    """The copy would keep the user's Dockerfile, and the image built would be theirs, never running
    the wiring: the answer is refused, naming the question, before anything is written."""
    project = existing_repository(tmp_path / "project")
    state = snapshot(project)
    with pytest.raises(ValueError, match="dockerfile: this project has a Dockerfile of its own"):
        render(releases, project, "0.0.2", **ANSWERS, dockerfile="Dockerfile")
    assert snapshot(project) == state


def test_an_update_cannot_give_the_templates_dockerfile_the_name_of_the_users(releases, tmp_path):
    project = existing_repository(tmp_path / "project")
    render(releases, project, "0.0.1", **ANSWERS)
    commit_all(project, "deployment files")
    state = tree_state(project)

    with pytest.raises(UserMessageError, match="dockerfile: Dockerfile is a file of yours"):
        update(project, data={"dockerfile": "Dockerfile"})

    assert tree_state(project) == state


def second_copy(project: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, "--trust", "--defaults", cwd=project)


@pytest.mark.parametrize(
    ("command", "refused"),
    [
        (["copy", "{src}", "."], "stop at the first file that differs, part-way"),
        (
            ["copy", "--overwrite", "{src}", "."],
            "not use the recorded answers (without -a, Copier reads another file): dockerfile ('Dockerfile.mcp' ->",
        ),
        (
            ["copy", "--quiet", "--overwrite", "{src}", "."],
            "not use the recorded answers (without -a, Copier reads another file): dockerfile",
        ),
        (["recopy", "-a", ANSWERS_FILE], "stop at the first file that differs, part-way"),
        (["copy", "--overwrite", "-a", ANSWERS_FILE, "{src}", "."], None),
        (["recopy", "--overwrite", "-a", ANSWERS_FILE], None),
        (["recopy", "--overwrite", "-a", ANSWERS_FILE, "--data", "port=9000"], None),
    ],
    ids=["copy", "copy-overwrite", "copy-overwrite-quiet", "recopy", "copy-overwrite-a", "recopy-overwrite-a", "data"],
)
def test_a_second_copy_never_writes_the_users_files(releases, tmp_path, command, refused):
    """Refused before anything is written where it would go wrong; else only the template's files change."""
    project = existing_repository(tmp_path / "project")
    assert run_cli("copy", "--trust", "--defaults", str(releases), ".", cwd=project).returncode == 0
    commit_all(project, "deployment files")
    (project / "DEPLOYMENT.md").write_text("my notes\n")
    commit_all(project, "edited")
    state = tree_state(project)

    result = second_copy(project, *(arg.format(src=releases) for arg in command))

    if refused:
        assert result.returncode != 0
        assert refused in result.stderr and "Nothing was written." in result.stderr
        assert "Traceback" not in result.stderr
        assert tree_state(project) == state
        return
    assert result.returncode == 0, result.stderr
    # --overwrite asked for the template's own files back; the user's stayed as they were.
    assert (project / "DEPLOYMENT.md").read_text() != "my notes\n"
    for name, text in EXISTING.items():
        expected = text + "VERSION\n.env\nmcp-tokens/\n" if name == ".gitignore" else text
        assert (project / name).read_text() == expected, f"{name} was changed"
    assert recorded_answers(project)["user_files"] == RECORDED_USER_FILES


@pytest.mark.parametrize(
    "answers",
    [
        ANSWERS,
        {**DIRECT_ANSWERS, "server": "src/weather/server.py:mcp", "dockerfile": "Dockerfile.mcp"},
        {**ANSWERS, "sdk": "mcp2-lowlevel", "server": "weather_app.server:server", "dependencies": "uv.lock"},
    ],
    ids=["nginx", "direct-file-in-folder", "package-uv-lock"],
)
def test_rendered_paths_are_the_files_a_copy_writes(releases, tmp_path, answers):
    """Besides the rendered files (tree.py's list), a new project gets only its example server."""
    made = prepare_new_project(tmp_path / "project", answers)  # a lock: the project made it first
    project = render(releases, tmp_path / "project", "0.0.2", **answers)
    written = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    server_file = answer_rules.new_server_file(answers["server"])
    module = answers["server"].partition(":")[0]
    packages = (
        set() if module.endswith(".py") else {f"{p.as_posix()}/__init__.py" for p in Path(server_file).parents[:-1]}
    )
    requirements = (
        {"requirements.txt"} if answers.get("dependencies", "requirements.txt") == "requirements.txt" else set()
    )
    assert written == expected_files(project) | {server_file} | packages | requirements | set(made)


# --- bad situations: a clear message, and nothing changed -----------------------------------


@pytest.fixture
def project_at_0_0_1(releases, tmp_path) -> Path:
    return committed_project(releases, tmp_path / "project", "0.0.1", **ANSWERS)


def test_dirty_tree_stops_the_update(project_at_0_0_1):
    project = project_at_0_0_1
    (project / "docker-compose.yaml").write_text((project / "docker-compose.yaml").read_text() + "# not committed\n")
    state = tree_state(project)

    with pytest.raises(UserMessageError, match="Destination repository is dirty; cannot continue. Please commit"):
        update(project)

    assert tree_state(project) == state


def test_unknown_template_version_stops_the_update(project_at_0_0_1):
    project = project_at_0_0_1
    state = tree_state(project)

    with pytest.raises(ValueError, match="Unknown revision: '9.9.9'"):
        update(project, vcs_ref="9.9.9")

    assert tree_state(project) == state


def test_unknown_recorded_template_version_stops_the_update(project_at_0_0_1):
    project = project_at_0_0_1
    _edit_answers(project, "_commit: 0.0.1", "_commit: 9.9.9")
    state = tree_state(project)

    with pytest.raises(ValueError, match="Unknown revision: '9.9.9'"):
        update(project)

    assert tree_state(project) == state


def test_downgrade_stops_the_update(releases, tmp_path):
    project = committed_project(releases, tmp_path / "project", "0.0.2", **ANSWERS)
    state = tree_state(project)

    with pytest.raises(
        UserMessageError, match="You are downgrading from 0.0.2 to 0.0.1. Downgrades are not supported."
    ):
        update(project, vcs_ref="0.0.1")

    assert tree_state(project) == state


def _edit_answers(project: Path, old: str, new: str) -> None:
    path = project / ANSWERS_FILE
    text = path.read_text()
    assert old in text, f"{old!r} not in the answers file"
    path.write_text(text.replace(old, new))
    commit_all(project, "edit the answers by hand")


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "transport: streamable-http",
            "transport: websocket",
            "transport: 'websocket' is not one of streamable-http, sse",
        ),
        ("port: 8080", "port: abc", "port: 'abc' is not a whole number"),
        ("port: 8080", "port: 70000", "port: 70000 is not a port; expected a whole number from 1 to 65535"),
        ("http_port: 80", "http_port: 443", "http_port: must differ from https_port"),
        ("image: ghcr.io/acme/weather-mcp", "image: ghcr.io/Acme/weather-mcp", "image: 'ghcr.io/Acme/weather-mcp' has"),
        ("env_vars: []", "env_vars: [1PASSWORD]", "env_vars: '1PASSWORD' is not a valid variable name"),
        ("server: server:mcp", "server: mcp:mcp", "server: a module named 'mcp' would shadow the 'mcp' module"),
        (
            "source_paths:\n- server.py",
            "source_paths:\n- tests/",
            "source_paths: 'tests/' is kept out of the image by the .dockerignore pattern 'tests'",
        ),
        ("sdk: mcp1-fastmcp", "sdk: mcp3-fastmcp", "sdk: 'mcp3-fastmcp' is not one of mcp2-mcpserver"),
        ("use_nginx: true\n", "use_nginx: true\nuser_files: Dockerfile\n", "user_files: 'Dockerfile' is not a list"),
    ],
    ids=[
        "choice",
        "type",
        "validator",
        "rule-between-answers",
        "image",
        "env-vars",
        "server",
        "source-paths",
        "sdk",
        "user-files",
    ],
)
def test_hand_broken_answers_file_stops_the_update(project_at_0_0_1, old, new, problem):
    project = project_at_0_0_1
    _edit_answers(project, old, new)
    state = tree_state(project)

    with pytest.raises(UserMessageError) as raised:
        update(project)

    assert str(raised.value).startswith(f"{ANSWERS_FILE} holds answers this template refuses, so nothing was changed:")
    assert problem in str(raised.value)
    assert tree_state(project) == state


def test_hand_broken_answers_file_message_on_the_command_line(project_at_0_0_1):
    """What the user sees: the problems and what to do, no traceback; exit status 1."""
    project = project_at_0_0_1
    _edit_answers(project, "transport: streamable-http", "transport: websocket")
    _edit_answers(project, "port: 8080", "port: abc")
    state = tree_state(project)

    result = run_cli("update", "--trust", "--defaults", "-a", ANSWERS_FILE, cwd=project)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        f"{ANSWERS_FILE} holds answers this template refuses, so nothing was changed:\n"
        "  port: 'abc' is not a whole number\n"
        "  transport: 'websocket' is not one of streamable-http, sse\n"
        f"Fix them in {ANSWERS_FILE} (`git log -p {ANSWERS_FILE}` shows the earlier ones), commit, "
        "and run the update again."
    ) in result.stderr
    assert tree_state(project) == state


def test_hand_broken_answer_stops_the_update_even_with_a_new_value_for_it(project_at_0_0_1):
    """Copier renders the recorded answers with the old release first, so --data cannot repair them."""
    project = project_at_0_0_1
    _edit_answers(project, "transport: streamable-http", "transport: websocket")
    state = tree_state(project)

    with pytest.raises(UserMessageError, match="transport: 'websocket' is not one of streamable-http, sse"):
        update(project, data={"transport": "sse"})

    assert tree_state(project) == state


def test_answers_file_that_is_not_yaml_stops_the_update(project_at_0_0_1):
    """Copier reads the file before the template can check it: its YAML error names the file and line."""
    project = project_at_0_0_1
    _edit_answers(project, "transport: streamable-http", "transport: [")
    state = tree_state(project)

    with pytest.raises(yaml.YAMLError, match=re.escape(ANSWERS_FILE) + '", line'):
        update(project)

    assert tree_state(project) == state
