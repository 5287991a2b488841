"""What the rendered .dockerignore keeps out of the image, and Docker's rule for matching it.

One list: the .dockerignore file is rendered from PATTERNS, and the questionnaire refuses a
source path that one of them would keep out of the build (it would be missing in the image).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import PurePosixPath

# (comment, patterns), in the order they are written to .dockerignore.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Environments and caches", (".venv", "venv", "**/__pycache__", "**/*.py[cod]", "**/*.egg-info", ".tox", ".nox")),
    ("Tool caches and reports", (".pytest_cache", ".ruff_cache", ".mypy_cache", ".coverage", "htmlcov")),
    ("Version control and editors", (".git", ".gitignore", ".vscode", ".idea", "**/*.swp", "**/.DS_Store")),
    # At any depth: `COPY pkg pkg` copies pkg/.env as well, though git ignores it.
    (
        "Secrets and local state: never in an image, at any depth",
        ("**/.env", "**/.env.*", "**/*.pem", "**/*.key", "**/mcp-tokens", "VERSION"),
    ),
    # Only at the top: a source folder's own .md files (prompts, resources) go into the image.
    ("Tests and the project's documents (README stays: a build backend may read it)", ("tests", "*.md", "!README.md")),
    (
        "The deployment files themselves",
        (
            ".copier-answers*.yml",
            ".dockerignore",
            "*.dockerignore",
            "Dockerfile*",
            "docker-compose.yaml",
            "build-publish.sh",
            "example.env",
            "clients",
            "nginx",
        ),
    ),
)

PATTERNS: tuple[str, ...] = tuple(pattern for _, patterns in SECTIONS for pattern in patterns)


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax (Go's filepath.Match plus '**'), as a regex over a whole relative path."""
    out = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
            continue
        if pattern.startswith("**", index):
            out += ".*"
            index += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", index)
            out += "[" + pattern[index + 1 : end].replace("\\", "\\\\") + "]"
            index = end
        else:
            out += re.escape(char)
        index += 1
    return re.compile(out + r"\Z")


def ignored_by(path: str) -> str:
    """The pattern that keeps this relative path (or a folder above it) out of the build, or ''.

    As Docker does: a pattern excludes what it matches and everything below it; the last
    matching pattern wins, and a '!' pattern brings a path back.
    """
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    decision = ""
    for pattern in PATTERNS:
        negated = pattern.startswith("!")
        regex = _regex(pattern.removeprefix("!"))
        if any(regex.match(candidate) for candidate in candidates):
            decision = "" if negated else pattern
    return decision
