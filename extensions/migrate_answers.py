"""Carry an older answers file over to today's answers (a Copier migration).

- 0.1.0 asked for entry_point (a file) and server_object, and copied extra_paths besides the
  file; now `server` names the server (module:object) and `source_paths` lists everything copied.
- Releases before the server checked every credential itself asked for tokens_file, the tokens
  nginx checked; now the server checks the clients' token hashes in mcp-tokens/clients.sha256.
  The answer goes, and the message says how to carry the tokens over.

Idempotent: an answers file without these keys is left exactly as it is.

usage: python migrate_answers.py ANSWERS_FILE      (in the project folder)
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

import yaml


def migrate(answers: dict) -> dict:
    """The answers with older releases' keys replaced by today's (unchanged when there are none)."""
    migrated = dict(answers)
    migrated.pop("tokens_file", None)
    if "entry_point" not in answers:
        return migrated
    entry = PurePosixPath(str(migrated.pop("entry_point")))
    server_object = str(migrated.pop("server_object", "mcp"))
    extra = [str(path) for path in migrated.pop("extra_paths", None) or []]
    # A file at the root is a module of the project; one in a folder is imported from its folder.
    location = entry.stem if str(entry.parent) == "." else str(entry)
    migrated["server"] = f"{location}:{server_object}"
    migrated.setdefault("source_paths", [str(entry), *extra])
    migrated.setdefault("dependencies", "requirements.txt")
    return migrated


# The one command that turns nginx's tokens map (lines of "~^Bearer TOKEN$" 1; or, older, "Bearer TOKEN" 1;)
# into the server's hashes.
TOKENS_FROM_MAP = (
    "mkdir -p mcp-tokens && sudo sed -n"
    " 's|^\"\\(~^\\)\\{{0,1\\}}Bearer \\([0-9A-Za-z._~+/=-]*\\)\\$\\{{0,1\\}}\" .*|\\2|p' {map} |"
    " (n=0; while read -r t; do n=$((n + 1)); printf '%s  client-%s\\n'"
    ' "$(printf %s "$t" | sha256sum | cut -d\' \' -f1)" "$n"; done) >>mcp-tokens/clients.sha256'
)


def main(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    answers = yaml.safe_load(text) or {}
    migrated = migrate(answers)
    if migrated == answers:
        return
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    path.write_text(header + yaml.safe_dump(migrated, sort_keys=True, allow_unicode=True), encoding="utf-8")
    if "entry_point" in answers:
        print(f"{path.name}: carried 0.1.0's entry_point/server_object/extra_paths over to server={migrated['server']}")
    if "tokens_file" in answers:
        print(
            f"{path.name}: the server now checks the clients' tokens itself (nginx passes them on), from the hashes"
            " in mcp-tokens/clients.sha256. Carry your tokens over, on the nginx host:\n  "
            + TOKENS_FROM_MAP.format(map=answers["tokens_file"])
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
