"""Add lines to a .gitignore that lack them, keeping every existing line and its order.

Run by copier.yml's task after copy and update: Copier itself can only replace a whole
file, which would lose the user's own entries.

usage: python gitignore.py PATH LINE [LINE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_lines(path: Path, wanted: list[str]) -> list[str]:
    """Append the wanted lines that are not there yet; return those added."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in wanted if line not in present and f"/{line}" not in present]
    if missing:
        if text and not text.endswith("\n"):
            text += "\n"
        path.write_text(text + "".join(f"{line}\n" for line in missing), encoding="utf-8")
    return missing


if __name__ == "__main__":
    target, *lines = sys.argv[1:]
    add_lines(Path(target), lines)
