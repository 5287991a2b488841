"""Carry a 0.1.0 answers file over to the answers of 0.2.0 and later (a Copier migration).

0.1.0 asked for entry_point (a file) and server_object, and copied extra_paths besides the file;
now `server` names the server (module:object) and `source_paths` lists everything copied.
Idempotent: an answers file without the 0.1.0 keys is left exactly as it is.

usage: python migrate_answers.py ANSWERS_FILE      (in the project folder)
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

import yaml


def migrate(answers: dict) -> dict:
    """The answers with 0.1.0's keys replaced by today's (unchanged when there are none)."""
    if "entry_point" not in answers:
        return answers
    migrated = dict(answers)
    entry = PurePosixPath(str(migrated.pop("entry_point")))
    server_object = str(migrated.pop("server_object", "mcp"))
    extra = [str(path) for path in migrated.pop("extra_paths", None) or []]
    # A file at the root is a module of the project; one in a folder is imported from its folder.
    location = entry.stem if str(entry.parent) == "." else str(entry)
    migrated["server"] = f"{location}:{server_object}"
    migrated.setdefault("source_paths", [str(entry), *extra])
    migrated.setdefault("dependencies", "requirements.txt")
    return migrated


def main(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    answers = yaml.safe_load(text) or {}
    migrated = migrate(answers)
    if migrated == answers:
        return
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    path.write_text(header + yaml.safe_dump(migrated, sort_keys=True, allow_unicode=True), encoding="utf-8")
    print(f"{path.name}: carried 0.1.0's entry_point/server_object/extra_paths over to server={migrated['server']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
