"""A new project's example server and dependency file, written only where nothing is.

Run by copier.yml's task after the first copy into a folder without an MCP server. The files
are written by this task, not rendered by Copier, so Copier never tracks them: no later
`copier update` (whatever answers it changes) can replace or delete them. They are the user's.

usage: python new_project.py ANSWERS_FILE example|no-example      (in the project folder)
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path, PurePosixPath

import jinja2
import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE_ROOT))

from extensions.answers import new_server_file  # noqa: E402
from extensions.deployment import image_basename  # noqa: E402
from extensions.generations import GENERATIONS  # noqa: E402

EXAMPLES = TEMPLATE_ROOT / "template" / "_partials" / "examples"


def write_new(path: Path, text: str) -> bool:
    """Write text to path only if nothing is there; True if written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def create(project: Path, answers: dict, example: bool = True) -> list[str]:
    """The example server (when asked), its packages' __init__.py and requirements.txt; returns what was written."""
    written = []
    generation = GENERATIONS[answers["sdk"]]
    server_file = new_server_file(answers["server"]) if example else ""
    if server_file:
        environment = jinja2.Environment(loader=jinja2.FileSystemLoader(EXAMPLES), keep_trailing_newline=True)
        text = environment.get_template(f"{generation.answer}.py.jinja").render(
            service_name=image_basename(answers["image"]),
            object=answers["server"].partition(":")[2],
            server_file=server_file,
            transport=answers["transport"],
            created=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        )
        if write_new(project / server_file, text):
            written.append(server_file)
        location = answers["server"].partition(":")[0]
        if not location.endswith(".py"):
            # A dotted module path: its folders are packages.
            for depth in range(1, len(location.split("."))):
                init = PurePosixPath(*location.split(".")[:depth], "__init__.py")
                if write_new(project / init, ""):
                    written.append(str(init))
    if (
        answers.get("dependencies", "requirements.txt") == "requirements.txt"
        and not (project / "pyproject.toml").exists()
    ):
        requirements = (
            f"# The server's dependencies; the image installs exactly these.\n{generation.new_project_requirement}\n"
        )
        if write_new(project / "requirements.txt", requirements):
            written.append("requirements.txt")
    return written


if __name__ == "__main__":
    answers_file, example = Path(sys.argv[1]), sys.argv[2] == "example"
    recorded = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    for path in create(Path.cwd(), recorded, example):
        print(f"Created {path} (yours from now on).")
