"""The update from the real 0.1.0 release to this working tree: Copier's migration carries 0.1.0's
answers (entry_point, server_object, extra_paths) over to today's (server, source_paths,
dependencies), and nothing of the user's is deleted or changed on the way.

0.1.0 is the template of commit a404351 of this repository (the last commit before the redesign
began; its copier.yml, extensions/ and template/ are those of 473ae6f, which added the 0.1.0
CHANGELOG entry). A throwaway template repository gets that tree as tag 0.1.0 and this working
tree as tag 0.2.0.
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from copier.errors import UserMessageError
from fixture_repos import commit_all, git, snapshot
from test_lifecycle import (
    ANSWERS_FILE,
    NGINX_CONF,
    REPO_ROOT,
    check_update_keeps_the_users_edits,
    copy_working_tree,
    deleted_files,
    files_of,
    insert_after,
    questions_only,
    recorded_answers,
    render,
    template_owned,
    tree_state,
    update,
)

from extensions.dockerignore import _regex as dockerignore_regex

RELEASE_0_1_0 = "a404351e0357889d9a2151f447f1ed9ef1c27b4e"
# Keys of 0.1.0's answers that today's have no more (tokens_file: nginx checked the tokens then).
OLD_KEYS = ("entry_point", "server_object", "extra_paths", "tokens_file")
BASE_ANSWERS = {"image": "ghcr.io/acme/weather-mcp", "url_prefix": "weather", "sdk": "mcp1-fastmcp"}

# (a) A server that existed before the first copy: weather.py's `server`, importing tools/.
WEATHER = (
    "from mcp.server.fastmcp import FastMCP\n\nfrom tools.forecast import forecast_text\n\n"
    'server = FastMCP("weather")\n\n\n@server.tool()\ndef forecast(city: str) -> str:\n'
    "    return forecast_text(city)\n"
)
EXISTING_SERVER = {
    "weather.py": WEATHER,
    "tools/__init__.py": "",
    "tools/forecast.py": 'def forecast_text(city: str) -> str:\n    return f"sunny in {city}"\n',
    "requirements.txt": "mcp>=1.23,<2\nhttpx==0.28.1\n",
    "README.md": "# Weather\n",
}
# (b) A new project: 0.1.0 wrote the example server.py and requirements.txt, the user then added a tool.
USER_TOOL = '\n\n@mcp.tool()\ndef forecast(city: str) -> str:\n    """The forecast."""\n    return f"sunny in {city}"\n'

# The files 0.1.0 rendered and kept current (not the server nor requirements.txt: those were the user's).
OWNED_BY_0_1_0 = {
    ".dockerignore",
    "DEPLOYMENT.md",
    "Dockerfile",
    "build-publish.sh",
    "clients/claude-code.mcp.json",
    "clients/claude-desktop.json",
    "clients/vscode.mcp.json",
    "docker-compose.yaml",
    "example.env",
    "healthcheck.py",
    "mcp_serve.py",
    "nginx/tokens.map.example",  # gone since the server checks the tokens itself
    NGINX_CONF,
    ANSWERS_FILE,
    ".gitignore",
}
# What 0.1.0 rendered and this release does not: only the example of nginx's tokens map (the server
# checks the tokens itself now), never a file of the user's.
# 0.2.0's ignore file is Dockerfile.dockerignore, which BuildKit reads before any .dockerignore.
GONE_SINCE_0_1_0 = [".dockerignore", "nginx/tokens.map.example"]
# Edits to template files whose lines 0.2.0 leaves as they were: they must merge cleanly.
EDITS = {
    "docker-compose.yaml": ("restart: unless-stopped", "mem_limit: 512m"),
    NGINX_CONF: ("ssl_session_tickets off;", "client_max_body_size 10m;"),
}


@pytest.fixture(scope="session")
def releases_0_1_0(tmp_path_factory) -> Path:
    """A template repository: tag 0.1.0 is the released template, tag 0.2.0 this working tree."""
    if git(REPO_ROOT, "rev-parse", "--is-shallow-repository").strip() == "true" or (
        subprocess.run(["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{RELEASE_0_1_0}^{{commit}}"]).returncode
    ):
        pytest.skip(
            f"this checkout lacks commit {RELEASE_0_1_0[:7]} (release 0.1.0), a shallow clone? "
            "`git fetch --unshallow` brings the history the 0.1.0 update tests need"
        )
    repo = tmp_path_factory.mktemp("releases-0.1.0") / "mcp-docker-template"
    repo.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", RELEASE_0_1_0, "copier.yml", "extensions", "template"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "release 0.1.0")
    git(repo, "tag", "0.1.0")
    git(repo, "rm", "-r", "-q", "copier.yml", "extensions", "template")
    copy_working_tree(repo)
    commit_all(repo, "release 0.2.0: sdk generations, server spec, dependency sources")
    git(repo, "tag", "0.2.0")
    return repo


def project_at_0_1_0(repo: Path, path: Path, variant: str) -> tuple[Path, dict[str, bytes]]:
    """A project made with 0.1.0 and edited by its user, all committed; returns it and the user's files."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    if variant == "existing-server":
        for name, text in EXISTING_SERVER.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_text(text)
        commit_all(path, "the user's server")
        answers = {**BASE_ANSWERS, "entry_point": "weather.py", "server_object": "server", "extra_paths": ["tools/"]}
    else:
        answers = dict(BASE_ANSWERS)  # 0.1.0's defaults: server.py's `mcp`, no extra paths
    render(repo, path, "0.1.0", **answers)
    commit_all(path, "deployment files from mcp-docker-template 0.1.0")
    if variant == "new-project":
        assert "mcp>=1.23,<2" in (path / "requirements.txt").read_text(), "0.1.0 wrote no requirements.txt"
        with (path / "server.py").open("a") as server:
            server.write(USER_TOOL)
    for name, (anchor, line) in EDITS.items():
        (path / name).write_text(insert_after((path / name).read_text(), anchor, line))
    commit_all(path, "my edits")
    return path, {name: data for name, data in snapshot(path).items() if name not in OWNED_BY_0_1_0}


EXPECTED = {
    "existing-server": {"server": "weather:server", "source_paths": ["weather.py", "tools/"]},
    "new-project": {"server": "server:mcp", "source_paths": ["server.py"]},
}


@pytest.mark.parametrize("variant", EXPECTED)
def test_update_from_0_1_0_carries_the_answers_over_and_keeps_every_file_of_the_user(
    releases_0_1_0, tmp_path, capfd, variant
):
    project, users = project_at_0_1_0(releases_0_1_0, tmp_path / "project", variant)
    before = recorded_answers(project)
    assert before["_commit"] == "0.1.0" and all(key in before for key in OLD_KEYS[:2])
    capfd.readouterr()

    update(project)

    shown = capfd.readouterr()
    after = recorded_answers(project)
    expected = EXPECTED[variant]
    assert after["_commit"] == "0.2.0"
    assert {key: after[key] for key in ("server", "source_paths", "dependencies")} == {
        **expected,
        "dependencies": "requirements.txt",
    }
    assert not [key for key in OLD_KEYS if key in after], "0.1.0's keys left in the answers file"
    # Every other answer is kept as it was.
    assert {k: v for k, v in questions_only(before).items() if k not in OLD_KEYS} == {
        k: v for k, v in questions_only(after).items() if k in questions_only(before)
    }
    assert "carried 0.1.0's entry_point/server_object/extra_paths over to server=" in shown.out + shown.err
    # The tokens nginx checked: the message says how to give them to the server.
    assert "the server now checks the clients' tokens itself" in shown.out + shown.err
    assert "/etc/nginx/mcp-tokens/weather-mcp.map" in shown.out + shown.err

    # The user's files, the server and requirements.txt among them, are byte for byte as they were.
    result = snapshot(project)
    assert {name: result.get(name) for name in users} == users
    assert deleted_files(project) == GONE_SINCE_0_1_0
    server_file = expected["source_paths"][0]
    assert server_file in users and "requirements.txt" in users

    # The deployment is 0.2.0's for those answers, with the user's edits merged in.
    assert f'SERVER = "{expected["server"]}"' in (project / "mcp_serve.py").read_text()
    dockerfile = (project / "Dockerfile").read_text()
    for path in expected["source_paths"]:
        path = path.rstrip("/")
        assert f"COPY {path} {path}\n" in dockerfile
    # 0.2.0 rendered for the same answers, next to the same code of the user's (which it checks is there).
    for name, data in users.items():
        (tmp_path / "fresh" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fresh" / name).write_bytes(data)
    fresh = files_of(render(releases_0_1_0, tmp_path / "fresh", "0.2.0", **questions_only(after)))
    for name in template_owned(project):
        text = result[name].decode()
        if name in EDITS:
            assert text == insert_after(fresh[name].decode(), *EDITS[name]), f"{name}: not 0.2.0's plus the edit"
        else:
            assert result[name] == fresh[name], f"{name} is not 0.2.0's version"
    assert "CONFLICTS" not in shown.err

    # The migration is done once: a second update to the same release changes nothing.
    commit_all(project, "update to 0.2.0")
    state = snapshot(project)
    update(project)
    assert snapshot(project) == state
    assert "Nothing else changed" in capfd.readouterr().err


@pytest.mark.parametrize("variant", EXPECTED)
def test_update_from_0_1_0_renaming_the_server_deletes_nothing(releases_0_1_0, tmp_path, variant):
    """0.1.0's own update deleted the old entry point when --data renamed it; the 0.2.0 update must not."""
    project, users = project_at_0_1_0(releases_0_1_0, tmp_path / "project", variant)
    # The user moved the server to other.py (an update refuses a server whose file is not there).
    (project / "other.py").write_text("from mcp.server.fastmcp import FastMCP\n\nmcp = FastMCP('other')\n")
    commit_all(project, "the server moves to other.py")
    users = {**users, "other.py": (project / "other.py").read_bytes()}
    before = set(snapshot(project))

    update(project, data={"server": "other:mcp", "source_paths": ["other.py"]})

    assert recorded_answers(project)["server"] == "other:mcp"
    assert 'SERVER = "other:mcp"' in (project / "mcp_serve.py").read_text()
    result = snapshot(project)
    assert {name: result.get(name) for name in users} == users
    assert deleted_files(project) == GONE_SINCE_0_1_0
    assert sorted(set(result) - before - template_owned(project)) == [], "a file besides the template's"


def test_the_release_tag_check_passes_from_0_1_0(releases_0_1_0, tmp_path):
    """test_lifecycle's check for this repository's release tags, run on 0.1.0 (which has no tag here yet)."""
    check_update_keeps_the_users_edits(releases_0_1_0, "0.1.0", "0.2.0", tmp_path)


# --- found by these tests, and fixed -------------------------------------------------------


def test_update_from_0_1_0_keeps_or_refuses_an_extra_path_that_0_2_0_would_refuse(releases_0_1_0, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "docs").mkdir()
    (project / "docs/usage.md").write_text("# How to ask for the weather\n")
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "the user's docs, read by the server")
    render(releases_0_1_0, project, "0.1.0", **BASE_ANSWERS, extra_paths=["docs/"])
    commit_all(project, "deployment files from mcp-docker-template 0.1.0")
    assert "COPY docs docs\n" in (project / "Dockerfile").read_text()
    state = tree_state(project)

    try:
        update(project)
    except UserMessageError:
        # Refused with a message before anything changed: acceptable too.
        assert tree_state(project) == state
        return
    assert "docs/" in recorded_answers(project)["source_paths"]
    assert "COPY docs docs\n" in (project / "Dockerfile").read_text()


def test_update_from_0_1_0_keeps_every_file_of_a_source_folder_in_the_build(releases_0_1_0, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "prompts").mkdir()
    (project / "prompts/__init__.py").write_text('"""Prompt texts, read from the .md files beside this one."""\n')
    (project / "prompts/forecast.md").write_text("Give the forecast for {city} in one sentence.\n")
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "the user's prompts, read by the server")
    render(releases_0_1_0, project, "0.1.0", **BASE_ANSWERS, extra_paths=["prompts/"])
    commit_all(project, "deployment files from mcp-docker-template 0.1.0")
    assert not dockerignored(project, "prompts/forecast.md"), "already dropped by 0.1.0"
    state = tree_state(project)

    try:
        update(project)
    except UserMessageError:
        assert tree_state(project) == state  # refused before anything changed: acceptable too
        return
    assert "COPY prompts prompts\n" in (project / "Dockerfile").read_text()
    assert not dockerignored(project, "prompts/forecast.md")


def dockerignored(project: Path, path: str) -> str:
    """The pattern of the project's .dockerignore that keeps path out of the build ('' if none), by Docker's rule:
    the last pattern matching the path or a folder above it decides, a '!' pattern brings it back."""
    patterns = [
        line.strip()
        for line in next(
            path for path in (project / "Dockerfile.dockerignore", project / ".dockerignore") if path.is_file()
        )
        .read_text()
        .splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    candidates = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    decision = ""
    for pattern in patterns:
        negated = pattern.startswith("!")
        expression = dockerignore_regex(pattern.removeprefix("!").rstrip("/"))
        if any(expression.match(candidate) for candidate in candidates):
            decision = "" if negated else pattern
    return decision


def test_update_from_0_1_0_with_an_invalid_new_answer_changes_nothing(releases_0_1_0, tmp_path):
    project, _ = project_at_0_1_0(releases_0_1_0, tmp_path / "project", "new-project")
    state = tree_state(project)

    with pytest.raises((ValueError, UserMessageError), match="a module named 'mcp' would shadow"):
        update(project, data={"server": "mcp:mcp"})

    assert tree_state(project) == state
    assert yaml.safe_load((project / ANSWERS_FILE).read_text())["entry_point"] == "server.py"


def test_the_printed_command_carries_nginxs_tokens_over_to_the_server(tmp_path):
    """An answers file of the releases where nginx checked the tokens: the migration drops tokens_file
    and prints one command; run as printed (sudo aside: the tests run as root), it writes the hash of
    each token of the map, in both forms the map's lines had, and the server accepts them."""
    tokens = [secrets.token_hex(32), secrets.token_hex(32)]
    nginx_map = tmp_path / "weather-mcp.map"
    nginx_map.write_text(f'# clients\n"~^Bearer {tokens[0]}$" 1;\n"Bearer {tokens[1]}" 1;\n')
    project = tmp_path / "project"
    project.mkdir()
    answers = {"image": "ghcr.io/acme/weather-mcp", "auth": "tokens", "tokens_file": str(nginx_map)}
    (project / ANSWERS_FILE).write_text(yaml.safe_dump(answers))
    migration = REPO_ROOT / "extensions" / "migrate_answers.py"
    done = subprocess.run(
        [sys.executable, str(migration), ANSWERS_FILE], cwd=project, capture_output=True, text=True, check=True
    )
    assert "tokens_file" not in yaml.safe_load((project / ANSWERS_FILE).read_text())
    command = done.stdout.strip().splitlines()[-1].strip()
    subprocess.run(["sh", "-c", command.replace("sudo ", "")], cwd=project, check=True)
    stored = (project / "mcp-tokens" / "clients.sha256").read_text().splitlines()
    assert [line.split()[0] for line in stored] == [hashlib.sha256(t.encode()).hexdigest() for t in tokens]
    assert [line.split()[1] for line in stored] == ["client-1", "client-2"]
