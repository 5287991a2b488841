"""The template's life in a project: updates between releases that keep the user's edits, re-answered
questions, copying into an existing repository without loss, and the bad situations that must stop
with a clear message and no change.

The releases are real git tags of a copy of this working tree: 0.0.1 is the current template with
real changes undone (older comments, no nginx keepalive, an older uvicorn call, other defaults for
`port` and `platform`), 0.0.2 is the current template. Release tags of this repository itself, once
there are any, are each updated to HEAD as well.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml
from answer_sets import expected_files
from copier.errors import UserMessageError
from fixture_repos import apply_template, commit_all, git, snapshot
from packaging.version import InvalidVersion, Version

from extensions.lifecycle import changed_files

REPO_ROOT = Path(__file__).resolve().parent.parent
ANSWERS_FILE = ".copier-answers.mcp-docker.yml"
NGINX_TEMPLATE = "template/{% if use_nginx %}nginx{% endif %}/{{ service_name }}.conf.jinja"

# 0.0.1 = the current template with these replacements (current text -> text in 0.0.1).
OLDER_RELEASE = {
    "copier.yml": [
        ("  default: 8000\n", "  default: 8080\n"),  # port
        ("  default: linux/amd64\n", "  default: linux/arm64\n"),  # platform
    ],
    "template/Dockerfile.jinja": [
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
            "    # A short graceful shutdown: open SSE streams would otherwise hold `docker stop`"
            " for its full timeout.\n"
            "    uvicorn.run(app, host=host, port=int(port_text), proxy_headers=True, timeout_graceful_shutdown=5)\n",
            "    uvicorn.run(app, host=host, port=int(port_text), proxy_headers=True)\n",
        )
    ],
}

ANSWERS = {"image": "ghcr.io/acme/weather-mcp", "url_prefix": "weather", "entry_point": "server.py"}
NGINX_CONF = "nginx/weather-mcp.conf"

USER_SERVER = (
    "from mcp.server.fastmcp import FastMCP\n\nmcp = FastMCP('weather')\n\n\n"
    "@mcp.tool()\ndef forecast(city: str) -> str:\n    return f'sunny in {city}'\n"
)
OTHER_TEMPLATE_ANSWERS = "# another template's answers\n_src_path: gh:someone/python-project\nlicense: MIT\n"


# --- helpers --------------------------------------------------------------------------------


def insert_after(text: str, anchor: str, line: str) -> str:
    """Insert a line after the (single) line starting with anchor, keeping its indentation."""
    lines = text.splitlines(keepends=True)
    index = [i for i, existing in enumerate(lines) if existing.strip().startswith(anchor)]
    assert len(index) == 1, f"{anchor!r} found {len(index)} times"
    indent = lines[index[0]][: len(lines[index[0]]) - len(lines[index[0]].lstrip())]
    lines.insert(index[0] + 1, indent + line + "\n")
    return "".join(lines)


# The user's edits to template-owned files that the template did not touch between the releases.
CLEAN_EDITS = {
    "docker-compose.yaml": lambda text: insert_after(text, "MCP_PORT:", "LOG_LEVEL: debug"),
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


# --- the releases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def releases(tmp_path_factory) -> Path:
    """A git repository of this working tree's template with two release tags, 0.0.1 and 0.0.2."""
    repo = tmp_path_factory.mktemp("releases") / "mcp-docker-template"
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
    (project / "requirements.txt").write_text("mcp>=1.23,<2\nhttpx==0.28.1\n")
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
    expected["requirements.txt"] = b"mcp>=1.23,<2\nhttpx==0.28.1\n"
    result = files_of(project)
    conflicted = result.pop("Dockerfile").decode()
    del expected["Dockerfile"]
    assert result == expected

    # The template's fixes arrived: the transport wiring, nginx, the compose comment; port stayed 8080.
    assert "timeout_graceful_shutdown=5" in (project / "mcp_serve.py").read_text()
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

    # What the user is told.
    assert "Updating to template version 0.0.2" in shown
    assert (
        "Changed (review with `git diff`): DEPLOYMENT.md, Dockerfile, docker-compose.yaml, mcp_serve.py,"
        " nginx/weather-mcp.conf" in shown
    )
    assert "CONFLICTS: you and the template changed the same lines in Dockerfile." in shown
    assert "The image changed: ./build-publish.sh" in shown
    assert "copy nginx/weather-mcp.conf to /etc/nginx/conf.d/" in shown


def without_version(data: bytes) -> bytes:
    """DEPLOYMENT.md names the template version; renders of a dirty checkout each get a new one."""
    return re.sub(rb"\(template version [^)]*\)", b"", data)


@pytest.mark.parametrize("tag", release_tags() or [pytest.param(None, marks=pytest.mark.skip("no release tags yet"))])
def test_update_from_a_release_tag_of_this_repository(tmp_path, tag):
    """Each release of this repository updates to HEAD keeping the user's edits and answers."""
    project = committed_project(REPO_ROOT, tmp_path / "project", tag, **ANSWERS)
    before = recorded_answers(project)
    for name, edit in CLEAN_EDITS.items():
        (project / name).write_text(edit((project / name).read_text()))
    (project / "server.py").write_text(USER_SERVER)
    commit_all(project, "my edits")

    update(project, vcs_ref="HEAD")

    assert questions_only(recorded_answers(project)) == questions_only(before)
    assert (project / "server.py").read_text() == USER_SERVER
    fresh = files_of(render(REPO_ROOT, tmp_path / "fresh", "HEAD", **questions_only(before)))
    result = files_of(project)
    assert result.keys() == fresh.keys() | {".copier-answers.yml"}
    for name, data in result.items():
        text = data.decode()
        if name in CLEAN_EDITS and "<<<<<<< before updating" in text:
            assert USER_MARKS[name] in text, f"{name}: the user's edit was lost"
        elif name in CLEAN_EDITS:
            assert text == CLEAN_EDITS[name](fresh[name].decode()), f"{name}: not HEAD's version plus the user's edit"
        elif name not in ("server.py", ".copier-answers.yml"):
            assert without_version(data) == without_version(fresh[name]), f"{name} is not HEAD's version"


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

    update(project, data={"transport": new}, vcs_ref=vcs_ref)

    assert changed_files(project) == sorted([*depends, ANSWERS_FILE])
    assert questions_only(recorded_answers(project)) == {**questions_only(before), "transport": new}
    result = files_of(project)
    for name in depends:
        expected = new_render[name].decode()
        if name == "docker-compose.yaml":
            expected = CLEAN_EDITS[name](expected)
        assert result[name].decode() == expected, f"{name} is not the {new} version"
    assert result["server.py"].decode() == USER_SERVER
    assert f"Changed (review with `git diff`): {', '.join(depends)}" in capsys.readouterr().err


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
KEPT = [".dockerignore", "Dockerfile", "clients/claude-code.mcp.json", "docker-compose.yaml", "requirements.txt"]


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
        expected = text + "VERSION\n.env\n" if name == ".gitignore" else text
        assert (project / name).read_text() == expected, f"{name} was changed"
    # `copier copy SRC .`: the image, and so the nginx file, is named after the folder.
    assert (project / "mcp_serve.py").is_file() and (project / "nginx/project.conf").is_file()
    for name in KEPT + ["server.py"]:
        assert re.search(rf"^ *skip  {re.escape(name)}$", result.stderr, re.M), f"{name} not shown as skipped"
    assert f"Already there, so left exactly as they were: {', '.join(sorted([*KEPT, 'server.py']))}." in result.stderr
    assert (
        "The template's versions of .dockerignore, Dockerfile, clients/claude-code.mcp.json, docker-compose.yaml "
        "were NOT written" in result.stderr
    )

    # The command it prints shows the template's versions next to the user's.
    preview_command = re.search(r"^ +(copier copy .* /tmp/mcp-docker-preview)$", result.stderr, re.M).group(1)
    preview = tmp_path / "preview"
    args = preview_command.split()[1:-1] + [str(preview)]
    assert run_cli(*args, cwd=project).returncode == 0
    assert "# Requirements before code" in (preview / "Dockerfile").read_text()


def test_copy_into_an_existing_repository_keeps_files_even_with_overwrite(releases, tmp_path, capsys):
    project = existing_repository(tmp_path / "project")

    copier.run_copy(str(releases), str(project), defaults=True, unsafe=True, overwrite=True, quiet=False)

    for name in KEPT + ["server.py", ".copier-answers.yml", "README.md"]:
        assert (project / name).read_text() == EXISTING[name], f"{name} was overwritten"
    assert "Already there, so left exactly as they were" in capsys.readouterr().err


@pytest.mark.parametrize("skip", [[], ["Dockerfile", "docker-compose.yaml"]], ids=["plain", "skip-kept-files"])
def test_update_delivers_fixes_after_a_copy_into_an_existing_repository(releases, tmp_path, capsys, skip):
    """Files the first copy wrote are updated like any project's; the ones it kept are never replaced."""
    project = existing_repository(tmp_path / "project")
    render(releases, project, "0.0.1", **ANSWERS)
    commit_all(project, "deployment files")

    update(project, skip_if_exists=skip)

    assert "keepalive 16;" in (project / NGINX_CONF).read_text()
    assert "timeout_graceful_shutdown=5" in (project / "mcp_serve.py").read_text()
    unchanged = ["server.py", "requirements.txt", ".copier-answers.yml", "README.md", ".dockerignore"]
    for name in unchanged + ["clients/claude-code.mcp.json"] + skip:
        assert (project / name).read_text() == EXISTING[name], f"{name} was changed"
    shown = capsys.readouterr().err
    if not skip:
        # 0.0.2 changed lines of these two: the user's own files get the change between conflict
        # markers, with every line of theirs still there.
        for name in ("Dockerfile", "docker-compose.yaml"):
            text = (project / name).read_text()
            assert "<<<<<<< before updating" in text and ">>>>>>> after updating" in text
            assert all(line in text.splitlines() for line in EXISTING[name].splitlines()), name
        assert "CONFLICTS: you and the template changed the same lines in Dockerfile, docker-compose.yaml." in shown
    else:
        assert "CONFLICTS" not in shown


def test_rendered_paths_are_the_files_a_copy_writes(releases, tmp_path):
    for name, answers in {
        "nginx": ANSWERS,
        "direct": {**ANSWERS, "use_nginx": False, "entry_point": "src/weather/server.py"},
    }.items():
        project = render(releases, tmp_path / name, "0.0.2", **answers)
        written = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
        assert expected_files(project) == written


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
    ],
    ids=["choice", "type", "validator", "rule-between-answers", "image", "env-vars"],
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
