"""Helpers for rendering Python source that passes ruff as rendered."""

from __future__ import annotations

import sys


def _module(line: str) -> str:
    return line.split()[1]


def import_block(lines: list[str]) -> str:
    """Import lines merged and ordered as isort/ruff's default profile orders them.

    Standard library first, then third-party, a blank line between; within each,
    `import x` lines before `from x import y` lines, each sorted by module name.
    """
    unique = sorted(set(lines), key=lambda line: (not line.startswith("import "), _module(line).lower()))
    stdlib = [line for line in unique if _module(line).split(".")[0] in sys.stdlib_module_names]
    third_party = [line for line in unique if line not in stdlib]
    return "\n\n".join("\n".join(group) for group in (stdlib, third_party) if group)
