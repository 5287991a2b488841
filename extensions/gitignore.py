"""Add lines to a .gitignore that lacks them, keeping every existing byte, line ending and order.

Run by copier.yml's task after copy and update: Copier itself can only replace a whole
file, which would lose the user's own entries. The file is handled as bytes, so CRLF line
endings and files that are not UTF-8 come back exactly as they were, plus the new lines.

usage: python gitignore.py PATH LINE [LINE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_lines(path: Path, wanted: list[str]) -> list[str]:
    """Append the wanted lines that are not there yet (also not as /LINE); return those added."""
    data = path.read_bytes() if path.exists() else b""
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    present = {line.strip() for line in data.splitlines()}
    missing = [line for line in wanted if line.encode() not in present and b"/" + line.encode() not in present]
    if missing:
        if data and not data.endswith(b"\n"):
            data += newline
        path.write_bytes(data + b"".join(line.encode() + newline for line in missing))
    return missing


if __name__ == "__main__":
    target, *lines = sys.argv[1:]
    add_lines(Path(target), [line for line in lines if line])  # an answer may leave a line out as ""
